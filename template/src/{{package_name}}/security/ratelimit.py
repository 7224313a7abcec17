"""Rate limits shared by every replica: one atomic Lua script in Redis, no process memory.

Algorithm: GCRA (the generic cell rate algorithm, a leaky bucket stored as a
single "theoretical arrival time" per key). Chosen over a sliding-window log
because each key is one number whatever the limit (an attacker who varies
account names cannot make a key grow), the exact `retry_after` falls out of
the arithmetic, and a burst of up to the whole limit is allowed before the
steady rate applies, which is how people actually log in. A fixed window was
rejected because it lets through twice the limit across a window boundary.

One decision checks up to four buckets at once -- the client address, the
account identifier, a global bucket and, for soft decisions, the client's hard
cap -- inside one script, so concurrent replicas cannot interleave between
the check and the update. A hard bucket refuses (429) and nothing is
consumed. A soft bucket never refuses: over its limit it only marks the
decision (`global_exceeded`, `over_limit`) and is not consumed while it is
over, so it frees up as soon as the traffic slows; the caller demands a bot
challenge instead.

- The global bucket is always soft: a flood spread over many addresses, each
  under its own limit, would otherwise lock out everyone.
- The client and account buckets are hard, unless the caller asks for a soft
  decision (`hit(..., soft=True)`, sign-in at `/auth/login`): many people share
  one address behind a NAT, and anyone can name any account in `login_hint`,
  so a refusal there would let one host, or a stranger, lock others out. A
  soft decision adds the client's hard cap (`LimitPolicy.per_client_cap`,
  much higher), the one bucket that still answers 429 from that address.

Time comes from Redis (`TIME`) unless a clock is injected: one clock for every
replica, so skewed hosts cannot stretch a window. Tests inject a clock.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from redis import Redis

from ..errors import RateLimitedError
from .clock import Clock

PERIODS: Final[dict[str, int]] = {"second": 1, "minute": 60, "hour": 3600}

# KEYS: one per bucket. ARGV[1]: now in microseconds, or -1 to use Redis TIME;
# then, per key, its emission interval and its period (microseconds) and 1 if it is soft.
# Returns {allowed (1/0), retry_after_us, bitmask of the hard buckets that refused,
# bitmask of the soft buckets that are over their limit}.
_GCRA: Final = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local new_tats = {}
local retry_after = 0
local refused = 0
local over = 0
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[3 * i - 1])
  local period = tonumber(ARGV[3 * i])
  local soft = ARGV[3 * i + 1] == '1'
  local stored = redis.call('GET', key)
  local tat = now
  if stored then tat = math.max(tonumber(stored), now) end
  local new_tat = tat + interval
  if new_tat - period > now then
    if soft then
      over = over + 2 ^ (i - 1)
      new_tat = nil
    else
      refused = refused + 2 ^ (i - 1)
      retry_after = math.max(retry_after, new_tat - period - now)
    end
  end
  new_tats[i] = new_tat
end
if refused == 0 then
  for i, key in ipairs(KEYS) do
    if new_tats[i] then
      local ttl_ms = math.ceil((new_tats[i] - now) / 1000)
      redis.call('SET', key, string.format('%.0f', new_tats[i]), 'PX', ttl_ms)
    end
  end
  return {1, 0, 0, over}
end
return {0, retry_after, refused, over}
"""


@dataclass(frozen=True)
class Rate:
    """`count` events per `period` seconds."""

    count: int
    period: int

    @property
    def interval_us(self) -> int:
        return self.period * 1_000_000 // self.count


def parse_rate(text: str) -> Rate:
    """Parse `N/second`, `N/minute` or `N/hour`; raise ValueError otherwise."""
    count, _, period = text.strip().partition("/")
    if not count.isdigit() or int(count) < 1 or period not in PERIODS:
        raise ValueError(f"expected N/second, N/minute or N/hour (e.g. 10/minute), got {text!r}")
    return Rate(count=int(count), period=PERIODS[period])


@dataclass(frozen=True)
class LimitPolicy:
    """The limits one endpoint family enforces together.

    `per_client_cap` is the per-address limit that still refuses when the client
    bucket is soft (see the module docstring); without one, a soft decision has no
    per-address refusal at all.
    """

    per_client: Rate
    per_account: Rate
    global_: Rate
    per_client_cap: Rate | None = None

    @classmethod
    def parse(
        cls, *, per_client: str, per_account: str, global_: str, per_client_cap: str | None = None
    ) -> LimitPolicy:
        cap = parse_rate(per_client_cap) if per_client_cap else None
        return cls(parse_rate(per_client), parse_rate(per_account), parse_rate(global_), cap)


@dataclass(frozen=True)
class RateLimitDecision:
    """The outcome of one attempt.

    Attributes:
        allowed: the attempt may proceed (and was counted in every bucket not over its limit).
        retry_after: whole seconds until the attempt would be allowed; 0 when allowed.
        limited_by: the hard buckets that refused: "client", "client_cap" and/or "account".
        global_exceeded: everyone together is over the global limit (never a refusal by itself).
        over_limit: the soft client/account buckets over their limit ("client", "account"):
            the caller demands a challenge.
    """

    allowed: bool
    retry_after: int
    limited_by: tuple[str, ...] = ()
    global_exceeded: bool = False
    over_limit: tuple[str, ...] = ()

    def raise_if_limited(self) -> None:
        if not self.allowed:
            raise RateLimitedError(self.retry_after)


def normalize_account(account: str) -> str:
    """One bucket per account however it is spelled: `Alice@X` and ` alice@x` are one account."""
    return account.strip().casefold()


def account_key(account: str) -> str:
    """A fixed-size, PII-free key part for an account identifier."""
    return hashlib.sha256(normalize_account(account).encode()).hexdigest()[:32]


def address_bucket(address: str) -> str:
    """The unit one client is limited as: an IPv4 address, or the /64 an IPv6 host controls.

    A single IPv6 subscriber usually holds a whole /64, so limiting per /128
    would give an attacker 2**64 fresh buckets.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "invalid:" + hashlib.sha256(address.encode()).hexdigest()[:16]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _parse_ip(entry: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from one X-Forwarded-For entry, tolerating `[v6]:port` and `v4:port`."""
    entry = entry.strip()
    if entry.startswith("["):
        entry = entry[1:].partition("]")[0]
    elif entry.count(":") == 1:
        entry = entry.partition(":")[0]
    try:
        ip = ipaddress.ip_address(entry)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Sequence[ipaddress._BaseNetwork]) -> bool:
    return any(ip.version == network.version and ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | Iterable[str] | None, trusted_proxies: Iterable[str]) -> str:
    """The address a request really came from.

    The socket peer is the answer unless it is one of `trusted_proxies`. Then
    `X-Forwarded-For` is read from the right (each proxy appends what it saw)
    and the first entry that is not itself a trusted proxy is the client.
    Entries to the left of it were written by the client and are ignored, so
    a forged header cannot pick its own bucket. An unparseable entry stops the
    walk at the last trusted hop: the limit then falls on the proxy, coarser
    but never attacker-chosen.
    """
    networks = [ipaddress.ip_network(item, strict=False) for item in trusted_proxies]
    peer_ip = _parse_ip(peer) if peer else None
    if peer_ip is None:
        return peer or "unknown"
    if not _is_trusted(peer_ip, networks):
        return str(peer_ip)
    if forwarded_for is None:
        headers: list[str] = []
    elif isinstance(forwarded_for, str):
        headers = [forwarded_for]
    else:
        headers = list(forwarded_for)
    entries = [entry for header in headers for entry in header.split(",") if entry.strip()]
    last_trusted = peer_ip
    for entry in reversed(entries):
        ip = _parse_ip(entry)
        if ip is None:
            return str(last_trusted)
        if not _is_trusted(ip, networks):
            return str(ip)
        last_trusted = ip
    return str(last_trusted)


class RateLimiter:
    """Redis-backed limits per client address, per account and globally, for named scopes.

    A scope (e.g. `auth.login`) gives each endpoint family its own buckets.
    Every replica that points at the same Redis and prefix shares the limits.
    """

    def __init__(self, redis: Redis, policy: LimitPolicy, *, key_prefix: str, clock: Clock | None = None) -> None:
        self._redis = redis
        self._policy = policy
        self._prefix = key_prefix
        self._clock = clock
        self._script = redis.register_script(_GCRA)

    def _key(self, scope: str, *parts: str) -> str:
        # The hash tag keeps one decision's keys in one Redis Cluster slot.
        return ":".join((self._prefix, "rl", "{" + scope + "}", *parts))

    def hit(
        self, scope: str, *, client: str | None, account: str | None = None, soft: bool = False
    ) -> RateLimitDecision:
        """Count one attempt against every applicable bucket, or refuse it without counting.

        `soft=True` makes the client and account buckets soft and adds the client's hard cap.
        """
        buckets: list[tuple[str, str, Rate, bool]] = [
            ("global", self._key(scope, "global"), self._policy.global_, True)
        ]
        if client is not None:
            address = address_bucket(client)
            buckets.append(("client", self._key(scope, "client", address), self._policy.per_client, soft))
            if soft and self._policy.per_client_cap is not None:
                cap_key = self._key(scope, "client-cap", address)
                buckets.append(("client_cap", cap_key, self._policy.per_client_cap, False))
        if account is not None and normalize_account(account):
            account_bucket = self._key(scope, "account", account_key(account))
            buckets.append(("account", account_bucket, self._policy.per_account, soft))
        now_us = -1 if self._clock is None else int(self._clock.now() * 1_000_000)
        args: list[int] = [now_us]
        for _, _, rate, is_soft in buckets:
            args.extend((rate.interval_us, rate.period * 1_000_000, int(is_soft)))
        allowed, retry_after_us, refused, over = self._script(keys=[key for _, key, _, _ in buckets], args=args)
        over_names = tuple(name for index, (name, *_) in enumerate(buckets) if int(over) & (1 << index))
        global_exceeded = "global" in over_names
        over_limit = tuple(name for name in over_names if name != "global")
        if allowed:
            return RateLimitDecision(
                allowed=True, retry_after=0, global_exceeded=global_exceeded, over_limit=over_limit
            )
        names = tuple(name for index, (name, *_) in enumerate(buckets) if int(refused) & (1 << index))
        return RateLimitDecision(
            allowed=False,
            retry_after=max(1, math.ceil(int(retry_after_us) / 1_000_000)),
            limited_by=names,
            global_exceeded=global_exceeded,
            over_limit=over_limit,
        )
