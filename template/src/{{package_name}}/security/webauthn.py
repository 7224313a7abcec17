"""WebAuthn step-up for `admin` and `finance`: enrol a security key, assert it, keep it fresh.

The IdP's MFA proves a second factor at login; sensitive actions (role
changes, credits, payout edits) additionally need a WebAuthn assertion made
in the last `max_age` (5 minutes by default) from the device the session was
bound to at login. WebAuthn is phishing-resistant -- the browser signs the
origin, the authenticator the RP id -- and cannot be SIM-swapped. Where the
IdP's tokens say nothing about MFA, a verified assertion is also the session's
second factor (`record_second_factor`): the IdP proved the password, the key the rest.

Policy enforced here, whatever route calls it:
- user verification (PIN or biometric) is required in both ceremonies;
- the RP id is the host of `APP_BASE_URL`, the only accepted origin is its origin;
- challenges are single-use, expire after two minutes and belong to one session;
- every ceremony requires the session's device key (`security.device`);
- the first key may be enrolled only within `max_age` of a login, and only if
  that login proved phone-free MFA or an administrator granted this account
  one enrolment (`security.key_enrolment`); further keys only after a fresh
  step-up with an existing key. So neither a hijacked session nor someone
  holding only the password can quietly add the attacker's key;
- a signature counter that does not move forward is rejected and alerted as
  a possibly cloned authenticator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..errors import (
    EnrolmentGrantRequiredError,
    NoCredentialRegisteredError,
    SignCountRegressionError,
    StepUpRequiredError,
    UnknownCredentialError,
    WebAuthnError,
)
from .device import DeviceBound, require_same_device
from .key_enrolment import EnrolmentGrant, EnrolmentGrants
from .ratelimit import account_key
from .stuffing import AlertSink, SecurityAlert
from .webauthn_store import ChallengeStore, CredentialStore, StoredCredential

#: Seconds a step-up stays fresh unless `APP_STEP_UP_MAX_AGE_SECONDS` says otherwise.
DEFAULT_STEP_UP_MAX_AGE: Final = 300.0
STEP_UP_ROLES: Final = frozenset({"admin", "finance", "operator_finance"})
#: A step-up stamped this far in the future is treated as forged, not fresh.
CLOCK_SKEW: Final = 30.0
SIGN_COUNT_REGRESSION = "webauthn_sign_count_regression"
_REGISTER, _AUTHENTICATE = "register", "authenticate"


class StepUpSession(DeviceBound, Protocol):
    """The session facts step-up needs (times are Unix seconds, as `security.clock` gives them)."""

    @property
    def session_id(self) -> str: ...

    @property
    def authenticated_at(self) -> float: ...

    @property
    def step_up_at(self) -> float | None: ...

    @property
    def mfa(self) -> bool: ...

    @property
    def mfa_by_phone(self) -> bool: ...


class SteppedUpSession(Protocol):
    """The session fields a verified assertion changes besides `step_up_at`."""

    mfa: bool
    mfa_by_phone: bool


def requires_step_up(roles: Iterable[str]) -> bool:
    """Roles whose sensitive actions need a WebAuthn step-up."""
    return not STEP_UP_ROLES.isdisjoint(roles)


def _is_fresh(moment: float | None, now: float, max_age: float) -> bool:
    return moment is not None and now - max_age <= moment <= now + CLOCK_SKEW


def require_fresh_step_up(session: StepUpSession, now: float, *, max_age: float = DEFAULT_STEP_UP_MAX_AGE) -> None:
    """Raise StepUpRequiredError unless the session asserted a security key within `max_age`."""
    if not _is_fresh(session.step_up_at, now, max_age):
        raise StepUpRequiredError()


def require_high_risk_clearance(
    session: StepUpSession,
    *,
    device_secret: str | None,
    now: float,
    max_age: float = DEFAULT_STEP_UP_MAX_AGE,
) -> None:
    """What a high-risk action checks: the bound device, then a fresh step-up."""
    require_same_device(session, device_secret)
    require_fresh_step_up(session, now, max_age=max_age)


def record_second_factor(session: SteppedUpSession) -> None:
    """A verified assertion is a phone-free second factor for the rest of the session.

    The route that verified it also stamps `step_up_at`, persists the session
    and rotates its id (a privilege change).
    """
    session.mfa = True
    session.mfa_by_phone = False


@dataclass(frozen=True)
class RelyingParty:
    """This app as a WebAuthn relying party."""

    id: str
    name: str
    origin: str

    @classmethod
    def from_base_url(cls, base_url: str, name: str) -> RelyingParty:
        """RP id = host of `APP_BASE_URL`; origin = its scheme://host[:port]."""
        parts = urlsplit(base_url)
        if not parts.scheme or not parts.hostname:
            raise ValueError(f"APP_BASE_URL {base_url!r} has no scheme or host")
        default_port = {"https": 443, "http": 80}.get(parts.scheme)
        port = f":{parts.port}" if parts.port and parts.port != default_port else ""
        return cls(id=parts.hostname, name=name, origin=f"{parts.scheme}://{parts.hostname}{port}")


@dataclass(frozen=True)
class WebAuthnUser:
    """The account a ceremony is for, from the authenticated session."""

    tenant: str
    subject: str
    name: str
    display_name: str = ""

    @property
    def handle(self) -> bytes:
        """The WebAuthn user handle: stable, opaque, no PII (the spec forbids e-mail addresses here)."""
        return hashlib.sha256(f"webauthn-user\0{self.tenant}\0{self.subject}".encode()).digest()


@dataclass(frozen=True)
class StepUpResult:
    """A verified assertion: record `verified_at` as the session's `step_up_at`."""

    credential_id: bytes
    verified_at: float
    sign_count: int


def _transports(values: Iterable[str]) -> list[AuthenticatorTransport]:
    known = {item.value for item in AuthenticatorTransport}
    return [AuthenticatorTransport(value) for value in values if value in known]


def _descriptors(credentials: Iterable[StoredCredential]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(id=item.credential_id, transports=_transports(item.transports) or None)
        for item in credentials
    ]


class WebAuthnCeremonies:
    """Registration and authentication ceremonies with the policy in the module docstring."""

    def __init__(
        self,
        rp: RelyingParty,
        credentials: CredentialStore,
        challenges: ChallengeStore,
        alerts: AlertSink,
        *,
        max_age: float = DEFAULT_STEP_UP_MAX_AGE,
        grants: EnrolmentGrants | None = None,
    ) -> None:
        """Without `grants`, a first key needs a sign-in that proved phone-free MFA."""
        self.rp = rp
        self._credentials = credentials
        self._challenges = challenges
        self._alerts = alerts
        self._grants = grants
        self.max_age = max_age

    # -- registration -------------------------------------------------------

    def _require_enrolment_allowed(
        self, user: WebAuthnUser, session: StepUpSession, existing: list[StoredCredential], now: float
    ) -> EnrolmentGrant | None:
        """Raise unless this session may enrol a key now; the grant a first key will redeem, if one is needed."""
        if existing:
            require_fresh_step_up(session, now, max_age=self.max_age)
            return None
        if not _is_fresh(session.authenticated_at, now, self.max_age):
            raise StepUpRequiredError("sign in again to enrol your first security key")
        if session.mfa and not session.mfa_by_phone:
            return None  # the sign-in itself proved a second factor
        grant = self._grants.pending(user.tenant, user.subject, now) if self._grants is not None else None
        if grant is None:
            raise EnrolmentGrantRequiredError()
        return grant

    def registration_options(
        self, user: WebAuthnUser, session: StepUpSession, *, device_secret: str | None, now: float
    ) -> dict[str, Any]:
        require_same_device(session, device_secret)
        existing = self._credentials.for_account(user.tenant, user.subject)
        self._require_enrolment_allowed(user, session, existing, now)
        challenge = self._challenges.issue(
            _REGISTER, session_id=session.session_id, tenant=user.tenant, subject=user.subject, now=now
        )
        options = generate_registration_options(
            rp_id=self.rp.id,
            rp_name=self.rp.name,
            user_id=user.handle,
            user_name=user.name,
            user_display_name=user.display_name or user.name,
            challenge=challenge,
            timeout=self._challenges.ttl_seconds * 1000,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.DISCOURAGED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=_descriptors(existing),
        )
        return options_to_json_dict(options)

    def verify_registration(
        self,
        user: WebAuthnUser,
        session: StepUpSession,
        *,
        device_secret: str | None,
        credential: Mapping[str, Any] | str,
        now: float,
        on_first_key: Callable[[EnrolmentGrant | None], None] | None = None,
    ) -> StoredCredential:
        """Verify and store a new key; `on_first_key(grant)` audits an account's first one."""
        require_same_device(session, device_secret)
        challenge = self._challenges.consume(
            _REGISTER, session_id=session.session_id, tenant=user.tenant, subject=user.subject, now=now
        )
        existing = self._credentials.for_account(user.tenant, user.subject)
        needs_grant = self._require_enrolment_allowed(user, session, existing, now) is not None
        try:
            parsed = parse_registration_credential_json(
                dict(credential) if isinstance(credential, Mapping) else credential
            )
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origin,
                require_user_verification=True,
            )
        except WebAuthnException as error:
            raise WebAuthnError(reason=str(error)) from error
        # Single use: of two ceremonies racing on one grant, the GETDEL lets only one through.
        grant = None
        if needs_grant and self._grants is not None:
            grant = self._grants.redeem(user.tenant, user.subject, now)
        transports = [item.value for item in parsed.response.transports or ()]
        stored = self._credentials.add(
            tenant=user.tenant,
            subject=user.subject,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=transports,
            now=datetime.fromtimestamp(now, UTC),
        )
        if not existing and on_first_key is not None:
            on_first_key(grant)
        return stored

    # -- authentication (step-up) -------------------------------------------

    def authentication_options(
        self, user: WebAuthnUser, session: StepUpSession, *, device_secret: str | None, now: float
    ) -> dict[str, Any]:
        require_same_device(session, device_secret)
        existing = self._credentials.for_account(user.tenant, user.subject)
        if not existing:
            raise NoCredentialRegisteredError()
        challenge = self._challenges.issue(
            _AUTHENTICATE, session_id=session.session_id, tenant=user.tenant, subject=user.subject, now=now
        )
        options = generate_authentication_options(
            rp_id=self.rp.id,
            challenge=challenge,
            timeout=self._challenges.ttl_seconds * 1000,
            allow_credentials=_descriptors(existing),
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return options_to_json_dict(options)

    def verify_authentication(
        self,
        user: WebAuthnUser,
        session: StepUpSession,
        *,
        device_secret: str | None,
        credential: Mapping[str, Any] | str,
        now: float,
    ) -> StepUpResult:
        require_same_device(session, device_secret)
        challenge = self._challenges.consume(
            _AUTHENTICATE, session_id=session.session_id, tenant=user.tenant, subject=user.subject, now=now
        )
        try:
            parsed = parse_authentication_credential_json(
                dict(credential) if isinstance(credential, Mapping) else credential
            )
        except WebAuthnException as error:
            raise WebAuthnError(reason=str(error)) from error
        stored = self._credentials.find(user.tenant, user.subject, parsed.raw_id)
        if stored is None:
            raise UnknownCredentialError()
        try:
            # The counter is checked below, after the signature, so only a genuinely
            # signed regression (a cloned key) raises the alarm; hence 0 here.
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origin,
                credential_public_key=stored.public_key,
                credential_current_sign_count=0,
                require_user_verification=True,
            )
        except WebAuthnException as error:
            raise WebAuthnError(reason=str(error)) from error
        self._check_counter(user, stored, verified.new_sign_count, now)
        return StepUpResult(credential_id=stored.credential_id, verified_at=now, sign_count=verified.new_sign_count)

    def _check_counter(self, user: WebAuthnUser, stored: StoredCredential, new_count: int, now: float) -> None:
        regressed = (new_count > 0 or stored.sign_count > 0) and new_count <= stored.sign_count
        if regressed or not self._credentials.record_use(stored, new_count, datetime.fromtimestamp(now, UTC)):
            self._alerts.emit(
                SecurityAlert(
                    kind=SIGN_COUNT_REGRESSION,
                    source=None,
                    account=account_key(f"{user.tenant}\0{user.subject}"),
                    details={"stored_sign_count": stored.sign_count, "presented_sign_count": new_count},
                    at=now,
                )
            )
            raise SignCountRegressionError()
