"""Compliance records read by preflight: the TPSP register behind PCI DSS SAQ A (PAY-03).

A template can generate the register, not the facts in it: whether the
provider's Attestation of Compliance was reviewed, and when, is recorded by
people. The check therefore fails a fresh project until someone does it, as
an auditor would.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import yaml

from .._model import Finding, Outcome, failed, passed, skipped
from .._project import Project
from .._registry import register

REGISTER = "docs/compliance/tpsp-register.yaml"
#: PCI DSS 12.8.4: monitor each TPSP's compliance status at least once every 12 months.
AOC_VALIDITY = timedelta(days=366)


def _today() -> date:
    return datetime.now(UTC).date()


@register("compliance.tpsp_register", controls=("PAY-03",))
def tpsp_register(project: Project) -> Outcome:
    """The payment provider is in the TPSP register, with an agreement and an AOC reviewed in the last year."""
    provider = project.answers.get("payment_provider")
    if project.generated and provider in (None, "none"):
        return skipped("no payment provider: no cardholder data, no TPSP")
    text = project.read(REGISTER)
    if text is None:
        return failed(
            Finding(f"{REGISTER} is missing", "list every TPSP that touches card data (PCI DSS 12.8.1)", REGISTER)
        )
    try:
        entries = (yaml.safe_load(text) or {}).get("providers") or []
    except (yaml.YAMLError, AttributeError) as error:
        return failed(Finding(f"{REGISTER} is not readable YAML ({error})", "fix the file", REGISTER))
    entry = next((item for item in entries if isinstance(item, dict) and item.get("id") == provider), None)
    if entry is None:
        return failed(
            Finding(f"the payment provider {provider!r} is not in the TPSP register", "add it (12.8.1)", REGISTER)
        )
    findings = []
    if not entry.get("agreement"):
        findings.append(
            Finding(
                f"no written agreement recorded for {entry.get('name', provider)}",
                "record the agreement acknowledging the provider's responsibility for card data (12.8.2)",
                REGISTER,
            )
        )
    reviewed = entry.get("aoc_reviewed_on")
    if not isinstance(reviewed, date) or not entry.get("aoc_reviewed_by"):
        findings.append(
            Finding(
                f"the AOC of {entry.get('name', provider)} has no recorded review",
                "review the provider's current Attestation of Compliance; record aoc_reviewed_on/by (12.8.4)",
                REGISTER,
            )
        )
    elif _today() - reviewed > AOC_VALIDITY:
        findings.append(
            Finding(
                f"the AOC of {entry.get('name', provider)} was last reviewed on {reviewed.isoformat()}",
                "review it at least every 12 months (12.8.4)",
                REGISTER,
            )
        )
    split = entry.get("responsibilities") or {}
    if not all(split.get(side) for side in ("provider", "entity")):
        findings.append(
            Finding(
                "the register does not split PCI DSS requirements between provider and us", "fill in 12.8.5", REGISTER
            )
        )
    if findings:
        return failed(*findings)
    return passed(f"{entry.get('name', provider)}: agreement on file, AOC reviewed {reviewed.isoformat()}")
