"""SQLAlchemy engines. Built by the composition root, never at import time.

The runtime role's connections carry hard server-side limits (DATA-09): a
statement runs at most `statement_timeout_ms`, and a transaction left idle
is ended after `idle_in_transaction_timeout_ms`, so one expensive query or a
stuck request cannot hold connections and locks for long. They are set at
connect time through libpq's `options`, before any application SQL runs.
Result sizes are capped where rows are read (`LIST_LIMIT` of each repository).
Migrations and operator commands use the owner's engine without these limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine

if TYPE_CHECKING:
    from ..config import Settings


@dataclass(frozen=True)
class QueryLimits:
    """Server-side ceilings for every statement and transaction of a connection."""

    statement_timeout_ms: int
    idle_in_transaction_timeout_ms: int

    def __post_init__(self) -> None:
        if self.statement_timeout_ms < 1 or self.idle_in_transaction_timeout_ms < 1:
            raise ValueError("query limits must be positive: 0 would switch the server-side limit off")

    def options(self) -> str:
        return (
            f"-c statement_timeout={self.statement_timeout_ms} "
            f"-c idle_in_transaction_session_timeout={self.idle_in_transaction_timeout_ms}"
        )


def runtime_query_limits(settings: Settings) -> QueryLimits:
    """The ceilings every runtime-role connection carries, from APP_DATABASE_*_TIMEOUT_MS."""
    return QueryLimits(
        statement_timeout_ms=settings.database_statement_timeout_ms,
        idle_in_transaction_timeout_ms=settings.database_idle_in_transaction_timeout_ms,
    )


def connect_args(application_name: str, limits: QueryLimits | None = None) -> dict[str, Any]:
    """psycopg connection arguments: a name for pg_stat_activity, a connect timeout, the limits."""
    arguments: dict[str, Any] = {"application_name": application_name, "connect_timeout": 5}
    if limits is not None:
        arguments["options"] = limits.options()
    return arguments


def build_engine(url: str, *, application_name: str, limits: QueryLimits | None = None) -> Engine:
    """A pooled engine; `pool_pre_ping` drops connections the server closed."""
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args=connect_args(application_name, limits),
    )
