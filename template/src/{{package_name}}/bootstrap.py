"""The composition root: every adapter is built here, once, from Settings.

Tests build the same object with their own settings, so the app under test is
wired exactly as in production; nothing is created at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from redis import Redis
from sqlalchemy import Engine

from .config import Settings
from .db.engine import build_engine, runtime_query_limits
from .db.iam_auth import use_iam_authentication
from .db.scope import DataScope, build_data_scope
from .redis_client import build_redis
from .secrets import SecretsProvider, build_secrets_provider, require_secrets
from .security.keys import TenantKeyring


@dataclass
class Services:
    """The long-lived adapters one process shares between requests."""

    settings: Settings
    engine: Engine
    redis: Redis
    secrets: SecretsProvider

    @cached_property
    def data(self) -> DataScope:
        """Tenant-scoped transactions (docs/tenancy.md); the only way to reach tenant data."""
        return build_data_scope(self.settings, self.engine)

    @cached_property
    def keyring(self) -> TenantKeyring:
        """Per-tenant envelope encryption of classified columns (security/keys.py)."""
        from .security.keyring import build_keyring

        return build_keyring(self.settings, self.secrets)

    def close(self) -> None:
        if "data" in self.__dict__:
            self.data.close()
        self.engine.dispose()
        self.redis.close()


def bootstrap(settings: Settings) -> Services:
    """Build the adapters; fails fast on a misconfigured secrets backend or a missing secret."""
    secrets = build_secrets_provider(settings)
    require_secrets(secrets)
    engine = build_engine(
        settings.sqlalchemy_database_url,
        application_name=settings.redis_key_prefix,
        limits=runtime_query_limits(settings),
    )
    if settings.database_iam_auth:
        use_iam_authentication(engine, region=settings.aws_region)
    redis = build_redis(settings)
    return Services(settings=settings, engine=engine, redis=redis, secrets=secrets)
