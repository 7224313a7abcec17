"""`/auth/login`, `/auth/callback`, `/auth/logout`: the browser side of OIDC login.

The session cookie is SameSite=Strict, and the redirect back from the IdP is
a cross-site navigation: the browser stores a Strict cookie from that
response but sends it on nothing in the same navigation chain, redirects
included. So the callback does not redirect; it answers a tiny same-origin
page whose meta refresh starts a *new*, same-site navigation to `next`, and
that request carries the fresh cookie. (No script: the CSP forbids inline
script, and a meta refresh needs none.)
"""

from __future__ import annotations

import html
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from ...errors import AppError, ChallengeRequiredError, TenantError
from ...security.admission import admit
from ...security.auth_errors import AuthError, LoginStateError
from ...security.identity import Identity, LoginContext, LoginOutcome
from ...security.login_state import LOGIN_TTL_SECONDS
from ...security.principal import Principal
from ..authentication import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    auth_error_response,
    expired_cookie,
    login_cookie,
    session_cookie,
)
from ..challenge_page import challenge_response
from ..deps import CurrentPrincipal, CurrentSession
from ..errors import error_response
from ..step_up import bind_device, expired_device_cookie

router = APIRouter(tags=["auth"])
log = structlog.get_logger("auth")

_CALLBACK_PARAMETERS = ("state", "code", "iss", "error")


def _identity(request: Request) -> Identity:
    return request.app.state.identity


def _login_in_flight(request: Request) -> bool:
    """The callback's state names a login this browser started and has not finished (nothing consumed)."""
    client = _identity(request).oidc_client
    state = request.query_params.get("state")
    if client is None or not state:
        return False
    return client.attempts.is_pending(state, request.cookies.get(LOGIN_COOKIE))


def _context(request: Request, stage: str) -> LoginContext:
    return LoginContext(
        stage="login" if stage == "login" else "callback",
        peer_address=request.client.host if request.client else "",
        headers={name.lower(): value for name, value in request.headers.items()},
        account_hint=request.query_params.get("login_hint"),
        challenge_token=request.query_params.get("challenge_token"),
        login_in_flight=stage == "callback" and _login_in_flight(request),
    )


def _refusal(error: AppError, request: Request) -> Response:
    """A guard's refusal: a challenge to solve, 429 + Retry-After when it says when to retry, else 403."""
    if isinstance(error, ChallengeRequiredError):
        return challenge_response(request, error)
    if isinstance(error, AuthError):
        return auth_error_response(error)
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int):
        return error_response(429, str(error), code=error.code, headers={"retry-after": str(retry_after)})
    return error_response(403, str(error), code=error.code)


def _landing_page(next_path: str) -> HTMLResponse:
    target = html.escape(next_path, quote=True)
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={target}"><title>Signed in</title></head>'
        f'<body><p>Signed in. <a href="{target}">Continue</a></p></body></html>'
    )
    return HTMLResponse(body)


def _callback_parameters(request: Request) -> dict[str, str]:
    """The callback's parameters; a repeated one is refused (parameter pollution)."""
    params = {}
    for name in _CALLBACK_PARAMETERS:
        values = request.query_params.getlist(name)
        if len(values) > 1:
            raise LoginStateError(f"the callback repeats the {name!r} parameter")
        if values:
            params[name] = values[0]
    return params


@router.get("/auth/login")
def login(request: Request, next_path: Annotated[str | None, Query(alias="next")] = None) -> Response:
    """302 to the IdP with response_type=code, PKCE S256, state and nonce."""
    identity = _identity(request)
    try:
        for guard in identity.login_guards:
            guard.before(_context(request, "login"))
        redirect = identity.oidc.begin_login(next_path)
    except AppError as error:
        return _refusal(error, request)
    response = RedirectResponse(redirect.url, status_code=302)
    response.headers.append("set-cookie", login_cookie(redirect.binding, LOGIN_TTL_SECONDS))
    return response


def _notify(identity: Identity, context: LoginContext, outcome: LoginOutcome) -> None:
    for guard in identity.login_guards:
        guard.after(context, outcome)


@router.get("/auth/callback")
def callback(request: Request) -> Response:
    """Validate the IdP's answer, then start a fresh session (never reuse one the browser had)."""
    identity = _identity(request)
    context = _context(request, "callback")
    try:
        for guard in identity.login_guards:
            guard.before(context)
        result = identity.oidc.complete_login(_callback_parameters(request), request.cookies.get(LOGIN_COOKIE))
    except AppError as error:
        log.warning("login_failed", reason=error.code)
        _notify(identity, context, LoginOutcome(succeeded=False, error=error.code))
        refusal = _refusal(error, request)
        refusal.headers.append("set-cookie", expired_cookie(LOGIN_COOKIE))
        return refusal
    refusal = _tenant_status_refusal(request, result.principal)
    if refusal is not None:
        return refusal
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        identity.sessions.revoke(previous)  # session fixation: a pre-login id never survives login
    session = identity.sessions.create(result.principal, auth_time=result.auth_time, refresh_token=result.refresh_token)
    log.info("login_succeeded", subject=result.principal.subject, mfa=result.principal.mfa)
    _notify(identity, context, LoginOutcome(succeeded=True, subject=result.principal.subject))
    response = _landing_page(result.next_path)
    response.headers.append("set-cookie", session_cookie(session.id))
    response.headers.append("set-cookie", bind_device(request, session))  # device binding for step-up
    response.headers.append("set-cookie", expired_cookie(LOGIN_COOKIE))
    return response


def _tenant_status_refusal(request: Request, principal: Principal) -> Response | None:
    """The tenant-status guard of sign-in: a suspended or deleted tenant gets no session (403).

    Not a credential failure (the IdP did authenticate the user), so the login
    guards are not told. A registry that cannot be read is a 503, never a session.
    """
    try:
        admit(request.app.state.services.engine, principal)
    except TenantError as error:
        log.warning("login_refused", reason=error.code)
        refusal = error_response(403, str(error), code=error.code)
    except SQLAlchemyError:
        refusal = error_response(
            503, "the service is temporarily unavailable", code="unavailable", headers={"retry-after": "5"}
        )
    else:
        return None
    refusal.headers.append("set-cookie", expired_cookie(LOGIN_COOKIE))
    return refusal


@router.post("/auth/logout")
def logout(request: Request, principal: CurrentPrincipal, session: CurrentSession) -> JSONResponse:
    """Revoke the session server-side (CSRF was checked before this runs) and clear the cookie."""
    if session is None:
        return error_response(
            400, "bearer tokens are not sessions; revoke them at the identity provider", code="no_session"
        )
    _identity(request).sessions.revoke(session.id)
    log.info("logout", subject=principal.subject)
    response = JSONResponse({"status": "logged_out"})
    response.headers.append("set-cookie", expired_cookie(SESSION_COOKIE))
    response.headers.append("set-cookie", expired_device_cookie())
    return response
