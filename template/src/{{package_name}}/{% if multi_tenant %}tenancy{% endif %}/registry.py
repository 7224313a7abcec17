"""The directory of tenants (`tenants` table): who is provisioned, suspended or removed.

Schema and silo tenancy consult it on every transaction (a tenant that is
not `active` gets no schema / database); pooled tenancy registers tenants the
first time they get a data key, so operator commands such as `keys rotate`
can visit every tenant, and reads the status in the statement that applies
the tenant (`pooled.py`). Authentication reads it on every request
(`security/admission.py`), so a `suspended` or `deleted` tenant is refused
in every tenancy model. It holds ids only, never tenant data; a deleted
tenant's row stays, so the id cannot quietly come back.

Schema and silo tenancy also record each tenant's schema / database name in
`storage_name` (UNIQUE, migration `tenancy_0003`) BEFORE creating it:
`claim_storage` refuses a name that another tenant id holds (a collision of
the 48-bit digest in `Tenant.object_name`, or a forged row) and a schema or
database that already exists without being recorded as this tenant's, so
provisioning never adopts storage -- and the rows in it -- that it did not
create for this tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from ..errors import (
    TenantDeletedError,
    TenantNotProvisionedError,
    TenantStorageConflictError,
    TenantSuspendedError,
)
from .context import Tenant

Status = Literal["provisioning", "active", "suspended", "deleted"]

#: Statuses whose users, sessions and tokens are refused on every request.
OUT_OF_SERVICE: Final[frozenset[str]] = frozenset({"suspended", "deleted"})

_REGISTER: Final = text(
    "INSERT INTO tenants (id, status) VALUES (:tenant, :status) ON CONFLICT (id) DO NOTHING RETURNING id"
)
# No conflict target: a registered tenant (of any status) is left exactly as it is.
_ENSURE: Final = text("INSERT INTO tenants (id, status) VALUES (:tenant, 'active') ON CONFLICT DO NOTHING")
_STATUS: Final = text("SELECT status FROM tenants WHERE id = :tenant")
_SET_STATUS: Final = text(
    "UPDATE tenants SET status = :status, "
    "deleted_at = CASE WHEN :status = 'deleted' THEN coalesce(deleted_at, now()) ELSE NULL END WHERE id = :tenant"
)
_DELETED_AT: Final = text("SELECT deleted_at FROM tenants WHERE id = :tenant AND status = 'deleted'")
_ACTIVE: Final = text("SELECT id FROM tenants WHERE status = 'active' ORDER BY id")
_PROVISIONED: Final = text("SELECT id FROM tenants WHERE status IN ('active', 'suspended') ORDER BY id")
_HOLDER: Final = text("SELECT id FROM tenants WHERE storage_name = :name")
_STORAGE_OF: Final = text("SELECT storage_name FROM tenants WHERE id = :tenant FOR UPDATE")
_RECORD_STORAGE: Final = text("UPDATE tenants SET storage_name = :name WHERE id = :tenant AND storage_name IS NULL")
_RELEASE_STORAGE: Final = text("UPDATE tenants SET storage_name = NULL WHERE id = :tenant")


def register(connection: Connection, tenant: Tenant, status: Status = "active") -> bool:
    """Add the tenant unless it is already known; True when it was new."""
    return connection.execute(_REGISTER, {"tenant": tenant.id, "status": status}).first() is not None


def ensure_registered(connection: Connection, tenant_id: str) -> None:
    """Pooled tenancy: record a tenant the first time it gets a data key (never revives a removed one)."""
    connection.execute(_ENSURE, {"tenant": Tenant(tenant_id).id})


def status_of(connection: Connection, tenant: Tenant) -> Status | None:
    return connection.execute(_STATUS, {"tenant": tenant.id}).scalar_one_or_none()


def refuse_out_of_service(status: str | None) -> None:
    """Raise for a suspended or deleted tenant; any other status (or none) is for the caller to judge."""
    if status == "suspended":
        raise TenantSuspendedError
    if status == "deleted":
        raise TenantDeletedError


def require_active(connection: Connection, tenant: Tenant) -> None:
    """Refuse a tenant that was never provisioned, is half-provisioned, suspended or deleted."""
    status = status_of(connection, tenant)
    refuse_out_of_service(status)
    if status != "active":
        raise TenantNotProvisionedError


def set_status(connection: Connection, tenant: Tenant, status: Status) -> None:
    """Change a registered tenant's status; `deleted_at` keeps the first deletion's time."""
    connection.execute(_SET_STATUS, {"tenant": tenant.id, "status": status})


def deleted_at(connection: Connection, tenant: Tenant) -> datetime | None:
    """When the tenant was deleted; None unless its status is `deleted`."""
    return connection.execute(_DELETED_AT, {"tenant": tenant.id}).scalar_one_or_none()


def active_tenants(connection: Connection) -> list[str]:
    return list(connection.execute(_ACTIVE).scalars())


def provisioned_tenants(connection: Connection) -> list[str]:
    """Active and suspended tenants: their storage exists and must follow every migration."""
    return list(connection.execute(_PROVISIONED).scalars())


def claim_storage(connection: Connection, tenant: Tenant, name: str, *, exists: bool) -> bool:
    """Record `name` as the registered tenant's schema / database before it is created; True when newly recorded.

    Refuses (TenantStorageConflictError, the caller's transaction must roll
    back) when another tenant id holds the name, when the tenant already
    records a different name, or when the schema / database `exists` but is
    not recorded as this tenant's: provisioning never adopts what it did not
    create. Re-provisioning the same tenant finds its own record: idempotent.
    """
    recorded = _record(connection, tenant, name)
    if exists and recorded is None:
        raise TenantStorageConflictError(
            f"{name!r} already exists but is not registered to tenant {tenant.id!r}; "
            "refusing to adopt it (inspect it, then drop or rename it)"
        )
    if recorded is None:
        _write_record(connection, tenant, name)
        return True
    return False


def release_storage(connection: Connection, tenant: Tenant) -> None:
    """Purge dropped the tenant's schema / database: forget its name, so a re-created tenant claims afresh.

    Kept, the record would let a later `tenants create` of the same id find
    "its own" name and adopt whatever schema or database someone made there
    in the meantime.
    """
    connection.execute(_RELEASE_STORAGE, {"tenant": tenant.id})


def record_storage(connection: Connection, tenant: Tenant, name: str) -> None:
    """`tenants migrate`: record the name of a tenant provisioned before `storage_name` existed (idempotent).

    Only for tenants the registry already lists as provisioned (their storage
    was created by `tenants create`); a name held by another tenant is refused.
    """
    if _record(connection, tenant, name) is None:
        _write_record(connection, tenant, name)


def _record(connection: Connection, tenant: Tenant, name: str) -> str | None:
    """The name the tenant records (None: none yet); refuses a name held by someone else."""
    holder = connection.execute(_HOLDER, {"name": name}).scalar_one_or_none()
    if holder is not None and holder != tenant.id:
        raise TenantStorageConflictError(
            f"{name!r} is registered to another tenant; tenant {tenant.id!r} cannot use it"
        )
    recorded = connection.execute(_STORAGE_OF, {"tenant": tenant.id}).scalar_one_or_none()
    if recorded is not None and recorded != name:
        raise TenantStorageConflictError(f"tenant {tenant.id!r} is registered with {recorded!r}, not {name!r}")
    return recorded


def _write_record(connection: Connection, tenant: Tenant, name: str) -> None:
    """UPDATE under the UNIQUE constraint: a concurrent claim of the same name fails here, not silently."""
    try:
        with connection.begin_nested():
            connection.execute(_RECORD_STORAGE, {"tenant": tenant.id, "name": name})
    except IntegrityError as error:
        raise TenantStorageConflictError(
            f"{name!r} is registered to another tenant; tenant {tenant.id!r} cannot use it"
        ) from error
