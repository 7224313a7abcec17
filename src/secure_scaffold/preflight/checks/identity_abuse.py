"""Login abuse (AUTH-14, AUTH-15): credential stuffing is detected and repeated failures meet a bot challenge.

`identity.stuffing_detection` proves login attempts and failures are counted
per source against sane thresholds and that a spike is logged as a
`security_alert` a SIEM rule can page on (a flood over the global limit
too); `identity.bot_challenge` proves that after a few failures, a stuffing
alert or a flood, /auth/login and the WebAuthn ceremonies need a bot
challenge verified server-side that fails closed and that a person can
always pass. Both hold only if the login defences are installed, which
each checks.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._python import calls, first_call, keyword, named
from ._source import bounded_default, finding_at, function_of, location, missing, missing_call, settings_default, source
from .identity import REQUIRES, STEP_UP
from .identity_challenge import counted_failures, flood_challenges, solvable_challenge
from .monitoring import RUNTIME_MODULE, log_event_alarms

STUFFING = "security/stuffing.py"
ABUSE = "security/abuse.py"
BOT_CHALLENGE = "security/bot_challenge.py"
#: Thresholds above these let a stuffing run try many accounts before anyone hears of it.
STUFFING_CEILINGS = {"stuffing_accounts_per_source": 100, "stuffing_failures_per_source": 200}
#: A shorter window than this lets a slow run stay under the thresholds forever.
STUFFING_WINDOW_SECONDS = (300, 86_400)
#: Failures before a source or account must solve a challenge.
MAX_FAILURES_BEFORE_CHALLENGE = 10
ALERT_LEVELS = ("warning", "error", "critical")


@dataclass(frozen=True)
class _Call:
    """A call one function must make for a control to hold, and the finding when it does not."""

    relative: str
    function: str
    endings: tuple[str, ...]
    message: str
    hint: str


def _defences_installed(project: Project) -> Finding | None:
    """Both controls only act if the login guards of /auth/login and /auth/callback include the defences."""
    return missing_call(
        project,
        STEP_UP,
        "install_step_up",
        ("LoginDefenceGuard",),
        "the login defences are not installed on /auth/login and /auth/callback",
        "append LoginDefenceGuard(build_login_defences(...)) to app.state.identity.login_guards",
    )


@register("identity.stuffing_detection", controls=("AUTH-14",), requires=REQUIRES)
def stuffing_detection(project: Project) -> Outcome:
    """Every login attempt and failure is counted per source, and crossing a threshold raises an alert.

    Detection never blocks (the rate limits do); what matters is that a run
    is seen: counted, compared with sane thresholds, and logged as a
    `security_alert` a SIEM rule can page on.
    """
    if source(project, STUFFING) is None:
        return missing(project, STUFFING, "count distinct accounts and failures per source and alert on spikes")
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare the stuffing thresholds")
    findings = [
        *_calls_made(project, STUFFING_CALLS),
        *_stuffing_thresholds(project, config),
        *_alert_logged(project),
        *_settings_read(project, (*STUFFING_CEILINGS, "stuffing_window_seconds"), "stuffing monitor"),
    ]
    installed = _defences_installed(project)
    findings += [installed] if installed else []
    findings += _alert_pages(project)
    if findings:
        return failed(*findings)
    return passed("login attempts and failures are counted per source; spikes raise security_alert log events")


def _alert_pages(project: Project) -> list[Finding]:
    """Where the project deploys with this template's Terraform, a `security_alert` line pages someone."""
    if not (project.root / RUNTIME_MODULE).is_dir():
        return []  # deployed some other way: the log event is what the app can promise
    if log_event_alarms(project, "security_alert"):
        return []
    return [
        Finding(
            "nothing alarms on security_alert log lines: a credential-stuffing run pages nobody",
            "count them with an aws_cloudwatch_log_metric_filter and alarm on the first one",
            path=RUNTIME_MODULE,
        )
    ]


#: The stuffing pipeline: attempts and failures are counted, and thresholds raise alerts.
STUFFING_CALLS = (
    _Call(
        STUFFING,
        "StuffingMonitor.record_attempt",
        ("_alert_once", "emit"),
        "one source trying many accounts raises no alert",
        "emit a SecurityAlert once the distinct accounts of a source cross the threshold",
    ),
    _Call(
        STUFFING,
        "StuffingMonitor.record_failure",
        ("_alert_once", "emit"),
        "a spike of failed logins from one source raises no alert",
        "emit a SecurityAlert once the failures of a source cross the threshold",
    ),
    _Call(
        ABUSE,
        "LoginDefences.admit",
        ("record_attempt",),
        "login attempts are not counted for stuffing detection",
        "call monitor.record_attempt in LoginDefences.admit",
    ),
    _Call(
        ABUSE,
        "LoginDefenceGuard.after",
        ("failed", "record_failure"),
        "failed logins are not counted for stuffing detection",
        "report a failed callback with defences.failed(...)",
    ),
    _Call(
        ABUSE,
        "LoginDefences.admit",
        ("record_global_excess",),
        "exceeding the global login limit raises no alert",
        "call monitor.record_global_excess(scope, ...) when the limiter reports global_exceeded",
    ),
)


def _calls_made(project: Project, table: tuple[_Call, ...]) -> list[Finding]:
    return [
        finding
        for call in table
        if (finding := missing_call(project, call.relative, call.function, call.endings, call.message, call.hint))
    ]


def _stuffing_thresholds(project: Project, config: str) -> list[Finding]:
    why = "alert on credential stuffing"
    findings = [
        finding
        for name, ceiling in STUFFING_CEILINGS.items()
        if (finding := bounded_default(project, config, name, ceiling, unit="per window", why=why)) is not None
    ]
    default = settings_default(config, "stuffing_window_seconds")
    shortest, longest = STUFFING_WINDOW_SECONDS
    value, line = default if default is not None else (None, None)
    if not isinstance(value, int) or isinstance(value, bool) or not shortest <= value <= longest:
        findings.append(
            Finding(
                f"stuffing_window_seconds defaults to {value!r}",
                f"count over a window of {shortest} to {longest} seconds; a short one lets a slow run pass unseen",
                path=location(project, "config.py"),
                line=line,
            )
        )
    return findings


def _alert_logged(project: Project) -> list[Finding]:
    """The default sink writes `security_alert` at WARNING or above: the event the docs tell SIEMs to page on."""
    emit = function_of(project, STUFFING, "StructlogAlertSink.emit")
    logged = emit is not None and any(_logs_security_alert(name, call) for name, call in calls(emit))
    if logged:
        return []
    return [
        finding_at(
            project,
            STUFFING,
            emit,
            "stuffing alerts are not logged as security_alert warnings, the event SIEM rules page on",
            'log every alert with log.warning("security_alert", kind=..., ...)',
        )
    ]


def _logs_security_alert(name: str, call: ast.Call) -> bool:
    first = call.args[0] if call.args else None
    return named(name, ALERT_LEVELS) and isinstance(first, ast.Constant) and first.value == "security_alert"


def _settings_read(project: Project, names: tuple[str, ...], what: str) -> list[Finding]:
    """build_login_defences must take the thresholds from the settings, or configuring them changes nothing."""
    abuse = source(project, ABUSE) or ""
    ignored = [name for name in names if f"settings.{name}" not in abuse]
    if not ignored:
        return []
    return [
        Finding(
            f"the {what} ignores the configured {', '.join(ignored)}",
            "build it in build_login_defences from the settings",
            path=location(project, ABUSE),
        )
    ]


@register("identity.bot_challenge", controls=("AUTH-15",), requires=REQUIRES)
def bot_challenge(project: Project) -> Outcome:
    """After a few failures (or a stuffing alert) login and WebAuthn attempts need a solved bot challenge.

    Passwords, OTPs and magic links live at the IdP (the app only speaks
    OIDC); the app's own login-like endpoints are /auth/login and the WebAuthn
    ceremonies. Verification fails closed: an unreachable siteverify is "not solved".
    And the challenge never becomes a lockout (identity_challenge.py): a person
    can always pass it, and junk callbacks cannot make it mandatory.
    """
    if source(project, BOT_CHALLENGE) is None:
        return missing(project, BOT_CHALLENGE, "verify bot-challenge tokens server-side after repeated failures")
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare bot_challenge_after_failures")
    findings = [
        *_calls_made(project, CHALLENGE_CALLS),
        *_siteverify_fails_closed(project),
        *_challenged_endpoints(project),
        *_settings_read(project, ("bot_challenge_after_failures",), "challenge gate"),
        *solvable_challenge(project, config),
        *counted_failures(project),
        *flood_challenges(project),
    ]
    threshold = bounded_default(
        project,
        config,
        "bot_challenge_after_failures",
        MAX_FAILURES_BEFORE_CHALLENGE,
        unit="failures",
        why="challenge sources that keep failing",
    )
    installed = _defences_installed(project)
    findings += [finding for finding in (threshold, installed) if finding is not None]
    if findings:
        return failed(*findings)
    return passed(
        "login and WebAuthn attempts need a bot challenge after repeated failures or under a flood;"
        " it fails closed, and a person can always pass it"
    )


#: The challenge gate: it verifies tokens, and a flagged source is always challenged.
CHALLENGE_CALLS = (
    _Call(
        BOT_CHALLENGE,
        "ChallengeGate.check",
        ("verify",),
        "the challenge gate never verifies the token with its issuer",
        "call verifier.verify(token, source) before admitting a challenged attempt",
    ),
    _Call(
        BOT_CHALLENGE,
        "ChallengeGate.is_required",
        ("is_flagged",),
        "a source flagged for credential stuffing is not challenged",
        "require a challenge once monitor.is_flagged(source)",
    ),
    _Call(
        ABUSE,
        "LoginDefences.admit",
        ("gate.check",),
        "login attempts never pass the bot challenge gate",
        "call self.gate.check(...) in LoginDefences.admit",
    ),
)


def _siteverify_fails_closed(project: Project) -> list[Finding]:
    """An error while verifying, or an answer without success=true, must count as "not solved"."""
    verify = function_of(project, BOT_CHALLENGE, "SiteverifyVerifier.verify")
    path = location(project, BOT_CHALLENGE)
    if verify is None:
        return [Finding("no SiteverifyVerifier.verify: challenge tokens are not verified", "restore it", path)]
    findings = []
    opened = [
        node.lineno
        for handler in ast.walk(verify)
        if isinstance(handler, ast.ExceptHandler)
        for node in ast.walk(handler)
        if isinstance(node, ast.Return) and not (isinstance(node.value, ast.Constant) and node.value.value is False)
    ]
    if opened:
        findings.append(
            Finding(
                "a siteverify error counts as a solved challenge: the bot challenge fails open",
                "return False from every error path of verify",
                path,
                opened[0],
            )
        )
    if not any(isinstance(node, ast.Constant) and node.value == "success" for node in ast.walk(verify)):
        findings.append(
            Finding(
                "the siteverify answer's success field is never checked",
                'accept a token only when the answer says "success": true',
                path,
                verify.lineno,
            )
        )
    return findings


def _challenged_endpoints(project: Project) -> list[Finding]:
    """/auth/login (via LoginDefenceGuard.before) and the WebAuthn ceremonies (step_up._begin) pass the token."""
    findings = []
    before = function_of(project, ABUSE, "LoginDefenceGuard.before")
    admit = first_call(before, ("admit",)) if before is not None else None
    switch = keyword(admit, "challenge") if admit is not None else None
    if admit is None or (isinstance(switch, ast.Constant) and not switch.value):
        findings.append(
            finding_at(
                project,
                ABUSE,
                before,
                "/auth/login never demands a bot challenge",
                'pass challenge=context.stage == "login" (the IdP callback cannot carry a token)',
            )
        )
    begin = function_of(project, STEP_UP, "_begin")
    admit = first_call(begin, ("admit",)) if begin is not None else None
    if admit is None or keyword(admit, "challenge_token") is None:
        findings.append(
            finding_at(
                project,
                STEP_UP,
                begin,
                "the WebAuthn endpoints never demand a bot challenge",
                "pass challenge_token=request.headers.get(CHALLENGE_HEADER) to defences.admit in _begin",
            )
        )
    return findings
