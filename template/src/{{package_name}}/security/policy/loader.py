"""Load and validate roles.yaml (plus the optional roles.local.yaml) into a `Matrix`.

Strict on purpose: unknown keys, duplicate keys, unknown roles, permissions,
conditions, attributes or levels are errors naming the file and the place,
because a typo in an authorization policy must stop the deploy rather than
silently grant or deny. Names are restricted to `[a-z][a-z0-9_]*`, so the
renderers can embed them in Casbin and Rego text without any escaping.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .decision import RECORD_ATTRIBUTES
from .errors import PolicyFileError
from .model import Clause, Condition, Matrix, Permission, Role

MATRIX_FILE = "roles.yaml"
LOCAL_FILE = "roles.local.yaml"

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
PermissionName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}:[a-z][a-z0-9_]{0,39}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Sensitivity(_Strict):
    levels: list[Name] = Field(min_length=1)
    default: Name


class _Attributes(_Strict):
    principal: list[Name]
    record: list[Name]


class _Condition(_Strict):
    description: str = Field(min_length=1)
    all: list[dict[str, Any]] | None = None
    any: list[dict[str, Any]] | None = None


class _Action(_Strict):
    description: str = Field(min_length=1)
    pii: bool = False
    requires_mfa: bool = False
    requires_step_up: bool = False
    admin_action: bool = False
    requires_subscription: bool = False


class _Resource(_Strict):
    description: str = ""
    actions: dict[Name, _Action] = Field(min_length=1)


class _Role(_Strict):
    rank: int = Field(gt=0)
    description: str = Field(min_length=1)
    grants: dict[PermissionName, list[Name]]
    vendor_only: bool = False


class _MatrixFile(_Strict):
    version: Literal[1]
    sensitivity: _Sensitivity
    attributes: _Attributes
    conditions: dict[Name, _Condition]
    resources: dict[Name, _Resource] = Field(min_length=1)
    roles: dict[Name, _Role] = Field(min_length=1)


class _LocalFile(_Strict):
    grants: dict[Name, dict[PermissionName, list[Name]]]


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; in a policy that hides a grant, so refuse it."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506  # nosec B506 - a SafeLoader subclass
    except FileNotFoundError:
        raise PolicyFileError(path, "file not found") from None
    except yaml.YAMLError as error:
        raise PolicyFileError(path, f"not valid YAML: {error}") from None


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        location = ".".join(str(piece) for piece in item["loc"]) or "(top level)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def _parse(model: type[_Strict], raw: Any, path: Path) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise PolicyFileError(path, _describe(error)) from None


def _clause(raw: dict[str, Any], raw_file: _MatrixFile, where: str, path: Path) -> Clause:
    if len(raw) != 1:
        raise PolicyFileError(path, f"{where}: a clause has exactly one key (same, owner or sensitivity_below)")
    ((kind, value),) = raw.items()
    principal, record = raw_file.attributes.principal, raw_file.attributes.record
    if kind == "same":
        if not isinstance(value, str) or value not in principal or value not in record:
            raise PolicyFileError(path, f"{where}: `same` needs an attribute listed under both principal and record")
        return Clause("same", value)
    if kind == "owner":
        if value is not True or "owner" not in record:
            raise PolicyFileError(path, f"{where}: write `owner: true` (and list `owner` under record attributes)")
        return Clause("owner")
    if kind == "sensitivity_below":
        levels = raw_file.sensitivity.levels
        if not isinstance(value, str) or value not in levels or "sensitivity" not in record:
            raise PolicyFileError(path, f"{where}: `sensitivity_below` needs one of {levels}")
        if value == levels[0]:
            raise PolicyFileError(path, f"{where}: nothing is below {value!r}; the condition could never hold")
        return Clause("sensitivity_below", value)
    raise PolicyFileError(path, f"{where}: unknown clause {kind!r} (use same, owner or sensitivity_below)")


def _condition(name: str, raw: _Condition, raw_file: _MatrixFile, path: Path) -> Condition:
    if (raw.all is None) == (raw.any is None):
        raise PolicyFileError(path, f"conditions.{name}: give exactly one of `all` or `any`")
    mode: Literal["all", "any"] = "all" if raw.all is not None else "any"
    items = raw.all if raw.all is not None else raw.any
    if not items:
        raise PolicyFileError(path, f"conditions.{name}: list at least one clause")
    clauses = tuple(_clause(item, raw_file, f"conditions.{name}.{mode}[{i}]", path) for i, item in enumerate(items))
    return Condition(name=name, description=raw.description, mode=mode, clauses=clauses)


def _check_grants(
    owner: str,
    grants: dict[str, list[str]],
    permissions: Mapping[str, Permission],
    conditions: Mapping[str, Condition],
    path: Path,
) -> dict[str, tuple[str, ...]]:
    checked = {}
    for permission, names in grants.items():
        if permission not in permissions:
            raise PolicyFileError(path, f"{owner}: unknown permission {permission!r}")
        unknown = [name for name in names if name not in conditions]
        if unknown:
            raise PolicyFileError(path, f"{owner}.{permission}: unknown condition(s) {unknown}")
        if len(set(names)) != len(names):
            raise PolicyFileError(path, f"{owner}.{permission}: a condition is listed twice")
        checked[permission] = tuple(sorted(names))
    return checked


def _build(raw: _MatrixFile, path: Path) -> Matrix:
    levels = raw.sensitivity.levels
    if len(set(levels)) != len(levels):
        raise PolicyFileError(path, "sensitivity.levels: a level is listed twice")
    if raw.sensitivity.default not in levels:
        raise PolicyFileError(path, f"sensitivity.default must be one of {levels}")
    unsupported = sorted(set(raw.attributes.record) - RECORD_ATTRIBUTES)
    if unsupported:
        raise PolicyFileError(
            path, f"attributes.record: {unsupported} are not fields of policy.Record (add them first)"
        )
    conditions = {name: _condition(name, item, raw, path) for name, item in raw.conditions.items()}
    permissions = {
        f"{resource}:{action}": Permission(resource=resource, action=action, **spec.model_dump())
        for resource, body in raw.resources.items()
        for action, spec in body.actions.items()
    }
    ranks = [role.rank for role in raw.roles.values()]
    if len(set(ranks)) != len(ranks):
        raise PolicyFileError(path, "roles: every role needs its own rank (the escalation order is total)")
    roles = {
        name: Role(
            name=name,
            rank=role.rank,
            description=role.description,
            grants=_check_grants(f"roles.{name}.grants", role.grants, permissions, conditions, path),
            vendor_only=role.vendor_only,
        )
        for name, role in raw.roles.items()
    }
    return Matrix(
        sensitivity_levels=tuple(levels),
        default_sensitivity=raw.sensitivity.default,
        principal_attributes=tuple(raw.attributes.principal),
        record_attributes=tuple(raw.attributes.record),
        conditions=conditions,
        permissions=permissions,
        roles=roles,
    )


def _merge_local(matrix: Matrix, raw: _LocalFile, path: Path) -> Matrix:
    """Add the local grants; refuse anything that would change or remove an existing one."""
    roles = dict(matrix.roles)
    for role_name, grants in raw.grants.items():
        role = roles.get(role_name)
        if role is None:
            raise PolicyFileError(path, f"grants.{role_name}: unknown role (the local file cannot add roles)")
        added = _check_grants(f"grants.{role_name}", grants, matrix.permissions, matrix.conditions, path)
        clash = sorted(set(added) & set(role.grants))
        if clash:
            raise PolicyFileError(
                path,
                f"grants.{role_name}: {clash} already granted in {MATRIX_FILE}; the local file may only add grants",
            )
        if role.vendor_only:
            raise PolicyFileError(path, f"grants.{role_name}: a vendor-only role's grants live in {MATRIX_FILE} only")
        roles[role_name] = Role(role.name, role.rank, role.description, {**role.grants, **added})
    return Matrix(
        sensitivity_levels=matrix.sensitivity_levels,
        default_sensitivity=matrix.default_sensitivity,
        principal_attributes=matrix.principal_attributes,
        record_attributes=matrix.record_attributes,
        conditions=matrix.conditions,
        permissions=matrix.permissions,
        roles=roles,
    )


def load_matrix(policy_dir: Path | str | None = None) -> Matrix:
    """Read `roles.yaml` (and `roles.local.yaml` when present) from `policy_dir`."""
    directory = Path(policy_dir) if policy_dir is not None else default_policy_dir()
    path = directory / MATRIX_FILE
    matrix = _build(_parse(_MatrixFile, _read_yaml(path), path), path)
    local = directory / LOCAL_FILE
    if local.is_file():
        matrix = _merge_local(matrix, _parse(_LocalFile, _read_yaml(local), local), local)
    return matrix


def default_policy_dir() -> Path:
    """`policy/` of the source checkout, else the copy packaged into the wheel (`_policy/`).

    Deployments may point `APP_POLICY_DIR` elsewhere; see `decision_point.build_decision_point`.
    """
    package = Path(__file__).resolve().parents[2]
    for candidate in (package.parents[1] / "policy", package / "_policy"):
        if (candidate / MATRIX_FILE).is_file():
            return candidate
    raise PolicyFileError(package.parents[1] / "policy", f"no {MATRIX_FILE}; set APP_POLICY_DIR")
