"""Customer records: the classified sample (PII) of the generated project.

`full_name` and `email` are tagged PII (security/classification.py): the
repository seals them with the tenant's data key on the way in and opens
them on the way out, so the database only ever holds ciphertext bound to the
tenant and the column. `export` masks them for callers without the reveal
permission. Reads and writes run on a `TenantTransaction`, like projects.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, cast

import sqlalchemy as sa

from .db.scope import TenantTransaction
from .errors import NotFoundError
from .security.classification import Classification, classified, mask_for, open_row, seal_row
from .security.keys import TenantKeyring

LIST_LIMIT: Final = 500
REVEAL: Final = "customers:read"

metadata = sa.MetaData()
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Text(), nullable=False),
    sa.Column("full_name", sa.LargeBinary(), nullable=False, info=classified(Classification.PII, reveal=REVEAL)),
    sa.Column("email", sa.LargeBinary(), nullable=False, info=classified(Classification.PII, reveal=REVEAL)),
    sa.Column("region", sa.Text(), nullable=False),
    sa.Column("department", sa.Text(), nullable=False),
    sa.Column("owner", sa.Text(), nullable=False),
)

#: Every table with classified columns (the encryption test and log redaction read it).
CLASSIFIED_TABLES: Final = (customers,)


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer in clear text: only ever held in memory."""

    id: uuid.UUID
    full_name: str
    email: str
    region: str
    department: str
    owner: str


class CustomerNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("customer not found")


class CustomerRepository:
    """The caller's tenant's customers, encrypted at rest per tenant."""

    def __init__(self, transaction: TenantTransaction, keyring: TenantKeyring) -> None:
        self._tx = transaction
        self._keyring = keyring

    def _customer(self, row: sa.Row) -> Customer:
        # A row of `customers` is keyed by its column names.
        opened = open_row(self._keyring, self._tx, customers, cast("Mapping[str, Any]", row._mapping))
        return Customer(**{name: opened[name] for name in Customer.__dataclass_fields__})

    def add(self, *, full_name: str, email: str, region: str = "", department: str = "", owner: str = "") -> Customer:
        values = {"full_name": full_name, "email": email, "region": region, "department": department, "owner": owner}
        sealed = seal_row(self._keyring, self._tx, customers, values)
        row = self._tx.connection.execute(
            customers.insert().values(id=uuid.uuid4(), tenant_id=self._tx.tenant, **sealed).returning(*customers.c)
        ).one()
        return self._customer(row)

    def get(self, customer_id: uuid.UUID) -> Customer:
        row = self._tx.connection.execute(
            sa.select(customers).where(customers.c.tenant_id == self._tx.tenant, customers.c.id == customer_id)
        ).first()
        if row is None:
            raise CustomerNotFoundError
        return self._customer(row)

    def list(self, *, limit: int = LIST_LIMIT) -> list[Customer]:
        query = sa.select(customers).where(customers.c.tenant_id == self._tx.tenant).order_by(customers.c.id)
        return [self._customer(row) for row in self._tx.connection.execute(query.limit(min(limit, LIST_LIMIT)))]

    def export(self, principal_permissions: Collection[str]) -> builtins.list[dict]:  # `list` is a method here
        """Rows for a PII export: tagged fields masked unless the caller may reveal them."""
        return [
            mask_for(principal_permissions, {**asdict(customer), "id": str(customer.id)}, customers)
            for customer in self.list()
        ]
