"""Who may give whom which role: the privilege-escalation rules of the core.

Separate from the matrix check (`users:assign_roles`, MFA, fresh step-up),
which says whether the caller may administer roles at all. These rules say
which changes they may make:

- roles are ordered by `rank` in roles.yaml; nobody may add or remove a role
  ranked above their own highest role (so an admin cannot be demoted, nor a
  role created above the granter, by someone below them);
- nobody changes their own roles (no self-promotion, and no quiet
  self-demotion that hides who held what): another administrator must;
- every requested role must exist in the matrix;
- vendor-only roles (`vendor_only: true`, e.g. `operator_finance`) are never
  added or removed here, whoever asks: the vendor's IdP group is the only
  source of them, so no tenant admin -- nor the vendor's own staff through a
  tenant's admin screen -- can make someone approve money leaving the vendor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import RoleEscalationError, UnknownRoleError
from .model import Matrix


@dataclass(frozen=True, slots=True)
class RoleChange:
    """An accepted change, as the audit log records it."""

    target: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    #: the target's highest rank went up: the alert rule `AUTHZ002` fires on it.
    escalation: bool

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def highest_rank(matrix: Matrix, roles: Iterable[str]) -> int:
    """0 for no (known) role at all."""
    return max((matrix.rank(role) for role in roles if role in matrix.roles), default=0)


def check_role_change(
    matrix: Matrix,
    *,
    actor: str,
    actor_roles: Iterable[str],
    target: str,
    current: Iterable[str],
    requested: Iterable[str],
) -> RoleChange:
    """Return the change when every rule holds, else raise a typed error naming the rule."""
    wanted = set(requested)
    unknown = sorted(wanted - set(matrix.roles))
    if unknown:
        raise UnknownRoleError(unknown)
    if actor == target:
        raise RoleEscalationError("you cannot change your own roles; ask another administrator")
    held = set(current)
    added, removed = sorted(wanted - held), sorted(held - wanted)
    vendor_only = sorted(role for role in (*added, *removed) if role in matrix.roles and matrix.roles[role].vendor_only)
    if vendor_only:
        raise RoleEscalationError(
            f"{', '.join(vendor_only)} is granted only by the vendor's identity provider, never in the app"
        )
    ceiling = highest_rank(matrix, actor_roles)
    # A stale role no longer in the matrix grants nothing, so removing it is never an escalation.
    above = sorted(role for role in (*added, *removed) if role in matrix.roles and matrix.rank(role) > ceiling)
    if above:
        raise RoleEscalationError(f"you cannot grant or remove a role above your own: {', '.join(above)}")
    return RoleChange(
        target=target,
        before=tuple(sorted(held)),
        after=tuple(sorted(wanted)),
        added=tuple(added),
        removed=tuple(removed),
        escalation=highest_rank(matrix, wanted) > highest_rank(matrix, held),
    )
