"""One request's decisions, each distinct policy input asked once.

An export decides per row: may the caller export this record, and which
reveal permissions hold for it. With OPA every decision is an HTTP round
trip, so asking per row and per permission made a 40-row export cost
hundreds of sequential calls. Within one request the caller (subject, roles,
MFA, attributes) and the step-up freshness are fixed, so the policy input is
determined by (permission, record): rows with equal ABAC attributes get the
same answer, and asking again could only waste time. Nothing is kept beyond
the request: a role change or a policy reload counts on the next one.
"""

from __future__ import annotations

from collections.abc import Iterable

from .decision import Caller, Decision, DecisionPoint, Record


class RequestDecisions:
    """`decide` for one caller, memoised by (permission, record) for the life of one request."""

    def __init__(self, point: DecisionPoint, caller: Caller, *, step_up_fresh: bool = False) -> None:
        self._point = point
        self._caller = caller
        self._step_up_fresh = step_up_fresh
        self._answers: dict[tuple[str, Record | None], Decision] = {}

    def decide(self, permission: str, record: Record | None = None) -> Decision:
        key = (permission, record)
        if key not in self._answers:
            self._answers[key] = self._point.decide(self._caller, permission, record, step_up_fresh=self._step_up_fresh)
        return self._answers[key]

    def granted(self, permissions: Iterable[str], record: Record | None = None) -> frozenset[str]:
        """Those of `permissions` the caller holds on `record`."""
        return frozenset(permission for permission in permissions if self.decide(permission, record).allowed)
