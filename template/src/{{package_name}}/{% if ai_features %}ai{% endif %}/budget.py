"""Each tenant's model budget -- requests, tokens and cost per window -- kept in Redis for every replica.

A prompt cap bounds one call; only a budget bounds what a tenant can spend
in total (one member scripting questions, or a prompt-injected document that
makes every answer call tools again). Before EACH model call the gateway
reserves, for the caller's tenant,

- one request,
- the tokens the call may use: the prompt's characters (an upper estimate of
  its tokens for most text) plus `reserved_output_tokens` for the reply, and
- their cost at the configured prices (micro-units of the billing currency),

and the reservation is refused, without counting anything, when any of the
three would pass its limit for the current window. After the call the
reservation is settled with the usage the model reports (`ModelReply.usage`);
a model that reports none keeps the estimate, and a call that fails keeps
it too (the vendor may bill it). Settling happens in the window that took
the reservation; if that window has ended, its counters are gone and the
difference is dropped.

The check and the increment are one Lua script, so concurrent replicas can
never both take the last unit. Counters live in one hash per tenant that
resets when the window changes and expires shortly after it ends. Windows
are fixed (aligned to the epoch) and time comes from Redis `TIME`, one clock
for every replica; tests inject a clock. Redis unreachable means no model
call: `AiUnavailableError` (503), never an unbudgeted call.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Final

from redis import Redis
from redis.exceptions import RedisError

from ..security.clock import Clock
from .errors import AiBudgetExceededError, AiUnavailableError
from .provider import Usage

#: The three limits, in the order the script checks them (its refusal codes are 1, 2, 3).
KINDS: Final = ("requests", "tokens", "cost")

# KEYS[1]: the tenant's hash. ARGV: now (whole seconds, or -1 for Redis TIME), window seconds,
# the three limits, then the tokens and cost to reserve. Returns {1, window} when reserved, else
# {0, retry_after_seconds, refused_kind (1-3), first_refusal_in_window (1/0)}.
_RESERVE: Final = """
local now = tonumber(ARGV[1])
if now < 0 then now = tonumber(redis.call('TIME')[1]) end
local length = tonumber(ARGV[2])
local window = string.format('%d', math.floor(now / length))
local key = KEYS[1]
if redis.call('HGET', key, 'window') ~= window then
  redis.call('DEL', key)
  redis.call('HSET', key, 'window', window, 'requests', 0, 'tokens', 0, 'cost', 0)
  redis.call('EXPIRE', key, length - (now % length) + 60)
end
local spent = redis.call('HMGET', key, 'requests', 'tokens', 'cost')
local asked = {1, tonumber(ARGV[6]), tonumber(ARGV[7])}
for i = 1, 3 do
  if tonumber(spent[i]) + asked[i] > tonumber(ARGV[2 + i]) then
    local first = redis.call('HSETNX', key, 'alerted', 1)
    return {0, length - (now % length), i, first}
  end
end
redis.call('HINCRBY', key, 'requests', 1)
redis.call('HINCRBY', key, 'tokens', asked[2])
redis.call('HINCRBY', key, 'cost', asked[3])
return {1, window}
"""

# KEYS[1]: the tenant's hash. ARGV: the reservation's window, token and cost corrections.
_SETTLE: Final = """
if redis.call('HGET', KEYS[1], 'window') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'tokens', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'cost', ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """What one tenant may spend per window, and what tokens cost.

    Attributes:
        window_seconds: the length of a budget window (fixed windows, aligned to the epoch).
        requests / tokens / cost_micros: the per-window limits (cost in micro-units of the currency).
        input_price_micros / output_price_micros: the price of one million input / output tokens.
        reserved_output_tokens: the reply tokens reserved per call until the model reports its usage.
    """

    window_seconds: int
    requests: int
    tokens: int
    cost_micros: int
    input_price_micros: int
    output_price_micros: int
    reserved_output_tokens: int

    def __post_init__(self) -> None:
        if min(self.window_seconds, self.requests, self.tokens, self.cost_micros, self.reserved_output_tokens) < 1:
            raise ValueError("every budget limit must be positive: a zero or negative budget is no budget")
        if min(self.input_price_micros, self.output_price_micros) < 0:
            raise ValueError("token prices cannot be negative")

    @classmethod
    def from_settings(cls, settings) -> BudgetLimits:
        return cls(
            window_seconds=settings.llm_tenant_budget_window_seconds,
            requests=settings.llm_tenant_requests_per_window,
            tokens=settings.llm_tenant_tokens_per_window,
            cost_micros=settings.llm_tenant_cost_micros_per_window,
            input_price_micros=settings.llm_input_price_micros_per_million_tokens,
            output_price_micros=settings.llm_output_price_micros_per_million_tokens,
            reserved_output_tokens=settings.llm_reserved_output_tokens,
        )

    def cost(self, input_tokens: int, output_tokens: int) -> int:
        """Micro-units, rounded up: a budget errs on the side of spending less."""
        return math.ceil((input_tokens * self.input_price_micros + output_tokens * self.output_price_micros) / 1e6)


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one model call reserved, to be settled once its real usage is known."""

    key: str
    window: str
    input_tokens: int
    output_tokens: int
    cost: int


class TenantBudget:
    """Per-tenant request, token and cost limits shared by every replica through Redis."""

    def __init__(self, redis: Redis, limits: BudgetLimits, *, key_prefix: str, clock: Clock | None = None) -> None:
        self._redis = redis
        self.limits = limits
        self._prefix = key_prefix
        self._clock = clock
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    def key(self, tenant: str) -> str:
        """A fixed-size key per tenant (the id is hashed: no raw input in key names)."""
        return f"{self._prefix}:ai:budget:{hashlib.sha256(tenant.encode()).hexdigest()[:32]}"

    def reserve(self, tenant: str, prompt_chars: int) -> Reservation:
        """Reserve one call of a `prompt_chars`-character prompt, or raise `AiBudgetExceededError`."""
        input_tokens = max(1, prompt_chars)
        output_tokens = self.limits.reserved_output_tokens
        cost = self.limits.cost(input_tokens, output_tokens)
        now = -1 if self._clock is None else int(self._clock.now())
        key = self.key(tenant)
        arguments = [now, self.limits.window_seconds, self.limits.requests, self.limits.tokens, self.limits.cost_micros]
        try:
            answer = self._reserve(keys=[key], args=[*arguments, input_tokens + output_tokens, cost])
        except RedisError as error:
            raise AiUnavailableError("budget_unavailable", retry_after=5) from error
        if int(answer[0]) != 1:
            _, retry_after, kind, first = (int(value) for value in answer)
            raise AiBudgetExceededError(KINDS[kind - 1], retry_after=max(1, retry_after), first_in_window=first == 1)
        window = answer[1].decode() if isinstance(answer[1], bytes) else str(answer[1])
        return Reservation(key, window, input_tokens, output_tokens, cost)

    def settle(self, reservation: Reservation, usage: Usage | None) -> None:
        """Replace the estimate with the reported usage (kept as it is when there is none)."""
        if usage is None:
            return
        tokens = usage.input_tokens + usage.output_tokens - reservation.input_tokens - reservation.output_tokens
        cost = self.limits.cost(usage.input_tokens, usage.output_tokens) - reservation.cost
        try:
            self._settle(keys=[reservation.key], args=[reservation.window, tokens, cost])
        except RedisError:
            return  # the reservation stands: an estimate, never an unbudgeted call

    def spent(self, tenant: str) -> dict[str, int]:
        """The current window's counters for `tenant` (operators and tests)."""
        values = self._redis.hmget(self.key(tenant), list(KINDS))
        return {kind: int(value or 0) for kind, value in zip(KINDS, values, strict=True)}
