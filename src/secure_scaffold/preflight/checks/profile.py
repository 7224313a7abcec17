"""Org-profile drift: a project keeps the answers its organisation's profile locks (GOV-05)."""

from __future__ import annotations

from ..._update import history_is_shallow, recorded_profiles
from ...profiles import loosened_answers
from .._model import Finding, Outcome, failed, passed, skipped, unknown
from .._project import Project
from .._registry import register
from ._preflight_calls import preflight_calls
from .workflows import workflows


def _preflights_without_the_org_profile(project: Project) -> list[Finding]:
    """Preflight commands that do not pass `--profile`, or that skip GOV-05: they trust the editable copy.

    Judged command by command, as the shell reads each step (a `# --profile` comment is not an
    argument), so one command with `--profile` does not vouch for another without it.
    """
    findings = []
    for workflow in workflows(project):
        where = {"path": workflow.path.relative_to(project.root).as_posix()}
        for job in workflow.jobs.values():
            for step in workflow.steps(job):
                for call in preflight_calls(str(step.get("run", ""))):
                    line = workflow.line_of("secure-scaffold preflight")
                    if not call.passes_profile:
                        findings.append(
                            Finding(
                                f"{workflow.path.name} runs preflight without the organisation's profile",
                                'pass `--profile "$SECURE_SCAFFOLD_PROFILE"` from an organisation variable '
                                "holding the profile's URL",
                                line=line,
                                **where,
                            )
                        )
                    if call.skips("GOV-05"):
                        findings.append(
                            Finding(
                                f"{workflow.path.name} runs preflight with GOV-05 skipped or its unknown accepted",
                                "the organisation's locks are not a team's to waive: remove the --skip/--allow-unknown",
                                line=line,
                                **where,
                            )
                        )
    return findings


def _version(profile: dict) -> int:
    try:
        return int(profile.get("version") or 0)
    except (TypeError, ValueError):
        return 0


def _history_outcome(project: Project, recorded: dict) -> Outcome | None:
    """What git history says about the recorded profile when the organisation's copy is not given.

    A dropped profile, or one whose locks changed under the same version, is a failure (the
    organisation publishes changes as new versions). A newer version that unlocks answers may be
    genuine, but only the organisation's own copy can say so: that is UNKNOWN, never a pass. A
    shallow clone cannot show history at all: UNKNOWN too, when no org copy is given.
    """
    if history_is_shallow(project.root):
        return unknown(
            "this clone is shallow, so preflight cannot see whether the organisation profile was dropped or loosened",
            "check out the full history (actions/checkout `fetch-depth: 0`) or pass --profile ORG_PROFILE",
        )
    history = recorded_profiles(project.root)
    if not history:
        return None
    if not recorded:
        dropped = history[0]
        return failed(
            Finding(
                f"the {dropped.get('name')!r} profile this project recorded has been dropped from its answers, "
                "and its locks with it",
                "put it back with `secure-scaffold update --restore-locks` (it re-renders what the locks decide)",
                path=".copier-answers.yml",
            )
        )
    earlier = next((profile for profile in history if profile != recorded), None)
    loosened = loosened_answers(earlier, recorded) if earlier else []
    if not loosened:
        return None
    names = ", ".join(loosened)
    if earlier.get("name") != recorded.get("name") or _version(recorded) <= _version(earlier):
        return failed(
            Finding(
                f"the recorded {recorded.get('name')!r} profile (version {recorded.get('version')}) no longer locks "
                f"{names} as version {earlier.get('version')} of {earlier.get('name')!r} did: a profile changes "
                "only as a new version its organisation publishes",
                "put the locks back with `secure-scaffold update --restore-locks --profile ORG_PROFILE`",
                path=".copier-answers.yml",
            )
        )
    return unknown(
        f"the project moved from version {earlier.get('version')} to {recorded.get('version')} of the "
        f"{recorded.get('name')!r} profile, which unlocks {names}; only the organisation's copy can confirm it "
        "published that",
        "run preflight with --profile ORG_PROFILE (CI passes $SECURE_SCAFFOLD_PROFILE)",
    )


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
    if project.org_profile is None and (project.root / ".git").exists():
        tampered = _history_outcome(project, recorded)
        if tampered is not None:
            return tampered
    if not profile and not findings:
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
