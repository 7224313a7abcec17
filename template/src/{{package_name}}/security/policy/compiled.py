"""The fast path: the matrix compiled into dictionary lookups and closures.

A Casbin `Enforcer` evaluates its matcher for every policy line on every call
(milliseconds for this matrix: see bench/bench_policy.py); the app would pay
that on every request. Here
the matrix is compiled once into, per role set, a dict permission -> entry
(obligations + the ABAC alternatives left to check), so a decision is two
dict lookups and, for conditional grants, a closure call or two (about 1 µs).
`tests/test_policy_differential.py` proves the answers equal Casbin's on every
role subset, permission and representative attribute combination (OPA
projects: `opa test policy/` checks the generated Rego the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Final

from .decision import (
    CONDITION_FAILED,
    GRANTED,
    MFA_REQUIRED,
    NOT_GRANTED,
    STEP_UP_REQUIRED,
    Caller,
    Decision,
    Record,
)
from .model import Clause, Condition, Matrix

Check = Callable[[Caller, Record], bool]

#: Up to this many roles every subset is compiled up front (2**12 tables at most).
EAGER_ROLE_LIMIT: Final = 12


@dataclass(frozen=True, slots=True)
class _Entry:
    """What is left to decide for one permission once the role set is known."""

    requires_mfa: bool
    requires_step_up: bool
    #: None: some role grants it unconditionally; else any alternative must hold.
    alternatives: tuple[Check, ...] | None


def _clause_check(clause: Clause, matrix: Matrix) -> Check:
    if clause.kind == "same":
        name = clause.value
        index = Record._fields.index(name)

        def same(caller: Caller, record: Record) -> bool:
            mine = caller.attributes.get(name, "")
            return mine != "" and mine == record[index]

        return same
    if clause.kind == "owner":

        def owner(caller: Caller, record: Record) -> bool:
            return record.owner != "" and record.owner == caller.subject

        return owner
    admitted = frozenset(matrix.sensitivity_below(clause.value))
    default = matrix.default_sensitivity

    def below(_: Caller, record: Record) -> bool:
        return (record.sensitivity or default) in admitted

    return below


def _combine(checks: tuple[Check, ...], mode: str) -> Check:
    """One closure for several checks; the common one- and two-check cases avoid a loop."""
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        if mode == "all":
            return lambda caller, record: first(caller, record) and second(caller, record)
        return lambda caller, record: first(caller, record) or second(caller, record)
    if mode == "all":

        def every(caller: Caller, record: Record) -> bool:
            return all(check(caller, record) for check in checks)

        return every

    def some(caller: Caller, record: Record) -> bool:
        return any(check(caller, record) for check in checks)

    return some


def _condition_check(condition: Condition, matrix: Matrix) -> Check:
    return _combine(tuple(_clause_check(clause, matrix) for clause in condition.clauses), condition.mode)


def _minimal(alternatives: Iterable[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Drop alternatives that demand a superset of another's conditions (they add nothing)."""
    unique = sorted(set(alternatives), key=lambda names: (len(names), names))
    kept: list[tuple[str, ...]] = []
    for names in unique:
        if not any(set(smaller) <= set(names) for smaller in kept):
            kept.append(names)
    return kept


class CompiledPolicy:
    """The in-memory decision point (`DecisionPoint`) compiled from a `Matrix`."""

    def __init__(self, matrix: Matrix) -> None:
        self.matrix = matrix
        self._known = frozenset(matrix.roles)
        self._conditions = {name: _condition_check(cond, matrix) for name, cond in matrix.conditions.items()}
        self._tables: dict[frozenset[str], dict[str, _Entry]] = {}
        if len(self._known) <= EAGER_ROLE_LIMIT:
            names = sorted(self._known)
            for size in range(len(names) + 1):
                for subset in combinations(names, size):
                    key = frozenset(subset)
                    self._tables[key] = self._compile(key)

    def _compile(self, roles: frozenset[str]) -> dict[str, _Entry]:
        granted: dict[str, list[tuple[str, ...]]] = {}
        for role in sorted(roles):
            for permission, conditions in self.matrix.roles[role].grants.items():
                granted.setdefault(permission, []).append(conditions)
        table = {}
        for permission, alternatives in granted.items():
            spec = self.matrix.permissions[permission]
            if any(not names for names in alternatives):
                checks = None
            else:
                checks = tuple(
                    _combine(tuple(self._conditions[name] for name in names), "all") for names in _minimal(alternatives)
                )
            table[permission] = _Entry(spec.requires_mfa, spec.requires_step_up, checks)
        return table

    def _table(self, roles: frozenset[str]) -> dict[str, _Entry]:
        known = roles & self._known
        table = self._tables.get(known)
        if table is None:
            # Only reached above EAGER_ROLE_LIMIT roles; bounded by the subsets callers really hold.
            table = self._tables[known] = self._compile(known)
        return table

    def decide(
        self, caller: Caller, permission: str, record: Record | None = None, *, step_up_fresh: bool = False
    ) -> Decision:
        table = self._tables.get(caller.roles)
        if table is None:
            table = self._table(frozenset(caller.roles))
        entry = table.get(permission)
        if entry is None:
            return NOT_GRANTED
        if entry.requires_mfa and not caller.mfa:
            return MFA_REQUIRED
        if entry.requires_step_up and not step_up_fresh:
            return STEP_UP_REQUIRED
        if entry.alternatives is None or record is None:
            return GRANTED
        for check in entry.alternatives:
            if check(caller, record):
                return GRANTED
        return CONDITION_FAILED
