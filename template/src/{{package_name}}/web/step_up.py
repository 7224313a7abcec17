"""WebAuthn step-up and abuse defences over HTTP: `/auth/webauthn/*`, device cookie, 429/403 mapping.

Only translation lives here: the policy is in `security/webauthn.py`,
`security/device.py` and `security/abuse.py`. Every WebAuthn endpoint is
POST (so the CSRF layer checks it), needs a cookie session and its device
cookie, and is rate-limited per address, per account and globally like login.

Sensitive routes declare `FreshStepUp` (or ask `step_up_is_fresh(request)` and
pass the answer to the policy decision point): without a fresh step-up from
the session's own device they answer 403 `{"error": "step_up_required"}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

import structlog
from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from ..bootstrap import Services
from ..errors import (
    ChallengeExpiredError,
    ChallengeRequiredError,
    CredentialAlreadyRegisteredError,
    NoCredentialRegisteredError,
    RateLimitedError,
    SignCountRegressionError,
    StepUpRequiredError,
    WebAuthnError,
)
from ..security.abuse import CHALLENGE_HEADER, LoginDefenceGuard, LoginDefences, build_login_defences
from ..security.clock import SYSTEM_CLOCK, Clock
from ..security.device import DEVICE_COOKIE, new_device_secret
from ..security.device import device_hash as hash_device_secret
from ..security.ratelimit import client_address
from ..security.sessions import Session
from ..security.stuffing import StructlogAlertSink
from ..security.webauthn import RelyingParty, WebAuthnCeremonies, WebAuthnUser, require_high_risk_clearance
from ..security.webauthn_store import ChallengeStore, CredentialStore
from . import challenge_page
from .authentication import session_cookie
from .authz import require_login
from .deps import CurrentPrincipal, CurrentSession
from .errors import error_response

#: Any signed-in caller may enrol and assert their own keys (the route declaration authz.py checks).
router = APIRouter(prefix="/auth/webauthn", tags=["auth"], dependencies=[require_login()])
log = structlog.get_logger("auth.step_up")

WEBAUTHN_SCOPE: Final = "auth.webauthn"
#: WebAuthn errors a client caused by its answer (counted as failures) -> HTTP status.
_WEBAUTHN_STATUS: Final[tuple[tuple[type[WebAuthnError], int], ...]] = (
    (NoCredentialRegisteredError, 409),
    (CredentialAlreadyRegisteredError, 409),
    (SignCountRegressionError, 403),
    (ChallengeExpiredError, 400),
    (WebAuthnError, 400),
)


@dataclass
class StepUpServices:
    """What the step-up routes share; `clock` is replaceable in tests."""

    defences: LoginDefences
    ceremonies: WebAuthnCeremonies
    trusted_proxies: tuple[str, ...]
    clock: Clock = SYSTEM_CLOCK


def device_cookie(secret: str) -> str:
    """Same attributes as the session cookie: `__Host-`, Secure, HttpOnly, SameSite=Strict, Path=/."""
    return f"{DEVICE_COOKIE}={secret}; Path=/; Secure; HttpOnly; SameSite=Strict"


def expired_device_cookie() -> str:
    return f"{DEVICE_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict"


def bind_device(request: Request, session: Session) -> str:
    """At login: bind a new device key to the session; returns the Set-Cookie value to send."""
    secret = new_device_secret()
    session.device_hash = hash_device_secret(secret)
    request.app.state.identity.sessions.save(session)
    return device_cookie(secret)


def _services(request: Request) -> StepUpServices:
    return request.app.state.step_up


def _client(request: Request, services: StepUpServices) -> str:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), services.trusted_proxies)


def step_up_is_fresh(request: Request) -> bool:
    """For the policy decision point: a fresh step-up from this session's own device?"""
    try:
        require_step_up(request)
    except StepUpRequiredError:
        return False
    return True


def require_step_up(request: Request) -> Session:
    """The session, if it passed a WebAuthn step-up recently on this device; else StepUpRequiredError."""
    session = getattr(request.state, "session", None)
    if not isinstance(session, Session):
        raise StepUpRequiredError("step-up needs a browser session; API tokens cannot perform this action")
    services = _services(request)
    require_high_risk_clearance(
        session,
        device_secret=request.cookies.get(DEVICE_COOKIE),
        now=services.clock.now(),
        max_age=services.ceremonies.max_age,
    )
    return session


FreshStepUp = Annotated[Session, Depends(require_step_up)]


@dataclass(frozen=True)
class _Ceremony:
    services: StepUpServices
    session: Session
    user: WebAuthnUser
    client: str
    account: str
    device_secret: str | None


def _begin(request: Request, principal: CurrentPrincipal, session: CurrentSession) -> _Ceremony:
    """Session required, then the same limits and challenge as login."""
    if session is None:
        raise StepUpRequiredError("step-up needs a browser session; API tokens cannot enrol or assert keys")
    services = _services(request)
    client = _client(request, services)
    account = f"{principal.tenant}/{principal.subject}"
    services.defences.admit(
        WEBAUTHN_SCOPE, client=client, account=account, challenge_token=request.headers.get(CHALLENGE_HEADER)
    )
    user = WebAuthnUser(tenant=principal.tenant, subject=principal.subject, name=principal.email or principal.subject)
    return _Ceremony(services, session, user, client, account, request.cookies.get(DEVICE_COOKIE))


Ceremony = Annotated[_Ceremony, Depends(_begin)]
CredentialBody = Annotated[dict[str, Any], Body(description="PublicKeyCredential.toJSON() from the browser")]


def _failed(ceremony: _Ceremony, error: Exception) -> None:
    ceremony.services.defences.failed(client=ceremony.client, account=ceremony.account)
    log.warning("webauthn_failed", error=getattr(error, "code", "error"), reason=getattr(error, "reason", None))


@router.post("/register/options")
def register_options(ceremony: Ceremony) -> dict[str, Any]:
    return ceremony.services.ceremonies.registration_options(
        ceremony.user, ceremony.session, device_secret=ceremony.device_secret, now=ceremony.services.clock.now()
    )


@router.post("/register/verify", status_code=201)
def register_verify(ceremony: Ceremony, credential: CredentialBody) -> dict[str, Any]:
    try:
        stored = ceremony.services.ceremonies.verify_registration(
            ceremony.user,
            ceremony.session,
            device_secret=ceremony.device_secret,
            credential=credential,
            now=ceremony.services.clock.now(),
        )
    except (WebAuthnError, StepUpRequiredError) as error:
        _failed(ceremony, error)
        raise
    log.info("webauthn_registered", subject=ceremony.user.subject)
    return {"registered": True, "transports": list(stored.transports)}


@router.post("/authenticate/options")
def authenticate_options(ceremony: Ceremony) -> dict[str, Any]:
    return ceremony.services.ceremonies.authentication_options(
        ceremony.user, ceremony.session, device_secret=ceremony.device_secret, now=ceremony.services.clock.now()
    )


@router.post("/authenticate/verify")
def authenticate_verify(request: Request, ceremony: Ceremony, credential: CredentialBody) -> JSONResponse:
    """A verified assertion marks the session stepped-up and rotates it (a privilege change)."""
    services = ceremony.services
    try:
        result = services.ceremonies.verify_authentication(
            ceremony.user,
            ceremony.session,
            device_secret=ceremony.device_secret,
            credential=credential,
            now=services.clock.now(),
        )
    except (WebAuthnError, StepUpRequiredError) as error:
        _failed(ceremony, error)
        raise
    services.defences.succeeded(account=ceremony.account)
    ceremony.session.step_up_at = result.verified_at
    rotated = request.app.state.identity.sessions.rotate(ceremony.session)
    log.info("webauthn_step_up", subject=ceremony.user.subject)
    response = JSONResponse(
        {
            "step_up_at": result.verified_at,
            "step_up_expires_at": result.verified_at + services.ceremonies.max_age,
            "csrf_token": rotated.csrf_token,
        }
    )
    response.headers.append("set-cookie", session_cookie(rotated.id))
    return response


def install_step_up(app: FastAPI, services: Services) -> None:
    """Wire abuse defences into login and add the WebAuthn routes; call after `install_authentication`."""
    settings = services.settings
    alerts = StructlogAlertSink()
    defences = build_login_defences(settings, services.redis, services.secrets, alerts=alerts)
    app.state.identity.login_guards.append(LoginDefenceGuard(defences, trusted_proxies=settings.trusted_proxies))
    ceremonies = WebAuthnCeremonies(
        RelyingParty.from_base_url(settings.base_url, app.title),
        CredentialStore(services.engine),
        ChallengeStore(
            services.redis, key_prefix=settings.redis_key_prefix, ttl_seconds=settings.webauthn_challenge_ttl_seconds
        ),
        alerts,
        max_age=settings.step_up_max_age_seconds,
    )
    app.state.step_up = StepUpServices(defences, ceremonies, tuple(settings.trusted_proxies))

    @app.exception_handler(RateLimitedError)
    async def rate_limited(_: Request, exc: RateLimitedError) -> JSONResponse:
        return error_response(429, str(exc), code=exc.code, headers={"retry-after": str(exc.retry_after)})

    @app.exception_handler(ChallengeRequiredError)
    async def challenge_required(_: Request, exc: ChallengeRequiredError) -> JSONResponse:
        return challenge_page.challenge_json(exc)

    @app.exception_handler(StepUpRequiredError)
    async def step_up_required(_: Request, exc: StepUpRequiredError) -> JSONResponse:
        return error_response(403, str(exc), code=exc.code)

    @app.exception_handler(WebAuthnError)
    async def webauthn_failed(_: Request, exc: WebAuthnError) -> JSONResponse:
        status = next(code for cls, code in _WEBAUTHN_STATUS if isinstance(exc, cls))
        return error_response(status, str(exc), code=exc.code)

    app.include_router(router)
    app.include_router(challenge_page.router)  # /auth/challenge.js, the solver of the challenge page
