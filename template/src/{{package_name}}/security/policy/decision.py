"""What a decision point is asked and what it answers.

Kept apart from any engine so the web adapter, the services and the tests
depend only on these small values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from .model import Matrix


class Caller(Protocol):
    """The parts of `security.principal.Principal` a decision reads."""

    @property
    def subject(self) -> str: ...
    @property
    def roles(self) -> frozenset[str]: ...
    @property
    def mfa(self) -> bool: ...
    @property
    def attributes(self) -> Mapping[str, str]: ...


class Record(NamedTuple):
    """ABAC attributes of the row a request acts on (a NamedTuple: cheap to build per row).

    Attributes:
        owner: the `sub` of the record's owner ("" when it has none).
        department / region: where the record belongs ("" when unknown; never matches).
        sensitivity: a level of roles.yaml; "" means the matrix's default, an
            unknown value counts as the most sensitive level.
    """

    owner: str = ""
    department: str = ""
    region: str = ""
    sensitivity: str = ""


RECORD_ATTRIBUTES: Final = frozenset(Record._fields)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer. `reason` is for logs and error codes, never for access decisions.

    Reasons: granted, not_granted (no role of the caller has the permission),
    mfa_required, step_up_required, condition_failed (ABAC said no),
    policy_unavailable (the external engine did not answer; fail closed).
    """

    allowed: bool
    reason: str


GRANTED: Final = Decision(True, "granted")
NOT_GRANTED: Final = Decision(False, "not_granted")
MFA_REQUIRED: Final = Decision(False, "mfa_required")
STEP_UP_REQUIRED: Final = Decision(False, "step_up_required")
CONDITION_FAILED: Final = Decision(False, "condition_failed")
POLICY_UNAVAILABLE: Final = Decision(False, "policy_unavailable")


class DecisionPoint(Protocol):
    """Answers "may this caller do this, to this record?" -- deny by default.

    `record=None` is the route-level check made before a record is loaded:
    role grants and obligations (MFA, step-up) are decided, ABAC conditions are
    deferred, and the handler must call again with the record it acts on.
    """

    matrix: Matrix

    def decide(
        self, caller: Caller, permission: str, record: Record | None = None, *, step_up_fresh: bool = False
    ) -> Decision: ...
