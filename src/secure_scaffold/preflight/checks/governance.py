"""Governance controls: every control has an owner, is reviewed quarterly, and its outcomes are recorded (GOV-*).

The checklist's closing paragraph asks to tie controls to owners, measure
outcomes and collect evidence. Owners live in a CODEOWNERS-style
`CONTROL_OWNERS` file (read by every report); the review and the outcome
records live in a scheduled workflow.
"""

from __future__ import annotations

import fnmatch
import re

from ...controls import load_catalog
from ...report import OWNERS_FILES, load_owners
from .._model import Finding, Outcome, failed, passed, unknown
from .._project import Project
from .._registry import register
from .workflows import Workflow, workflows

WORKFLOWS = ".github/workflows"
#: The outcome records must outlive a yearly audit period.
MINIMUM_RETENTION_DAYS = 365


@register("governance.owners", controls=("GOV-02",))
def owners(project: Project) -> Outcome:
    """CONTROL_OWNERS names an owner for every control that applies to this project."""
    pairs = load_owners(project.root)
    if not pairs:
        return failed(
            Finding(
                "no CONTROL_OWNERS file names the controls' owners",
                "add CONTROL_OWNERS: one `<control-id glob> <owner>` line per family (see the generated file)",
                path=OWNERS_FILES[0],
            )
        )
    catalog = load_catalog()
    applicable = catalog.applicable(project.answers) if project.generated else list(catalog)
    blank = [pattern for pattern, owner in pairs if not owner]
    orphans = [
        control.id
        for control in applicable
        if not any(fnmatch.fnmatchcase(control.id, pattern) for pattern, owner in pairs if owner)
    ]
    findings = [
        Finding(f"CONTROL_OWNERS line {pattern!r} names no owner", "write `<glob> <owner>`", path=OWNERS_FILES[0])
        for pattern in blank
    ]
    if orphans:
        findings.append(
            Finding(
                f"{len(orphans)} applicable controls have no owner: {', '.join(orphans)}",
                "add a CONTROL_OWNERS line that matches them",
                path=OWNERS_FILES[0],
            )
        )
    if findings:
        return failed(*findings)
    return passed(f"every one of {len(applicable)} applicable controls has an owner")


def _at_least_quarterly(cron: str) -> bool:
    """The cron fires in at least four months a year, at most three months apart."""
    fields = cron.split()
    if len(fields) != 5:
        return False
    month = fields[3]
    if month == "*":
        return True
    step = re.fullmatch(r"(?:\*|1)/(\d+)", month)
    if step:
        return int(step.group(1)) <= 3
    try:
        months = sorted({int(part) for part in month.split(",")})
    except ValueError:
        return False
    gaps = [later - earlier for earlier, later in zip(months, [*months[1:], months[0] + 12], strict=True)]
    return len(months) >= 4 and max(gaps) <= 3


def _review_workflows(project: Project) -> list[Workflow]:
    """Scheduled at least quarterly and running preflight."""
    return [
        workflow
        for workflow in workflows(project)
        if any(_at_least_quarterly(cron) for cron in workflow.crons) and "secure-scaffold preflight" in workflow.runs
    ]


@register("governance.quarterly_review", controls=("GOV-01",))
def quarterly_review(project: Project) -> Outcome:
    """A workflow runs preflight at least quarterly and opens a review for the owners."""
    if not (project.root / WORKFLOWS).is_dir():
        return unknown(f"no {WORKFLOWS} directory", "schedule a quarterly control review in your CI")
    reviews = [workflow for workflow in _review_workflows(project) if "gh issue create" in workflow.runs]
    if not reviews:
        return failed(
            Finding(
                "no scheduled workflow runs preflight at least quarterly and opens a review issue",
                "keep .github/workflows/control-review.yml (cron `0 9 1 1,4,7,10 *`)",
                path=WORKFLOWS,
            )
        )
    return passed(f"quarterly control review: {reviews[0].relative}")


@register("governance.outcomes_measured", controls=("GOV-03",))
def outcomes_measured(project: Project) -> Outcome:
    """Each review records the controls' outcomes, keeps them a year, and compares them with earlier runs."""
    if not (project.root / WORKFLOWS).is_dir():
        return unknown(f"no {WORKFLOWS} directory", "record preflight outcomes on a schedule in your CI")
    for workflow in _review_workflows(project):
        retention = [int(days) for days in re.findall(r"retention-days:\s*(\d+)", workflow.text)]
        if (
            "control_outcomes.py record" in workflow.runs
            and "control_outcomes.py trend" in workflow.runs
            and retention
            and max(retention) >= MINIMUM_RETENTION_DAYS
        ):
            if project.read("scripts/control_outcomes.py") is None:
                break
            return passed(f"outcomes recorded and compared over time by {workflow.relative}")
    return failed(
        Finding(
            "no scheduled workflow records control outcomes, keeps them a year and compares them over time",
            f"run scripts/control_outcomes.py record/trend in the quarterly review and keep the records "
            f"{MINIMUM_RETENTION_DAYS}+ days",
            path=WORKFLOWS,
        )
    )


# ------------------------------------------------------------------ GOV-06 the threat model

THREAT_MODEL = "docs/threat-model.md"
#: A table row of an abuse case: `| TM-... | actor | asset | attack | controls | refused by |`.
_ABUSE_ROW = re.compile(r"^\|\s*(TM-[A-Z]+-\d+)\s*\|(.*)\|\s*$")
_TEST_ID = re.compile(r"`(tests/[\w/.-]+\.py)::(\w+)(?:\[[^\]]*\])?`")


def _defines_test(source: str, name: str) -> bool:
    return re.search(rf"^(?:async\s+)?def {re.escape(name)}\(", source, re.MULTILINE) is not None


def _abuse_case_findings(project: Project, text: str) -> tuple[int, list[Finding]]:
    """How many abuse cases the page lists, and what is wrong with them."""
    findings: list[Finding] = []
    seen: set[str] = set()
    cases = 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = _ABUSE_ROW.match(line)
        if not match:
            continue
        cases += 1
        case, cells = match.group(1), match.group(2)
        if case in seen:
            findings.append(
                Finding(f"abuse case {case} is listed twice", "give each row its own id", THREAT_MODEL, number)
            )
        seen.add(case)
        tests = _TEST_ID.findall(cells.rsplit("|", 1)[-1])
        if not tests:
            findings.append(
                Finding(
                    f"abuse case {case} names no test that proves it is refused",
                    "end the row with `tests/<file>.py::<test>`, the negative test of the attack",
                    THREAT_MODEL,
                    number,
                )
            )
        for relative, name in tests:
            source = project.read(relative)
            if source is None or not _defines_test(source, name):
                findings.append(
                    Finding(
                        f"abuse case {case} names {relative}::{name}, which does not exist",
                        "point the row at the test that refuses the attack, or write that test",
                        THREAT_MODEL,
                        number,
                    )
                )
    return cases, findings


@register("governance.threat_model", controls=("GOV-06",))
def threat_model(project: Project) -> Outcome:
    """docs/threat-model.md lists abuse cases, and every one names a negative test that exists."""
    text = project.read(THREAT_MODEL)
    if text is None:
        return failed(
            Finding(
                f"{THREAT_MODEL} is missing",
                "list the actors, assets and abuse cases, each with the test that proves it is refused",
                path=THREAT_MODEL,
            )
        )
    cases, findings = _abuse_case_findings(project, text)
    if cases == 0:
        findings.append(
            Finding(
                f"{THREAT_MODEL} lists no abuse case",
                "add rows `| TM-<AREA>-NN | actor | asset | attack | controls | `tests/...::test_...` |`",
                path=THREAT_MODEL,
            )
        )
    if findings:
        return failed(*findings)
    return passed(f"{cases} abuse cases, each proven by a test that exists")
