"""Identity controls: PKCE, token algorithms, MFA, scopes and session cookies (AUTH-*)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

import yaml

from .._model import Finding, Outcome, failed, passed, unknown
from .._project import Project
from .._registry import register
from ._python import calls, dotted, duration_seconds, first_call, keyword, method, named, parameter_default, parse
from ._source import (
    NOT_LITERAL,
    bounded_default,
    constant,
    function_of,
    location,
    missing,
    missing_call,
    settings_default,
    source,
)

ALLOWED_SIGNING = frozenset({"RS256", "ES256", "PS256", "EdDSA"})
MINIMUM_SCOPES = frozenset({"openid", "email", "profile"})
PRIVILEGED_ROLES = frozenset({"admin", "finance", "auditor"})
REQUIRES = ("layout.application_package",)


@register("identity.pkce_s256", controls=("AUTH-03",), requires=REQUIRES)
def pkce_s256(project: Project) -> Outcome:
    """Authorization requests carry a PKCE S256 challenge; `plain` is never produced."""
    text = source(project, "security/pkce.py")
    if text is None:
        return missing(project, "security/pkce.py", "generate code_verifier/S256 challenges for every login")
    if constant(text, "CHALLENGE_METHOD") != "S256":
        return failed(
            Finding(
                "the PKCE challenge method is not S256",
                "set CHALLENGE_METHOD = 'S256'; the plain method sends the verifier in the clear",
                path=location(project, "security/pkce.py"),
            )
        )
    oidc = source(project, "security/oidc.py") or ""
    if "code_challenge_method" not in oidc:
        return failed(
            Finding(
                "the authorization request does not send code_challenge_method",
                "add code_challenge and code_challenge_method=S256 to the authorize URL",
                path=location(project, "security/oidc.py") if project.package_dir else None,
            )
        )
    return passed("every authorization request carries an S256 PKCE challenge")


@register("identity.token_algorithms", controls=("AUTH-01",), requires=REQUIRES)
def token_algorithms(project: Project) -> Outcome:
    """ID and access tokens are verified with an asymmetric-algorithm allow-list (no `none`, no HS*)."""
    text = source(project, "security/jwks.py")
    if text is None:
        return missing(project, "security/jwks.py", "verify tokens against the IdP's JWKS with an algorithm allow-list")
    algorithms = constant(text, "KEY_TYPE_FOR_ALGORITHM")
    if not isinstance(algorithms, dict):
        algorithms = dict.fromkeys(re.findall(r'"((?:RS|ES|PS|HS)\d{3}|none|EdDSA)"\s*:', text))
    unsafe = sorted(set(algorithms) - ALLOWED_SIGNING)
    if not algorithms or unsafe:
        return failed(
            Finding(
                f"token algorithms allowed: {', '.join(sorted(algorithms)) or 'none declared'}",
                "allow only asymmetric algorithms (RS256, ES256); never none or HS*",
                path=location(project, "security/jwks.py"),
            )
        )
    return passed(f"tokens verified with {', '.join(sorted(algorithms))} only")


@register("identity.mfa_enforced", controls=("AUTH-05",), requires=REQUIRES)
def mfa_enforced(project: Project) -> Outcome:
    """MFA is required by default, and can never be waived for admin, finance or auditor."""
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare the settings, including which roles may skip MFA")
    default = settings_default(config, "mfa_optional_roles")
    if default is None:
        return failed(
            Finding(
                "no mfa_optional_roles setting: MFA enforcement is not configurable and not checkable",
                "require MFA on login and declare mfa_optional_roles (default empty)",
                path=location(project, "config.py"),
            )
        )
    roles, line = default
    if roles is NOT_LITERAL:
        return unknown(
            "the default of mfa_optional_roles is computed, so preflight cannot read it",
            "make the default a literal (Field(default_factory=list)) so it can be proven",
        )
    findings = []
    if roles:
        findings.append(
            Finding(
                f"MFA is optional by default for {', '.join(roles)}",
                "default mfa_optional_roles to []; relax it only per environment, for viewer/member",
                path=location(project, "config.py"),
                line=line,
            )
        )
    if "_only_unprivileged_roles_skip_mfa" not in config:
        findings.append(
            Finding(
                "nothing stops a deployment from waiving MFA for privileged roles",
                "validate mfa_optional_roles so admin, finance and auditor always need MFA",
                path=location(project, "config.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("MFA is required for every role by default; privileged roles can never skip it")


@register("identity.narrow_scopes", controls=("AUTH-11",), requires=REQUIRES)
def narrow_scopes(project: Project) -> Outcome:
    """The app requests only `openid email profile` (no offline_access, no API or admin scopes)."""
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare oidc_scopes with the minimum the app needs")
    default = settings_default(config, "oidc_scopes")
    if default is not None and default[0] is NOT_LITERAL:
        return unknown(
            "the default of oidc_scopes is computed, so preflight cannot read it", "make it a literal string"
        )
    if default is None or not isinstance(default[0], str):
        return failed(
            Finding(
                "no oidc_scopes setting",
                "declare oidc_scopes = 'openid email profile'",
                path=location(project, "config.py"),
            )
        )
    scopes, line = default
    broad = sorted(set(scopes.split()) - MINIMUM_SCOPES)
    if "openid" not in scopes.split() or broad:
        return failed(
            Finding(
                f"requested scopes {scopes!r} go beyond openid email profile ({', '.join(broad) or 'openid missing'})",
                "request only openid, email and profile; keep refresh tokens server-side",
                path=location(project, "config.py"),
                line=line,
            )
        )
    return passed(f"scopes requested: {scopes}")


SESSION_ATTRIBUTES = ("Secure", "HttpOnly", "SameSite=Strict", "Path=/")


@register("identity.session_cookie", controls=("AUTH-07",), requires=REQUIRES)
def session_cookie(project: Project) -> Outcome:
    """The session cookie is `__Host-session`: Secure, HttpOnly, SameSite=Strict, Path=/, no Domain."""
    text = source(project, "web/authentication.py")
    if text is None:
        return missing(project, "web/authentication.py", "issue the session in a __Host- cookie")
    match = re.search(r'def session_cookie\(.*?return f"(?P<cookie>[^"]*)"', text, re.DOTALL)
    if constant(text, "SESSION_COOKIE") != "__Host-session" or match is None:
        return failed(
            Finding(
                "the session cookie is not the __Host-session cookie",
                "name it __Host-session so browsers enforce Secure, Path=/ and no Domain",
                path=location(project, "web/authentication.py"),
            )
        )
    cookie = match.group("cookie")
    absent = [attribute for attribute in SESSION_ATTRIBUTES if attribute not in cookie]
    if absent or "Domain=" in cookie:
        return failed(
            Finding(
                f"session cookie attributes wrong: missing {', '.join(absent) or '-'}"
                + ("; sets Domain" if "Domain=" in cookie else ""),
                "Set-Cookie: __Host-session=...; Path=/; Secure; HttpOnly; SameSite=Strict",
                path=location(project, "web/authentication.py"),
            )
        )
    return passed("__Host-session; Path=/; Secure; HttpOnly; SameSite=Strict")


# ------------------------------------------------------------------ AUTH-04 signing-key rotation

JWKS = "security/jwks.py"
#: Cache bounds: a key the IdP retires must stop verifying within a day; a key it rotates in must be
#: picked up within minutes, even right after a forced refetch was spent on a forged `kid`.
JWKS_BOUNDS = {
    "max_age": (86_400, "a key the IdP retired keeps verifying until the cache expires"),
    "min_refetch_interval": (300, "a rotated-in key is refused until the next refetch is allowed"),
}


@register("identity.jwks_rotation", controls=("AUTH-04",), requires=(*REQUIRES, "identity.token_algorithms"))
def jwks_rotation(project: Project) -> Outcome:
    """The app follows the IdP's key rotation without a restart, so quarterly rotation breaks no login.

    A token naming an unknown `kid` triggers one rate-limited JWKS refetch, and
    cached keys expire. Which algorithms verify is identity.token_algorithms, a
    prerequisite: one root cause, one finding.
    """
    text = source(project, JWKS)
    if text is None:
        return missing(project, JWKS, "cache the IdP's JWKS and refetch it when a token names an unknown kid")
    tree = parse(text)
    key_for = method(tree, "JwksCache", "key_for") if tree is not None else None
    if tree is None or key_for is None:
        return failed(
            Finding(
                "no JwksCache.key_for: signing keys are not looked up by kid in a refreshable cache",
                "resolve each token's key with JwksCache.key_for(kid, algorithm)",
                path=location(project, JWKS),
            )
        )
    findings = [*_kid_refetch(project, key_for), *_jwks_defaults(project, tree), *_jwks_call_sites(project)]
    if findings:
        return failed(*findings)
    return passed("an unknown kid refetches the JWKS (rate-limited); cached keys expire")


def _kid_refetch(project: Project, key_for: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Finding]:
    """A refetch after the first failed lookup, rate-limited, and an expiry check, all in key_for."""
    path, line = location(project, JWKS), key_for.lineno
    lookups = [call.lineno for name, call in calls(key_for) if named(name, ("_find", "find"))]
    refetches = [call.lineno for name, call in calls(key_for) if named(name, ("_refresh", "refresh", "load"))]
    attributes = {node.attr for node in ast.walk(key_for) if isinstance(node, ast.Attribute)}
    findings = []
    if not lookups or not any(refetch > lookups[0] for refetch in refetches):
        findings.append(
            Finding(
                "a token with an unknown kid is refused without refetching the JWKS: rotated keys fail",
                "when no cached key matches the kid, refetch the JWKS once and look again",
                path,
                line,
            )
        )
    if "min_refetch_interval" not in attributes:
        findings.append(
            Finding(
                "unknown-kid refetches are not rate-limited: forged kids make the app hammer the IdP",
                "allow at most one forced refetch per min_refetch_interval",
                path,
                line,
            )
        )
    if "max_age" not in attributes:
        findings.append(
            Finding(
                "cached signing keys never expire: a key the IdP retired keeps verifying",
                "refetch the JWKS once the cache is older than max_age",
                path,
                line,
            )
        )
    return findings


def _jwks_defaults(project: Project, tree: ast.Module) -> list[Finding]:
    init = method(tree, "JwksCache", "__init__")
    if init is None:
        return []
    return [
        finding
        for name in JWKS_BOUNDS
        if (finding := _jwks_bound(project, name, parameter_default(init, name), "defaults to", init.lineno))
    ]


def _jwks_call_sites(project: Project) -> list[Finding]:
    """Literal bounds passed where the cache is built (security/oidc.py) count as much as the defaults."""
    assert project.package_dir is not None
    findings = []
    for path in project.python_files(project.package_dir):
        text = path.read_text(encoding="utf-8", errors="replace")
        tree = parse(text) if "JwksCache(" in text else None
        built = [call for name, call in calls(tree) if named(name, ("JwksCache",))] if tree is not None else []
        relative = str(path.relative_to(project.package_dir))
        for call in built:
            for bound in JWKS_BOUNDS:
                value = keyword(call, bound)
                if value is None or duration_seconds(value) is None:
                    continue  # not passed, or computed (from the settings): the default or nothing to prove
                finding = _jwks_bound(project, bound, value, "is built with", call.lineno, relative)
                findings += [finding] if finding else []
    return findings


def _jwks_bound(
    project: Project, name: str, value: ast.expr | None, verb: str, line: int, relative: str = JWKS
) -> Finding | None:
    ceiling, why = JWKS_BOUNDS[name]
    seconds = duration_seconds(value)
    if seconds is not None and 0 < seconds <= ceiling:
        return None
    written = ast.unparse(value) if value is not None else "nothing"
    return Finding(
        f"JwksCache {name} {verb} {written}",
        f"keep {name} a positive literal of at most {ceiling} seconds: otherwise {why}",
        path=location(project, relative),
        line=value.lineno if value is not None else line,
    )


# ------------------------------------------------------------------ AUTH-06 WebAuthn for admin and finance

WEBAUTHN = "security/webauthn.py"
STEP_UP = "web/step_up.py"
ROLES_FILE = "policy/roles.yaml"
LOCAL_ROLES_FILE = "policy/roles.local.yaml"
#: The roles the control names.
WEBAUTHN_ROLES = ("admin", "finance")
#: Permissions that change who may do what or move money: they need step-up whatever their flags say.
HIGH_RISK_PERMISSIONS = frozenset({"users:assign_roles", "credits:approve", "payouts:edit"})
#: WebAuthn library calls -> the argument that must demand user verification (PIN or biometric).
USER_VERIFICATION = {
    "verify_registration_response": "require_user_verification",
    "verify_authentication_response": "require_user_verification",
    "AuthenticatorSelectionCriteria": "user_verification",
    "generate_authentication_options": "user_verification",
}
REQUIRED_VALUE = {"require_user_verification": "True", "user_verification": "UserVerificationRequirement.REQUIRED"}


@register("identity.webauthn_step_up", controls=("AUTH-06",), requires=REQUIRES)
def webauthn_step_up(project: Project) -> Outcome:
    """Admin and finance actions that change roles or move money need a fresh WebAuthn step-up.

    The matrix flags them `requires_step_up`, and the step-up is a real,
    user-verified, single-use WebAuthn assertion: a SIM-swapped OTP cannot
    stand in for it.
    """
    text = source(project, WEBAUTHN)
    if text is None:
        return missing(project, WEBAUTHN, "verify WebAuthn assertions for the step-up of admin and finance")
    findings = [*_step_up_grants(project), *_user_verification(project, text), *_assertion_before_step_up(project)]
    single_use = missing_call(
        project,
        "security/webauthn_store.py",
        "ChallengeStore.consume",
        ("getdel",),
        "WebAuthn challenges are not single-use: ChallengeStore.consume does not GETDEL them",
        "take the pending challenge with one atomic GETDEL so a replayed assertion finds none",
    )
    findings += [single_use] if single_use else []
    if findings:
        return failed(*findings)
    return passed("role changes and money movements of admin and finance need a user-verified WebAuthn step-up")


def _matrix(project: Project) -> dict[str, Any] | None:
    try:
        document = yaml.safe_load(project.read(ROLES_FILE) or "")
    except yaml.YAMLError:
        return None
    return document if isinstance(document, dict) and isinstance(document.get("resources"), dict) else None


def _action_flags(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{resource}:{action}": flags if isinstance(flags, dict) else {}
        for resource, spec in document["resources"].items()
        for action, flags in ((spec if isinstance(spec, dict) else {}).get("actions") or {}).items()
    }


def _grants(project: Project, document: dict[str, Any]) -> dict[str, set[str]]:
    """Role -> permissions, with the additions of policy/roles.local.yaml (the loader merges them too)."""
    granted = {
        role: set((spec or {}).get("grants") or {})
        for role, spec in (document.get("roles") or {}).items()
        if isinstance(spec, dict)
    }
    try:
        local = yaml.safe_load(project.read(LOCAL_ROLES_FILE) or "") or {}
    except yaml.YAMLError:
        local = {}
    for role, grants in ((local.get("grants") if isinstance(local, dict) else None) or {}).items():
        granted.setdefault(role, set()).update(grants or {})
    return granted


def _maker_step(permission: str, flags: dict[str, dict[str, Any]]) -> bool:
    """`x:request` of a maker-checker pair moves nothing until `x:approve`, which must step up instead."""
    resource, _, action = permission.partition(":")
    return action == "request" and flags.get(f"{resource}:approve", {}).get("requires_step_up") is True


def _yaml_line(text: str, resource: str, action: str) -> int | None:
    """The line declaring `action` under `resource:` in roles.yaml (for the finding's location)."""
    lines = text.splitlines()
    start = next((index for index, line in enumerate(lines) if line.strip() == f"{resource}:"), None)
    if start is None:
        return None
    return next(
        (index + 1 for index in range(start + 1, len(lines)) if lines[index].strip().startswith(f"{action}:")), None
    )


def _step_up_grants(project: Project) -> list[Finding]:
    document = _matrix(project)
    if document is None:
        return [Finding(f"{ROLES_FILE} is missing or unreadable", "restore the role-permission matrix", ROLES_FILE)]
    flags, grants = _action_flags(document), _grants(project, document)
    text = project.read(ROLES_FILE) or ""
    findings = []
    for permission in sorted(set().union(*(grants.get(role, set()) for role in WEBAUTHN_ROLES))):
        spec = flags.get(permission, {})
        risky = permission in HIGH_RISK_PERMISSIONS or spec.get("admin_action") is True
        if not risky or spec.get("requires_step_up") is True or _maker_step(permission, flags):
            continue
        holders = " and ".join(role for role in WEBAUTHN_ROLES if permission in grants.get(role, set()))
        findings.append(
            Finding(
                f"{permission}, granted to {holders}, needs no WebAuthn step-up",
                "flag it requires_step_up: true in policy/roles.yaml (role changes and money movements)",
                path=ROLES_FILE,
                line=_yaml_line(text, *permission.split(":", 1)),
            )
        )
    return findings


def _demands_verification(value: ast.expr | None) -> bool:
    if isinstance(value, ast.Constant):
        return value.value is True or value.value == "required"
    return value is not None and dotted(value).endswith(".REQUIRED")


def _user_verification(project: Project, text: str) -> list[Finding]:
    """Both ceremonies ask for and verify user verification, so a stolen key alone is not enough."""
    tree = parse(text)
    found = list(calls(tree)) if tree is not None else []
    findings = []
    for callee, argument in USER_VERIFICATION.items():
        made = [call for name, call in found if named(name, (callee,))]
        bad = [call for call in made if not _demands_verification(keyword(call, argument))]
        if not made or bad:
            findings.append(
                Finding(
                    f"{callee} does not require user verification",
                    f"pass {argument}={REQUIRED_VALUE[argument]}",
                    path=location(project, WEBAUTHN),
                    line=bad[0].lineno if bad else None,
                )
            )
    return findings


def _assertion_before_step_up(project: Project) -> list[Finding]:
    """`step_up_at` is set only after a verified assertion, in a route that has one."""
    tree = parse(source(project, STEP_UP) or "")
    nodes = ast.walk(tree) if tree is not None else ()
    routes = [node for node in nodes if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    verified_routes = 0
    for route in routes:
        stamps = [
            node.lineno
            for node in ast.walk(route)
            if isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Attribute) and target.attr == "step_up_at" for target in node.targets)
        ]
        verify = first_call(route, ("verify_authentication",))
        if stamps and (verify is None or min(stamps) < verify.lineno):
            return [_unverified_step_up(project, min(stamps))]
        verified_routes += bool(stamps)
    return [] if verified_routes else [_unverified_step_up(project, None)]


def _unverified_step_up(project: Project, line: int | None) -> Finding:
    return Finding(
        "no step-up route verifies a WebAuthn assertion before marking the session stepped-up",
        "set session.step_up_at only from the result of ceremonies.verify_authentication",
        path=location(project, STEP_UP),
        line=line,
    )


# ------------------------------------------------------------------ AUTH-14 / AUTH-15 login abuse

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
    if findings:
        return failed(*findings)
    return passed("login attempts and failures are counted per source; spikes raise security_alert log events")


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
        Finding(
            "stuffing alerts are not logged as security_alert warnings, the event SIEM rules page on",
            'log every alert with log.warning("security_alert", kind=..., ...)',
            path=location(project, STUFFING),
            line=emit.lineno if emit is not None else None,
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
    return passed("login and WebAuthn attempts need a solved bot challenge after repeated failures; it fails closed")


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
            Finding(
                "/auth/login never demands a bot challenge",
                'pass challenge=context.stage == "login" (the IdP callback cannot carry a token)',
                path=location(project, ABUSE),
                line=before.lineno if before is not None else None,
            )
        )
    begin = function_of(project, STEP_UP, "_begin")
    admit = first_call(begin, ("admit",)) if begin is not None else None
    if admit is None or keyword(admit, "challenge_token") is None:
        findings.append(
            Finding(
                "the WebAuthn endpoints never demand a bot challenge",
                "pass challenge_token=request.headers.get(CHALLENGE_HEADER) to defences.admit in _begin",
                path=location(project, STEP_UP),
                line=begin.lineno if begin is not None else None,
            )
        )
    return findings
