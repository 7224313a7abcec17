"""The validated role-permission matrix as immutable values.

`loader.load_matrix` builds it from roles.yaml; every consumer (the compiled
decision point, the Casbin and OPA renderers, the drift report, the docs and
the negative tests) reads this one object, never the YAML.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

ClauseKind = Literal["same", "owner", "sensitivity_below"]


@dataclass(frozen=True, slots=True)
class Clause:
    """One test of the condition vocabulary.

    Attributes:
        kind: `same` (caller attribute equals record attribute, both set),
            `owner` (record owner is the caller) or `sensitivity_below`.
        value: the attribute name (`same`), the level (`sensitivity_below`), "" for `owner`.
    """

    kind: ClauseKind
    value: str = ""


@dataclass(frozen=True, slots=True)
class Condition:
    """A named ABAC condition: all (or any) of its clauses must hold."""

    name: str
    description: str
    mode: Literal["all", "any"]
    clauses: tuple[Clause, ...]


@dataclass(frozen=True, slots=True)
class Permission:
    """`<resource>:<action>` with the obligations the matrix attaches to it."""

    resource: str
    action: str
    description: str
    pii: bool = False
    requires_mfa: bool = False
    requires_step_up: bool = False
    admin_action: bool = False
    requires_subscription: bool = False

    @property
    def name(self) -> str:
        return f"{self.resource}:{self.action}"


@dataclass(frozen=True, slots=True)
class Role:
    """A role, its escalation rank and its grants (permission -> condition names, sorted).

    `vendor_only`: the vendor's own staff role (e.g. `operator_finance`). Only the vendor's IdP
    grants it, to principals of the operator tenant; nobody assigns or removes it in the app.
    """

    name: str
    rank: int
    description: str
    grants: Mapping[str, tuple[str, ...]]
    vendor_only: bool = False


@dataclass(frozen=True, slots=True)
class Grant:
    """One (role, permission, conditions) triple: the unit of drift and of the docs table."""

    role: str
    permission: str
    conditions: tuple[str, ...]

    def describe(self) -> str:
        suffix = f" when {' and '.join(self.conditions)}" if self.conditions else ""
        return f"{self.role} -> {self.permission}{suffix}"


@dataclass(frozen=True, slots=True)
class Matrix:
    """The whole policy. Mappings keep the file's order, so renderings are stable."""

    sensitivity_levels: tuple[str, ...]
    default_sensitivity: str
    principal_attributes: tuple[str, ...]
    record_attributes: tuple[str, ...]
    conditions: Mapping[str, Condition]
    permissions: Mapping[str, Permission]
    roles: Mapping[str, Role]

    def grants(self) -> Iterator[Grant]:
        for role in self.roles.values():
            for permission, conditions in role.grants.items():
                yield Grant(role.name, permission, conditions)

    def conditions_for(self, role: str, permission: str) -> tuple[str, ...] | None:
        """The grant's conditions, or None when the role lacks the permission."""
        found = self.roles.get(role)
        return None if found is None else found.grants.get(permission)

    def rank(self, role: str) -> int:
        return self.roles[role].rank

    def sensitivity_below(self, level: str) -> tuple[str, ...]:
        """The levels strictly below `level` (what `sensitivity_below: level` admits)."""
        return self.sensitivity_levels[: self.sensitivity_levels.index(level)]
