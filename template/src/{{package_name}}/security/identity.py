"""Wires the identity core from Settings: OIDC client, login records, sessions, guards.

Login guards are the seam for defences that run around every login
(rate limits per address and account, bot challenges, anomaly alerts):
`before()` runs at the start of `/auth/login` and `/auth/callback` and may
raise any `AppError` to refuse (one with a `retry_after` attribute, such as
`errors.RateLimitedError`, becomes a 429 with `Retry-After`; others a 403
with the error's `code`); `after()` sees every callback's outcome, success or
failure, for counting and alerting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from redis import Redis

from ..config import Settings
from ..secrets import SecretsProvider
from .auth_errors import OidcNotConfiguredError
from .claims import ClaimsMapping
from .clock import SYSTEM_CLOCK, Clock
from .login_state import LoginAttemptStore
from .oidc import OidcClient, OidcConfig
from .sessions import SessionStore

CALLBACK_PATH = "/auth/callback"


@dataclass(frozen=True)
class LoginContext:
    """What a guard knows about a login request.

    Attributes:
        stage: `login` (GET /auth/login) or `callback` (GET /auth/callback).
        peer_address: the socket peer; guards resolve proxies via APP_TRUSTED_PROXIES.
        headers: request headers, lower-cased names (bot-challenge tokens arrive here).
        account_hint: `login_hint` when the client sent one, for per-account limits.
        challenge_token: a solved bot challenge (`?challenge_token=` on `/auth/login`).
        login_in_flight: (callback) the state names a pending login this browser started,
            which `/auth/login` already admitted; junk callbacks never carry one.
    """

    stage: Literal["login", "callback"]
    peer_address: str
    headers: Mapping[str, str]
    account_hint: str | None = None
    challenge_token: str | None = None
    login_in_flight: bool = False


@dataclass(frozen=True)
class LoginOutcome:
    """How a callback ended: the subject on success, the error code on failure."""

    succeeded: bool
    subject: str | None = None
    error: str | None = None


class LoginGuard(Protocol):
    """A defence that runs around logins (see the module docstring)."""

    def before(self, context: LoginContext) -> None: ...

    def after(self, context: LoginContext, outcome: LoginOutcome) -> None: ...


@dataclass
class Identity:
    """Everything the web adapter needs to log users in and recognise them afterwards."""

    sessions: SessionStore
    oidc_client: OidcClient | None
    login_guards: list[LoginGuard] = field(default_factory=list)

    @property
    def oidc(self) -> OidcClient:
        if self.oidc_client is None:
            raise OidcNotConfiguredError("login is unavailable: set APP_OIDC_ISSUER and APP_OIDC_CLIENT_ID")
        return self.oidc_client


def claims_mapping(settings: Settings) -> ClaimsMapping:
    return ClaimsMapping(
        roles_claim=settings.oidc_roles_claim,
        tenant_claim=settings.oidc_tenant_claim,
        mfa_claim=settings.oidc_mfa_claim,
        mfa_values=frozenset(settings.oidc_mfa_values),
        tenant_required=settings.oidc_tenant_required,
        attribute_claims=dict(settings.oidc_attribute_claims),
    )


def build_identity(
    settings: Settings, redis: Redis, secrets: SecretsProvider, *, clock: Clock = SYSTEM_CLOCK
) -> Identity:
    """Build the identity services; nothing touches the network until the first login."""
    sessions = SessionStore(
        redis,
        prefix=settings.redis_key_prefix,
        idle_timeout=settings.session_idle_timeout_seconds,
        absolute_timeout=settings.session_absolute_timeout_seconds,
        clock=clock,
    )
    oidc_client = None
    if settings.oidc_issuer and settings.oidc_client_id:
        config = OidcConfig(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            redirect_uri=settings.base_url.rstrip("/") + CALLBACK_PATH,
            scopes=settings.oidc_scopes,
            allow_loopback_http=settings.env != "production",
        )
        oidc_client = OidcClient(
            config,
            client_secret=lambda: secrets.get("oidc_client_secret"),
            attempts=LoginAttemptStore(redis, prefix=settings.redis_key_prefix, clock=clock),
            mapping=claims_mapping(settings),
            mfa_optional_for=frozenset(settings.mfa_optional_roles),
            clock=clock,
        )
    return Identity(sessions=sessions, oidc_client=oidc_client)
