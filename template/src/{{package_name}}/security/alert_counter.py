"""Per-actor alert windows in Redis: how `alerts.AlertCounter` is counted when there are replicas.

One counter per rule, tenant and actor; its window opens with the actor's
first firing (`SET NX EX` then `INCR`, in one MULTI transaction, so a
counter can never outlive its window) and closes `window_seconds` later.
Every replica behind the load balancer sees the same count, so an actor's
refusals page once, then at 10, 100, ... whichever replica served them.
The key holds a hash of tenant and actor, never the subject itself.

If Redis cannot answer, the count is 1: the alert pages rather than stays
silent (while Redis is down, sessions are too, so nobody signed in can
cause a flood of them).
"""

from __future__ import annotations

import hashlib

import structlog
from redis import Redis, RedisError

log = structlog.get_logger("security.alert_counter")


class RedisAlertCounter:
    """`alerts.AlertCounter` on Redis, shared by every replica using the same key prefix."""

    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        self._redis = redis
        self._prefix = key_prefix

    def count(self, rule: str, tenant: str, actor: str, window_seconds: int) -> int:
        who = hashlib.sha256(f"{tenant}\0{actor}".encode()).hexdigest()[:32]
        key = f"{self._prefix}:alerts:{rule}:{who}"
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.set(key, 0, nx=True, ex=window_seconds)
            pipe.incr(key)
            return int(pipe.execute()[1])
        except RedisError as error:
            log.warning("alert_counter_unavailable", rule=rule, error=type(error).__name__)
            return 1
