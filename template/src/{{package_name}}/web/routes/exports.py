"""`GET /api/exports/customers`: the PII export (DESIGN section 5); a viewer gets 403.

Three controls meet here: the route declares `exports:customers` (viewer,
member and auditor are refused by the decision point); each record passes
the grant's ABAC conditions (e.g. finance and admin export only their own
region); and every classified field is masked unless the caller may reveal
it for that record (`mask_for`). The export is recorded in the audit log
(`customers.exported`, row count only) before any data leaves.

Decisions go through `RequestDecisions`: one per distinct (permission,
record) in the request, and only for the permissions `mask_for` reads, so
with OPA a 40-row export costs a handful of calls, not one per permission
per row, and answers exactly what per-row decisions would.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Request

from ...customers import Customer, CustomerRepository, customers
from ...security.audit import AuditAction, AuditEntry
from ...security.classification import mask_for, reveal_permissions
from ...security.policy import Record
from ...security.policy.request_decisions import RequestDecisions
from ...security.principal import Principal
from ..authz import require, where

router = APIRouter(prefix="/api/exports", tags=["exports"])


def _record(customer: Customer) -> Record:
    return Record(owner=customer.owner, department=customer.department, region=customer.region)


@router.get("/customers")
def export_customers(request: Request, principal: Annotated[Principal, require("exports:customers")]) -> dict[str, Any]:
    services = request.app.state.services
    decisions = RequestDecisions(request.app.state.authz, principal)
    reveal = reveal_permissions(customers)
    with services.data.begin(principal) as tx:
        rows = CustomerRepository(tx, services.keyring).list()
    exported = []
    for customer in rows:
        record = _record(customer)
        if not decisions.decide("exports:customers", record).allowed:
            continue
        permissions = decisions.granted(reveal, record)
        exported.append(mask_for(permissions, {**asdict(customer), "id": str(customer.id)}, customers))
    with services.engine.begin() as connection:
        request.app.state.audit.append(
            connection,
            AuditEntry(
                tenant=principal.tenant,
                actor=principal.subject,
                actor_roles=principal.roles,
                action=AuditAction.PII_EXPORTED,
                permission="exports:customers",
                target="customers",
                where=where(request),
                after={"rows": len(exported)},
            ),
        )
    return {"customers": exported}
