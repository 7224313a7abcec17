"""Typed errors of the application core.

The web adapter maps each to an HTTP status in one place; the core never
builds HTTP responses itself. Messages are safe to show to a client: they
never carry SQL, stack traces or secret values.
"""

from __future__ import annotations


class AppError(Exception):
    """Root of every error the application raises on purpose."""

    code = "app_error"


class ConfigurationError(AppError):
    """The process is configured unsafely or incompletely and must not run."""

    code = "configuration_error"


class MissingSecretError(ConfigurationError):
    """A secret the app needs is not in the secrets backend."""

    code = "missing_secret"

    def __init__(self, name: str, backend: str) -> None:
        super().__init__(f"secret {name!r} is missing from the {backend} secrets backend")
        self.name = name


class UnsafeDatabaseRoleError(ConfigurationError):
    """The runtime database role could bypass row-level security or the audit log."""

    code = "unsafe_database_role"
