"""Credential-stuffing and bot defence for every login-like endpoint, in one call order.

An endpoint calls `admit()` before doing any work, then `failed()` or
`succeeded()` once it knows the outcome:

1. rate limits per client address and per account (`RateLimitedError`); the
   global limit never refuses: exceeding it raises an alert and makes the
   challenge mandatory for everyone on that endpoint for a while;
2. the attempt is counted for stuffing detection (distinct accounts per source);
3. the bot challenge, when failures, a stuffing alert, a flood or a soft limit
   call for one (`ChallengeRequiredError`, carrying a challenge the client can solve).

Sign-in (`/auth/login`) asks for soft limits (`soft_limits=True`): over the
per-address limit (`APP_LOGIN_RATE_LIMIT`) or the per-account limit of a
`login_hint`, the client must solve the challenge rather than being refused.
Colleagues behind one NAT share an address, and `login_hint` is whatever an
unauthenticated client typed, so a refusal keyed on either would let one host
or a stranger lock others out of signing in. Only the much higher per-address
hard cap (`APP_LOGIN_RATE_LIMIT_HARD`) answers 429 there.

Limits come first so a flood cannot make the app hammer a siteverify API.

`LoginDefenceGuard` plugs the same sequence into the login guards of
`security.identity` (`/auth/login` and `/auth/callback`). The callback is
rate-limited but never challenged: the IdP's redirect cannot carry a token,
and a callback is only valid for a login started at `/auth/login`, which was.
A callback that carries a login this browser started is not held to the
per-address limit either (it was paid for at `/auth/login`), so junk sent
from the same address cannot make a colleague's sign-in fail.

What counts as a failure. The app never sees a password: guessing happens
on the IdP's form, which the IdP throttles, and the IdP only redirects back
once it is done. So a failed callback is evidence against the client only
when the client tampered with a login it started (`COUNTED_CALLBACK_FAILURES`):
a code the IdP refuses for this login (an injected or stolen code) or a token
that fails validation. Unknown, expired or replayed states (bots, bookmarks,
a user pressing Back), an IdP refusal (`error=access_denied`: the user
cancelled or the IdP's policy said no), missing MFA, an unreachable IdP and
the app's own refusals are not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from redis import Redis

from ..config import Settings
from ..secrets import SecretsProvider
from .bot_challenge import CREDENTIAL_NAME, ChallengeGate, ChallengeVerifier, SiteverifyVerifier
from .clock import SYSTEM_CLOCK, Clock
from .proof_of_work import KEY_SOURCE, ProofOfWork, derive_key
from .ratelimit import LimitPolicy, RateLimiter, client_address
from .stuffing import AlertSink, StructlogAlertSink, StuffingMonitor, StuffingThresholds

if TYPE_CHECKING:
    from .identity import LoginContext, LoginOutcome

#: Where clients put a solved challenge's token (fetch requests); `/auth/login` also takes `?challenge_token=`.
CHALLENGE_HEADER: Final = "x-bot-challenge"
#: Callback outcomes that are evidence against the client (see the module docstring); nothing else counts.
COUNTED_CALLBACK_FAILURES: Final = frozenset({"code_exchange_failed", "invalid_token"})


@dataclass(frozen=True)
class LoginDefences:
    """The abuse controls one login-like endpoint family shares."""

    limiter: RateLimiter
    monitor: StuffingMonitor
    gate: ChallengeGate
    global_limit: str = ""

    def admit(
        self,
        scope: str,
        *,
        client: str,
        account: str | None = None,
        challenge_token: str | None = None,
        challenge: bool = True,
        limit_client: bool = True,
        soft_limits: bool = False,
    ) -> None:
        """Raise RateLimitedError or ChallengeRequiredError, or return to let the attempt proceed.

        `limit_client=False` skips the per-address bucket, for an attempt already paid for elsewhere.
        `soft_limits=True`: over the per-address or per-account limit, a challenge is due instead of
        a refusal; only the per-address hard cap refuses (needs `challenge=True`).
        """
        if soft_limits and not challenge:
            raise ValueError("soft limits without a challenge would be no limit at all")
        decision = self.limiter.hit(scope, client=client if limit_client else None, account=account, soft=soft_limits)
        decision.raise_if_limited()
        self.monitor.record_attempt(client, account)
        if decision.global_exceeded:
            self.monitor.record_global_excess(scope, self.global_limit)
        if challenge:
            self.gate.check(
                client,
                account,
                challenge_token,
                everyone=self.monitor.is_flooded(scope),
                over_limit=bool(decision.over_limit),
            )

    def failed(self, *, client: str, account: str | None = None) -> None:
        self.monitor.record_failure(client, account)

    def succeeded(self, *, account: str) -> None:
        self.monitor.record_success(account)


def build_verifier(
    settings: Settings, secrets: SecretsProvider, redis: Redis, *, clock: Clock = SYSTEM_CLOCK
) -> ChallengeVerifier:
    """The configured verifier; `siteverify` without its secret stops the process at start."""
    if settings.bot_challenge_verifier == "siteverify":
        return SiteverifyVerifier(
            secrets.get(CREDENTIAL_NAME),
            verify_url=settings.bot_challenge_verify_url,
            expected_hostname=urlsplit(settings.base_url).hostname,
        )
    return ProofOfWork(
        redis,
        _signing_key(secrets),
        key_prefix=settings.redis_key_prefix,
        difficulty=settings.bot_challenge_difficulty,
        clock=clock,
    )


def _signing_key(secrets: SecretsProvider, *, refresh_seconds: float = 60.0) -> Callable[[], bytes]:
    """The proof of work's key, derived now (a missing secret stops the start) and re-derived once a minute.

    A flood of challenges must not become a flood of secrets-backend reads, and a rotated
    `oidc_client_secret` still takes effect without a restart.
    """
    state = {"key": derive_key(secrets.get(KEY_SOURCE)), "at": time.monotonic()}

    def key() -> bytes:
        if time.monotonic() - state["at"] >= refresh_seconds:
            state["key"], state["at"] = derive_key(secrets.get(KEY_SOURCE)), time.monotonic()
        return state["key"]

    return key


def build_login_defences(
    settings: Settings,
    redis: Redis,
    secrets: SecretsProvider,
    *,
    alerts: AlertSink | None = None,
    verifier: ChallengeVerifier | None = None,
    clock: Clock | None = None,
) -> LoginDefences:
    """Composition-root factory. `clock=None` lets Redis keep time for the rate limits."""
    policy = LimitPolicy.parse(
        per_client=settings.login_rate_limit,
        per_account=settings.login_account_rate_limit,
        global_=settings.login_global_rate_limit,
        per_client_cap=settings.login_rate_limit_hard,
    )
    thresholds = StuffingThresholds(
        distinct_accounts=settings.stuffing_accounts_per_source,
        failures=settings.stuffing_failures_per_source,
        window_seconds=settings.stuffing_window_seconds,
    )
    monitor = StuffingMonitor(
        redis,
        alerts or StructlogAlertSink(),
        key_prefix=settings.redis_key_prefix,
        thresholds=thresholds,
        clock=clock or SYSTEM_CLOCK,
    )
    return LoginDefences(
        limiter=RateLimiter(redis, policy, key_prefix=settings.redis_key_prefix, clock=clock),
        monitor=monitor,
        gate=ChallengeGate(
            monitor=monitor,
            verifier=verifier or build_verifier(settings, secrets, redis, clock=clock or SYSTEM_CLOCK),
            after_failures=settings.bot_challenge_after_failures,
        ),
        global_limit=settings.login_global_rate_limit,
    )


class LoginDefenceGuard:
    """`LoginDefences` as a login guard of `security.identity` (see the module docstring)."""

    def __init__(self, defences: LoginDefences, *, trusted_proxies: Sequence[str]) -> None:
        self.defences = defences
        self.trusted_proxies = tuple(trusted_proxies)

    def _client(self, context: LoginContext) -> str:
        return client_address(context.peer_address, context.headers.get("x-forwarded-for"), self.trusted_proxies)

    def before(self, context: LoginContext) -> None:
        token = getattr(context, "challenge_token", None) or context.headers.get(CHALLENGE_HEADER)
        self.defences.admit(
            f"auth.{context.stage}",
            client=self._client(context),
            account=context.account_hint,
            challenge_token=token,
            challenge=context.stage == "login",
            limit_client=not (context.stage == "callback" and context.login_in_flight),
            soft_limits=context.stage == "login",
        )

    def after(self, context: LoginContext, outcome: LoginOutcome) -> None:
        """Count the callbacks that are evidence against the client; a success clears nothing."""
        if not outcome.succeeded and outcome.error in COUNTED_CALLBACK_FAILURES:
            self.defences.failed(client=self._client(context), account=context.account_hint)
