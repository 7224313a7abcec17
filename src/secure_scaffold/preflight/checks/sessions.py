"""Session controls read from the code: timeouts, CSRF, login rate limits, device binding (AUTH-02/08/09/13)."""

from __future__ import annotations

import ast
import re

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._source import (
    bounded_default,
    constant,
    finding_at,
    function_of,
    location,
    missing,
    missing_call,
    settings_default,
    source,
)

REQUIRES = ("layout.application_package",)
#: OWASP ASVS 3.3: idle timeouts of at most an hour for most apps; a day at most for the absolute one.
MAX_IDLE_SECONDS = 3_600
MAX_ABSOLUTE_SECONDS = 86_400
EXPIRE_WHY = "expire sessions server-side"
#: Login attempts per client address allowed by default, per minute.
MAX_LOGINS_PER_MINUTE = 30
#: The per-address hard cap at /auth/login (past the soft limit a challenge is due; past this, 429).
MAX_HARD_LOGINS_PER_MINUTE = 600
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
    """Login is rate-limited per client address and per account, with sane defaults.

    At `/auth/login` those two limits demand the bot challenge rather than refuse
    (people share addresses behind a NAT; anyone can type any `login_hint`), and a
    per-address hard cap refuses; so the cap must exist, be bounded and be applied.
    """
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare the login rate limits")
    limits = (
        ("login_rate_limit", MAX_LOGINS_PER_MINUTE),
        ("login_account_rate_limit", MAX_LOGINS_PER_MINUTE),
        ("login_rate_limit_hard", MAX_HARD_LOGINS_PER_MINUTE),
    )
    findings = []
    for name, most in limits:
        default = settings_default(config, name)
        if default is None:
            findings.append(Finding(f"no {name} setting", "rate-limit login", location(project, "config.py")))
            continue
        value, line = default
        match = RATE.match(value) if isinstance(value, str) else None
        if match is None or int(match.group(1)) * PER_MINUTE[match.group(2)] > most:
            findings.append(
                Finding(
                    f"{name} defaults to {value!r}",
                    f"allow at most {most} attempts a minute, written like 10/minute",
                    path=location(project, "config.py"),
                    line=line,
                )
            )
    abuse = source(project, "security/abuse.py") or ""
    applied = ("settings.login_rate_limit", "settings.login_account_rate_limit", "settings.login_rate_limit_hard")
    if not all(name in abuse for name in applied):
        findings.append(
            Finding(
                "the login guards do not apply the configured rate limits",
                "build the login limiter from settings.login_rate_limit, login_account_rate_limit "
                "and login_rate_limit_hard",
                path=location(project, "security/abuse.py"),
            )
        )
    findings += _sign_in_limits_challenge(project)
    if findings:
        return failed(*findings)
    return passed("login is rate-limited per address and per account; sign-in is challenged, then capped")


def _sign_in_limits_challenge(project: Project) -> list[Finding]:
    """The sign-in guard asks for soft limits: otherwise one NAT host or a stranger's login_hint locks people out."""
    guard = function_of(project, "security/abuse.py", "LoginDefenceGuard.before")
    soft = guard is not None and any(
        isinstance(node, ast.keyword)
        and node.arg == "soft_limits"
        and not (isinstance(node.value, ast.Constant) and not node.value.value)
        for node in ast.walk(guard)
    )
    if soft:
        return []
    return [
        finding_at(
            project,
            "security/abuse.py",
            guard,
            "sign-in refuses by address or login_hint: one host behind a NAT, or anyone naming an account, "
            "locks people out",
            'call admit(..., soft_limits=context.stage == "login") so those limits demand the challenge',
        )
    ]


# ------------------------------------------------------------------ AUTH-09 device binding

DEVICE = "security/device.py"
STEP_UP = "web/step_up.py"
DEVICE_COOKIE_ATTRIBUTES = ("Secure", "HttpOnly", "SameSite=Strict", "Path=/")
DEVICE_CHECKS = ("require_same_device", "require_high_risk_clearance")
#: (file, function) of every gate in front of a high-risk flow: each must check the session's device key.
DEVICE_GATES = (
    ("security/webauthn.py", "require_high_risk_clearance"),
    ("security/webauthn.py", "WebAuthnCeremonies.registration_options"),
    ("security/webauthn.py", "WebAuthnCeremonies.verify_registration"),
    ("security/webauthn.py", "WebAuthnCeremonies.authentication_options"),
    ("security/webauthn.py", "WebAuthnCeremonies.verify_authentication"),
    (STEP_UP, "require_step_up"),
    ("web/authz.py", "step_up_fresh"),
)


@register("sessions.device_binding", controls=("AUTH-09",), requires=REQUIRES)
def device_binding(project: Project) -> Outcome:
    """Login binds the session to a device key, and step-up and high-risk actions require that key.

    A session id that leaks on its own (a log line, a proxy trace, a copy of
    the session store, which holds only the key's hash) then cannot step up
    or act: the `__Host-device` cookie never travelled with it.
    """
    device = source(project, DEVICE)
    if device is None:
        return missing(project, DEVICE, "bind sessions to a device key kept in its own __Host- cookie")
    findings = [*_device_key(project, device), *_device_cookie(project), *_binding_at_login(project)]
    findings += [
        finding
        for relative, function in DEVICE_GATES
        if (finding := _device_gate(project, relative, function)) is not None
    ]
    if findings:
        return failed(*findings)
    return passed("login binds a __Host-device key; step-up and high-risk actions refuse any other device")


def _device_key(project: Project, device: str) -> list[Finding]:
    """The key travels in a `__Host-` cookie and is compared in constant time (no timing oracle)."""
    findings = []
    name = constant(device, "DEVICE_COOKIE")
    if not isinstance(name, str) or not name.startswith("__Host-"):
        findings.append(
            Finding(
                f"the device cookie is {name!r}, not a __Host- cookie",
                "name it __Host-device so browsers enforce Secure, Path=/ and no Domain",
                path=location(project, DEVICE),
            )
        )
    check = function_of(project, DEVICE, "is_same_device")
    if check is None or "compare_digest" not in ast.unparse(check):
        findings.append(
            finding_at(
                project,
                DEVICE,
                check,
                "the device key is not compared in constant time",
                "compare the presented key's hash with hmac.compare_digest",
            )
        )
    return findings


def _device_cookie(project: Project) -> list[Finding]:
    """The Set-Cookie that carries the device key: the session cookie's attributes, and no Domain."""
    builder = function_of(project, STEP_UP, "device_cookie")
    returned = [node.value for node in ast.walk(builder) if isinstance(node, ast.Return)] if builder else []
    cookie = "".join(
        part.value
        for value in returned[:1]
        for part in ast.walk(value)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    )
    absent = [attribute for attribute in DEVICE_COOKIE_ATTRIBUTES if attribute not in cookie]
    if not absent and "Domain=" not in cookie:
        return []
    return [
        Finding(
            f"device cookie attributes wrong: missing {', '.join(absent) or '-'}"
            + ("; sets Domain" if "Domain=" in cookie else ""),
            "Set-Cookie: __Host-device=...; Path=/; Secure; HttpOnly; SameSite=Strict",
            path=location(project, STEP_UP),
            line=builder.lineno if builder is not None else None,
        )
    ]


def _binding_at_login(project: Project) -> list[Finding]:
    """The callback binds a fresh device key, and the session keeps only its hash."""
    findings = []
    login = missing_call(
        project,
        "web/routes/auth.py",
        "callback",
        ("bind_device",),
        "login does not bind the new session to a device",
        "call bind_device(request, session) in /auth/callback and send its cookie",
    )
    findings += [login] if login else []
    bind = function_of(project, STEP_UP, "bind_device")
    stored = [
        node.value
        for node in (ast.walk(bind) if bind is not None else ())
        if isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Attribute) and target.attr == "device_hash" for target in node.targets)
    ]
    if not stored or not all(isinstance(value, ast.Call) for value in stored):
        findings.append(
            finding_at(
                project,
                STEP_UP,
                bind,
                "the session does not store a hash of the device key",
                "store device_hash(secret) in the session, never the secret the cookie carries",
            )
        )
    return findings


def _device_gate(project: Project, relative: str, function: str) -> Finding | None:
    return missing_call(
        project,
        relative,
        function,
        DEVICE_CHECKS if function != "require_high_risk_clearance" else ("require_same_device",),
        f"{function} does not require the session's device key",
        "call require_same_device(session, request.cookies.get(DEVICE_COOKIE)) before anything high-risk",
    )
