"""Preflight's identity proofs (AUTH-04, -06, -09, -14, -15): each way of breaking them fails its control.

A freshly rendered project passes all five checks; each test then breaks the
project in exactly one way and asserts the control, the check and the message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from _breakable import check_outcome, edit, private_copy, render
from secure_scaffold.preflight import Status, run_preflight

IDENTITY_CHECKS = {
    "AUTH-04": "identity.jwks_rotation",
    "AUTH-06": "identity.webauthn_step_up",
    "AUTH-09": "sessions.device_binding",
    "AUTH-14": "identity.stuffing_detection",
    "AUTH-15": "identity.bot_challenge",
}
PACKAGE = "src/secure_app"
JWKS = f"{PACKAGE}/security/jwks.py"
WEBAUTHN = f"{PACKAGE}/security/webauthn.py"
STEP_UP = f"{PACKAGE}/web/step_up.py"
CONFIG = f"{PACKAGE}/config.py"
STUFFING = f"{PACKAGE}/security/stuffing.py"
ABUSE = f"{PACKAGE}/security/abuse.py"
BOT = f"{PACKAGE}/security/bot_challenge.py"
POW = f"{PACKAGE}/security/proof_of_work.py"
DENY_ALL_VERIFIER = (
    "class DenyAllVerifier:\n    def verify(self, token: str, remote_ip: str | None) -> bool:\n"
    "        return False\n\n\n@dataclass(frozen=True)\nclass ChallengeGate:"
)
#: The bot challenge gate in LoginDefences.admit, as generated.
GATE_CHECK = (
    "            self.gate.check(\n"
    "                client,\n                account,\n                challenge_token,\n"
    "                everyone=self.monitor.is_flooded(scope),\n"
    "                over_limit=bool(decision.over_limit),\n"
    "            )"
)
INSTALL_GUARD = (
    "app.state.identity.login_guards.append(LoginDefenceGuard(defences, trusted_proxies=settings.trusted_proxies))"
)


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the pristine project, to break in one way."""
    return private_copy(pristine, tmp_path)


def _outcome(project: Path, control: str):
    return check_outcome(project, control, IDENTITY_CHECKS[control])


def _assert_passes_every_identity_check(project: Path) -> None:
    report = run_preflight(project, only=list(IDENTITY_CHECKS))
    outcomes = {check.check: check.outcome for result in report.results for check in result.checks}
    for check in IDENTITY_CHECKS.values():
        assert outcomes[check].status is Status.PASSED, (check, outcomes[check].findings)


def test_a_generated_project_passes_every_identity_proof(pristine: Path) -> None:
    _assert_passes_every_identity_check(pristine)


def test_another_answer_combination_passes_them_too(template_snapshot: Path, tmp_path: Path) -> None:
    """Okta, silo tenancy, no payments, OPA and AI features: the proofs do not depend on the defaults."""
    import copier

    answers = {
        "idp": "okta",
        "tenancy": "silo",
        "payment_provider": "none",
        "policy_engine": "opa",
        "ai_features": True,
    }
    destination = tmp_path / "okta"
    copier.run_copy(str(template_snapshot), destination, data=answers, defaults=True, quiet=True, unsafe=False)
    _assert_passes_every_identity_check(destination)


@pytest.mark.parametrize(
    ("control", "relative", "old", "new", "message"),
    [
        # AUTH-04: rotation is followed, refetches are rate-limited, the cache expires.
        ("AUTH-04", JWKS, "self._last_forced_refetch = now\n                self._refresh()\n",
         "self._last_forced_refetch = now\n",
         "a token with an unknown kid is refused without refetching the JWKS: rotated keys fail"),
        ("AUTH-04", JWKS, "if last is None or now - last >= self.min_refetch_interval:", "if True:",
         "unknown-kid refetches are not rate-limited: forged kids make the app hammer the IdP"),
        ("AUTH-04", JWKS, "max_age: float = 3600,", "max_age: float = 7 * 86400,",
         "JwksCache max_age defaults to 7 * 86400"),
        ("AUTH-04", f"{PACKAGE}/security/oidc.py", 'what="JWKS"), clock)',
         'what="JWKS"), clock, min_refetch_interval=0)', "JwksCache min_refetch_interval is built with 0"),
        # AUTH-06: money movements and role changes step up, with a user-verified, single-use assertion.
        ("AUTH-06", "policy/roles.yaml",
         "description: Change where payouts go.\n        requires_mfa: true\n        requires_step_up: true\n",
         "description: Change where payouts go.\n        requires_mfa: true\n",
         "payouts:edit, granted to finance, needs no WebAuthn step-up"),
        ("AUTH-06", "policy/roles.yaml",
         "description: Change a user's roles.\n        requires_mfa: true\n        requires_step_up: true\n",
         "description: Change a user's roles.\n        requires_mfa: true\n",
         "users:assign_roles, granted to admin, needs no WebAuthn step-up"),
        ("AUTH-06", WEBAUTHN, "credential_current_sign_count=0,\n                require_user_verification=True,",
         "credential_current_sign_count=0,\n                require_user_verification=False,",
         "verify_authentication_response does not require user verification"),
        ("AUTH-06", STEP_UP, "result = services.ceremonies.verify_authentication(",
         "result = services.ceremonies.authentication_options(",
         "no step-up route verifies a WebAuthn assertion before marking the session stepped-up"),
        ("AUTH-06", f"{PACKAGE}/security/webauthn_store.py", "self._redis.getdel(", "self._redis.get(",
         "WebAuthn challenges are not single-use: ChallengeStore.consume does not GETDEL them"),
        # AUTH-09: login binds a device key; high-risk gates demand it.
        ("AUTH-09", f"{PACKAGE}/web/routes/auth.py",
         '    response.headers.append("set-cookie", bind_device(request, session))  # device binding for step-up\n',
         "", "login does not bind the new session to a device"),
        ("AUTH-09", STEP_UP,
         "    require_high_risk_clearance(\n        session,\n"
         "        device_secret=request.cookies.get(DEVICE_COOKIE),\n",
         "    require_fresh_step_up(\n        session,\n", "require_step_up does not require the session's device key"),
        ("AUTH-09", STEP_UP, "={secret}; Path=/; Secure; HttpOnly;", "={secret}; Path=/; Secure;",
         "device cookie attributes wrong: missing HttpOnly"),
        ("AUTH-09", STEP_UP, "session.device_hash = hash_device_secret(secret)", "session.device_hash = secret",
         "the session does not store a hash of the device key"),
        ("AUTH-09", WEBAUTHN,
         "require_same_device(session, device_secret)\n"
         "        challenge = self._challenges.consume(\n            _AUTHENTICATE,",
         "challenge = self._challenges.consume(\n            _AUTHENTICATE,",
         "WebAuthnCeremonies.verify_authentication does not require the session's device key"),
        ("AUTH-09", f"{PACKAGE}/security/device.py", 'DEVICE_COOKIE: Final = "__Host-device"',
         'DEVICE_COOKIE: Final = "device"', "the device cookie is 'device', not a __Host- cookie"),
        ("AUTH-09", f"{PACKAGE}/security/device.py", "hmac.compare_digest(expected, device_hash(presented_secret))",
         "expected == device_hash(presented_secret)", "the device key is not compared in constant time"),
        # AUTH-14: attempts and failures are counted, thresholds are sane, crossings are logged as alerts.
        ("AUTH-14", STUFFING, "self._alert_once(FAILURE_SPIKE, bucket, window, now, details, source=bucket)",
         "del details", "a spike of failed logins from one source raises no alert"),
        ("AUTH-14", ABUSE, "self.monitor.record_global_excess(scope, self.global_limit)", "pass",
         "exceeding the global login limit raises no alert"),
        ("AUTH-14", STUFFING, 'self._log.warning(\n            "security_alert",',
         'self._log.info(\n            "security_alert",',
         "stuffing alerts are not logged as security_alert warnings, the event SIEM rules page on"),
        ("AUTH-14", CONFIG, "stuffing_failures_per_source: int = Field(default=50,",
         "stuffing_failures_per_source: int = Field(default=5000,", "stuffing_failures_per_source defaults to 5000"),
        ("AUTH-14", CONFIG, "stuffing_window_seconds: int = Field(default=600,",
         "stuffing_window_seconds: int = Field(default=60,", "stuffing_window_seconds defaults to 60"),
        ("AUTH-14", ABUSE, "distinct_accounts=settings.stuffing_accounts_per_source,", "distinct_accounts=20,",
         "the stuffing monitor ignores the configured stuffing_accounts_per_source"),
        ("AUTH-14", STEP_UP,
         INSTALL_GUARD, "del defences",
         "the login defences are not installed on /auth/login and /auth/callback"),
        ("AUTH-14", "infra/terraform/modules/runtime/alarms.tf",
         "metric_name         = aws_cloudwatch_log_metric_filter.security_alerts.metric_transformation[0].name",
         'metric_name         = "CPUUtilization"',
         "nothing alarms on security_alert log lines: a credential-stuffing run pages nobody"),
        # AUTH-15: challenged endpoints, a gate that verifies, siteverify failing closed, a low threshold.
        ("AUTH-15", BOT, 'error=type(error).__name__)\n            return False',
         'error=type(error).__name__)\n            return True',
         "a siteverify error counts as a solved challenge: the bot challenge fails open"),
        ("AUTH-15", BOT, 'or body.get("success") is not True:', ":",
         "the siteverify answer's success field is never checked"),
        ("AUTH-15", BOT, "return self.monitor.is_flagged(source)", "return False",
         "a source flagged for credential stuffing is not challenged"),
        ("AUTH-15", ABUSE, 'challenge=context.stage == "login",', "challenge=False,",
         "/auth/login never demands a bot challenge"),
        ("AUTH-15", ABUSE, GATE_CHECK, "            del challenge_token",
         "login attempts never pass the bot challenge gate"),
        # AUTH-15: the challenge never becomes a lockout -- a person can always pass it.
        ("AUTH-15", CONFIG, 'bot_challenge_verifier: Literal["proof_of_work", "siteverify"] = "proof_of_work"',
         'bot_challenge_verifier: Literal["deny", "proof_of_work", "siteverify"] = "deny"',
         "bot_challenge_verifier defaults to 'deny', a challenge a person cannot pass"),
        ("AUTH-15", BOT, "@dataclass(frozen=True)\nclass ChallengeGate:", DENY_ALL_VERIFIER,
         "DenyAllVerifier.verify refuses every answer: a challenge nobody can solve"),
        ("AUTH-15", POW, "nx=True, ex=ttl)", "ex=ttl)",
         "a solved proof of work can be replayed: its nonce is not claimed with SET NX"),
        ("AUTH-15", POW, 'if not hmac.compare_digest(match["signature"], self._signature(unsigned, remote_ip)):',
         'if match["signature"] != self._signature(unsigned, remote_ip):',
         "the proof of work's signature is not checked in constant time"),
        ("AUTH-15", POW, "address_bucket(remote_ip or 'unknown')", "(remote_ip or 'unknown')",
         "proof-of-work challenges are not bound to the client they were issued to"),
        ("AUTH-15", CONFIG, "bot_challenge_difficulty: int = Field(default=15,",
         "bot_challenge_difficulty: int = Field(default=22,", "bot_challenge_difficulty defaults to 22"),
        ("AUTH-15", ABUSE, 'frozenset({"code_exchange_failed", "invalid_token"})',
         'frozenset({"code_exchange_failed", "invalid_token", "invalid_state"})',
         "invalid_state callbacks count as failures: junk or cancelled logins make a challenge mandatory"),
        ("AUTH-15", ABUSE, "if not outcome.succeeded and outcome.error in COUNTED_CALLBACK_FAILURES:",
         "if not outcome.succeeded:",
         "every failed callback counts towards a challenge: junk callbacks lock out a shared address"),
        ("AUTH-15", ABUSE, GATE_CHECK, "            self.gate.check(client, account, challenge_token)",
         "a flood over the global login limit does not make the challenge mandatory for everyone"),
        ("AUTH-15", STEP_UP, ", challenge_token=request.headers.get(CHALLENGE_HEADER)", "",
         "the WebAuthn endpoints never demand a bot challenge"),
        ("AUTH-15", CONFIG, "bot_challenge_after_failures: int = Field(default=5,",
         "bot_challenge_after_failures: int = Field(default=50,", "bot_challenge_after_failures defaults to 50"),
        ("AUTH-15", STEP_UP,
         INSTALL_GUARD, "del defences",
         "the login defences are not installed on /auth/login and /auth/callback"),
    ],
)  # fmt: skip
def test_breaking_an_identity_proof_fails_it(project: Path, control, relative, old, new, message) -> None:
    edit(project, relative, old, new)
    outcome, report = _outcome(project, control)
    assert outcome.status is Status.FAILED, outcome
    assert message in [finding.message for finding in outcome.findings], outcome.findings
    assert all(finding.path for finding in outcome.findings), "every finding names the file to fix"
    blocking = control in [result.control_id for result in report.blocking_failures]
    assert blocking is (control in {"AUTH-06", "AUTH-09"})  # AUTH-04, -14 and -15 are warnings in the catalog


def test_the_request_half_of_a_maker_checker_pair_steps_up_through_its_approval(project: Path) -> None:
    """credits:request needs no step-up only because credits:approve has one; drop that and both are named."""
    edit(
        project,
        "policy/roles.yaml",
        "for another tenant.\n        requires_mfa: true\n        requires_step_up: true\n",
        "for another tenant.\n        requires_mfa: true\n",
    )
    outcome, _ = _outcome(project, "AUTH-06")
    assert outcome.status is Status.FAILED
    messages = [finding.message for finding in outcome.findings]
    assert "credits:approve, granted to operator_finance, needs no WebAuthn step-up" in messages
    assert "credits:request, granted to finance, needs no WebAuthn step-up" in messages
    assert all(finding.path == "policy/roles.yaml" and finding.line for finding in outcome.findings)


def test_a_local_grant_of_an_admin_action_without_step_up_fails_auth_06(project: Path) -> None:
    """roles.local.yaml may only add grants, but an added admin action still needs the step-up."""
    edit(
        project,
        "policy/roles.yaml",
        "      read: {description: Read and verify the audit log., requires_mfa: true}\n",
        "      read: {description: Read and verify the audit log., requires_mfa: true}\n"
        "      purge: {description: Purge old entries., requires_mfa: true, admin_action: true}\n",
    )
    outcome, _ = _outcome(project, "AUTH-06")
    assert outcome.status is Status.PASSED, outcome.findings  # defined, but granted to nobody yet
    (project / "policy" / "roles.local.yaml").write_text("grants:\n  admin:\n    audit:purge: []\n", encoding="utf-8")
    outcome, _ = _outcome(project, "AUTH-06")
    assert outcome.status is Status.FAILED
    assert [finding.message for finding in outcome.findings] == [
        "audit:purge, granted to admin, needs no WebAuthn step-up"
    ]


def test_an_unsafe_token_algorithm_fails_auth_01_and_skips_the_rotation_proof(project: Path) -> None:
    """Which algorithms verify is proven once, by identity.token_algorithms; AUTH-04 builds on it."""
    edit(
        project,
        JWKS,
        '    "ES256": (ECKey, "P-256"),\n',
        '    "ES256": (ECKey, "P-256"),\n    "HS256": (RSAKey, None),\n',
    )
    outcome, _ = _outcome(project, "AUTH-04")
    assert outcome.status is Status.SKIPPED
    assert "identity.token_algorithms" in outcome.summary
    (algorithms,) = run_preflight(project, only=["AUTH-01"]).results
    assert algorithms.status is Status.FAILED
    assert "HS256" in algorithms.findings[0].message


# ------------------------------------------------------------------ where tenant and ABAC attributes come from

IDP_MODULE = "infra/terraform/modules/idp/main.tf"
ATTRIBUTE_SOURCES = "identity.attribute_sources"


@pytest.fixture(scope="module")
def idp_projects(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One project per IdP preset that registers its client in Terraform, rendered once for the module."""
    root = tmp_path_factory.mktemp("idps")
    return {
        idp: render(template_snapshot, root / idp, idp=idp) for idp in ("auth0", "okta", "entra", "keycloak", "cognito")
    }


def _attribute_sources(project: Path):
    outcome, _ = check_outcome(project, "AUTHZ-05", ATTRIBUTE_SOURCES)
    return outcome


@pytest.mark.parametrize("idp", ["auth0", "okta", "entra", "keycloak", "cognito"])
def test_each_idp_registration_keeps_tenant_and_abac_attributes_admin_only(idp: str, idp_projects) -> None:
    outcome = _attribute_sources(idp_projects[idp])
    assert outcome.status is Status.PASSED, outcome.findings


def test_without_an_idp_in_terraform_the_check_says_so(pristine: Path) -> None:
    outcome = _attribute_sources(pristine)
    assert outcome.status is Status.SKIPPED
    assert "generic_oidc" in outcome.summary


@pytest.mark.parametrize(
    ("idp", "old", "new", "message"),
    [
        ("cognito", "  admin_create_user_config {\n    allow_admin_create_user_only = true\n  }\n", "",
         "Cognito self sign-up is on: anyone can create an account and choose custom:tenant"),
        ("cognito", 'write_attributes = ["email", "name"]', 'write_attributes = ["email", "name", "custom:tenant"]',
         "the Cognito app client lets users write custom:tenant"),
        ("cognito", '  write_attributes = ["email", "name"]\n', "",
         "the Cognito app client sets no write_attributes, so users may write every attribute, custom:tenant included"),
        ("keycloak", 'for_each = ["tenant", "department", "region"]\n    content {\n      name = attribute.value\n'
         '      permissions {\n        view = ["admin", "user"]\n        edit = ["admin"]',
         'for_each = ["tenant", "department", "region"]\n    content {\n      name = attribute.value\n'
         '      permissions {\n        view = ["admin", "user"]\n        edit = ["admin", "user"]',
         "Keycloak users may edit their own tenant"),
        ("keycloak", 'for_each = ["tenant", "department", "region"]\n    content',
         'for_each = ["department", "region"]\n    content', "the Keycloak user profile does not declare tenant"),
        ("okta", 'permissions = "READ_ONLY"', 'permissions = "READ_WRITE"', "Okta users may edit their own tenant"),
        ("auth0", "const admin = event.user.app_metadata || {};", "const admin = event.user.user_metadata || {};",
         "the Auth0 Action reads user_metadata, which users edit themselves"),
        ("auth0", 'trigger = "post-login"', 'trigger = "post-user-registration"',
         "no Auth0 post-login Action takes the tenant from app_metadata"),
        ("entra", 'sign_in_audience = "AzureADMyOrg"', 'sign_in_audience = "AzureADandPersonalMicrosoftAccount"',
         "personal Microsoft accounts can sign in, and they all share one tid (the tenant)"),
        ("entra", "app_role_assignment_required = true", "app_role_assignment_required = false",
         "any user of the directory can sign in: no admin-assigned app role is required"),
    ],
)  # fmt: skip
def test_a_user_writable_tenant_or_abac_attribute_fails_the_check(
    idp: str, old: str, new: str, message: str, idp_projects, tmp_path: Path
) -> None:
    project = private_copy(idp_projects[idp], tmp_path)
    edit(project, IDP_MODULE, old, new, count=1)
    outcome = _attribute_sources(project)
    assert outcome.status is Status.FAILED, outcome
    assert message in [finding.message for finding in outcome.findings], outcome.findings
    assert all(finding.path == IDP_MODULE for finding in outcome.findings)


# ------------------------------------------------------------------ Auth0's second factors (amr says only "mfa")

AUTH0_MFA_FACTORS = "identity.auth0_mfa_factors"
GUARDIAN_PHONE_OFF = "  phone {\n    enabled = false\n  }\n"


def _auth0_mfa_factors(project: Path):
    outcome, _ = check_outcome(project, "AUTH-05", AUTH0_MFA_FACTORS)
    return outcome


def test_the_auth0_registration_offers_no_phone_or_email_factor(idp_projects) -> None:
    outcome = _auth0_mfa_factors(idp_projects["auth0"])
    assert outcome.status is Status.PASSED, outcome.findings


@pytest.mark.parametrize("idp", ["okta", "keycloak"])
def test_other_idps_skip_the_auth0_factor_check(idp: str, idp_projects) -> None:
    assert _auth0_mfa_factors(idp_projects[idp]).status is Status.SKIPPED


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (GUARDIAN_PHONE_OFF, "  phone {\n    enabled       = true\n    message_types = [\"sms\", \"voice\"]\n  }\n",
         "Auth0 Guardian offers the phone factor (SMS/voice), and Auth0's amr cannot say it was used"),
        (GUARDIAN_PHONE_OFF, "",
         "auth0_guardian does not declare the phone factor, so whatever the tenant has set stays on"),
        ("  email         = false\n", "  email         = true\n",
         "Auth0 Guardian does not switch email codes off, and Auth0's amr cannot say they were used"),
        ('resource "auth0_guardian" "mfa"', 'resource "auth0_prompt" "mfa"',
         "no auth0_guardian resource: SMS may be an Auth0 second factor, and amr would still say mfa"),
        ("  otp           = true\n", "  otp           = false\n", None),
    ],
)  # fmt: skip
def test_an_auth0_phone_or_email_factor_fails_the_check(
    old: str, new: str, message: str | None, idp_projects, tmp_path: Path
) -> None:
    project = private_copy(idp_projects["auth0"], tmp_path)
    edit(project, IDP_MODULE, old, new, count=1)
    if message is None:  # OTP off alone still leaves WebAuthn: a narrower choice, not a weaker one
        assert _auth0_mfa_factors(project).status is Status.PASSED
        return
    outcome = _auth0_mfa_factors(project)
    assert outcome.status is Status.FAILED, outcome
    assert message in [finding.message for finding in outcome.findings], outcome.findings


def test_auth0_without_any_phone_free_factor_fails_the_check(idp_projects, tmp_path: Path) -> None:
    project = private_copy(idp_projects["auth0"], tmp_path)
    edit(project, IDP_MODULE, "  otp           = true\n", "  otp           = false\n", count=1)
    for kind in ("webauthn_roaming", "webauthn_platform"):
        text = (project / IDP_MODULE).read_text()
        start = text.index(f"  {kind} {{\n")
        end = text.index("  }\n", start) + len("  }\n")
        (project / IDP_MODULE).write_text(text[:start] + text[end:])
    outcome = _auth0_mfa_factors(project)
    assert outcome.status is Status.FAILED
    assert "Auth0 Guardian enables neither WebAuthn nor one-time-password apps: nobody can pass MFA" in [
        finding.message for finding in outcome.findings
    ]
