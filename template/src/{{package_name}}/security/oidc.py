"""OpenID Connect authorization-code flow with PKCE (S256), for a confidential client.

`begin_login` stores a single-use pre-auth record and returns the IdP URL;
`complete_login` consumes it, exchanges the code at the token endpoint with
`client_secret_basic` *and* the PKCE verifier, validates the ID token and
maps its claims to a Principal. `authenticate_bearer` validates API clients'
JWT access tokens against the same issuer and keys. Nothing here knows HTTP
frameworks; the web adapter passes plain strings in and gets objects out.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri

from .auth_errors import CodeExchangeError, IdentityProviderError, InvalidTokenError, LoginStateError
from .claims import ClaimsMapping, require_mfa
from .clock import Clock
from .discovery import HTTP_TIMEOUT_SECONDS, ProviderMetadata, fetch_json, fetch_metadata, tls_context
from .internal_http import internal_client_options
from .jwks import JwksCache
from .login_state import LoginAttemptStore
from .pkce import CHALLENGE_METHOD, code_challenge
from .principal import Principal
from .redirects import safe_next
from .tokens import AccessTokenPolicy, verify_access_token, verify_id_token

METADATA_MAX_AGE_SECONDS = 3600
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


@dataclass(frozen=True)
class OidcConfig:
    """The client registration as this app sees it.

    Attributes:
        issuer: exactly the IdP's `iss`.
        client_id: the registered client.
        redirect_uri: `APP_BASE_URL` + `/auth/callback`, registered at the IdP.
        scopes: sent verbatim; the app never asks for more at runtime.
        allow_loopback_http: outside production, a loopback `http` IdP is accepted.
    """

    issuer: str
    client_id: str
    redirect_uri: str
    scopes: str
    allow_loopback_http: bool


@dataclass(frozen=True)
class LoginRedirect:
    """Where to send the browser, and the binding value for its pre-auth cookie."""

    url: str
    binding: str


@dataclass(frozen=True)
class LoginResult:
    """A validated login, ready to become a session."""

    principal: Principal
    next_path: str
    auth_time: float | None
    refresh_token: str | None


class OidcClient:
    """One configured relying party; shared by the requests of a process."""

    def __init__(
        self,
        config: OidcConfig,
        *,
        client_secret: Callable[[], str],
        attempts: LoginAttemptStore,
        mapping: ClaimsMapping,
        mfa_optional_for: frozenset[str],
        clock: Clock,
        access_tokens: AccessTokenPolicy | None = None,
        mfa_at_login: bool = True,
    ) -> None:
        """`mfa_at_login=False` (IdPs whose ID tokens carry no MFA evidence) lets a login
        without it through; the authorization layer then waits for a WebAuthn step-up."""
        self.config = config
        self._client_secret = client_secret
        self.attempts = attempts
        self.mapping = mapping
        self.mfa_optional_for = mfa_optional_for
        self.clock = clock
        self.access_tokens = access_tokens or AccessTokenPolicy("rfc9068", config.client_id)
        self.mfa_at_login = mfa_at_login
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._lock = threading.Lock()
        self.keys = JwksCache(lambda: fetch_json(self.metadata().jwks_uri, what="JWKS"), clock)

    def metadata(self) -> ProviderMetadata:
        """The discovery document, fetched on first use and refreshed hourly."""
        with self._lock:
            now = self.clock.now()
            if self._metadata is None or now - self._metadata_at > METADATA_MAX_AGE_SECONDS:
                self._metadata = fetch_metadata(self.config.issuer, allow_loopback_http=self.config.allow_loopback_http)
                self._metadata_at = now
            return self._metadata

    # ------------------------------------------------------------------ login
    def begin_login(self, next_value: str | None) -> LoginRedirect:
        """Create the pre-auth record and the authorization URL (PKCE S256, state, nonce)."""
        metadata = self.metadata()
        attempt, binding = self.attempts.start(safe_next(next_value))
        url = prepare_grant_uri(
            metadata.authorization_endpoint,
            client_id=self.config.client_id,
            response_type="code",
            redirect_uri=self.config.redirect_uri,
            scope=self.config.scopes,
            state=attempt.state,
            nonce=attempt.nonce,
            code_challenge=code_challenge(attempt.code_verifier),
            code_challenge_method=CHALLENGE_METHOD,
        )
        return LoginRedirect(url=url, binding=binding)

    def complete_login(self, params: Mapping[str, str], binding: str | None) -> LoginResult:
        """Validate a callback end to end; raises an AuthError subclass on any failure."""
        state = params.get("state")
        if not state:
            raise LoginStateError("the callback carries no state; start again")
        attempt = self.attempts.take(state, binding)  # single use: consumed even if what follows fails
        if "error" in params:
            refusal = params["error"] if _ERROR_CODE.fullmatch(params["error"]) else "unknown_error"
            raise CodeExchangeError(f"the identity provider refused the login ({refusal})", code="idp_refused")
        metadata = self.metadata()
        issuer = params.get("iss")
        if (issuer is not None or metadata.iss_parameter_supported) and issuer != self.config.issuer:
            raise LoginStateError("the callback comes from a different issuer (RFC 9207 mix-up defence)")
        code = params.get("code")
        if not code:
            raise LoginStateError("the callback carries no authorization code")
        tokens = self._exchange(metadata, code, attempt.code_verifier)
        claims = verify_id_token(
            tokens["id_token"],
            keys=self.keys,
            issuer=self.config.issuer,
            client_id=self.config.client_id,
            nonce=attempt.nonce,
            clock=self.clock,
            access_token=tokens.get("access_token"),
        )
        principal = self.mapping.principal(claims)
        if self.mfa_at_login:
            require_mfa(principal, self.mfa_optional_for)
        auth_time = claims.get("auth_time")
        refresh_token = tokens.get("refresh_token")
        return LoginResult(
            principal=principal,
            next_path=attempt.next_path,
            auth_time=float(auth_time) if isinstance(auth_time, int | float) else None,
            refresh_token=refresh_token if isinstance(refresh_token, str) else None,
        )

    def _exchange(self, metadata: ProviderMetadata, code: str, code_verifier: str) -> Mapping[str, Any]:
        """POST the code with HTTP Basic client authentication and the PKCE verifier."""
        try:
            with OAuth2Client(
                client_id=self.config.client_id,
                client_secret=self._client_secret(),
                token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
                **internal_client_options(timeout=HTTP_TIMEOUT_SECONDS, verify=tls_context()),
            ) as oauth:
                tokens = oauth.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=self.config.redirect_uri,
                    code_verifier=code_verifier,
                )
        except OAuthError as error:
            raise CodeExchangeError("the identity provider did not accept the authorization code") from error
        except (httpx2.HTTPError, ValueError) as error:
            raise IdentityProviderError("the identity provider's token endpoint could not be used") from error
        if str(tokens.get("token_type", "")).lower() != "bearer" or not isinstance(tokens.get("id_token"), str):
            raise IdentityProviderError("the token endpoint returned no bearer token and ID token")
        return tokens

    # ----------------------------------------------------------------- bearer
    def authenticate_bearer(self, token: str) -> Principal:
        """The Principal of an API client's access token (see `tokens.AccessTokenPolicy`).

        MFA is checked here whatever `mfa_at_login` says: a bearer token cannot step up.
        """
        claims = verify_access_token(
            token, keys=self.keys, issuer=self.config.issuer, policy=self.access_tokens, clock=self.clock
        )
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidTokenError("the access token has no subject")
        principal = self.mapping.principal(claims)
        require_mfa(principal, self.mfa_optional_for)
        return principal
