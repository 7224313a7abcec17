"""A single value reloaded at most once per TTL, so hot paths never call the backend per request.

Secrets are read as one document (a KV v2 secret or a Secrets Manager JSON
secret), so one cache entry per provider is enough. Concurrent callers that
find it stale share one reload (a lock, not a thundering herd). A failed
reload raises and keeps nothing stale beyond its TTL: serving a secret that
may have been revoked is worse than failing closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlCache(Generic[T]):
    """Holds the result of `load()` for `ttl_seconds` (0 = always reload)."""

    def __init__(
        self, load: Callable[[], T], ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._expires_at = float("-inf")

    def get(self) -> T:
        with self._lock:
            now = self._clock()
            if self._value is None or now >= self._expires_at:
                self._value = None  # a failed reload must not leave the expired value in place
                self._value = self._load()
                self._expires_at = now + self._ttl
            return self._value

    def invalidate(self) -> None:
        """Forget the value; the next `get` reloads (e.g. after a rotation)."""
        with self._lock:
            self._value = None
            self._expires_at = float("-inf")
