"""Taking and refunding money (PAY-01/02, PAY-06 to PAY-08): what a checkout or refund request may carry.

Proves cards never touch the app (no field of a model, parameter or page can
carry card data: PCI-DSS SAQ A); that checkout and refunds require an
Idempotency-Key claimed under a unique key in Postgres, so a retry never
charges twice; that the client cannot choose what it is charged (amounts come
from the server-side catalog) and that a webhook marks a checkout or renewal
paid only when the provider billed that price; and that discounts are capped
on every quote. Who may pay money back, and to whom (PAY-09), is
`billing_approvals`.
"""

from __future__ import annotations

import ast
import re

from .._model import Finding, Outcome, failed, passed, unknown
from .._project import Project
from .._registry import register
from ._python import (
    calls,
    class_fields,
    dotted,
    first_call,
    function,
    module_assignment,
    named,
    parse,
    string_literals,
)
from ._source import NOT_LITERAL, location, missing, settings_default, source
from .billing import REQUIRES, has_sql, migrated_table, tree_or_problem

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
    if store is None or not has_sql(store, r"INSERT INTO billing_idempotency_keys\b.*ON CONFLICT.*DO NOTHING"):
        findings.append(
            Finding(
                "idempotency keys are not claimed by an INSERT ... ON CONFLICT DO NOTHING in Postgres",
                "let a unique key decide concurrent duplicates; never check-then-insert or keep keys in memory",
                path=location(project, "billing/idempotency.py"),
            )
        )
    table = migrated_table(project, "billing_idempotency_keys")
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
    tree, problem = tree_or_problem(project, "web/routes/billing.py")
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
    findings.extend(_paid_amount_findings(project))
    if findings:
        return failed(*findings)
    return passed(
        "checkout takes a price id, quantity and coupon only; amounts come from Pricing.quote; "
        "webhooks count a checkout or renewal as paid only at that price"
    )


#: The one comparison that decides `paid` (billing/amounts.py).
_AMOUNT_CHECK = ("paid_as_priced",)


def _reads_checkout_price(node: ast.AST) -> bool:
    """The function's SQL reads a checkout's `due_now_minor` (what the server priced)."""
    sql = " ".join(string_literals(node))
    return "due_now_minor" in sql and "billing_checkouts" in sql


def _compares_checkout_price(node: ast.AST) -> bool:
    return any(named(name, _AMOUNT_CHECK) and "due_now_minor" in ast.unparse(call) for name, call in calls(node))


def _paid_amount_findings(project: Project) -> list[Finding]:
    """billing/webhooks.py decides `paid` by comparing what the provider billed with what the server priced.

    Every function that reads a checkout's `due_now_minor` compares it (the checkout's own completion, and a
    first payment reported apart, which the payment ledger records), and the function that looks up a
    renewal's price (`renewal_price`) compares that: without them a discount taken on the provider's page
    is recorded as paid, and could be credited back in full.
    """
    relative = "billing/webhooks.py"
    tree = parse(source(project, relative) or "")
    path = location(project, relative)
    if tree is None:
        return [Finding(f"{relative} is missing or does not parse", "restore it from the template", path)]
    readers = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _reads_checkout_price(node)
    ]
    unchecked = [node for node in readers if not _compares_checkout_price(node)]
    findings = []
    if not readers or unchecked:
        findings.append(
            Finding(
                "a webhook marks a checkout paid without comparing what the provider billed with due_now_minor",
                "decide paid with amounts.paid_as_priced(event, <checkout>.due_now_minor, <checkout>.currency)",
                path,
                unchecked[0].lineno if unchecked else None,
            )
        )
    renewal_checked = any(
        first_call(node, ("renewal_price",)) is not None and first_call(node, _AMOUNT_CHECK) is not None
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )
    if not renewal_checked:
        findings.append(
            Finding(
                "a paid renewal is applied without comparing its amount with the subscription's price",
                "look the price up with amounts.renewal_price and apply the renewal only if paid_as_priced",
                path,
            )
        )
    return findings


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
