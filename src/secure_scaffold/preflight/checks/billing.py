"""Billing controls (PAY-*): the common prerequisite, signed webhooks and their replay guard (PAY-04, PAY-05).

Every control proven here applies only when the project takes payments
(`applies_when: billing`, i.e. payment_provider != 'none'): for a project
generated without billing the runner lists them as not applicable and never
calls these checks. `billing.package` is their common prerequisite; it is
SKIPPED when the answers say `none`, and on a repository that was not
generated it reports the missing billing package once while the other
billing checks are skipped.

The checks read the generated design statically (no import, no database):
the provider adapter, the webhook route and core, the request models, the
settings and the Alembic migrations. The other billing checks live in
`billing_payments` (PAY-01/02, PAY-06 to PAY-09), `billing_invoices`
(PAY-10 to PAY-12), `billing_tax` (PAY-13) and `billing_lifecycle` (PAY-14);
they require `billing.package` and share the readers defined here.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .._model import Finding, Outcome, failed, passed, skipped, unknown
from .._project import Project
from .._registry import register
from . import _migrations
from ._python import calls, dotted, duration_seconds, first_call, function, module_assignment, named, names_used, parse
from ._source import location, missing, source

PACKAGE = "billing.package"
REQUIRES = (PACKAGE,)


@dataclass(frozen=True)
class Verifier:
    """How one provider's webhooks must be verified.

    Attributes:
        sdk: the official SDK's top-level module; the adapter must use it.
        calls: the SDK's own verifier (dotted-name endings).
        parses: what turns the body into events: must come after the verifier.
        tolerance: the module constant bounding an event's age, judged from a time the provider
            signs; None when the provider signs no time (then only the replay guard, PAY-05, holds).
        max_seconds: the most that tolerance may allow.
    """

    sdk: str
    calls: tuple[str, ...]
    parses: tuple[str, ...]
    tolerance: str | None
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
    # Adyen's HMAC signs each item's fields but no time (eventDate is unsigned): an age judged from it
    # could be faked, so there is none; the replay guard (unique id of signed fields) is the defence.
    "adyen": Verifier("Adyen", ("is_valid_hmac_notification",), ("_normalize",), None, 0),
}


def _provider(project: Project) -> str | None:
    answer = project.answers.get("payment_provider")
    if answer in VERIFIERS:
        return str(answer)
    present = [name for name in VERIFIERS if source(project, f"billing/{name}_provider.py") is not None]
    return present[0] if len(present) == 1 else None


# ------------------------------------------------------------------ readers shared with the billing_* modules


def tree_or_problem(project: Project, relative: str) -> tuple[ast.Module | None, Outcome | None]:
    """The parsed module, or the outcome to return when it is missing or unparsable."""
    text = source(project, relative)
    if text is None:
        return None, missing(project, relative, f"restore src/<package>/{relative} from the template")
    tree = parse(text)
    if tree is None:
        return None, unknown(f"{relative} does not parse", "fix the syntax error; preflight reads it statically")
    return tree, None


def module_or_empty(project: Project, relative: str) -> ast.Module:
    """The parsed module, empty when it is missing or does not parse (its findings then say what is absent)."""
    return parse(source(project, relative) or "") or ast.Module(body=[], type_ignores=[])


def migrated_table(project: Project, name: str) -> _migrations.Table | None:
    """The table `name` as the migrations leave it; None when absent or the project has no migrations."""
    migrations = _migrations.load(project)
    return _migrations.tables(migrations).get(name) if migrations is not None else None


def has_sql(node: ast.AST, pattern: str) -> bool:
    """Whether a string literal under `node` (adjacent literals are one) matches `pattern`."""
    return any(
        isinstance(child, ast.Constant) and isinstance(child.value, str) and re.search(pattern, child.value, re.DOTALL)
        for child in ast.walk(node)
    )


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
    if spec.tolerance is not None:
        findings.extend(_tolerance_findings(tree, verify, spec.tolerance, spec, path))
    return findings


def _tolerance_findings(tree: ast.Module, verify: ast.AST, tolerance: str, spec: Verifier, path: str) -> list[Finding]:
    value = module_assignment(tree, tolerance)
    seconds = duration_seconds(value)
    hint = f"bound event age: {tolerance} at most {spec.max_seconds:.0f} s, applied in verify_webhook"
    line = value.lineno if value is not None else None
    if seconds is None:
        return [Finding(f"no literal {tolerance}: the accepted event age is unbounded or unreadable", hint, path)]
    findings = []
    if not 0 < seconds <= spec.max_seconds:
        findings.append(
            Finding(f"{tolerance} allows {seconds:.0f} s (at most {spec.max_seconds:.0f})", hint, path, line)
        )
    # Applied = handed to the SDK's verifier, or compared with the event's age.
    applied = any(
        tolerance in names_used(node)
        for node in ast.walk(verify)
        if isinstance(node, ast.Compare) or (isinstance(node, ast.Call) and named(dotted(node.func), spec.calls))
    )
    if not applied:
        findings.append(Finding(f"verify_webhook does not apply {tolerance}", hint, path, line))
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
    """The raw body goes to the provider SDK's verifier before it is parsed or stored; event age is bounded
    wherever the provider signs a time."""
    provider = _provider(project)
    assert provider is not None  # billing.package passed
    findings = [*_route_findings(project), *_core_findings(project), *_adapter_findings(project, provider)]
    if findings:
        return failed(*findings)
    spec = VERIFIERS[provider]
    age = f"age bounded by {spec.tolerance}" if spec.tolerance else "no signed time, so replays stop at the id guard"
    return passed(f"{provider} webhooks verified with {spec.calls[0]} before parsing; {age}")


# ------------------------------------------------------------------ PAY-05 replay guard


@register("billing.webhook_replay_guard", controls=("PAY-05",), requires=REQUIRES)
def webhook_replay_guard(project: Project) -> Outcome:
    """A UNIQUE (provider, event_id) row is inserted in the same transaction that applies the event."""
    findings = []
    table = migrated_table(project, "billing_webhook_events")
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
        and has_sql(node, r"INSERT INTO billing_webhook_events\b.*ON CONFLICT.*DO NOTHING")
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
