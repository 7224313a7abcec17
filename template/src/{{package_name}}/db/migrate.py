"""`python -m <package> migrate`: schema migrations plus the runtime role, idempotently.

Alembic runs on the owner's connection (`APP_MIGRATION_DATABASE_URL`); the
runtime role is (re)provisioned in the same transaction, so a deployment never
sees new tables without their grants.

Each optional capability (billing, audit, tenancy, ...) is its own Alembic
branch rooted at `0001`, labelled with the capability's name, so a project
generated without it simply has one branch fewer; `heads` applies them all.
Cross-branch needs are declared with `depends_on`.

With `APP_DATABASE_IAM_AUTH=true` (RDS) the runtime role is provisioned for IAM
database authentication (`GRANT rds_iam`, never a password), and the owner's
connection signs IAM tokens too when its URL carries no password, as `serve`
does for the runtime role.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from ..config import Settings
from .engine import build_engine
from .iam_auth import use_iam_authentication
from .runtime_role import provision_drift_role, provision_runtime_role


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: no alembic.ini, migrations ship in the package."""
    config = Config()
    config.set_main_option("script_location", str(files(__package__) / "migrations"))
    config.attributes["connection"] = connection
    return config


def owner_engine(settings: Settings, *, application_name: str, rds_client: Any = None) -> Engine:
    """The schema owner's engine; with IAM database auth and no password in its URL, it signs IAM tokens."""
    url = settings.sqlalchemy_migration_url
    engine = build_engine(url, application_name=application_name)
    if settings.database_iam_auth and not make_url(url).password:
        use_iam_authentication(engine, region=settings.aws_region, client=rds_client)
    return engine


def run_migrations(settings: Settings, *, rds_client: Any = None) -> str:
    """Upgrade to head and provision the runtime role; return the role name."""
    engine = owner_engine(settings, application_name="migrate", rds_client=rds_client)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "heads")
            role = provision_runtime_role(
                connection, settings.sqlalchemy_database_url, iam_auth=settings.database_iam_auth
            )
            if settings.sqlalchemy_drift_url:
                provision_drift_role(connection, settings.sqlalchemy_drift_url, iam_auth=settings.database_iam_auth)
            return role
    finally:
        engine.dispose()
