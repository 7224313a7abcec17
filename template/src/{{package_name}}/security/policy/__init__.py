"""The authorization decision point: RBAC + ABAC from policy/roles.yaml, deny by default.

Public surface: `build_decision_point` (composition root), `authorize`
(raise unless allowed), `Decision`, `Record`, `load_matrix`, and the errors.
"""

from __future__ import annotations

from .decision import Decision, DecisionPoint, Record
from .decision_point import POLICY_ENGINE, authorize, build_decision_point, policy_dir
from .errors import (
    JustificationRequiredError,
    PermissionDeniedError,
    PolicyError,
    PolicyFileError,
    RoleEscalationError,
    SubscriptionRequiredError,
    SubscriptionsUnavailableError,
    UnknownRoleError,
)
from .loader import load_matrix
from .model import Matrix

__all__ = [
    "POLICY_ENGINE",
    "Decision",
    "DecisionPoint",
    "JustificationRequiredError",
    "Matrix",
    "PermissionDeniedError",
    "PolicyError",
    "PolicyFileError",
    "Record",
    "RoleEscalationError",
    "SubscriptionRequiredError",
    "SubscriptionsUnavailableError",
    "UnknownRoleError",
    "authorize",
    "build_decision_point",
    "load_matrix",
    "policy_dir",
]
