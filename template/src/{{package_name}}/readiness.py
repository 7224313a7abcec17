"""Readiness probes: can this replica serve traffic right now?

Each probe answers "ok" or "unavailable" and never the underlying error text,
which could carry hostnames or credentials; the error is logged instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from redis import Redis
from sqlalchemy import Engine, text

from .secrets import SecretsProvider

log = structlog.get_logger(__name__)

Probe = Callable[[], None]


@dataclass(frozen=True)
class Readiness:
    """The outcome of every probe; `ready` only when all of them pass."""

    checks: Mapping[str, str]

    @property
    def ready(self) -> bool:
        return all(state == "ok" for state in self.checks.values())


def database_probe(engine: Engine) -> Probe:
    def probe() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    return probe


def redis_probe(client: Redis) -> Probe:
    def probe() -> None:
        if not client.ping():
            raise ConnectionError("redis did not answer PING")

    return probe


def secrets_probe(provider: SecretsProvider) -> Probe:
    return provider.ping


def check_readiness(probes: Mapping[str, Probe]) -> Readiness:
    checks: dict[str, str] = {}
    for name, probe in probes.items():
        try:
            probe()
        except Exception:
            log.warning("readiness_probe_failed", probe=name, exc_info=True)
            checks[name] = "unavailable"
        else:
            checks[name] = "ok"
    return Readiness(checks=checks)
