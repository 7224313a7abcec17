"""Typed errors of the authorization core.

The web adapter maps them to HTTP once (`web/authz.py`): a refused decision
or escalation is 403, a paid feature without a paid-up subscription is 402,
a missing justification or an unknown role is 422, and
a broken policy file stops the process like any other configuration error.
"""

from __future__ import annotations

from ...errors import AppError, ConfigurationError


class PolicyError(AppError):
    """Root of every authorization error."""

    code = "policy_error"


class PolicyFileError(PolicyError, ConfigurationError):
    """roles.yaml (or roles.local.yaml) is malformed; the app must not start with it."""

    code = "policy_file_invalid"

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class PermissionDeniedError(PolicyError):
    """The decision point refused the request."""

    code = "forbidden"

    def __init__(self, permission: str, reason: str) -> None:
        super().__init__(f"not allowed: {permission}")
        self.permission = permission
        self.reason = reason


class SubscriptionRequiredError(PolicyError):
    """A paid feature (`requires_subscription`) for a tenant whose subscription does not give full access."""

    code = "subscription_required"

    def __init__(self, permission: str, access: str) -> None:
        super().__init__(f"{permission} is a paid feature; this tenant's subscription access is {access!r}")
        self.permission = permission
        self.access = access


class SubscriptionsUnavailableError(PolicyError):
    """A paid feature's subscription check could not read the subscriptions: refuse (503), never guess."""

    code = "unavailable"

    def __init__(self) -> None:
        super().__init__("the service is temporarily unavailable")


class RoleEscalationError(PolicyError):
    """A role change would give someone more than the granter holds, or touches the granter's own roles."""

    code = "role_escalation"


class UnknownRoleError(PolicyError, ValueError):
    """A role change names a role the matrix does not define."""

    code = "unknown_role"

    def __init__(self, roles: list[str]) -> None:
        super().__init__(f"unknown role(s): {', '.join(roles)}")
        self.roles = roles


class JustificationRequiredError(PolicyError, ValueError):
    """An admin action arrived without a justification comment."""

    code = "justification_required"

    def __init__(self, permission: str) -> None:
        super().__init__(f"{permission} is an admin action: give a non-empty justification")
        self.permission = permission
