"""Typed failures of a secrets backend: what went wrong and where, never a value.

They are not `ConfigurationError`s: a sealed Vault or a revoked policy is an
operational incident, and `/readyz` or the CLI must say which one it is. Each
message names the backend address, mount, path or secret id and the way out.
"""

from __future__ import annotations

from ..errors import AppError


class SecretsBackendError(AppError):
    """The secrets backend did not answer, or answered with an error."""

    code = "secrets_backend_unavailable"


class SecretsAuthenticationError(SecretsBackendError):
    """The app could not log in to the secrets backend (wrong role, expired credentials)."""

    code = "secrets_authentication_failed"


class SecretsPermissionError(SecretsBackendError):
    """The backend denied access (HTTP 403 / AccessDenied): the app's policy does not grant this path or key."""

    code = "secrets_permission_denied"


class SecretsBackendSealedError(SecretsBackendError):
    """Vault is sealed (HTTP 503): nothing can be read until an operator unseals it."""

    code = "secrets_backend_sealed"
