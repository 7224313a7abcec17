"""Session controls read from the code: timeouts, CSRF and login rate limits (AUTH-02, AUTH-08, AUTH-13)."""

from __future__ import annotations

import re

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._source import bounded_default, location, missing, settings_default, source

REQUIRES = ("layout.application_package",)
#: OWASP ASVS 3.3: idle timeouts of at most an hour for most apps; a day at most for the absolute one.
MAX_IDLE_SECONDS = 3_600
MAX_ABSOLUTE_SECONDS = 86_400
EXPIRE_WHY = "expire sessions server-side"
#: Login attempts per client address allowed by default, per minute.
MAX_LOGINS_PER_MINUTE = 30
RATE = re.compile(r"^(\d+)/(second|minute|hour)$")
PER_MINUTE = {"second": 60, "minute": 1, "hour": 1 / 60}


@register("sessions.timeouts", controls=("AUTH-02",), requires=REQUIRES)
def timeouts(project: Project) -> Outcome:
    """Sessions end after a bounded idle time and a bounded absolute lifetime, by default."""
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare the session timeouts")
    limits = {
        "session_idle_timeout_seconds": MAX_IDLE_SECONDS,
        "session_absolute_timeout_seconds": MAX_ABSOLUTE_SECONDS,
    }
    findings = [
        finding
        for name, ceiling in limits.items()
        if (finding := bounded_default(project, config, name, ceiling, unit="seconds", why=EXPIRE_WHY)) is not None
    ]
    sessions = source(project, "security/sessions.py") or ""
    if "def _expired" not in sessions or "ex=" not in sessions:
        findings.append(
            Finding(
                "sessions are not expired server-side",
                "check both timeouts on every read and give the Redis record a TTL",
                path=location(project, "security/sessions.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("sessions expire after a bounded idle time and lifetime")


@register("sessions.csrf", controls=("AUTH-08",), requires=REQUIRES)
def csrf(project: Project) -> Outcome:
    """Cookie sessions must present the CSRF token on unsafe methods, compared in constant time."""
    checker = source(project, "security/csrf.py")
    if checker is None:
        return missing(project, "security/csrf.py", "check a per-session CSRF token on unsafe methods")
    findings = []
    if "compare_digest" not in checker:
        findings.append(
            Finding(
                "the CSRF token is not compared in constant time",
                "compare with hmac.compare_digest",
                path=location(project, "security/csrf.py"),
            )
        )
    authentication = source(project, "web/authentication.py") or ""
    if "check_csrf(" not in authentication:
        findings.append(
            Finding(
                "requests on a cookie session are not CSRF-checked before routes run",
                "call check_csrf for every cookie-authenticated request",
                path=location(project, "web/authentication.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("unsafe methods on cookie sessions need the session's CSRF token")


@register("sessions.login_rate_limit", controls=("AUTH-13",), requires=REQUIRES)
def login_rate_limit(project: Project) -> Outcome:
    """Login is rate-limited per client address and per account, with sane defaults."""
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare the login rate limits")
    findings = []
    for name in ("login_rate_limit", "login_account_rate_limit"):
        default = settings_default(config, name)
        if default is None:
            findings.append(Finding(f"no {name} setting", "rate-limit login", location(project, "config.py")))
            continue
        value, line = default
        match = RATE.match(value) if isinstance(value, str) else None
        if match is None or int(match.group(1)) * PER_MINUTE[match.group(2)] > MAX_LOGINS_PER_MINUTE:
            findings.append(
                Finding(
                    f"{name} defaults to {value!r}",
                    f"allow at most {MAX_LOGINS_PER_MINUTE} attempts a minute, written like 10/minute",
                    path=location(project, "config.py"),
                    line=line,
                )
            )
    abuse = source(project, "security/abuse.py") or ""
    if "settings.login_rate_limit" not in abuse or "settings.login_account_rate_limit" not in abuse:
        findings.append(
            Finding(
                "the login guards do not apply the configured rate limits",
                "build the login limiter from settings.login_rate_limit and login_account_rate_limit",
                path=location(project, "security/abuse.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("login is rate-limited per address and per account")
