"""Who is calling: cookie session or bearer token, resolved before any route runs.

`AuthenticationMiddleware` (pure ASGI, inside the security-headers layer)
leaves `principal`, `session` and, for a rejected bearer token, `auth_error`
on `request.state`; `deps.current_principal` turns a missing principal into
the right JSON error. Unsafe methods on a cookie session are refused here
unless they pass the CSRF checks, before any route code runs. Blocking work
(Redis, JWKS) runs in the thread pool, never on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from ..bootstrap import Services
from ..errors import TenantError
from ..security.admission import admit
from ..security.auth_errors import (
    AuthError,
    CodeExchangeError,
    CsrfError,
    IdentityProviderError,
    InvalidTokenError,
    LoginStateError,
    MfaRequiredError,
    OidcNotConfiguredError,
)
from ..security.csrf import check_csrf, origin_of
from ..security.identity import Identity, build_identity
from ..security.operators import OperatorScope, operator_scope
from ..security.principal import Principal
from ..security.sessions import Session
from .errors import error_response

SESSION_COOKIE: Final = "__Host-session"
LOGIN_COOKIE: Final = "__Host-login"

_STATUS: Final[tuple[tuple[type[AuthError], int], ...]] = (
    (OidcNotConfiguredError, 503),
    (IdentityProviderError, 502),
    (LoginStateError, 400),
    (CodeExchangeError, 400),
    (InvalidTokenError, 401),
    (MfaRequiredError, 403),
    (CsrfError, 403),
)


def auth_error_response(error: AuthError) -> JSONResponse:
    """The JSON answer for an identity error: the class picks the status, the error its code."""
    status = next((code for cls, code in _STATUS if isinstance(error, cls)), 401)
    headers = {"www-authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return error_response(status, error.detail, code=error.code, headers=headers)


def session_cookie(value: str) -> str:
    """`__Host-` prefix: Secure, Path=/ and no Domain, so no sibling host can set or read it."""
    return f"{SESSION_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict"


def login_cookie(value: str, max_age: int) -> str:
    """The pre-auth browser binding. Lax, not Strict: it must ride the top-level
    redirect back from the IdP, which is a cross-site navigation."""
    return f"{LOGIN_COOKIE}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Lax"


def expired_cookie(name: str) -> str:
    same_site = "Lax" if name == LOGIN_COOKIE else "Strict"
    return f"{name}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite={same_site}"


@dataclass(frozen=True)
class Caller:
    """The outcome of authentication for one request."""

    principal: Principal | None = None
    session: Session | None = None
    error: AuthError | None = None


def resolve_caller(identity: Identity, connection: HTTPConnection, allowed_origin: str) -> Caller:
    """Bearer token if one is presented, else the session cookie; raises CsrfError.

    The principal carries the token's roles only; `admission.admit` adds the app's.
    """
    authorization = connection.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Caller(error=InvalidTokenError("send the access token as 'Authorization: Bearer <token>'"))
        try:
            return Caller(principal=identity.oidc.authenticate_bearer(token.strip()))
        except AuthError as error:
            return Caller(error=error)
    session = identity.sessions.get(connection.cookies.get(SESSION_COOKIE))
    if session is None:
        return Caller()
    check_csrf(
        method=connection.scope["method"],
        expected_token=session.csrf_token,
        presented_token=connection.headers.get("x-csrf-token"),
        origin=connection.headers.get("origin"),
        sec_fetch_site=connection.headers.get("sec-fetch-site"),
        allowed_origin=allowed_origin,
    )
    return Caller(principal=session.principal(), session=session)


def _authenticate(
    identity: Identity, engine: Engine, operators: OperatorScope, connection: HTTPConnection, allowed_origin: str
) -> Caller:
    """The caller with its effective roles, in one trip to the thread pool (Redis, JWKS, then Postgres).

    `admit` is the tenant-status guard: a caller of a suspended or deleted
    tenant raises `TenantError`, and a session that outlived the change is
    revoked here, so the next request is simply anonymous. The operator tenant
    is no exception: suspending it stops every approval at once.

    Effective roles: the token's, plus those assigned in the app, minus vendor-only roles
    unless the caller belongs to the operator tenant (security/operators.py) -- whatever
    the token or the session says, on every request.
    """
    caller = resolve_caller(identity, connection, allowed_origin)
    if caller.principal is None:
        return caller
    try:
        return replace(caller, principal=operators.restrict(admit(engine, caller.principal)))
    except TenantError:
        if caller.session is not None:
            identity.sessions.revoke(caller.session.id)
        raise


def _tenant_refusal(error: TenantError) -> JSONResponse:
    """403 for a caller of a tenant out of service; the session cookie is cleared with it."""
    response = error_response(403, str(error), code=error.code)
    response.headers.append("set-cookie", expired_cookie(SESSION_COOKIE))
    return response


class AuthenticationMiddleware:
    """Resolves the caller into `request.state`; answers CSRF failures itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        application = scope["app"]
        identity: Identity = application.state.identity
        allowed_origin = origin_of(application.state.services.settings.base_url)
        engine: Engine = application.state.services.engine
        operators: OperatorScope = application.state.operators
        try:
            caller = await run_in_threadpool(
                _authenticate, identity, engine, operators, HTTPConnection(scope), allowed_origin
            )
        except CsrfError as error:
            await auth_error_response(error)(scope, receive, send)
            return
        except TenantError as error:
            await _tenant_refusal(error)(scope, receive, send)
            return
        except SQLAlchemyError:
            # Without the role assignments and the tenant's status no decision can be right: refuse, never guess.
            await error_response(
                503, "the service is temporarily unavailable", code="unavailable", headers={"retry-after": "5"}
            )(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["principal"] = caller.principal
        state["session"] = caller.session
        state["auth_error"] = caller.error
        await self.app(scope, receive, send)


def install_authentication(app: FastAPI, services: Services) -> None:
    """Wire identity into the app: services, middleware, error mapping, routes.

    Call it before the security-headers middleware is added, so that
    middleware stays outermost and wraps authentication's answers too.
    """
    from .routes import auth, me

    app.state.identity = build_identity(services.settings, services.redis, services.secrets)
    app.state.operators = operator_scope(services.settings)
    app.add_middleware(AuthenticationMiddleware)

    @app.exception_handler(AuthError)
    async def identity_error(_: Request, exc: AuthError) -> JSONResponse:
        return auth_error_response(exc)

    app.include_router(auth.router)
    app.include_router(me.router)
