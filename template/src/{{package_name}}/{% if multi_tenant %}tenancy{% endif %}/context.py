"""The tenant a unit of work runs for: taken from the validated Principal, never from the request.

`Tenant` is the only way tenant ids reach SQL, schema names, database names
and key bindings, and it can only be built from an id that passes a strict
allow-list. Routes never build one from a body or a query string: they hand
the `Principal` (the validated token) to `DataScope.begin`, which calls
`Tenant.of(principal)`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, text

from ..errors import InvalidTenantError, MissingTenantError, TenantStorageConflictError
from ..security.principal import Principal

#: Tenant ids as IdPs issue them: slugs, GUIDs (Entra `tid`), domains (Google `hd`).
TENANT_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?")

#: A Postgres identifier we are willing to compose into DDL (still quoted on use).
IDENTIFIER_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,62}")

_SLUG_LENGTH: Final = 24
_DIGEST_LENGTH: Final = 12


@dataclass(frozen=True, slots=True)
class Tenant:
    """A validated tenant id.

    Attributes:
        id: exactly the id of the token's tenant claim (case preserved).
    """

    id: str

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not TENANT_ID_PATTERN.fullmatch(self.id):
            raise InvalidTenantError

    @classmethod
    def of(cls, principal: Principal) -> Tenant:
        """The caller's tenant, from the validated token; no tenant means no data."""
        if not principal.tenant:
            raise MissingTenantError
        return cls(principal.tenant)

    def object_name(self, prefix: str) -> str:
        """A schema or database name for this tenant: readable, injective, identifier-safe.

        `prefix` + a lower-case slug of the id + a digest of the exact id, so
        `Acme` and `acme` (two tenants to the IdP) never share a schema.
        """
        slug = re.sub(r"[^a-z0-9]+", "_", self.id.lower()).strip("_")[:_SLUG_LENGTH]
        digest = hashlib.sha256(self.id.encode("utf-8")).hexdigest()[:_DIGEST_LENGTH]
        name = f"{prefix}{slug}_{digest}"
        return checked_identifier(name)


TENANT_OWNER_CONSTRAINT: Final = "tenant_owner"


def pin_rows_to_tenant(owner: Connection, qualified_table: str, tenant: Tenant) -> None:
    """Schema/silo: a CHECK that every row of this tenant's copy of a table names this tenant.

    Isolation comes from the schema or database; the constraint makes a row
    written with another tenant's id fail loudly instead of sitting, mislabelled,
    in the wrong place. Idempotent, and an existing constraint must name THIS
    tenant: one naming another tenant means the table belongs to someone else,
    and provisioning refuses rather than adopt it. `qualified_table` is built
    from allow-listed names.
    """
    existing = owner.execute(
        text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(:t) AND conname = :c"),
        {"t": qualified_table, "c": TENANT_OWNER_CONSTRAINT},
    ).scalar_one_or_none()
    if existing is not None:
        if _QUOTED_LITERAL.findall(existing) != [tenant.id]:
            raise TenantStorageConflictError(
                f"{qualified_table} is pinned to another tenant ({existing}); refusing to adopt it for {tenant.id!r}"
            )
        return
    literal = owner.execute(text("SELECT quote_literal(:tenant)"), {"tenant": tenant.id}).scalar_one()
    owner.execute(
        text(f"ALTER TABLE {qualified_table} ADD CONSTRAINT {TENANT_OWNER_CONSTRAINT} CHECK (tenant_id = {literal})")
    )


#: String literals in a constraint definition (tenant ids never contain a quote: TENANT_ID_PATTERN).
_QUOTED_LITERAL: Final = re.compile(r"'([^']*)'")


def checked_identifier(name: str) -> str:
    """Refuse anything but a plain lower-case identifier before it goes near DDL."""
    if not IDENTIFIER_PATTERN.fullmatch(name):
        raise InvalidTenantError
    return name
