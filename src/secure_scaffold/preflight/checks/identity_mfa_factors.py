"""Auth0 offers no phone or e-mail second factor, because its tokens cannot say which one was used (AUTH-05).

The app refuses SMS and phone calls as the second factor of admin, finance
and auditor (`security/claims.py`), but it can only see what the token says.
Auth0 puts `amr: ["mfa"]` in the ID token whatever factor the user passed,
so an SMS code and a security key look the same. The rule therefore has to
hold at Auth0: the `auth0_guardian` resource of
`infra/terraform/modules/idp/main.tf` must disable the phone factor (SMS and
voice) and e-mail codes, and enable something phishing-resistant or at least
phone-free (WebAuthn or one-time-password apps). Other presets either
report the factor in `amr` (Okta, Keycloak, generic OIDC: the app's rule
applies) or carry no `amr` at all (Entra, Cognito, Google: privileged roles
step up with a WebAuthn key in the app), so the check applies to Auth0 only.
"""

from __future__ import annotations

from .._model import Finding, Outcome, failed, passed, skipped, unknown
from .._project import Project
from .._registry import register
from . import _hcl
from .identity_attributes import IDP_MODULE, _child, _finding, _resources

#: Guardian factors that are a phone number or an inbox: SIM swap, SS7 interception, a shared mailbox.
WEAK_FACTOR_BLOCKS = ("phone", "sms")
WEAK_FACTOR_FLAGS = ("email",)
#: At least one of these must be on, or nobody can pass MFA at all.
STRONG_FACTOR_BLOCKS = ("webauthn_roaming", "webauthn_platform")
STRONG_FACTOR_FLAGS = ("otp",)


def _enabled(block: _hcl.Block | None) -> bool:
    return block is not None and block.attributes.get("enabled") is True


def _guardian_findings(guardian: _hcl.Block) -> list[Finding]:
    findings = []
    for name in WEAK_FACTOR_BLOCKS:
        block = _child(guardian, name)
        if block is not None and block.attributes.get("enabled") is not False:
            findings.append(
                _finding(
                    f"Auth0 Guardian offers the {name} factor (SMS/voice), and Auth0's amr cannot say it was used",
                    f"set {name} {{ enabled = false }} in auth0_guardian",
                    block,
                )
            )
    for name in WEAK_FACTOR_FLAGS:
        if guardian.attributes.get(name) is not False:
            findings.append(
                _finding(
                    f"Auth0 Guardian does not switch {name} codes off, and Auth0's amr cannot say they were used",
                    f"set {name} = false in auth0_guardian",
                    guardian,
                )
            )
    if _child(guardian, "phone") is None:
        findings.append(
            _finding(
                "auth0_guardian does not declare the phone factor, so whatever the tenant has set stays on",
                "declare phone { enabled = false } in auth0_guardian",
                guardian,
            )
        )
    strong = any(_enabled(_child(guardian, name)) for name in STRONG_FACTOR_BLOCKS) or any(
        guardian.attributes.get(name) is True for name in STRONG_FACTOR_FLAGS
    )
    if not strong:
        findings.append(
            _finding(
                "Auth0 Guardian enables neither WebAuthn nor one-time-password apps: nobody can pass MFA",
                "enable webauthn_roaming { enabled = true } (and/or otp = true) in auth0_guardian",
                guardian,
            )
        )
    return findings


@register("identity.auth0_mfa_factors", controls=("AUTH-05",))
def auth0_mfa_factors(project: Project) -> Outcome:
    """On Auth0, the second factors offered are phone-free: no SMS, voice or e-mail codes."""
    idp = project.answers.get("idp")
    if idp is None:
        return unknown(
            "the project records no IdP preset, so the MFA factors cannot be judged",
            "generate the project with secure-scaffold, or review which second factors your IdP offers",
        )
    if idp != "auth0":
        return skipped(f"{idp} reports the factor in amr or has none (docs/identity.md); this check is Auth0's")
    text = project.read(IDP_MODULE)
    if text is None:
        return failed(
            _finding(
                f"{IDP_MODULE} is missing: nothing switches SMS off as an Auth0 second factor",
                "restore the IdP module generated for this preset",
            )
        )
    try:
        body = _hcl.parse(text)
    except _hcl.HclError as error:
        return unknown(f"{IDP_MODULE} could not be parsed ({error})", "fix the HCL syntax; terraform fmt shows where")
    guardians = list(_resources(body, "auth0_guardian"))
    if not guardians:
        return failed(
            _finding(
                "no auth0_guardian resource: SMS may be an Auth0 second factor, and amr would still say mfa",
                "declare auth0_guardian with phone { enabled = false }, email = false and WebAuthn/OTP enabled",
            )
        )
    findings = [finding for guardian in guardians for finding in _guardian_findings(guardian)]
    if findings:
        return failed(*findings)
    return passed("auth0: Guardian offers WebAuthn/OTP only; SMS, voice and e-mail codes are off")
