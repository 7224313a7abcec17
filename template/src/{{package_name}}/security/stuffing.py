"""Credential-stuffing detection: many accounts, or many failures, from one source.

A stuffing run replays leaked username/password pairs, so its signature is
one source touching many *distinct* accounts, mostly failing. Per-source
distinct accounts are counted in a Redis HyperLogLog (12 KB at most per key
however many names an attacker sprays; exact at the small counts that
matter here) over the current and the previous window, so a run that
straddles a window boundary is still seen whole. Failures are plain
counters that expire with their window.

Crossing a threshold emits one `SecurityAlert` per source and window through
an `AlertSink` (structlog by default; the audit log routes them to the SIEM)
and flags the source, which makes the bot challenge mandatory for it.
Detection never blocks by itself: the rate limits do that.

An endpoint's global limit being exceeded (a flood from many addresses at
once) is recorded here too: it raises one alert per endpoint and window
and, for `GLOBAL_FLOOD_SECONDS` after the last excess, makes the challenge
mandatory for everyone on that endpoint instead of refusing everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from redis import Redis

from .clock import SYSTEM_CLOCK, Clock
from .ratelimit import account_key, address_bucket, normalize_account

STUFFING_SUSPECTED = "credential_stuffing_suspected"
FAILURE_SPIKE = "login_failure_spike"
GLOBAL_LIMIT_EXCEEDED = "login_global_limit_exceeded"
#: How long every attempt on an endpoint stays challenged after its global limit was last exceeded.
GLOBAL_FLOOD_SECONDS = 60


@dataclass(frozen=True)
class SecurityAlert:
    """Something a responder should look at.

    Attributes:
        kind: a stable event name, e.g. `credential_stuffing_suspected`.
        source: the client address bucket involved, if any.
        account: a hash of the account identifier (never the identifier itself).
        details: counts, thresholds and windows; no secrets, no PII.
        at: Unix time of detection.
    """

    kind: str
    source: str | None
    account: str | None
    details: Mapping[str, object] = field(default_factory=dict)
    at: float = 0.0


class AlertSink(Protocol):
    """Where security alerts go (a log, the audit log, a pager)."""

    def emit(self, alert: SecurityAlert) -> None: ...


class StructlogAlertSink:
    """Alerts as `security_alert` JSON log lines at WARNING, ready for a SIEM rule."""

    def __init__(self, logger_name: str = "security.alerts") -> None:
        self._log = structlog.get_logger(logger_name)

    def emit(self, alert: SecurityAlert) -> None:
        self._log.warning(
            "security_alert",
            kind=alert.kind,
            source=alert.source,
            account=alert.account,
            at=alert.at,
            **dict(alert.details),
        )


@dataclass(frozen=True)
class StuffingThresholds:
    """When one source looks like a stuffing run.

    Attributes:
        distinct_accounts: distinct accounts one source may try per window before an alert.
        failures: failed attempts one source may make per window before an alert.
        window_seconds: the length of one window.
    """

    distinct_accounts: int = 20
    failures: int = 50
    window_seconds: int = 600


@dataclass(frozen=True)
class FailureCounts:
    """Failures in the current and the previous window, for the challenge gate."""

    source: int
    account: int


class StuffingMonitor:
    """Counts attempts and failures per source and account in Redis; raises alerts."""

    def __init__(
        self,
        redis: Redis,
        sink: AlertSink,
        *,
        key_prefix: str,
        thresholds: StuffingThresholds | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._redis = redis
        self._sink = sink
        self._prefix = key_prefix
        self.thresholds = thresholds or StuffingThresholds()
        self._clock = clock

    def _key(self, *parts: object) -> str:
        return ":".join((self._prefix, "stuffing", *map(str, parts)))

    def _window(self, now: float) -> int:
        return int(now // self.thresholds.window_seconds)

    def record_attempt(self, source: str, account: str | None) -> int:
        """Note that `source` tried `account`; return the distinct accounts seen recently."""
        if account is None or not normalize_account(account):
            return 0
        now = self._clock.now()
        window = self._window(now)
        bucket = address_bucket(source)
        current = self._key("accounts", bucket, window)
        previous = self._key("accounts", bucket, window - 1)
        pipe = self._redis.pipeline(transaction=True)
        pipe.pfadd(current, account_key(account))
        pipe.expire(current, 2 * self.thresholds.window_seconds)
        pipe.pfcount(current, previous)
        distinct = int(pipe.execute()[-1])
        if distinct >= self.thresholds.distinct_accounts:
            details = {"distinct_accounts": distinct, "threshold": self.thresholds.distinct_accounts}
            self._alert_once(STUFFING_SUSPECTED, bucket, window, now, details, source=bucket)
        return distinct

    def record_failure(self, source: str, account: str | None) -> FailureCounts:
        """Count a failed attempt for the source and, when known, the account."""
        now = self._clock.now()
        window = self._window(now)
        bucket = address_bucket(source)
        ttl = 2 * self.thresholds.window_seconds  # read again as the previous window (`failures`)
        pipe = self._redis.pipeline(transaction=True)
        source_key = self._key("failures", "source", bucket, window)
        pipe.incr(source_key)
        pipe.expire(source_key, ttl)
        if account is not None and normalize_account(account):
            account_failures = self._key("failures", "account", account_key(account), window)
            pipe.incr(account_failures)
            pipe.expire(account_failures, ttl)
        results = pipe.execute()
        counts = FailureCounts(source=int(results[0]), account=int(results[2]) if len(results) > 2 else 0)
        if counts.source >= self.thresholds.failures:
            details = {"failures": counts.source, "threshold": self.thresholds.failures}
            self._alert_once(FAILURE_SPIKE, bucket, window, now, details, source=bucket)
        return counts

    def record_success(self, account: str) -> None:
        """A successful login clears that account's failures (never the source's)."""
        window = self._window(self._clock.now())
        self._redis.delete(*(self._key("failures", "account", account_key(account), w) for w in (window, window - 1)))

    def failures(self, source: str, account: str | None) -> FailureCounts:
        """Failures over the current and the previous window: waiting for a window boundary resets nothing."""
        window = self._window(self._clock.now())
        subjects = [("source", address_bucket(source))]
        if account is not None and normalize_account(account):
            subjects.append(("account", account_key(account)))
        keys = [self._key("failures", kind, value, w) for kind, value in subjects for w in (window, window - 1)]
        values = [int(value or 0) for value in self._redis.mget(keys)]
        return FailureCounts(source=values[0] + values[1], account=values[2] + values[3] if len(values) > 2 else 0)

    def is_flagged(self, source: str) -> bool:
        """The source raised an alert in this or the previous window."""
        window = self._window(self._clock.now())
        bucket = address_bucket(source)
        keys = [
            self._key("flag", kind, bucket, w)
            for kind in (STUFFING_SUSPECTED, FAILURE_SPIKE)
            for w in (window, window - 1)
        ]
        return bool(self._redis.exists(*keys))

    def record_global_excess(self, scope: str, limit: str) -> None:
        """Everyone together exceeded `scope`'s global limit: challenge everyone there for a while, alert once."""
        now = self._clock.now()
        self._redis.set(self._key("flood", scope), "1", ex=GLOBAL_FLOOD_SECONDS)
        details = {"scope": scope, "limit": limit, "challenge_seconds": GLOBAL_FLOOD_SECONDS}
        self._alert_once(GLOBAL_LIMIT_EXCEEDED, scope, self._window(now), now, details, source=None)

    def is_flooded(self, scope: str) -> bool:
        """`scope`'s global limit was exceeded within the last `GLOBAL_FLOOD_SECONDS`."""
        return bool(self._redis.exists(self._key("flood", scope)))

    def _alert_once(
        self,
        kind: str,
        bucket: str,
        window: int,
        now: float,
        details: Mapping[str, object],
        *,
        source: str | None,
    ) -> None:
        """Emit `kind` once per `bucket` and window; `source` is the address bucket it names, if any."""
        flag = self._key("flag", kind, bucket, window)
        if self._redis.set(flag, "1", nx=True, ex=2 * self.thresholds.window_seconds):
            window_details = {**details, "window_seconds": self.thresholds.window_seconds}
            self._sink.emit(SecurityAlert(kind=kind, source=source, account=None, details=window_details, at=now))
