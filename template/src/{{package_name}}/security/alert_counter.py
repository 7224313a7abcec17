"""Per-actor alert windows in Redis: how `alerts.AlertCounter` is counted when there are replicas.

One counter per rule, tenant, actor and fixed window (`INCR` + `EXPIRE` in
one transaction), so every replica behind the load balancer sees the same
count and an actor's refusals page once, then at 10, 100, ... whichever
replica served them. The key holds a hash of tenant and actor, never the
subject itself.

If Redis cannot answer, the count is 1: the alert pages rather than stays
silent (while Redis is down, sessions are too, so nobody signed in can
cause a flood of them).
"""

from __future__ import annotations

import hashlib

import structlog
from redis import Redis, RedisError

from .clock import SYSTEM_CLOCK, Clock

log = structlog.get_logger("security.alert_counter")


class RedisAlertCounter:
    """`alerts.AlertCounter` on Redis, shared by every replica using the same key prefix."""

    def __init__(self, redis: Redis, *, key_prefix: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._clock = clock

    def count(self, rule: str, tenant: str, actor: str, window_seconds: int) -> int:
        window = int(self._clock.now() // window_seconds)
        who = hashlib.sha256(f"{tenant}\0{actor}".encode()).hexdigest()[:32]
        key = f"{self._prefix}:alerts:{rule}:{who}:{window}"
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, 2 * window_seconds)
            return int(pipe.execute()[0])
        except RedisError as error:
            log.warning("alert_counter_unavailable", rule=rule, error=type(error).__name__)
            return 1
