"""Admin routes: read the audit log; change a user's roles; grant a first security-key enrolment.

Changing roles and granting an enrolment both need admin + MFA + a fresh
WebAuthn step-up + a justification, and both are audited.

Thin on purpose: the decisions, the escalation rules, the justification check
and the audit event all live in the core (`security/role_admin.py`); this
module only maps JSON to calls and results to JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from ...security.audit import AuditLog, verify_chain
from ...security.clock import SYSTEM_CLOCK
from ...security.key_enrolment import KeyEnrolmentAdministration
from ...security.principal import Principal
from ...security.role_admin import RoleAdministration
from ..authz import require, step_up_fresh, where

router = APIRouter(prefix="/api/admin", tags=["admin"])

UserId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9@._:|+-]+$")]


class RoleChangeBody(BaseModel):
    """`justification` may be omitted only to be told it is required (422 justification_required)."""

    model_config = ConfigDict(extra="forbid")

    roles: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(max_length=20)
    justification: str = Field(default="", max_length=2000)


@router.get("/audit")
def read_audit(
    request: Request,
    principal: Annotated[Principal, require("audit:read")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """The caller's tenant's events, newest first, and whether its chain verifies."""
    engine: Engine = request.app.state.services.engine
    with engine.connect() as connection:
        events = AuditLog.events(connection, principal.tenant, limit=limit, before_seq=before)
        report = verify_chain(connection, principal.tenant)
    return {
        "events": [event.siem_record() for event in events],
        "chain": {"ok": report.ok, "events": report.events, "head": report.head},
    }


@router.post("/users/{user_id}/roles")
def change_roles(
    request: Request,
    user_id: UserId,
    body: RoleChangeBody,
    principal: Annotated[Principal, require("users:assign_roles")],
) -> dict[str, Any]:
    administration: RoleAdministration = request.app.state.role_admin
    change = administration.set_roles(
        principal,
        tenant=principal.tenant,
        target=user_id,
        roles=body.roles,
        justification=body.justification,
        step_up_fresh=step_up_fresh(request),
        where=where(request),
    )
    return {"user": user_id, "roles": list(change.after), "added": list(change.added), "removed": list(change.removed)}


class EnrolmentGrantBody(BaseModel):
    """`justification` may be omitted only to be told it is required (422 justification_required)."""

    model_config = ConfigDict(extra="forbid")

    justification: str = Field(default="", max_length=2000)


@router.post("/users/{user_id}/webauthn-enrolment", status_code=201)
def grant_key_enrolment(
    request: Request,
    user_id: UserId,
    body: EnrolmentGrantBody,
    principal: Annotated[Principal, require("users:assign_roles")],
) -> dict[str, Any]:
    """Let `user_id` enrol a first security key once, within the grant's lifetime (docs/identity.md)."""
    administration: KeyEnrolmentAdministration = request.app.state.key_enrolment
    grant = administration.grant(
        principal,
        tenant=principal.tenant,
        target=user_id,
        justification=body.justification,
        step_up_fresh=step_up_fresh(request),
        where=where(request),
        now=SYSTEM_CLOCK.now(),
    )
    return {"user": user_id, "expires_at": int(grant.expires_at)}
