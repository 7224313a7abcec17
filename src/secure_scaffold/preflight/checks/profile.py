"""Org-profile drift: a project keeps the answers its organisation's profile locks (GOV-05)."""

from __future__ import annotations

from ..._update import recorded_profile_history
from .._model import Finding, Outcome, failed, passed, skipped
from .._project import Project
from .._registry import register
from .workflows import workflows


def _preflights_without_the_org_profile(project: Project) -> list[Finding]:
    """Preflight steps that never pass `--profile`: they trust the editable recorded copy.

    Judged step by step, so one step with `--profile` does not vouch for another without it.
    """
    return [
        Finding(
            f"{workflow.path.name} runs preflight without the organisation's profile",
            'pass `--profile "$SECURE_SCAFFOLD_PROFILE"` from an organisation variable holding the profile\'s URL',
            path=workflow.path.relative_to(project.root).as_posix(),
            line=workflow.line_of("secure-scaffold preflight"),
        )
        for workflow in workflows(project)
        if any(
            "secure-scaffold preflight" in run and "--profile" not in run
            for job in workflow.jobs.values()
            for run in (str(step.get("run", "")) for step in workflow.steps(job))
        )
    ]


@register("profile.locked_answers", controls=("GOV-05",))
def locked_answers(project: Project) -> Outcome:
    """Every answer the organisation's profile locks still has its locked value.

    The copy of the profile recorded in `.copier-answers.yml` is used unless the
    organisation's own copy is given (`preflight --profile`); then the recorded
    copy must also match it, since a team can edit its answers file. For the
    same reason every workflow that runs preflight must be able to pass the
    organisation's copy (`--profile`).
    """
    recorded = project.answers.get("profile") or {}
    profile = project.org_profile if project.org_profile is not None else recorded
    locked = (profile.get("locked") or {}) if isinstance(profile, dict) else {}
    findings = []
    if project.org_profile is not None and recorded != project.org_profile:
        findings.append(
            Finding(
                "the recorded profile differs from the organisation's",
                "move to it with `secure-scaffold update --profile PROFILE` (or --restore-locks --profile PROFILE)",
                path=".copier-answers.yml",
            )
        )
    if not profile and not findings:
        dropped = recorded_profile_history(project.root) if (project.root / ".git").exists() else {}
        if dropped:
            return failed(
                Finding(
                    f"the {dropped.get('name')!r} profile this project recorded has been dropped from its answers, "
                    "and its locks with it",
                    "put it back with `secure-scaffold update --restore-locks` (it re-renders what the locks decide)",
                    path=".copier-answers.yml",
                )
            )
        return skipped("no organisation profile is recorded or given (preflight --profile), so nothing is locked")
    findings += _preflights_without_the_org_profile(project)
    if not locked and not findings:
        return passed(f"the {profile.get('name')!r} profile locks no answers")
    owner = profile.get("name", "org")
    findings += [
        Finding(
            f"{name} is {project.answers.get(name)!r}, but the {owner!r} profile locks it to {value!r}",
            "restore it with `secure-scaffold update --restore-locks` (add --profile ORG_PROFILE when the "
            "recorded copy is not the organisation's current one), or have the platform team change the profile",
            path=".copier-answers.yml",
        )
        for name, value in sorted(locked.items())
        if project.answers.get(name) != value
    ]
    if findings:
        return failed(*findings)
    return passed(f"all {len(locked)} answers locked by the {profile.get('name')!r} profile are kept")
