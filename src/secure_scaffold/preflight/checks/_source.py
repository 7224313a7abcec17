"""Reading a project's modules statically: source text, module-level constants, settings defaults.

Checks never import the project (its dependencies may not be installed, and
importing runs code); they parse it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from .._model import Finding, Outcome, failed
from .._project import Project
from ._python import dotted, first_call, function, method, named, parse


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


def settings_default(text: str, field: str, *, lambdas: bool = False) -> tuple[Any, int] | None:
    """The literal default of `field` in the `Settings` class, with its line; `default_factory=list` is [].

    None when the field is absent; `(NOT_LITERAL, line)` when its default cannot be read statically.
    `lambdas` also reads `default_factory=lambda: <literal>` (how a mapping default is written); off,
    such a default counts as computed, which is what a security default must never silently be.
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
                    return _default_of(statement.value, lambdas), statement.lineno
    return None


def _default_of(value: ast.expr, lambdas: bool = False) -> Any:
    if isinstance(value, ast.Call):  # Field(default=...) / Field(default_factory=list)
        for keyword in value.keywords:
            if keyword.arg == "default":
                return _default_of(keyword.value, lambdas)
            if keyword.arg == "default_factory" and isinstance(keyword.value, ast.Name):
                return {"list": [], "dict": {}, "set": set()}.get(keyword.value.id, NOT_LITERAL)
            if lambdas and keyword.arg == "default_factory" and isinstance(keyword.value, ast.Lambda):
                return _default_of(keyword.value.body, lambdas)
        return NOT_LITERAL
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError):
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


def function_of(project: Project, relative: str, qualified: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """Function `qualified` (`name` or `Class.name`) of `src/<package>/<relative>`; None when absent or unparsable."""
    text = source(project, relative)
    tree = parse(text) if text is not None else None
    if tree is None:
        return None
    owner, _, name = qualified.rpartition(".")
    return method(tree, owner, name) if owner else function(tree, name)


def missing_call(
    project: Project, relative: str, qualified: str, endings: tuple[str, ...], message: str, hint: str
) -> Finding | None:
    """A finding unless function `qualified` (`name` or `Class.name`) of `relative` calls one of `endings`.

    An absent file or function cannot make the call either: the same finding,
    without a line, so a rename reads as the broken property, not as a crash.
    """
    node = function_of(project, relative, qualified)
    if node is not None and first_call(node, endings) is not None:
        return None
    return finding_at(project, relative, node, message, hint)


def finding_at(project: Project, relative: str, node: ast.AST | None, message: str, hint: str) -> Finding:
    """A finding in `src/<package>/<relative>`, on `node`'s line when the node was found at all."""
    return Finding(message, hint, path=location(project, relative), line=getattr(node, "lineno", None))


#: Marks under which pytest does not run a test, or does not let it fail: such a test proves nothing.
_NOT_RUN = ("mark.skip", "mark.skipif", "mark.xfail")


@dataclass(frozen=True)
class ProjectTest:
    """One test function of the project's own suite, with the module it is in."""

    path: str
    module: ast.Module
    function: ast.FunctionDef | ast.AsyncFunctionDef


def project_tests(project: Project) -> list[ProjectTest]:
    """The tests pytest would run and let fail, from `tests/**/test_*.py` and `*_test.py`.

    `test*` functions and methods of `Test*` classes, minus those marked skip,
    skipif or xfail (or the whole module so), or calling pytest.skip() outright.
    """
    found = []
    for path in project.python_files(project.root / "tests"):
        if not (path.name.startswith("test_") or path.name.endswith("_test.py")):
            continue
        module = parse(path.read_text(encoding="utf-8", errors="replace"))
        if module is None or _skipped_module(module):
            continue
        found.extend(
            ProjectTest(project.relative(path), module, node) for node in _test_functions(module) if not _skipped(node)
        )
    return found


def _test_functions(module: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    classes = [node for node in module.body if isinstance(node, ast.ClassDef) and node.name.startswith("Test")]
    scopes: list[ast.Module | ast.ClassDef] = [module, *classes]
    return [
        node
        for scope in scopes
        for node in scope.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    ]


def _marked_not_run(expression: ast.expr) -> bool:
    target = expression.func if isinstance(expression, ast.Call) else expression
    return named(dotted(target), _NOT_RUN)


def _skipped(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Marked skip/skipif/xfail, or calling pytest.skip() unconditionally at its top level."""
    if any(_marked_not_run(decorator) for decorator in node.decorator_list):
        return True
    return any(
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and named(dotted(statement.value.func), ("pytest.skip",))
        for statement in node.body
    )


def _skipped_module(module: ast.Module) -> bool:
    """`pytestmark = pytest.mark.skip(...)` (alone or in a list) skips every test of the module."""
    for node in module.body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "pytestmark" for target in node.targets):
            marks = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            if any(_marked_not_run(mark) for mark in marks):
                return True
    return False
