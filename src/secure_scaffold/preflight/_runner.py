"""Run the checks that prove the applicable controls of a project, and build the report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ..controls import Catalog, Control, load_catalog
from ..errors import PreflightError
from ..profiles import Profile
from ._model import CheckResult, ControlResult, Outcome, Report, Status, skipped, unknown
from ._project import Project
from ._registry import Check, CheckRegistry, registry
from ._tools import tool_log_position, tools_used

Progress = Callable[[str], None]


#: Scanner processes at once: checkov, detect-secrets, zizmor, actionlint and bandit each take a core.
TOOL_WORKERS = 4


def _guarded(check: Check, project: Project) -> Outcome:
    try:
        return check.run(project)
    except Exception as error:  # noqa: BLE001 - a crashing check must not pass or abort the run
        return unknown(
            f"check {check.name} crashed: {type(error).__name__}: {error}",
            "report this as a secure-scaffold bug; the control is unproven until it runs",
        )


def _run_checks(project: Project, checks: Iterable[Check], registry_: CheckRegistry, progress: Progress | None):
    """Run `checks` (and their prerequisites) once each; a check whose prerequisite did not pass is SKIPPED.

    Checks that wait on an external scanner start first, in a thread pool, as soon as their
    prerequisites pass; the in-process checks run meanwhile. The outcomes are the same as in
    a sequential run: only the waiting overlaps (preflight's wall time is the slowest scanner's,
    not their sum).
    """
    outcomes: dict[str, Outcome] = {}
    started: dict[str, Future[Outcome]] = {}

    def prerequisites_pass(check: Check) -> bool:
        for prerequisite in check.requires:
            if run(registry_[prerequisite]).status is not Status.PASSED:
                outcomes[check.name] = skipped(f"prerequisite {prerequisite} did not pass")
                return False
        return True

    def run(check: Check) -> Outcome:
        if check.name in outcomes:
            return outcomes[check.name]
        if check.name in started:
            outcomes[check.name] = started.pop(check.name).result()
            return outcomes[check.name]
        if prerequisites_pass(check):
            if progress:
                progress(check.name)
            outcomes[check.name] = _guarded(check, project)
        return outcomes[check.name]

    checks = list(checks)
    with ThreadPoolExecutor(max_workers=TOOL_WORKERS, thread_name_prefix="preflight-tool") as pool:
        for check in checks:
            waiting = check.name in outcomes or check.name in started
            if check.runs_tool and not waiting and prerequisites_pass(check):
                if progress:
                    progress(check.name)
                started[check.name] = pool.submit(_guarded, check, project)
        for check in checks:
            run(check)
    return outcomes


def run_preflight(
    path: Path,
    *,
    only: Iterable[str] = (),
    skip: Mapping[str, str] | None = None,
    catalog: Catalog | None = None,
    checks: CheckRegistry | None = None,
    progress: Progress | None = None,
    profile: Profile | None = None,
    allow_unknown: Mapping[str, str] | None = None,
) -> Report:
    """Preflight the project at `path`.

    Args:
        only: control ids to restrict the run to (all applicable ones when empty). The applicable
            controls left out are reported as not selected, and the verdict is at best PARTIAL.
        skip: control id -> the reason it is skipped; recorded in the report.
        allow_unknown: control id -> why the run accepts it staying UNKNOWN (a tool that cannot run
            here, say); recorded in the report. Without it, an unchecked blocking control makes the
            verdict INCOMPLETE.
        progress: called with each check's name before it runs.
        profile: the organisation's authoritative profile, checked instead of the recorded copy.
    """
    from . import checks as _builtin_checks  # noqa: F401 - registers the built-in checks

    if not path.is_dir():
        raise PreflightError(f"{path} is not a directory")
    skip = dict(skip or {})
    allow_unknown = dict(allow_unknown or {})
    catalog = catalog or load_catalog()
    registry_ = checks or registry
    project = Project.load(path)
    project.org_profile = profile.as_answer() if profile is not None else None
    unknown_ids = sorted((set(only) | set(skip) | set(allow_unknown)) - {control.id for control in catalog})
    if unknown_ids:
        raise PreflightError(f"unknown control id(s): {', '.join(unknown_ids)}")
    for flag, reasons in (("--skip", skip), ("--allow-unknown", allow_unknown)):
        for control_id, reason in reasons.items():
            if not reason.strip():
                raise PreflightError(f"{flag} {control_id} needs a --reason (it is recorded in the report)")

    applicable = _applicable(catalog, project)
    recorded_answers = dict(project.answers)
    project.answers = project.answers_matching_tree()
    not_applicable = tuple(control.id for control in catalog if control not in applicable)
    selected = tuple(dict.fromkeys(only))
    not_selected: tuple[str, ...] = ()
    if selected:
        not_selected = tuple(control.id for control in applicable if control.id not in selected)
        applicable = [control for control in applicable if control.id in selected]

    tool_mark = tool_log_position()
    wanted = [check for control in applicable if control.id not in skip for check in registry_.for_control(control.id)]
    outcomes = _run_checks(project, wanted, registry_, progress)

    results = []
    for control in applicable:
        if control.id in skip:
            results.append(_result(control, Status.SKIPPED, (), skip_reason=skip[control.id]))
            continue
        check_results = tuple(
            CheckResult(check.name, outcomes[check.name]) for check in registry_.for_control(control.id)
        )
        if not check_results:
            no_check = unknown(
                "no automated check proves this control yet",
                "prove it by review and record the evidence, or skip it with --skip ID --reason",
            )
            check_results = (CheckResult("catalog.no_check", no_check),)
        status = max((result.outcome.status for result in check_results), key=lambda status: status.rank)
        accepted = allow_unknown.get(control.id) if status is Status.UNKNOWN else None
        results.append(_result(control, status, check_results, accepted_reason=accepted))
    return Report(
        project=str(project.root),
        generated=project.generated,
        answers=recorded_answers,
        results=tuple(results),
        not_applicable=not_applicable,
        selected=selected,
        not_selected=not_selected,
        contradictions=tuple(contradiction.message for contradiction in project.contradictions),
        tools=tools_used(since=tool_mark),
    )


def _applicable(catalog: Catalog, project: Project) -> list[Control]:
    """The controls the project must meet: its answers decide, unless its tree has code they switch off.

    A project whose answers file was edited to `payment_provider: none` while `billing/` is still
    there keeps its billing controls: they apply under any answer that matches the tree.
    """
    if not project.generated:
        return list(catalog)
    applying = {control.id for answers in project.answer_variants() for control in catalog.applicable(answers)}
    return [control for control in catalog if control.id in applying]


def _result(
    control,
    status: Status,
    checks: tuple[CheckResult, ...],
    *,
    skip_reason: str | None = None,
    accepted_reason: str | None = None,
):
    return ControlResult(
        control_id=control.id,
        title=control.title,
        severity=control.severity,
        owner=control.owner,
        compliance=control.compliance,
        status=status,
        checks=checks,
        skip_reason=skip_reason,
        accepted_reason=accepted_reason,
    )
