"""Reading a project's modules statically: source text, module-level constants, settings defaults.

Checks never import the project (its dependencies may not be installed, and
importing runs code); they parse it.
"""

from __future__ import annotations

import ast
from typing import Any

from .._model import Finding, Outcome, failed
from .._project import Project


def source(project: Project, relative: str) -> str | None:
    """The text of `src/<package>/<relative>`, or None when it does not exist."""
    if project.package_dir is None:
        return None
    path = project.package_dir / relative
    return path.read_text(encoding="utf-8") if path.is_file() else None


def location(project: Project, relative: str) -> str:
    assert project.package_dir is not None
    return project.relative(project.package_dir / relative)


def missing(project: Project, relative: str, hint: str) -> Outcome:
    return failed(Finding(f"{relative} is missing", hint, path=location(project, relative)))


def constant(text: str, name: str) -> Any:
    """The literal value bound to a module-level `name` (plain or annotated assignment), or None."""
    for node in ast.parse(text).body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(target, ast.Name) and target.id == name for target in targets) and node.value is not None:
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def dict_entries(text: str, name: str) -> dict[str, Any] | None:
    """The literal `"key": value` entries of a module-level dict display `name`, skipping `**spread`s.

    For dicts like `RUNTIME_GRANTS = {**TENANT_TABLE_GRANTS, "audit_events": (...)}`, whose
    whole value is not a literal but whose own entries are. None when `name` is not a dict display.
    """
    for node in ast.parse(text).body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            if not isinstance(node.value, ast.Dict):
                return None
            entries = {}
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    try:
                        entries[key.value] = ast.literal_eval(value)
                    except ValueError:
                        continue
            return entries
    return None


#: What `settings_default` returns for a default that is not a literal (a lambda, a call): undecidable.
NOT_LITERAL: Any = object()


def settings_default(text: str, field: str) -> tuple[Any, int] | None:
    """The literal default of `field` in the `Settings` class, with its line; `default_factory=list` is [].

    None when the field is absent; `(NOT_LITERAL, line)` when its default cannot be read statically.
    """
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            for statement in node.body:
                if (
                    isinstance(statement, ast.AnnAssign)
                    and isinstance(statement.target, ast.Name)
                    and statement.target.id == field
                    and statement.value is not None
                ):
                    return _default_of(statement.value), statement.lineno
    return None


def _default_of(value: ast.expr) -> Any:
    if isinstance(value, ast.Call):  # Field(default=...) / Field(default_factory=list)
        for keyword in value.keywords:
            if keyword.arg == "default":
                return _default_of(keyword.value)
            if keyword.arg == "default_factory" and isinstance(keyword.value, ast.Name):
                return {"list": [], "dict": {}, "set": set()}.get(keyword.value.id, NOT_LITERAL)
        return NOT_LITERAL
    try:
        return ast.literal_eval(value)
    except ValueError:
        return NOT_LITERAL


def bounded_default(project: Project, config: str, name: str, ceiling: int, *, unit: str, why: str) -> Finding | None:
    """A finding unless the Settings field `name` defaults to a positive int literal of at most `ceiling`.

    `why` is the hint when the setting is missing; 0 or a computed default is a finding too.
    """
    default = settings_default(config, name)
    if default is None:
        return Finding(f"no {name} setting", why, location(project, "config.py"))
    value, line = default
    if value is NOT_LITERAL or not isinstance(value, int) or not 0 < value <= ceiling:
        return Finding(
            f"{name} defaults to {value!r}",
            f"default it to a positive literal of at most {ceiling} {unit} (0 switches the limit off)",
            path=location(project, "config.py"),
            line=line,
        )
    return None
