"""Typed errors of login, sessions and token validation.

Each carries a stable `code` (the `error` of the JSON body) and a message that
is safe to show a client: no token contents, no secrets, no IdP responses
verbatim. The web adapter maps the classes to HTTP statuses in one table.
"""

from __future__ import annotations

from ..errors import AppError


class AuthError(AppError):
    """Root of every identity error; `code` names the failure for the client."""

    code = "authentication_failed"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class OidcNotConfiguredError(AuthError):
    """APP_OIDC_ISSUER / APP_OIDC_CLIENT_ID are not set, so nobody can log in."""

    code = "oidc_not_configured"


class IdentityProviderError(AuthError):
    """The IdP could not be reached or answered with something unusable."""

    code = "idp_unavailable"


class LoginStateError(AuthError):
    """The callback does not belong to a login this browser started (state, binding, replay)."""

    code = "invalid_state"


class CodeExchangeError(AuthError):
    """The IdP refused to exchange the authorization code."""

    code = "code_exchange_failed"


class InvalidTokenError(AuthError):
    """A JWT failed validation (signature, alg, iss, aud, exp, nonce, ...)."""

    code = "invalid_token"


class MfaRequiredError(AuthError):
    """The token shows no second factor and the caller's roles require one."""

    code = "mfa_required"


class CsrfError(AuthError):
    """An unsafe request with a cookie session lacked a valid CSRF token or came cross-site."""

    code = "csrf_failed"
