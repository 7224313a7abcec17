"""Authorization for routes: every route declares what it needs, and a test fails for any that does not.

    @router.get("/api/exports/customers", dependencies=[require("exports:customers")])
    def export(principal: Annotated[Principal, require("exports:customers")]): ...

`require(permission)` asks the decision point (built once per app from
policy/roles.yaml) with the caller's `Principal` and whether the session
holds a fresh WebAuthn step-up on its bound device; a refusal becomes 403
`{"error": "forbidden" | "mfa_required" | "step_up_required"}`. A caller
whose session has not proven a second factor yet (the IdP's token carried no
MFA evidence, `APP_MFA_SOURCE=token_or_webauthn`) is refused every permission
with `mfa_required` until a WebAuthn assertion proves it, unless all of their
roles are exempt (`APP_MFA_OPTIONAL_ROLES`). ABAC
conditions need the record, so handlers check it with `authorize(...)`.
A permission flagged `requires_subscription` (a paid feature) then also needs
the caller's tenant to have full subscription access, asked of
`app.state.subscription_access` (billing wires it); without it -- no billing,
or a subscription past dunning, refunded or charged back -- the answer is
402 `{"error": "subscription_required"}`: fail closed.
`require_login()` declares "any signed-in user". `undeclared_routes(app)`
lists routes that declare neither; tests/test_route_declarations.py fails on
any outside the public allow-list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any, Final

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.exc import SQLAlchemyError

from ..bootstrap import Services
from ..errors import AppError
from ..security.alert_counter import RedisAlertCounter
from ..security.audit import AuditAction, AuditEntry, AuditInputError, AuditLog, Where
from ..security.claims import mfa_satisfied
from ..security.clock import SYSTEM_CLOCK
from ..security.device import DEVICE_COOKIE
from ..security.key_enrolment import KeyEnrolmentAdministration
from ..security.policy import (
    DecisionPoint,
    JustificationRequiredError,
    PermissionDeniedError,
    RoleEscalationError,
    SubscriptionRequiredError,
    SubscriptionsUnavailableError,
    UnknownRoleError,
    build_decision_point,
)
from ..security.policy.decision import MFA_REQUIRED
from ..security.principal import Principal
from ..security.role_admin import RoleAdministration
from ..security.webauthn import require_high_risk_clearance
from .deps import current_principal, current_session
from .errors import error_response

#: Marks a dependency as a route's authorization declaration.
DECLARATION: Final = "__authz_declaration__"
LOGIN_ONLY: Final = "authenticated"
_REASON_CODES: Final = {"mfa_required": "mfa_required", "step_up_required": "step_up_required"}


def decision_point(request: Request) -> DecisionPoint:
    return request.app.state.authz


def step_up_fresh(request: Request) -> bool:
    """A cookie session whose bound device passed a WebAuthn step-up recently; never a bearer token."""
    session = current_session(request)
    if session is None:
        return False
    try:
        require_high_risk_clearance(
            session,
            device_secret=request.cookies.get(DEVICE_COOKIE),
            now=SYSTEM_CLOCK.now(),
            max_age=request.app.state.services.settings.step_up_max_age_seconds,
        )
    except AppError:
        return False
    return True


def where(request: Request) -> Where:
    """The audit `where`: the client address (already trusted-proxy aware) and the device."""
    session = current_session(request)
    if session is None:
        device = "bearer"
    elif session.device_hash:
        device = f"device:{session.device_hash[:16]}"
    else:  # a digest, never the session id itself: that is a credential
        device = "session:" + hashlib.sha256(session.session_id.encode()).hexdigest()[:16]
    return Where(
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", "")[:512],
        device=device,
    )


def _audit_refusal(request: Request, principal: Principal, permission: str, reason: str) -> None:
    """A refused admin action is itself evidence (alert AUTHZ003): record it in its own transaction."""
    services: Services = request.app.state.services
    with services.engine.begin() as connection:
        request.app.state.audit.append(
            connection,
            AuditEntry(
                tenant=principal.tenant,
                actor=principal.subject,
                actor_roles=principal.roles,
                action=AuditAction.REFUSED,
                permission=permission,
                target=f"{request.method} {request.url.path}"[:300],
                outcome="denied",
                where=where(request),
                after={"reason": reason},
            ),
        )


def _mfa_optional_roles(request: Request) -> frozenset[str]:
    return frozenset(request.app.state.services.settings.mfa_optional_roles)


def _require_subscription(request: Request, principal: Principal, permission: str) -> None:
    """A paid feature: the tenant's subscription must give full access (no provider wired: never).

    When the subscriptions cannot be read the answer is a 503, never a guess either way.
    """
    access_of: Callable[[Principal], str] | None = getattr(request.app.state, "subscription_access", None)
    try:
        access = access_of(principal) if access_of is not None else "none"
    except SQLAlchemyError:
        raise SubscriptionsUnavailableError from None
    if access != "full":
        raise SubscriptionRequiredError(permission, access)


def require(permission: str) -> Any:
    """A dependency that admits the caller only if the decision point allows `permission`."""

    def check(request: Request, principal: Principal = Depends(current_principal)) -> Principal:  # noqa: B008
        point = decision_point(request)
        spec = point.matrix.permissions.get(permission)
        fresh = bool(spec and spec.requires_step_up) and step_up_fresh(request)
        decision = point.decide(principal, permission, step_up_fresh=fresh)
        if decision.allowed and not mfa_satisfied(principal, _mfa_optional_roles(request)):
            decision = MFA_REQUIRED
        if not decision.allowed:
            if spec is not None and spec.admin_action:
                _audit_refusal(request, principal, permission, decision.reason)
            raise PermissionDeniedError(permission, decision.reason)
        if spec is not None and spec.requires_subscription:
            _require_subscription(request, principal, permission)
        return principal

    setattr(check, DECLARATION, permission)
    check.__name__ = f"require_{permission.replace(':', '_')}"
    return Depends(check)


def require_login() -> Any:
    """Declares a route open to every signed-in caller, whatever their roles."""

    def check(principal: Principal = Depends(current_principal)) -> Principal:  # noqa: B008
        return principal

    setattr(check, DECLARATION, LOGIN_ONLY)
    return Depends(check)


def _declarations(dependant: Dependant) -> Iterator[str]:
    for child in dependant.dependencies:
        declared = getattr(child.call, DECLARATION, None)
        if declared is not None:
            yield declared
        yield from _declarations(child)


def route_declarations(app: FastAPI) -> dict[tuple[str, str], list[str]]:
    """(method, path) -> the permissions (or "authenticated") the route declares.

    Walks included routers through FastAPI's effective route contexts (full
    path, router-level dependencies included). A route that is not a FastAPI
    route (a raw Starlette route or mount) can declare nothing: it is listed
    with no declarations, as `*` when it has no methods.
    """
    found: dict[tuple[str, str], list[str]] = {}
    for context in iter_route_contexts(app.routes):
        path = str(context.path or getattr(context.original_route, "path", ""))
        if isinstance(context.original_route, APIRoute):
            declared = list(_declarations(context.dependant))
            methods = sorted(context.methods or ())
        else:
            declared, methods = [], sorted(getattr(context.original_route, "methods", None) or ["*"])
        for method in methods:
            found[(method, path)] = declared
    return found


def undeclared_routes(app: FastAPI, *, public: Callable[[str], bool]) -> list[str]:
    return sorted(
        f"{method} {path}"
        for (method, path), declared in route_declarations(app).items()
        if not declared and not public(path)
    )


def unknown_permissions(app: FastAPI, point: DecisionPoint) -> list[str]:
    """Declared permissions the matrix does not define (a typo would deny forever)."""
    return sorted(
        {p for declared in route_declarations(app).values() for p in declared}
        - set(point.matrix.permissions)
        - {LOGIN_ONLY}
    )


_STATUS: Final[tuple[tuple[type[AppError], int], ...]] = (
    (SubscriptionRequiredError, 402),
    (SubscriptionsUnavailableError, 503),
    (PermissionDeniedError, 403),
    (RoleEscalationError, 403),
    (JustificationRequiredError, 422),
    (UnknownRoleError, 422),
)


def install_authorization(app: FastAPI, services: Services) -> None:
    """Build the decision point, the audit log and role administration; map their errors to HTTP."""
    from .routes import admin

    point = build_decision_point(services.settings)
    app.state.authz = point
    # Refused admin actions (AUTHZ003) page once per actor and window, counted in Redis across replicas.
    counter = RedisAlertCounter(services.redis, key_prefix=services.settings.redis_key_prefix)
    app.state.audit = AuditLog(point.matrix, counter=counter)
    app.state.role_admin = RoleAdministration(services.engine, point, app.state.audit)
    # Enrolment grants live with the WebAuthn ceremonies (install_step_up runs first).
    grants = app.state.step_up.grants
    app.state.key_enrolment = KeyEnrolmentAdministration(services.engine, point, app.state.audit, grants)

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        status = next(code for cls, code in _STATUS if isinstance(exc, cls))
        code = _REASON_CODES.get(getattr(exc, "reason", ""), getattr(exc, "code", "forbidden"))
        return error_response(status, str(exc), code=code, headers={"Retry-After": "1"} if status == 503 else None)

    async def bad_audit_input(_: Request, exc: Exception) -> JSONResponse:
        return error_response(422, str(exc))

    for cls, _ in _STATUS:
        app.add_exception_handler(cls, refused)
    app.add_exception_handler(AuditInputError, bad_audit_input)
    app.include_router(admin.router)
