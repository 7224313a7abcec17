"""Tax by jurisdiction (PAY-13): every sale is taxed by the rule of its customer's jurisdiction.

Proves the VAT table lists a plausible standard rate for every EU member state
and that the seller's own country has a rule (a missing one taxes at 0%);
that a B2B customer with a VAT id in another country gets the reverse charge;
that a malformed VAT id or a US sale without a state is refused rather than
guessed; and that issuing an invoice asks the tax engine.
"""

from __future__ import annotations

import ast

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._python import calls, class_named, first_call, function, keyword, method, module_assignment, parse, raises
from ._source import NOT_LITERAL, location, settings_default, source
from .billing import REQUIRES, module_or_empty, tree_or_problem

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
    tree, problem = tree_or_problem(project, "billing/tax.py")
    if tree is None:
        return problem  # type: ignore[return-value]
    path = location(project, "billing/tax.py")
    engine = class_named(tree, "TableTaxEngine")
    decide = method(tree, "TableTaxEngine", "decide")
    if engine is None or decide is None:
        return failed(Finding("no TableTaxEngine.decide in billing/tax.py", "keep the rules table engine", path))
    eu, findings = _eu_table_findings(tree, path)
    handled = _jurisdictions(decide, eu)
    findings += [*_engine_findings(tree, engine, decide, path), *_seller_findings(project, handled)]
    issue = method(module_or_empty(project, "billing/invoices.py"), "InvoiceService", "issue")
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
