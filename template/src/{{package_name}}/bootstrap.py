"""The composition root: every adapter is built here, once, from Settings.

Tests build the same object with their own settings, so the app under test is
wired exactly as in production; nothing is created at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis
from sqlalchemy import Engine

from .config import Settings
from .db.engine import build_engine
from .secrets import SecretsProvider, build_secrets_provider


@dataclass
class Services:
    """The long-lived adapters one process shares between requests."""

    settings: Settings
    engine: Engine
    redis: Redis
    secrets: SecretsProvider

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()


def bootstrap(settings: Settings) -> Services:
    """Build the adapters; fails fast on a misconfigured secrets backend."""
    secrets = build_secrets_provider(settings)
    engine = build_engine(settings.sqlalchemy_database_url, application_name=settings.redis_key_prefix)
    redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
    return Services(settings=settings, engine=engine, redis=redis, secrets=secrets)
