"""SQLAlchemy engines. Built by the composition root, never at import time."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine


def build_engine(url: str, *, application_name: str) -> Engine:
    """A pooled engine; `pool_pre_ping` drops connections the server closed."""
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"application_name": application_name, "connect_timeout": 5},
    )
