"""The directory of tenants (`tenants` table): who is provisioned, who was removed.

Schema and silo tenancy consult it on every transaction (a tenant that is
not `active` gets no schema / database); pooled tenancy registers tenants the
first time they get a data key, so operator commands such as `keys rotate`
can visit every tenant. It holds ids only, never tenant data.
"""

from __future__ import annotations

from typing import Final, Literal

from sqlalchemy import Connection, text

from ..errors import TenantNotProvisionedError
from .context import Tenant

Status = Literal["provisioning", "active", "deleted"]

_REGISTER: Final = text(
    "INSERT INTO tenants (id, status) VALUES (:tenant, :status) ON CONFLICT (id) DO NOTHING RETURNING id"
)
# No conflict target: that would need SELECT, and the pooled runtime role may only INSERT here.
_ENSURE: Final = text("INSERT INTO tenants (id, status) VALUES (:tenant, 'active') ON CONFLICT DO NOTHING")
_STATUS: Final = text("SELECT status FROM tenants WHERE id = :tenant")
_SET_STATUS: Final = text(
    "UPDATE tenants SET status = :status, "
    "deleted_at = CASE WHEN :status = 'deleted' THEN now() ELSE NULL END WHERE id = :tenant"
)
_ACTIVE: Final = text("SELECT id FROM tenants WHERE status = 'active' ORDER BY id")


def register(connection: Connection, tenant: Tenant, status: Status = "active") -> bool:
    """Add the tenant unless it is already known; True when it was new."""
    return connection.execute(_REGISTER, {"tenant": tenant.id, "status": status}).first() is not None


def ensure_registered(connection: Connection, tenant_id: str) -> None:
    """Pooled tenancy: record a tenant the first time it gets a data key (runtime role, INSERT only)."""
    connection.execute(_ENSURE, {"tenant": Tenant(tenant_id).id})


def status_of(connection: Connection, tenant: Tenant) -> Status | None:
    return connection.execute(_STATUS, {"tenant": tenant.id}).scalar_one_or_none()


def require_active(connection: Connection, tenant: Tenant) -> None:
    """Refuse a tenant that was never provisioned, is half-provisioned, or was deleted."""
    if status_of(connection, tenant) != "active":
        raise TenantNotProvisionedError


def set_status(connection: Connection, tenant: Tenant, status: Status) -> None:
    connection.execute(_SET_STATUS, {"tenant": tenant.id, "status": status})


def active_tenants(connection: Connection) -> list[str]:
    return list(connection.execute(_ACTIVE).scalars())
