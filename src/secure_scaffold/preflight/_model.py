"""Value objects of a preflight run: findings, check outcomes, control results, the report.

Four outcome states, as checkov has them: PASSED, FAILED, UNKNOWN (the check
could not decide: a tool is missing, a file could not be parsed), SKIPPED
(an operator skipped it with a recorded reason, or a prerequisite failed).
"Could not decide" is never PASSED.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Verdict(enum.StrEnum):
    """A whole run's conclusion; each has its own exit code (`exit_code`)."""

    PASS = "PASS"  # noqa: S105 - a verdict, not a credential
    FAIL = "FAIL"
    INCOMPLETE = "INCOMPLETE"
    #: Every selected control passed, but the run was restricted (`--only`): the rest were not checked.
    PARTIAL = "PARTIAL"

    @property
    def exit_code(self) -> int:
        """0 pass or partial, 1 a blocking control failed, 3 one could not be checked (2 is a usage error).

        PARTIAL exits 0 so a developer can iterate on one control (`--only AUTH-10`) in a
        loop; it is never mistaken for a pass because every format says PARTIAL, `ok` is
        false, and the deploy gate refuses restricted runs.
        """
        return {"PASS": 0, "FAIL": 1, "INCOMPLETE": 3, "PARTIAL": 0}[self.value]


class Status(enum.StrEnum):
    """Outcome of a check, and of a control (the worst of its checks)."""

    PASSED = "passed"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"

    @property
    def rank(self) -> int:
        """Worse outcomes rank higher; a control takes its worst check's status."""
        return {"passed": 0, "skipped": 1, "unknown": 2, "failed": 3}[self.value]


@dataclass(frozen=True)
class Finding:
    """One concrete problem, located where possible, with the way out."""

    message: str
    hint: str
    path: str | None = None
    line: int | None = None

    @property
    def location(self) -> str:
        if self.path and self.line:
            return f"{self.path}:{self.line}"
        return self.path or ""


@dataclass(frozen=True)
class Outcome:
    """What one check concluded, with the evidence it looked at."""

    status: Status
    findings: tuple[Finding, ...] = ()
    summary: str = ""
    evidence: Mapping[str, str] = field(default_factory=dict)


def passed(summary: str, **evidence: str) -> Outcome:
    return Outcome(Status.PASSED, (), summary, evidence)


def failed(*findings: Finding, **evidence: str) -> Outcome:
    if not findings:
        raise ValueError("a failed outcome needs at least one finding")
    return Outcome(Status.FAILED, tuple(findings), findings[0].message, evidence)


def unknown(reason: str, hint: str, **evidence: str) -> Outcome:
    return Outcome(Status.UNKNOWN, (Finding(reason, hint),), reason, evidence)


def skipped(reason: str) -> Outcome:
    return Outcome(Status.SKIPPED, (), reason)


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome, named."""

    check: str
    outcome: Outcome


@dataclass(frozen=True)
class ControlResult:
    """A catalog control and what preflight established about it in this project."""

    control_id: str
    title: str
    severity: str
    owner: str
    compliance: Mapping[str, tuple[str, ...]]
    status: Status
    checks: tuple[CheckResult, ...]
    skip_reason: str | None = None
    #: The run accepted this control being UNKNOWN (`--allow-unknown ID --reason TEXT`), and why.
    accepted_reason: str | None = None

    @property
    def blocking_failure(self) -> bool:
        return self.severity == "blocking" and self.status is Status.FAILED

    @property
    def unchecked_blocking(self) -> bool:
        """A blocking control nobody proved and the run did not explicitly accept as unproven."""
        return self.severity == "blocking" and self.status is Status.UNKNOWN and self.accepted_reason is None

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(finding for result in self.checks for finding in result.outcome.findings)


@dataclass(frozen=True)
class Report:
    """The whole run: every selected control's result, what did not apply, and what was not selected.

    Attributes:
        not_applicable: controls the project's answers (and its tree) rule out.
        selected: the ids a restricted run asked for (`--only`); empty for a full run.
        not_selected: applicable controls a restricted run did not check. They are not
            "not applicable": nobody looked at them, so the verdict is at best PARTIAL.
        contradictions: where the tree contradicts the answers file (a `billing/` package
            with `payment_provider: none`); the controls those answers switch off were run anyway.
        tools: each external tool the run found: its path and what its `--version` printed.
    """

    project: str
    generated: bool
    answers: Mapping[str, object]
    results: tuple[ControlResult, ...]
    not_applicable: tuple[str, ...]
    selected: tuple[str, ...] = ()
    not_selected: tuple[str, ...] = ()
    contradictions: tuple[str, ...] = ()
    tools: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def restricted(self) -> bool:
        """The run left applicable controls unchecked by selection (`--only`)."""
        return bool(self.not_selected)

    @property
    def blocking_failures(self) -> tuple[ControlResult, ...]:
        return tuple(result for result in self.results if result.blocking_failure)

    @property
    def unchecked(self) -> tuple[ControlResult, ...]:
        """Blocking controls that could not be evaluated (a tool missing, a file unreadable), not accepted."""
        return tuple(result for result in self.results if result.unchecked_blocking)

    @property
    def verdict(self) -> Verdict:
        """FAIL when a blocking control failed; INCOMPLETE when one could not be checked; PARTIAL when the
        run checked only a selection; else PASS.

        An unchecked blocking control is never a pass (house rule 10): the run
        must name it in `--allow-unknown` with a reason to pass without it. Nor is
        a control the run was told not to look at: a restricted run is PARTIAL.
        """
        if self.blocking_failures:
            return Verdict.FAIL
        if self.unchecked:
            return Verdict.INCOMPLETE
        if self.restricted:
            return Verdict.PARTIAL
        return Verdict.PASS

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.PASS

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status is status)
