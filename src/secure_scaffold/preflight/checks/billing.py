"""Billing controls (PAY-*): signed webhooks, replay and idempotency guards, hosted fields, server-side money.

Every control proven here applies only when the project takes payments
(`applies_when: billing`, i.e. payment_provider != 'none'): for a project
generated without billing the runner lists them as not applicable and never
calls these checks. `billing.package` is their common prerequisite; it is
SKIPPED when the answers say `none`, and on a repository that was not
generated it reports the missing billing package once while the other
billing checks are skipped.

The checks read the generated design statically (no import, no database):
the provider adapter, the webhook route and core, the request models, the
settings and the Alembic migrations.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .._model import Finding, Outcome, failed, passed, skipped, unknown
from .._project import Project
from .._registry import register
from . import _migrations
from ._python import (
    calls,
    class_fields,
    dotted,
    duration_seconds,
    first_call,
    function,
    keyword,
    method,
    module_assignment,
    named,
    names_used,
    parse,
    raises,
    reachable,
)
from ._source import NOT_LITERAL, ProjectTest, location, missing, project_tests, settings_default, source

PACKAGE = "billing.package"
REQUIRES = (PACKAGE,)


@dataclass(frozen=True)
class Verifier:
    """How one provider's webhooks must be verified.

    Attributes:
        sdk: the official SDK's top-level module; the adapter must use it.
        calls: the SDK's own verifier (dotted-name endings).
        parses: what turns the body into events: must come after the verifier.
        tolerance: the module constant bounding an event's age.
        max_seconds: the most that tolerance may allow.
    """

    sdk: str
    calls: tuple[str, ...]
    parses: tuple[str, ...]
    tolerance: str
    max_seconds: float


VERIFIERS: dict[str, Verifier] = {
    # Stripe signs the timestamp; its SDK's default tolerance is 300 s.
    "stripe": Verifier(
        "stripe",
        ("WebhookSignature.verify_header", "Webhook.construct_event"),
        ("json.loads", "_normalize"),
        "WEBHOOK_TOLERANCE_SECONDS",
        600,
    ),
    # Paddle signs `ts:body`; the SDK's Verifier checks the HMAC.
    "paddle": Verifier(
        "paddle_billing", ("Verifier().verify",), ("json.loads", "_normalize"), "WEBHOOK_TOLERANCE_SECONDS", 600
    ),
    # Braintree's signature has no timestamp; retries keep the event's time and span about a day.
    "braintree": Verifier(
        "braintree", ("webhook_notification.parse",), ("_normalize",), "WEBHOOK_TOLERANCE", 48 * 3600
    ),
    # Adyen's HMAC signs each item's fields (not a time) and it retries for up to 30 days:
    # the age bound is coarse, the replay guard (unique event id) is the real defence.
    "adyen": Verifier("Adyen", ("is_valid_hmac_notification",), ("_normalize",), "EVENT_MAX_AGE", 31 * 86400),
}

#: Request fields that would carry cardholder data (compared lower-case without `_`/`-`).
CARD_FIELDS = frozenset(
    {
        "cardnumber", "cardno", "cardnum", "ccnumber", "ccnum", "creditcard", "creditcardnumber", "pan",
        "primaryaccountnumber", "cvc", "cvv", "cvv2", "cvc2", "csc", "cardcvc", "cardcvv", "securitycode",
        "cardsecuritycode", "cardverificationvalue", "expmonth", "expyear", "expirymonth", "expiryyear",
        "cardexpiry", "cardexpiration", "expirationdate", "trackdata", "track1", "track2", "magstripe", "pinblock",
    }
)  # fmt: skip
#: Checkout request fields that would let the client choose what it is charged.
CLIENT_AMOUNT_FIELDS = frozenset(
    {
        "amount", "amountminor", "unitamount", "price", "priceamount", "total", "totalminor", "subtotal",
        "currency", "discount", "discountminor", "tax", "taxminor", "duenow", "duenowminor",
    }
)  # fmt: skip
_MARKUP_SUFFIXES = (".html", ".htm", ".jinja", ".j2", ".js", ".jsx", ".ts", ".tsx", ".vue")
_MARKUP_NAME = re.compile(r"""\b(?:name|id|data-field)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_MARKUP_AUTOCOMPLETE = re.compile(r"""\bautocomplete\s*=\s*["'](cc-(?:number|csc|exp[a-z-]*))["']""", re.IGNORECASE)


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _provider(project: Project) -> str | None:
    answer = project.answers.get("payment_provider")
    if answer in VERIFIERS:
        return str(answer)
    present = [name for name in VERIFIERS if source(project, f"billing/{name}_provider.py") is not None]
    return present[0] if len(present) == 1 else None


def _tree(project: Project, relative: str) -> tuple[ast.Module | None, Outcome | None]:
    """The parsed module, or the outcome to return when it is missing or unparsable."""
    text = source(project, relative)
    if text is None:
        return None, missing(project, relative, f"restore src/<package>/{relative} from the template")
    tree = parse(text)
    if tree is None:
        return None, unknown(f"{relative} does not parse", "fix the syntax error; preflight reads it statically")
    return tree, None


# ------------------------------------------------------------------ prerequisite


@register(
    PACKAGE,
    controls=tuple(f"PAY-{number:02d}" for number in (1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)),
    requires=("layout.application_package",),
)
def package(project: Project) -> Outcome:
    """The billing package and its payment provider adapter exist (the other billing checks read them)."""
    if project.answers.get("payment_provider") == "none":
        return skipped("payment_provider is none: the project takes no payments")
    if source(project, "billing/__init__.py") is None:
        return missing(
            project, "billing/__init__.py", "keep billing in src/<package>/billing/ (adapter, webhooks, pricing)"
        )
    provider = _provider(project)
    if provider is None:
        return failed(
            Finding(
                "no payment provider adapter found",
                f"add billing/<provider>_provider.py for one of {', '.join(VERIFIERS)} (official SDK, hosted checkout)",
                path=location(project, "billing"),
            )
        )
    if source(project, f"billing/{provider}_provider.py") is None:
        return missing(project, f"billing/{provider}_provider.py", f"restore the {provider} adapter from the template")
    return passed(f"billing package with the {provider} adapter", provider=provider)


# ------------------------------------------------------------------ PAY-04 webhook signatures


def _verifier_line(tree: ast.Module, verify: ast.AST, endings: tuple[str, ...]) -> int | None:
    """Where verify_webhook reaches the SDK verifier: directly, or through one of the adapter's own methods."""
    direct = first_call(verify, endings)
    if direct is not None:
        return direct.lineno
    for name, call in calls(verify):
        if name.startswith("self."):
            helper = function(tree, name.rsplit(".", 1)[-1])
            if helper is not None and helper is not verify and first_call(helper, endings) is not None:
                return call.lineno
    return None


def _adapter_findings(project: Project, provider: str) -> list[Finding]:
    spec = VERIFIERS[provider]
    relative = f"billing/{provider}_provider.py"
    path = location(project, relative)
    tree = parse(source(project, relative) or "")
    verify = function(tree, "verify_webhook") if tree else None
    if tree is None or verify is None:
        return [Finding(f"the {provider} adapter has no verify_webhook", "verify the raw body there", path=path)]
    findings = []
    imported = {
        (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    if spec.sdk not in imported:
        findings.append(Finding(f"the {provider} adapter does not use the official SDK ({spec.sdk})", "", path=path))
    verified_at = _verifier_line(tree, verify, spec.calls)
    if verified_at is None:
        findings.append(
            Finding(
                f"verify_webhook never calls the SDK's signature verifier ({' / '.join(spec.calls)})",
                "verify the provider's signature over the raw body with the SDK before reading it",
                path=path,
                line=verify.lineno,
            )
        )
    parsed = first_call(verify, spec.parses)
    if verified_at is not None and parsed is not None and parsed.lineno < verified_at:
        findings.append(
            Finding(
                "verify_webhook reads the body before the signature is verified",
                "verify first; parse only what the provider signed",
                path=path,
                line=parsed.lineno,
            )
        )
    findings.extend(_tolerance_findings(tree, verify, spec, path))
    return findings


def _tolerance_findings(tree: ast.Module, verify: ast.AST, spec: Verifier, path: str) -> list[Finding]:
    value = module_assignment(tree, spec.tolerance)
    seconds = duration_seconds(value)
    hint = f"bound event age: {spec.tolerance} at most {spec.max_seconds:.0f} s, applied in verify_webhook"
    line = value.lineno if value is not None else None
    if seconds is None:
        return [Finding(f"no literal {spec.tolerance}: the accepted event age is unbounded or unreadable", hint, path)]
    findings = []
    if not 0 < seconds <= spec.max_seconds:
        findings.append(
            Finding(f"{spec.tolerance} allows {seconds:.0f} s (at most {spec.max_seconds:.0f})", hint, path, line)
        )
    # Applied = handed to the SDK's verifier, or compared with the event's age.
    applied = any(
        spec.tolerance in names_used(node)
        for node in ast.walk(verify)
        if isinstance(node, ast.Compare) or (isinstance(node, ast.Call) and named(dotted(node.func), spec.calls))
    )
    if not applied:
        findings.append(Finding(f"verify_webhook does not apply {spec.tolerance}", hint, path, line))
    return findings


def _route_findings(project: Project) -> list[Finding]:
    relative = "web/routes/webhooks.py"
    tree = parse(source(project, relative) or "")
    if tree is None:
        return [Finding(f"{relative} is missing or does not parse", "serve POST /webhooks/{provider}")]
    path = location(project, relative)
    findings = [
        Finding(
            f"the webhook route parses the body itself ({name}) before the provider signature is verified",
            "hand the raw bytes to billing's WebhookProcessor.handle; signatures cover the exact body",
            path=path,
            line=call.lineno,
        )
        for name, call in calls(tree)
        if name.endswith(("request.json", "request.form"))
    ]
    # Called directly or handed to run_in_threadpool: either way the route names it.
    if not any(
        isinstance(node, ast.Attribute) and dotted(node).endswith(".webhooks.handle") for node in ast.walk(tree)
    ):
        findings.append(Finding("the webhook route does not hand the body to billing's webhooks.handle", "", path=path))
    return findings


def _core_findings(project: Project) -> list[Finding]:
    relative = "billing/webhooks.py"
    tree = parse(source(project, relative) or "")
    handle = function(tree, "handle") if tree else None
    path = location(project, relative)
    if handle is None:
        return [Finding(f"{relative} has no handle()", "verify -> replay guard -> apply, in that order", path=path)]
    verified = first_call(handle, ("verify_webhook",))
    stored = first_call(handle, ("_apply_once", "execute", "begin", "connect"))
    if verified is None:
        return [Finding("webhook events are handled without verify_webhook", "verify first", path, handle.lineno)]
    if stored is not None and stored.lineno < verified.lineno:
        return [Finding("webhook events are stored before their signature is verified", "verify first", path)]
    return []


@register("billing.webhook_signatures", controls=("PAY-04",), requires=REQUIRES)
def webhook_signatures(project: Project) -> Outcome:
    """The raw body goes to the provider SDK's verifier before it is parsed or stored; event age is bounded."""
    provider = _provider(project)
    assert provider is not None  # billing.package passed
    findings = [*_route_findings(project), *_core_findings(project), *_adapter_findings(project, provider)]
    if findings:
        return failed(*findings)
    spec = VERIFIERS[provider]
    return passed(f"{provider} webhooks verified with {spec.calls[0]} before parsing; age bounded by {spec.tolerance}")


# ------------------------------------------------------------------ PAY-05 replay guard


def _table(project: Project, name: str) -> _migrations.Table | None:
    migrations = _migrations.load(project)
    return _migrations.tables(migrations).get(name) if migrations is not None else None


@register("billing.webhook_replay_guard", controls=("PAY-05",), requires=REQUIRES)
def webhook_replay_guard(project: Project) -> Outcome:
    """A UNIQUE (provider, event_id) row is inserted in the same transaction that applies the event."""
    findings = []
    table = _table(project, "billing_webhook_events")
    if table is None:
        findings.append(
            Finding("no billing_webhook_events table in the migrations", "store every event id under a UNIQUE key")
        )
    elif not any(set(columns) <= {"provider", "event_id"} and "event_id" in columns for columns in table.unique):
        findings.append(
            Finding(
                "billing_webhook_events has no UNIQUE (provider, event_id): a replay could be applied twice",
                "add UniqueConstraint('provider', 'event_id')",
                path=table.path,
                line=table.line,
            )
        )
    tree = parse(source(project, "billing/webhooks.py") or "")
    apply_once = function(tree, "_apply_once") if tree else None
    guarded = apply_once is not None and any(
        isinstance(node, ast.With)
        and _has_sql(node, r"INSERT INTO billing_webhook_events\b.*ON CONFLICT.*DO NOTHING")
        and first_call(node, ("_apply",)) is not None
        for node in ast.walk(apply_once)
    )
    if not guarded:
        findings.append(
            Finding(
                "events are not applied in the transaction that records their id with ON CONFLICT DO NOTHING",
                "INSERT ... ON CONFLICT (provider, event_id) DO NOTHING RETURNING id, then apply in the same "
                "transaction only when a row came back",
                path=location(project, "billing/webhooks.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("each provider event id is recorded once (UNIQUE) and applied in that same transaction")


def _has_sql(node: ast.AST, pattern: str) -> bool:
    """Whether a string literal under `node` (adjacent literals are one) matches `pattern`."""
    return any(
        isinstance(child, ast.Constant) and isinstance(child.value, str) and re.search(pattern, child.value, re.DOTALL)
        for child in ast.walk(node)
    )


# ------------------------------------------------------------------ PAY-06 idempotency keys


def _route(tree: ast.Module, method: str, path: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and dotted(decorator.func).endswith(f".{method}")
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)
                    and decorator.args[0].value == path
                ):
                    return node
    return None


def _idempotency_parameter(tree: ast.Module, route: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The route parameter read from the Idempotency-Key header, if it has one."""
    for argument in [*route.args.args, *route.args.kwonlyargs]:
        annotation = argument.annotation
        if annotation is None:
            continue
        text = ast.unparse(annotation)
        if isinstance(annotation, ast.Name) and (alias := module_assignment(tree, annotation.id)) is not None:
            text += ast.unparse(alias)
        if "Idempotency-Key" in text:
            return argument.arg
    return None


def _route_key_findings(project: Project) -> list[Finding]:
    relative = "web/routes/billing.py"
    tree = parse(source(project, relative) or "")
    if tree is None:
        return [Finding(f"{relative} is missing or does not parse", "serve /api/billing/* from it")]
    path = location(project, relative)
    findings = []
    for route_path in ("/checkout", "/refunds"):
        route = _route(tree, "post", route_path)
        if route is None:
            findings.append(Finding(f"no POST {route_path} route", "", path=path))
            continue
        parameter = _idempotency_parameter(tree, route)
        passed_on = parameter is not None and any(
            keyword.arg == "idempotency_key" and isinstance(keyword.value, ast.Name) and keyword.value.id == parameter
            for node in ast.walk(route)
            if isinstance(node, ast.Call)
            for keyword in node.keywords
        )
        if not passed_on:
            findings.append(
                Finding(
                    f"POST {route_path} does not pass the Idempotency-Key header to the billing core",
                    "read Header(alias='Idempotency-Key') and pass it as idempotency_key=",
                    path=path,
                    line=route.lineno,
                )
            )
    return findings


def _core_key_findings(project: Project) -> list[Finding]:
    findings = []
    for relative, name in (("billing/checkout.py", "start"), ("billing/approvals.py", "request_refund")):
        tree = parse(source(project, relative) or "")
        entry = function(tree, name) if tree else None
        if entry is None or first_call(entry, ("checked_key",)) is None:
            findings.append(
                Finding(
                    f"{name}() does not require an Idempotency-Key (no checked_key call)",
                    "refuse a missing or malformed key before doing anything",
                    path=location(project, relative),
                    line=entry.lineno if entry else None,
                )
            )
    store = parse(source(project, "billing/idempotency.py") or "")
    if store is None or not _has_sql(store, r"INSERT INTO billing_idempotency_keys\b.*ON CONFLICT.*DO NOTHING"):
        findings.append(
            Finding(
                "idempotency keys are not claimed by an INSERT ... ON CONFLICT DO NOTHING in Postgres",
                "let a unique key decide concurrent duplicates; never check-then-insert or keep keys in memory",
                path=location(project, "billing/idempotency.py"),
            )
        )
    table = _table(project, "billing_idempotency_keys")
    if table is None or not any("key" in columns for columns in table.unique):
        findings.append(
            Finding(
                "billing_idempotency_keys has no primary key or UNIQUE constraint over the key",
                "PrimaryKeyConstraint('tenant_id', 'subject', 'scope', 'key')",
                path=table.path if table else None,
                line=table.line if table else None,
            )
        )
    return findings


@register("billing.idempotency", controls=("PAY-06",), requires=REQUIRES)
def idempotency(project: Project) -> Outcome:
    """Checkout and refund routes require an Idempotency-Key, claimed under a unique key in Postgres."""
    findings = [*_route_key_findings(project), *_core_key_findings(project)]
    if findings:
        return failed(*findings)
    return passed("checkout and refunds require Idempotency-Key; keys are claimed by a Postgres primary key")


# ------------------------------------------------------------------ PAY-01/02 hosted fields


def _python_card_fields(project: Project) -> list[Finding]:
    assert project.package_dir is not None
    findings = []
    hint = "collect cards only in the provider's hosted checkout / fields; the server sees tokens, never card data"
    for path in project.python_files(project.package_dir):
        tree = parse(path.read_text(encoding="utf-8", errors="replace"))
        if tree is None:
            continue
        names: list[tuple[str, int]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names.extend(class_fields(node).items())
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
                names.extend((argument.arg, argument.lineno) for argument in arguments)
            elif (
                isinstance(node, ast.keyword)
                and node.arg in ("alias", "validation_alias", "serialization_alias")
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                names.append((node.value.value, node.value.lineno))
        findings.extend(
            Finding(f"a field named {name!r} would carry card data", hint, path=project.relative(path), line=line)
            for name, line in names
            if _normal(name) in CARD_FIELDS
        )
    return findings


def _markup_card_fields(project: Project) -> list[Finding]:
    findings = []
    hint = "use the provider's hosted page or iframe fields; never render your own card inputs"
    for path in project.files:
        relative = project.relative(path)
        if not path.name.endswith(_MARKUP_SUFFIXES) or relative.startswith(("tests/", "docs/")):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, row in enumerate(text.splitlines(), 1):
            names = [match.group(1) for match in _MARKUP_NAME.finditer(row) if _normal(match.group(1)) in CARD_FIELDS]
            names += [match.group(1) for match in _MARKUP_AUTOCOMPLETE.finditer(row)]
            findings.extend(
                Finding(f"a form field {name!r} collects card data on our page", hint, path=relative, line=number)
                for name in names
            )
    return findings


@register("billing.hosted_fields", controls=("PAY-01", "PAY-02"), requires=REQUIRES)
def hosted_fields(project: Project) -> Outcome:
    """No model, parameter or form field of the app can carry a card number, CVC or expiry (PCI-DSS SAQ A)."""
    findings = [*_python_card_fields(project), *_markup_card_fields(project)]
    if findings:
        return failed(*findings)
    return passed("no card-number, CVC or expiry field in the app's code or pages: cards stay in hosted fields")


# ------------------------------------------------------------------ PAY-07 server-side amounts


@register("billing.server_side_amounts", controls=("PAY-07",), requires=REQUIRES)
def server_side_amounts(project: Project) -> Outcome:
    """The checkout request cannot carry an amount, price or currency; the core prices it from the catalog."""
    tree, problem = _tree(project, "web/routes/billing.py")
    if tree is None:
        return problem  # type: ignore[return-value]
    path = location(project, "web/routes/billing.py")
    models = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and "Checkout" in node.name]
    if not models:
        return failed(Finding("no checkout request model found", "declare CheckoutBody(price_id, quantity)", path))
    findings = []
    for model in models:
        findings.extend(
            Finding(
                f"{model.name}.{name} lets the client choose what it is charged",
                "remove it: amounts come from the server-side price catalog",
                path=path,
                line=line,
            )
            for name, line in class_fields(model).items()
            if _normal(name) in CLIENT_AMOUNT_FIELDS
        )
        if re.search(r"extra\s*=\s*['\"]allow['\"]", ast.unparse(model)):
            findings.append(
                Finding(f"{model.name} keeps unknown fields (extra='allow')", "use extra='ignore' or 'forbid'", path)
            )
    checkout = parse(source(project, "billing/checkout.py") or "")
    start = function(checkout, "start") if checkout else None
    if start is None or first_call(start, ("quote",)) is None:
        findings.append(
            Finding(
                "checkout does not price the request with the server-side catalog (no pricing.quote call)",
                "compute every amount with Pricing.quote",
                path=location(project, "billing/checkout.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("checkout takes a price id, quantity and coupon only; amounts come from Pricing.quote")


# ------------------------------------------------------------------ PAY-08 discount caps


def _cap_findings(project: Project, config: str) -> list[Finding] | Outcome:
    path = location(project, "config.py")
    findings = []
    for field, limit, meaning in (
        ("billing_max_discount_percent", 100, "a cap of 100% is no cap"),
        ("billing_max_discount_minor", None, "no absolute cap"),
    ):
        default = settings_default(config, field)
        if default is None:
            findings.append(Finding(f"no {field} setting", "declare the discount caps in Settings", path))
            continue
        value, line = default
        if value is NOT_LITERAL:
            return unknown(f"the default of {field} is computed", "make it a literal so preflight can read it")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (limit and value >= limit):
            findings.append(Finding(f"{field} defaults to {value!r}: {meaning}", "set a real cap", path, line))
    return findings


@register("billing.discount_caps", controls=("PAY-08",), requires=REQUIRES)
def discount_caps(project: Project) -> Outcome:
    """Percentage and absolute discount caps are configured, wired into pricing, and checked on every coupon."""
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare billing_max_discount_percent / _minor")
    findings = _cap_findings(project, config)
    if isinstance(findings, Outcome):
        return findings
    service = source(project, "billing/service.py") or ""
    if "billing_max_discount_percent" not in service or "billing_max_discount_minor" not in service:
        findings.append(
            Finding(
                "the configured caps are not passed to pricing",
                "DiscountCaps(max_percent=settings.billing_max_discount_percent, max_minor=...)",
                path=location(project, "billing/service.py"),
            )
        )
    pricing = parse(source(project, "billing/pricing.py") or "")
    quote = function(pricing, "quote") if pricing else None
    if quote is None or first_call(quote, ("check_caps",)) is None:
        findings.append(
            Finding(
                "coupons are applied without checking the discount caps",
                "call check_caps(discount, subtotal, caps) in Pricing.quote",
                path=location(project, "billing/pricing.py"),
                line=quote.lineno if quote else None,
            )
        )
    if findings:
        return failed(*findings)
    return passed("discounts capped by billing_max_discount_percent and billing_max_discount_minor on every quote")


# ------------------------------------------------------------------ PAY-09 dual approval


@register("billing.dual_approval", controls=("PAY-09",), requires=REQUIRES)
def dual_approval(project: Project) -> Outcome:
    """The database itself refuses a self-approval and a second vote by the same approver."""
    table = _table(project, "billing_approvals")
    if table is None:
        return failed(
            Finding(
                "no billing_approvals table in the migrations", "record approvals with CHECK (approver <> requester)"
            )
        )
    findings = []
    if not any(
        re.search(r"\bapprover\s*(<>|!=)\s*requester\b|\brequester\s*(<>|!=)\s*approver\b", check)
        for check in table.checks
    ):
        findings.append(
            Finding(
                "billing_approvals has no CHECK (approver <> requester): a bypass of the service could self-approve",
                "add CheckConstraint('approver <> requester')",
                path=table.path,
                line=table.line,
            )
        )
    if not any({"adjustment_id", "approver"} <= set(columns) for columns in table.unique):
        findings.append(
            Finding(
                "one approver could approve the same request twice (no key over adjustment_id, approver)",
                "PrimaryKeyConstraint('adjustment_id', 'approver')",
                path=table.path,
                line=table.line,
            )
        )
    approvals = source(project, "billing/approvals.py") or ""
    if "SelfApprovalError" not in approvals:
        findings.append(
            Finding(
                "the approval service never refuses the requester",
                "raise SelfApprovalError when the approver requested it",
                path=location(project, "billing/approvals.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("credits and refunds need a different approver, enforced by the service and a CHECK")


# ------------------------------------------------------------------ PAY-12 object-locked invoices


def _terraform_blocks(text: str, resource_type: str) -> list[tuple[int, str]]:
    blocks = []
    for match in re.finditer(rf'resource\s+"{resource_type}"\s+"[^"]+"\s*\{{', text):
        depth, position = 1, match.end()
        while depth and position < len(text):
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            position += 1
        blocks.append((text.count("\n", 0, match.start()) + 1, text[match.end() : position]))
    return blocks


@register("billing.invoice_object_lock", controls=("PAY-12",), requires=REQUIRES)
def invoice_object_lock(project: Project) -> Outcome:
    """The invoice bucket has S3 Object Lock in COMPLIANCE mode, and the app writes locked objects."""
    terraform = [path for path in project.files if path.suffix == ".tf"]
    buckets = [
        (path, line)
        for path in terraform
        for line, body in _terraform_blocks(path.read_text(encoding="utf-8"), "aws_s3_bucket")
        if re.search(r"object_lock_enabled\s*=\s*true", body)
    ]
    locks = [
        (path, line, body)
        for path in terraform
        for line, body in _terraform_blocks(path.read_text(encoding="utf-8"), "aws_s3_bucket_object_lock_configuration")
    ]
    findings = []
    if not buckets:
        findings.append(
            Finding(
                "no S3 bucket with object_lock_enabled = true in the Terraform",
                "create the invoice bucket with Object Lock (infra/terraform/modules/invoices)",
            )
        )
    findings.extend(
        Finding(
            "the invoice Object Lock retention is not COMPLIANCE mode (GOVERNANCE can be bypassed)",
            'default_retention { mode = "COMPLIANCE" }',
            path=project.relative(path),
            line=line,
        )
        for path, line, body in locks
        if not re.search(r'mode\s*=\s*"COMPLIANCE"', body)
    )
    if not locks:
        findings.append(Finding("no aws_s3_bucket_object_lock_configuration", "set a COMPLIANCE default retention"))
    storage = source(project, "billing/storage.py") or ""
    if "COMPLIANCE" not in storage or "ObjectLockMode" not in storage:
        findings.append(
            Finding(
                "the invoice store does not write objects with COMPLIANCE retention",
                "put_object(..., ObjectLockMode='COMPLIANCE', ObjectLockRetainUntilDate=...)",
                path=location(project, "billing/storage.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("invoices are written once into an Object Lock bucket with COMPLIANCE retention")


# ------------------------------------------------------------------ PAY-10 encrypted invoices

#: AEAD ciphers of `cryptography` (dotted as called: `AESGCM(key).encrypt`).
AEAD_ENCRYPT = tuple(
    f"{cipher}().encrypt" for cipher in ("AESGCM", "AESGCMSIV", "AESOCB3", "AESCCM", "ChaCha20Poly1305")
)


def _module(project: Project, relative: str) -> ast.Module:
    """The parsed module, empty when it is missing or does not parse (its findings then say what is absent)."""
    return parse(source(project, relative) or "") or ast.Module(body=[], type_ignores=[])


def _first_parameter(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The first parameter after `self`: who the data belongs to (the tenant)."""
    names = [argument.arg for argument in [*node.args.posonlyargs, *node.args.args] if argument.arg != "self"]
    return names[0] if names else None


def _envelope_findings(project: Project) -> list[Finding]:
    """EnvelopeEncryptor.encrypt: AEAD under a fresh data key, wrapped per tenant, tenant bound as associated data."""
    relative = "billing/encryption.py"
    path = location(project, relative)
    encrypt = method(_module(project, relative), "EnvelopeEncryptor", "encrypt")
    if encrypt is None:
        return [Finding("no EnvelopeEncryptor.encrypt in billing/encryption.py", "seal invoices with it", path)]
    tenant = _first_parameter(encrypt) or "tenant"
    findings = []
    sealed = first_call(encrypt, AEAD_ENCRYPT)
    if sealed is None:
        findings.append(
            Finding(
                "EnvelopeEncryptor.encrypt does not seal with an AEAD cipher (AES-GCM, ChaCha20-Poly1305)",
                "AESGCM(data_key).encrypt(nonce, plaintext, associated_data): tampering must fail decryption",
                path,
                encrypt.lineno,
            )
        )
    elif len(sealed.args) < 3 or tenant not in names_used(sealed.args[2]):
        findings.append(
            Finding(
                "the invoice ciphertext is not bound to its tenant (no associated data naming the tenant)",
                "pass the tenant (and the invoice id) as AEAD associated data",
                path,
                sealed.lineno,
            )
        )
    if first_call(encrypt, ("generate_key",)) is None:
        findings.append(
            Finding("invoices are not encrypted under a fresh data key each", "AESGCM.generate_key(256)", path)
        )
    wrap = first_call(encrypt, ("wrap",))
    if wrap is None or not wrap.args or tenant not in names_used(wrap.args[0]):
        findings.append(
            Finding(
                "the data key is not wrapped with the tenant's key-encryption key",
                f"self._keys.wrap({tenant}, data_key): the wrapped key travels in the blob",
                path,
                encrypt.lineno,
            )
        )
    return findings


def _bound_value(scope: ast.AST, name: str, before: int) -> ast.expr | None:
    """The value last assigned to `name` in `scope` before line `before`."""
    value = None
    for node in ast.walk(scope):
        if (
            isinstance(node, ast.Assign)
            and node.lineno < before
            and any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
            and (value is None or node.lineno >= value.lineno)
        ):
            value = node.value
    return value


def _stored_plaintext_findings(project: Project) -> list[Finding]:
    """Whatever InvoiceService hands to its store is the encryptor's output."""
    relative = "billing/invoices.py"
    path = location(project, relative)
    functions = [node for node in ast.walk(_module(project, relative)) if isinstance(node, ast.FunctionDef)]
    # Outer functions come first in the walk: a put inside a nested function ends up owned by the innermost.
    puts = {id(call): (scope, call) for scope in functions for name, call in calls(scope) if name.endswith("store.put")}
    if not puts:
        return [Finding("InvoiceService never writes invoices to the store", "store the encrypted blob", path)]
    findings = []
    for scope, call in puts.values():
        data = call.args[1] if len(call.args) > 1 else keyword(call, "data")
        if isinstance(data, ast.Name):
            data = _bound_value(scope, data.id, call.lineno)
        if not (isinstance(data, ast.Call) and dotted(data.func).endswith("encryptor.encrypt")):
            findings.append(
                Finding(
                    f"{scope.name}() hands the store an invoice that is not the encryptor's ciphertext",
                    "store only self._encryptor.encrypt(tenant, document, context=...)",
                    path,
                    call.lineno,
                )
            )
    return findings


def _kek_findings(project: Project) -> list[Finding]:
    """The app's InvoiceService encrypts with data keys wrapped by the project's KEK, per tenant."""
    encryptors = [
        keyword(call, "encryptor")
        for name, call in calls(_module(project, "billing/service.py"))
        if named(name, ("InvoiceService",))
    ]
    wired = any(
        isinstance(value, ast.Call)
        and named(dotted(value.func), ("EnvelopeEncryptor",))
        and value.args
        and isinstance(value.args[0], ast.Call)
        and named(dotted(value.args[0].func), ("build_invoice_keys",))
        for value in encryptors
    )
    findings = []
    if not wired:
        findings.append(
            Finding(
                "invoice data keys are not wrapped by the project's KEK: InvoiceService gets no "
                "EnvelopeEncryptor(build_invoice_keys(...))",
                "LocalTenantKeys derives keys from one root secret and serves tests only; wire build_invoice_keys",
                location(project, "billing/service.py"),
            )
        )
    build = function(_module(project, "security/keyring.py"), "build_invoice_keys")
    if build is None or not any(
        isinstance(node, ast.Attribute) and node.attr == "tenant_kek" for node in ast.walk(build)
    ):
        findings.append(
            Finding(
                "build_invoice_keys does not wrap invoice keys with the project's KEK (settings.tenant_kek)",
                "InvoiceKeys(wrapper, settings.tenant_kek): Vault transit / KMS, bound to the tenant",
                location(project, "security/keyring.py"),
            )
        )
    return findings


@register("billing.invoice_encryption", controls=("PAY-10",), requires=REQUIRES)
def invoice_encryption(project: Project) -> Outcome:
    """The invoice store only ever receives AEAD ciphertext under a data key wrapped by the tenant-bound KEK."""
    findings = [*_envelope_findings(project), *_stored_plaintext_findings(project), *_kek_findings(project)]
    if findings:
        return failed(*findings)
    return passed("invoices are stored as AES-GCM ciphertext, tenant-bound, under data keys wrapped by the KEK")


# ------------------------------------------------------------------ PAY-11 sealed invoices

#: The stored digests a read must compare, and what each covers.
SEALS = (
    ("document_sha256", "the PDF's SHA-256"),
    ("content_sha256", "the seal embedded in the PDF"),
)


def _compares(node: ast.AST, field: str) -> bool:
    """A constant-time comparison (hmac/secrets.compare_digest) involving `<row>.field`."""
    return any(
        any(isinstance(child, ast.Attribute) and child.attr == field for child in ast.walk(call))
        for name, call in calls(node)
        if named(name, ("compare_digest",))
    )


def _refuses(tree: ast.Module, body: list[ast.stmt]) -> bool:
    """The branch raises, directly or through a method of the module that raises."""
    block = ast.Module(body=body, type_ignores=[])
    if any(isinstance(node, ast.Raise) for node in ast.walk(block)):
        return True
    helpers = (function(tree, name.rsplit(".", 1)[-1]) for name, _ in calls(block) if name.startswith("self."))
    return any(helper is not None and any(isinstance(n, ast.Raise) for n in ast.walk(helper)) for helper in helpers)


def _digest_equality(reader: ast.AST) -> list[ast.Compare]:
    """`==` / `!=` on a digest: the time it takes tells an attacker how much of it matched."""
    return [
        node
        for node in ast.walk(reader)
        if isinstance(node, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops)
        and re.search(r"sha256|digest|seal", ast.unparse(node))
    ]


def _reader_findings(tree: ast.Module, reader: ast.FunctionDef, path: str) -> list[Finding]:
    findings = [
        Finding(
            f"{reader.name}() compares invoice digests with == / != (not constant-time)",
            "hmac.compare_digest(actual, stored)",
            path,
            node.lineno,
        )
        for node in _digest_equality(reader)
    ]
    returns = [node.lineno for node in ast.walk(reader) if isinstance(node, ast.Return) and node.value is not None]
    for field, what in SEALS:
        checks = [node for node in ast.walk(reader) if isinstance(node, ast.If) and _compares(node.test, field)]
        if not checks:
            message = f"{reader.name}() returns invoices without comparing {what} with {field} in constant time"
            findings.append(Finding(message, "if not hmac.compare_digest(...): refuse and alert", path, reader.lineno))
        elif not any(_refuses(tree, check.body) for check in checks):
            message = f"{reader.name}() does not refuse an invoice whose {field} does not match"
            findings.append(
                Finding(message, "raise InvoiceTamperedError (and alert): never serve it", path, checks[0].lineno)
            )
        elif returns and min(returns) < min(check.lineno for check in checks):
            message = f"{reader.name}() returns the invoice before checking {field}"
            findings.append(Finding(message, "verify both digests, then return", path, min(returns)))
    return findings


def _seal_writer_findings(project: Project, tree: ast.Module, path: str) -> list[Finding]:
    findings = []
    hashing = {name for name, _ in calls(tree) if name.startswith("hashlib.")}
    if "hashlib.sha256" not in hashing or hashing & {"hashlib.md5", "hashlib.sha1", "hashlib.new"}:
        findings.append(
            Finding("invoices are not sealed with SHA-256", "hashlib.sha256 over the content and the PDF bytes", path)
        )
    issue = method(tree, "InvoiceService", "issue")
    if issue is None or not all(_has_sql(issue, rf"INSERT INTO billing_invoices\b.*\b{f}\b") for f, _ in SEALS):
        findings.append(
            Finding(
                "issued invoices do not record content_sha256 and document_sha256",
                "store both digests in billing_invoices when the invoice is issued",
                path,
                issue.lineno if issue else None,
            )
        )
    pdf = _module(project, "billing/invoice_pdf.py")
    render = function(pdf, "render")
    if render is None or function(pdf, "embedded_seal") is None or "seal" not in names_used(render):
        findings.append(
            Finding(
                "the PDF does not carry its seal (render never embeds it, or embedded_seal is missing)",
                "write sha256=<seal> into the PDF metadata and read it back with embedded_seal",
                location(project, "billing/invoice_pdf.py"),
            )
        )
    return findings


@register("billing.invoice_seal", controls=("PAY-11",), requires=REQUIRES)
def invoice_seal(project: Project) -> Outcome:
    """Each invoice's SHA-256 digests are stored at issue and compared in constant time before any read returns it."""
    tree, problem = _tree(project, "billing/invoices.py")
    if tree is None:
        return problem  # type: ignore[return-value]
    path = location(project, "billing/invoices.py")
    readers = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and any(name.endswith("store.get") for name, _ in calls(node))
    ]
    findings = _seal_writer_findings(project, tree, path)
    if not readers:
        findings.append(Finding("no invoice read path in billing/invoices.py", "InvoiceService.fetch", path))
    for reader in readers:
        findings.extend(_reader_findings(tree, reader, path))
    if findings:
        return failed(*findings)
    return passed("SHA-256 digests stored at issue; every read compares both with hmac.compare_digest or refuses")


# ------------------------------------------------------------------ PAY-13 tax by jurisdiction

#: The EU member states (ISO 3166-1 alpha-2: Greece is GR, EL only prefixes its VAT ids).
EU_MEMBER_STATES = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
        "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip
#: A standard VAT rate above this is a typo, not a rate (the highest in the EU is 27%).
MAX_VAT_PERCENT = 30.0
#: Customer data the table engine cannot tax without, and what accepting it unchecked means.
UNUSABLE_TAX_DATA = (
    ("vat_id", "a malformed VAT id, or another country's, is accepted (no TaxError on customer.vat_id)"),
    ("region", "a US sale without a valid state is taxed anyway (no TaxError on customer.region)"),
)


def _percent(node: ast.expr) -> float | None:
    """A rate literal: `"19"`, `19`, or `Decimal("19")`."""
    if isinstance(node, ast.Call) and len(node.args) == 1:
        node = node.args[0]
    try:
        return float(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError):
        return None


def _rate_table(tree: ast.Module, name: str) -> dict[str, float | None] | None:
    """`{code: percent}` of a module-level dict display, or of a comprehension over one (`{c: Decimal(r) ...}`)."""
    value = module_assignment(tree, name)
    if value is None:
        return None
    display = next((node for node in ast.walk(value) if isinstance(node, ast.Dict)), None)
    if display is None:
        return None
    return {
        key.value: _percent(rate)
        for key, rate in zip(display.keys, display.values, strict=True)
        if isinstance(key, ast.Constant) and isinstance(key.value, str)
    }


def _jurisdictions(decide: ast.AST, eu: set[str]) -> set[str]:
    """The countries decide() has a rule for: `country == "GB"`, and `country in EU_VAT_RATES`."""
    handled = set()
    for node in ast.walk(decide):
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            operator, right = node.ops[0], node.comparators[0]
            if isinstance(operator, ast.Eq) and isinstance(right, ast.Constant) and isinstance(right.value, str):
                handled.add(right.value)
            elif isinstance(operator, ast.In) and isinstance(right, ast.Name) and right.id == "EU_VAT_RATES":
                handled |= eu
    return handled


def _eu_table_findings(tree: ast.Module, path: str) -> tuple[set[str], list[Finding]]:
    table = _rate_table(tree, "EU_VAT_RATES")
    if table is None:
        return set(), [Finding("no EU_VAT_RATES table in billing/tax.py", "list every member state's rate", path)]
    findings = []
    absent = sorted(EU_MEMBER_STATES - set(table))
    if absent:
        findings.append(
            Finding(
                f"the EU VAT table misses member states: {', '.join(absent)} (their sales would be taxed at 0%)",
                "list the standard rate of every EU member state (OSS destination rates)",
                path,
            )
        )
    findings.extend(
        Finding(f"EU_VAT_RATES[{code!r}] is {rate}: not a standard VAT rate", f"0 < rate <= {MAX_VAT_PERCENT}", path)
        for code, rate in sorted(table.items())
        if rate is None or not 0 < rate <= MAX_VAT_PERCENT
    )
    return set(table), findings


def _reverse_charge(engine: ast.ClassDef) -> bool:
    """A TaxDecision(reverse_charge=True) under a condition on the customer's VAT id and the seller's country."""
    for node in ast.walk(engine):
        if not isinstance(node, ast.If):
            continue
        condition = {getattr(child, "id", getattr(child, "attr", None)) for child in ast.walk(node.test)}
        decisions = [call for name, call in calls(ast.Module(body=node.body, type_ignores=[])) if name == "TaxDecision"]
        flags = [keyword(call, "reverse_charge") for call in decisions]
        if {"vat_id", "seller_country"} <= condition and any(
            isinstance(flag, ast.Constant) and flag.value is True for flag in flags
        ):
            return True
    return False


def _refuses_unusable(tree: ast.Module, decide: ast.AST, field: str) -> bool:
    """decide() hands `customer.<field>` to a function of the module that raises TaxError."""
    for name, call in calls(decide):
        arguments = [*call.args, *(item.value for item in call.keywords)]
        if any(isinstance(node, ast.Attribute) and node.attr == field for arg in arguments for node in ast.walk(arg)):
            helper = function(tree, name.rsplit(".", 1)[-1])
            if helper is not None and raises(helper, ("TaxError",)):
                return True
    return False


def _seller_findings(project: Project, handled: set[str]) -> list[Finding]:
    config = source(project, "config.py") or ""
    default = settings_default(config, "billing_seller_country") if parse(config) else None
    path = location(project, "config.py")
    if default is None:
        return [Finding("no billing_seller_country setting", "the seller's country decides domestic VAT", path)]
    seller, line = default
    if seller is NOT_LITERAL or seller in handled:
        return []
    return [
        Finding(
            f"the seller's country {seller!r} has no rule in the tax table (its domestic sales would be taxed at 0%)",
            "default billing_seller_country to a jurisdiction TableTaxEngine.decide handles, or add its rule",
            path,
            line,
        )
    ]


def _engine_findings(tree: ast.Module, engine: ast.ClassDef, decide: ast.AST, path: str) -> list[Finding]:
    findings = []
    if not _reverse_charge(engine):
        findings.append(
            Finding(
                "no reverse charge: a B2B customer with a VAT id outside the seller's country is charged VAT",
                "if vat_id and country != self.seller_country: TaxDecision(..., reverse_charge=True, note=...)",
                path,
                engine.lineno,
            )
        )
    findings.extend(
        Finding(message, "raise TaxError: never guess a tax treatment", path, engine.lineno)
        for field, message in UNUSABLE_TAX_DATA
        if not _refuses_unusable(tree, decide, field)
    )
    return findings


@register("billing.tax_jurisdictions", controls=("PAY-13",), requires=REQUIRES)
def tax_jurisdictions(project: Project) -> Outcome:
    """Every EU state, and the seller's own country, has a VAT rule; B2B reverse charge; unusable tax data refused."""
    tree, problem = _tree(project, "billing/tax.py")
    if tree is None:
        return problem  # type: ignore[return-value]
    path = location(project, "billing/tax.py")
    engine = next((n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "TableTaxEngine"), None)
    decide = method(tree, "TableTaxEngine", "decide")
    if engine is None or decide is None:
        return failed(Finding("no TableTaxEngine.decide in billing/tax.py", "keep the rules table engine", path))
    eu, findings = _eu_table_findings(tree, path)
    handled = _jurisdictions(decide, eu)
    findings += [*_engine_findings(tree, engine, decide, path), *_seller_findings(project, handled)]
    issue = method(_module(project, "billing/invoices.py"), "InvoiceService", "issue")
    if issue is None or first_call(issue, ("decide",)) is None:
        findings.append(
            Finding(
                "invoices are not taxed by jurisdiction: InvoiceService.issue never asks the tax engine (decide)",
                "decision = self._tax.decide(tax_customer); tax_totals(nets, decision)",
                location(project, "billing/invoices.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed(
        f"VAT rules for {len(eu)} EU states, {', '.join(sorted(handled - eu))}; reverse charge; bad data refused"
    )


# ------------------------------------------------------------------ PAY-14 lifecycle edge cases are tested


@dataclass(frozen=True)
class EdgeCase:
    """A billing edge case the project's own tests must exercise.

    Attributes:
        label: what the catalog calls it.
        module / function: where the project decides it.
        test_name: what a test of it is called (a regex searched in the test function's name).
    """

    label: str
    module: str
    function: str
    test_name: str


EDGE_CASES = (
    EdgeCase("free trials", "billing/subscriptions.py", "start", r"trial"),
    EdgeCase("proration", "billing/subscriptions.py", "prorate", r"prorat"),
    EdgeCase("failed renewals", "billing/subscriptions.py", "renewal_failed", r"renewal|dunning"),
    EdgeCase("partial refunds", "billing/approvals.py", "request_refund", r"partial.*refund|refund.*partial"),
)


def _proves(test: ProjectTest, case: EdgeCase) -> bool:
    """Named for the case, reaches its function (itself or through its module's helpers), and asserts."""
    if not re.search(case.test_name, test.function.name):
        return False
    scopes = reachable(test.module, test.function)
    reaches = any(first_call(scope, (case.function,)) is not None for scope in scopes)
    asserts = any(
        isinstance(node, ast.Assert) or (isinstance(node, ast.Call) and named(dotted(node.func), ("raises",)))
        for scope in scopes
        for node in ast.walk(scope)
    )
    return reaches and asserts


@register("billing.lifecycle_tests", controls=("PAY-14",), requires=REQUIRES)
def lifecycle_tests(project: Project) -> Outcome:
    """The project's tests exercise free trials, proration, failed renewals and partial refunds (none skipped)."""
    tests = project_tests(project)
    findings = []
    for case in EDGE_CASES:
        if function(_module(project, case.module), case.function) is None:
            findings.append(
                Finding(
                    f"{case.function}() is missing from {case.module}",
                    f"{case.label} are decided there; restore it from the template",
                    location(project, case.module),
                )
            )
        proving = [test for test in tests if _proves(test, case)]
        if not proving:
            findings.append(
                Finding(
                    f"no test exercises {case.label}: none named like {case.test_name!r} calls "
                    f"{case.function}() and asserts",
                    f"add a test that drives {case.function}() through {case.label} and asserts exact amounts",
                    path="tests",
                )
            )
    if findings:
        return failed(*findings)
    return passed("tests exercise free trials, proration, failed renewals and partial refunds", tests=str(len(tests)))
