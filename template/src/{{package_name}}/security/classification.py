"""Data classification: PII/PHI tags declared on table columns, enforced where data enters and leaves.

A column is tagged with `info=classified(Classification.PII, reveal="customers:read")`.
The tag drives three controls, so no call site has to remember them:

- at ingestion, `seal_row` encrypts every tagged column with the tenant's
  data key (security/keys.py) -- and the database CHECK constraints refuse
  a tagged column that does not hold ciphertext;
- in exports and API answers, `mask_for` replaces tagged values with a mask
  unless the caller holds the column's `reveal` permission;
- in logs, the redaction processor (security/redaction.py) masks every key
  named like a tagged column (`sensitive_field_names`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa

from ..db.scope import TenantTransaction
from .keys import TenantKeyring

MASK: Final = "[masked]"


class Classification(StrEnum):
    """How sensitive a column is; anything above INTERNAL is encrypted and masked."""

    PUBLIC = "public"
    INTERNAL = "internal"
    PII = "pii"
    PHI = "phi"


SENSITIVE: Final = frozenset({Classification.PII, Classification.PHI})


def classified(level: Classification, *, reveal: str) -> dict[str, str]:
    """Column `info` for a tagged column; `reveal` is the permission that may see it in clear."""
    if level in SENSITIVE and not reveal:
        raise ValueError("a PII/PHI column must name the permission that reveals it")
    return {"classification": str(level), "reveal": reveal}


def classification_of(column: sa.Column) -> Classification:
    return Classification(column.info.get("classification", Classification.INTERNAL))


def sensitive_columns(table: sa.Table) -> dict[str, sa.Column]:
    """The table's PII/PHI columns by name."""
    return {column.name: column for column in table.columns if classification_of(column) in SENSITIVE}


def reveal_permissions(table: sa.Table) -> frozenset[str]:
    """The permissions `mask_for` looks at for `table`: the only ones worth deciding per record."""
    columns = sensitive_columns(table).values()
    return frozenset(str(column.info["reveal"]) for column in columns if column.info.get("reveal"))


def sensitive_field_names(tables: Iterable[sa.Table]) -> frozenset[str]:
    """Names of every tagged column of `tables` (the log redaction masks these keys)."""
    return frozenset(name for table in tables for name in sensitive_columns(table))


def _column_id(table: sa.Table, name: str) -> str:
    return f"{table.name}.{name}"


def seal_row(keyring: TenantKeyring, tx: TenantTransaction, table: sa.Table, values: Mapping[str, Any]) -> dict:
    """Encrypt every tagged column of `values` (ingestion); untagged values pass unchanged."""
    tagged = sensitive_columns(table)
    sealed = dict(values)
    for name in tagged.keys() & values.keys():
        value = values[name]
        if not isinstance(value, str):
            raise TypeError(f"{_column_id(table, name)} is classified; pass its clear text as str")
        sealed[name] = keyring.encrypt_text(tx, _column_id(table, name), value)
    return sealed


def open_row(keyring: TenantKeyring, tx: TenantTransaction, table: sa.Table, row: Mapping[str, Any]) -> dict:
    """Decrypt every tagged column of a row read from `table`."""
    opened = dict(row)
    for name in sensitive_columns(table).keys() & row.keys():
        opened[name] = keyring.decrypt_text(tx, _column_id(table, name), bytes(row[name]))
    return opened


def mask_for(principal_permissions: Collection[str], record: Mapping[str, Any], table: sa.Table) -> dict:
    """`record` with every tagged value the caller may not see replaced by `MASK`."""
    granted = set(principal_permissions)
    columns = sensitive_columns(table)
    return {
        name: (MASK if name in columns and columns[name].info.get("reveal") not in granted else value)
        for name, value in record.items()
    }
