"""Identity controls: PKCE, token algorithms, MFA, scopes and session cookies (AUTH-*).

Signing-key rotation (AUTH-04) is proven in `identity_keys`, the WebAuthn
step-up (AUTH-06) in `identity_webauthn`, credential-stuffing detection and
the bot challenge (AUTH-14, AUTH-15) in `identity_abuse`; they share
`REQUIRES` and `STEP_UP`.
"""

from __future__ import annotations

import re

from .._model import Finding, Outcome, failed, passed, unknown
from .._project import Project
from .._registry import register
from ._source import NOT_LITERAL, constant, location, missing, settings_default, source

ALLOWED_SIGNING = frozenset({"RS256", "ES256", "PS256", "EdDSA"})
MINIMUM_SCOPES = frozenset({"openid", "email", "profile"})
PRIVILEGED_ROLES = frozenset({"admin", "finance", "auditor"})
REQUIRES = ("layout.application_package",)
#: The step-up routes: WebAuthn ceremonies (identity_webauthn), where login defences install (identity_abuse).
STEP_UP = "web/step_up.py"


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
