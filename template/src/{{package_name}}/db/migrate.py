"""`python -m <package> migrate`: schema migrations plus the runtime role, idempotently.

Alembic runs on the owner's connection (`APP_MIGRATION_DATABASE_URL`); the
runtime role is (re)provisioned in the same transaction, so a deployment never
sees new tables without their grants.

Each optional capability (billing, audit, tenancy, ...) is its own Alembic
branch rooted at `0001`, labelled with the capability's name, so a project
generated without it simply has one branch fewer; `heads` applies them all.
Cross-branch needs are declared with `depends_on`.
"""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from ..config import Settings
from .engine import build_engine
from .runtime_role import provision_runtime_role


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: no alembic.ini, migrations ship in the package."""
    config = Config()
    config.set_main_option("script_location", str(files(__package__) / "migrations"))
    config.attributes["connection"] = connection
    return config


def run_migrations(settings: Settings) -> str:
    """Upgrade to head and provision the runtime role; return the role name."""
    engine = build_engine(settings.sqlalchemy_migration_url, application_name="migrate")
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "heads")
            return provision_runtime_role(connection, settings.sqlalchemy_database_url)
    finally:
        engine.dispose()
