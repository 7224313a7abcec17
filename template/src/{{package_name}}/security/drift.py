"""Permission drift: today's effective grants against the last approved snapshot.

Effective grants are the matrix (role -> permission [conditions], after
roles.local.yaml) plus the role assignments stored in the database (tenant ->
subject -> roles). Roles that come from the IdP token are not visible here;
they are reviewed where they are assigned (the IdP, managed by Terraform).

A grant or assignment present now but absent from the approved snapshot is
*unexpected* and makes `drift` exit 1 (the nightly CI job then fails and
alerts). One approved but gone is reported as *revoked* for information:
losing access is not a risk the report exists to catch. Conditions are part
of a grant, so dropping `same_region` from a PII grant is unexpected too.
Approving = `drift --write` after review, committed like any other change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, text

from .policy.model import Matrix

FORMAT: Final = 1
Assignments = dict[str, dict[str, list[str]]]


def read_assignments(connection: Connection) -> Assignments:
    """Every role assignment of every tenant (run as the schema owner: RLS must not hide rows)."""
    found: Assignments = {}
    rows = connection.execute(text("SELECT tenant_id, subject, role FROM role_assignments ORDER BY 1, 2, 3"))
    for tenant, subject, role in rows:
        found.setdefault(tenant, {}).setdefault(subject, []).append(role)
    return found


def snapshot(matrix: Matrix, assignments: Assignments) -> dict[str, Any]:
    """The canonical, diff-friendly picture of who may do what."""
    return {
        "format": FORMAT,
        "matrix": {
            role.name: {permission: list(conditions) for permission, conditions in sorted(role.grants.items())}
            for role in sorted(matrix.roles.values(), key=lambda role: role.name)
        },
        "assignments": {
            tenant: {subject: sorted(roles) for subject, roles in sorted(subjects.items())}
            for tenant, subjects in sorted(assignments.items())
        },
    }


def dump(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class DriftReport:
    unexpected: tuple[str, ...]
    revoked: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.unexpected


def _grant_lines(value: dict[str, Any]) -> set[str]:
    lines = set()
    for role, grants in value.get("matrix", {}).items():
        for permission, conditions in grants.items():
            suffix = f" when {' and '.join(conditions)}" if conditions else ""
            lines.add(f"grant {role} -> {permission}{suffix}")
    return lines


def _assignment_lines(value: dict[str, Any]) -> set[str]:
    return {
        f"assignment {tenant or '(no tenant)'}/{subject} -> {role}"
        for tenant, subjects in value.get("assignments", {}).items()
        for subject, roles in subjects.items()
        for role in roles
    }


def compare(approved: dict[str, Any], current: dict[str, Any], matrix: Matrix) -> DriftReport:
    """Unexpected (added) and revoked (removed) grants and assignments, sorted."""
    was = _grant_lines(approved) | _assignment_lines(approved)
    now = _grant_lines(current) | _assignment_lines(current)
    unexpected = []
    for line in sorted(now - was):
        if line.startswith("assignment "):
            role = line.rsplit(" -> ", 1)[1]
            brings = sorted(matrix.roles[role].grants) if role in matrix.roles else []
            line += f" (brings {', '.join(brings) or 'nothing'})"
        unexpected.append(line)
    return DriftReport(unexpected=tuple(unexpected), revoked=tuple(sorted(was - now)))


class SnapshotError(ValueError):
    """The approved snapshot is missing or not a snapshot."""


def load_snapshot(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"{path}: no approved snapshot; review the grants, then run with --write") from None
    except json.JSONDecodeError as error:
        raise SnapshotError(f"{path}: not JSON (line {error.lineno})") from None
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise SnapshotError(f"{path}: not a format-{FORMAT} grant snapshot")
    return value
