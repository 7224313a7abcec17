"""Credential-stuffing and bot defence for every login-like endpoint, in one call order.

An endpoint calls `admit()` before doing any work, then `failed()` or
`succeeded()` once it knows the outcome:

1. rate limits per client address, per account and globally (`RateLimitedError`);
2. the attempt is counted for stuffing detection (distinct accounts per source);
3. the bot challenge, when failures or a stuffing alert call for one (`ChallengeRequiredError`).

Limits come first so a flood cannot make the app hammer the siteverify API.

`LoginDefenceGuard` plugs the same sequence into the login guards of
`security.identity` (`/auth/login` and `/auth/callback`). The callback is
rate-limited but never challenged: the IdP's redirect cannot carry a token,
and a callback is only valid for a login started at `/auth/login`, which was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from redis import Redis

from ..config import Settings
from ..secrets import SecretsProvider
from .bot_challenge import CREDENTIAL_NAME, ChallengeGate, ChallengeVerifier, DenyAllVerifier, SiteverifyVerifier
from .clock import SYSTEM_CLOCK, Clock
from .ratelimit import LimitPolicy, RateLimiter, client_address
from .stuffing import AlertSink, StructlogAlertSink, StuffingMonitor, StuffingThresholds

if TYPE_CHECKING:
    from .identity import LoginContext, LoginOutcome

#: Where clients put a solved challenge's token (fetch requests); `/auth/login` also takes `?challenge_token=`.
CHALLENGE_HEADER: Final = "x-bot-challenge"
#: Callback outcomes that are not the client's failure (our own refusals, an unreachable IdP).
NOT_CLIENT_FAILURES: Final = frozenset({"rate_limited", "challenge_required", "idp_unavailable", "oidc_not_configured"})


@dataclass(frozen=True)
class LoginDefences:
    """The abuse controls one login-like endpoint family shares."""

    limiter: RateLimiter
    monitor: StuffingMonitor
    gate: ChallengeGate

    def admit(
        self,
        scope: str,
        *,
        client: str,
        account: str | None = None,
        challenge_token: str | None = None,
        challenge: bool = True,
    ) -> None:
        """Raise RateLimitedError or ChallengeRequiredError, or return to let the attempt proceed."""
        self.limiter.hit(scope, client=client, account=account).raise_if_limited()
        self.monitor.record_attempt(client, account)
        if challenge:
            self.gate.check(client, account, challenge_token)

    def failed(self, *, client: str, account: str | None = None) -> None:
        self.monitor.record_failure(client, account)

    def succeeded(self, *, account: str) -> None:
        self.monitor.record_success(account)


def build_verifier(settings: Settings, secrets: SecretsProvider) -> ChallengeVerifier:
    """The configured verifier; `siteverify` without its secret stops the process at start."""
    if settings.bot_challenge_verifier == "deny":
        return DenyAllVerifier()
    return SiteverifyVerifier(
        secrets.get(CREDENTIAL_NAME),
        verify_url=settings.bot_challenge_verify_url,
        expected_hostname=urlsplit(settings.base_url).hostname,
    )


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
            verifier=verifier or build_verifier(settings, secrets),
            after_failures=settings.bot_challenge_after_failures,
        ),
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
        )

    def after(self, context: LoginContext, outcome: LoginOutcome) -> None:
        """Count failed callbacks per source; a success clears nothing (the source stays watched)."""
        if not outcome.succeeded and outcome.error not in NOT_CLIENT_FAILURES:
            self.defences.failed(client=self._client(context), account=context.account_hint)
