"""The tenant-scoped sample resource: projects, behind a repository.

Every statement runs on a `TenantTransaction` (db/scope.py), so the tenancy
model's isolation (row-level security, a tenant schema or a tenant database)
already applies; the repository ALSO filters on `tenant_id` explicitly, so a
mistake in one layer is not a breach. Another tenant's project is
indistinguishable from a missing one: both are `NotFoundError` (HTTP 404).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa

from .db.scope import TenantTransaction
from .errors import NotFoundError

NAME_MAX_LENGTH: Final = 200
LIST_LIMIT: Final = 100

metadata = sa.MetaData()
projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("tenant_id", sa.Text(), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("created_by", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Project:
    """A project as the API shows it; `tenant` always comes from the transaction."""

    id: uuid.UUID
    name: str
    tenant: str
    created_by: str
    created_at: datetime


class ProjectNotFoundError(NotFoundError):
    """No such project for this tenant."""

    def __init__(self) -> None:
        super().__init__("project not found")


def valid_name(name: str) -> str:
    """Names are 1-200 characters after trimming; the database CHECK agrees."""
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= NAME_MAX_LENGTH:
        raise ValueError(f"name must be 1-{NAME_MAX_LENGTH} characters")
    return cleaned


def _project(row: sa.Row) -> Project:
    return Project(id=row.id, name=row.name, tenant=row.tenant_id, created_by=row.created_by, created_at=row.created_at)


class ProjectRepository:
    """CRUD on the caller's tenant's projects, inside one tenant-scoped transaction."""

    def __init__(self, transaction: TenantTransaction) -> None:
        self._connection = transaction.connection
        self._tenant = transaction.tenant

    def _mine(self) -> sa.ColumnElement[bool]:
        return projects.c.tenant_id == self._tenant

    def add(self, name: str, *, created_by: str) -> Project:
        row = self._connection.execute(
            projects.insert()
            .values(id=uuid.uuid4(), tenant_id=self._tenant, name=valid_name(name), created_by=created_by)
            .returning(*projects.c)
        ).one()
        return _project(row)

    def get(self, project_id: uuid.UUID) -> Project:
        row = self._connection.execute(sa.select(projects).where(self._mine(), projects.c.id == project_id)).first()
        if row is None:
            raise ProjectNotFoundError
        return _project(row)

    def list(self, *, limit: int = LIST_LIMIT) -> list[Project]:
        query = sa.select(projects).where(self._mine()).order_by(projects.c.created_at, projects.c.id)
        return [_project(row) for row in self._connection.execute(query.limit(min(limit, LIST_LIMIT)))]

    def rename(self, project_id: uuid.UUID, name: str) -> Project:
        row = self._connection.execute(
            projects.update()
            .where(self._mine(), projects.c.id == project_id)
            .values(name=valid_name(name))
            .returning(*projects.c)
        ).first()
        if row is None:
            raise ProjectNotFoundError
        return _project(row)

    def delete(self, project_id: uuid.UUID) -> None:
        deleted = self._connection.execute(projects.delete().where(self._mine(), projects.c.id == project_id))
        if deleted.rowcount != 1:
            raise ProjectNotFoundError
