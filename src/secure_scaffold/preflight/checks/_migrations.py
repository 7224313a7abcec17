"""Reading Alembic migrations statically: the tables `upgrade()` creates and the SQL it runs, in revision order.

Preflight needs no database: it evaluates what the migration files say.
`op.create_table(...)` calls give tables, columns and constraints (plus later
`op.add_column` and `op.create_check_constraint` calls);
`op.execute(...)` gives SQL when it is literal -- a string, a module-level
constant, or an f-string over a module-level tuple of table names (the way a
migration applies one statement to many tables in a `for` loop), also through
one level of module-level helper functions. SQL that cannot be evaluated is
kept as `None` so a check can say "cannot decide" instead of guessing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._project import Project

#: Where generated projects keep their migrations, under the package.
VERSIONS_DIR = "db/migrations/versions"


@dataclass
class Table:
    """A table as `op.create_table` declares it (plus later `op.add_column`s)."""

    name: str
    path: str
    line: int
    columns: list[str] = field(default_factory=list)
    unique: list[tuple[str, ...]] = field(default_factory=list)  # primary key and unique constraints
    checks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Statement:
    """One `op.execute` of `upgrade()`: its SQL (None when not static), where it is."""

    sql: str | None
    path: str
    line: int


@dataclass
class Migration:
    path: Path
    relative: str
    revision: str | None
    parents: tuple[str, ...]
    tables: list[Table] = field(default_factory=list)
    added_columns: list[tuple[str, str]] = field(default_factory=list)
    added_checks: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)


def load(project: Project) -> list[Migration] | None:
    """The project's migrations in revision order, or None when it has no migrations directory."""
    if project.package_dir is None:
        return None
    directory = project.package_dir / VERSIONS_DIR
    if not directory.is_dir():
        return None
    migrations = []
    for path in sorted(directory.glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        migrations.append(_read(tree, path, project.relative(path)))
    return _in_revision_order(migrations)


def tables(migrations: list[Migration]) -> dict[str, Table]:
    """Every table still present after all upgrades, by (schema-less, lower-case) name."""
    found: dict[str, Table] = {}
    for migration in migrations:
        for table in migration.tables:
            found[table.name] = table
        for table_name, column in migration.added_columns:
            if table_name in found:
                found[table_name].columns.append(column)
        for table_name, check in migration.added_checks:
            if table_name in found:
                found[table_name].checks.append(check)
        for table_name in migration.dropped:
            found.pop(table_name, None)
    return found


def stored_tables(project: Project) -> dict[str, Table] | None:
    """The tables the project's migrations leave, by name; None when it has no migrations directory."""
    migrations = load(project)
    return tables(migrations) if migrations is not None else None


def statements(migrations: list[Migration]) -> Iterator[Statement]:
    for migration in migrations:
        yield from migration.statements


def table_name(raw: str) -> str:
    """`public."Projects"` -> `projects`: the unqualified, unquoted, lower-case name."""
    return raw.strip().strip('"').split(".")[-1].strip('"').lower()


# ------------------------------------------------------------------ reading one file


def _read(tree: ast.Module, path: Path, relative: str) -> Migration:
    constants = _module_constants(tree)
    revision = constants.get("revision")
    parents = tuple(_as_tuple(constants.get("down_revision"))) + tuple(_as_tuple(constants.get("depends_on")))
    migration = Migration(path, relative, revision if isinstance(revision, str) else None, parents)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    upgrade = functions.get("upgrade")
    if upgrade is not None:
        _Reader(migration, constants, functions).visit(upgrade.body, {}, depth=0)
    return migration


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def _module_constants(tree: ast.Module) -> dict[str, Any]:
    constants: dict[str, Any] = {}
    for node in tree.body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        value = getattr(node, "value", None)
        if value is None:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                try:
                    constants[target.id] = ast.literal_eval(value)
                except ValueError:
                    text = _string(value, {}, constants)
                    if text is not None:
                        constants[target.id] = text
    return constants


def _string(node: ast.expr, env: Mapping[str, Any], constants: Mapping[str, Any]) -> str | None:
    """The value of a string expression, when it can be known without running anything."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        value = env.get(node.id, constants.get(node.id))
        return value if isinstance(value, str) else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            text = _string(part.value if isinstance(part, ast.FormattedValue) else part, env, constants)
            if text is None:
                return None
            parts.append(text)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string(node.left, env, constants), _string(node.right, env, constants)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.Call) and _callee(node) in ("text", "sa.text", "sqlalchemy.text") and node.args:
        return _string(node.args[0], env, constants)
    return None


def _callee(call: ast.Call) -> str:
    parts = []
    node: ast.expr = call.func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


class _Reader:
    def __init__(self, migration: Migration, constants: dict[str, Any], functions: dict[str, ast.FunctionDef]):
        self.migration = migration
        self.constants = constants
        self.functions = functions

    def visit(self, body: list[ast.stmt], env: dict[str, Any], *, depth: int) -> None:
        for statement in body:
            if isinstance(statement, ast.For) and isinstance(statement.target, ast.Name):
                values = self._iterable(statement.iter, env)
                for value in values if values is not None else [None]:
                    self.visit(statement.body, {**env, statement.target.id: value}, depth=depth)
                continue
            if isinstance(statement, ast.If | ast.With | ast.Try):
                for block in ("body", "orelse", "finalbody"):
                    self.visit(getattr(statement, block, []), env, depth=depth)
                for handler in getattr(statement, "handlers", []):
                    self.visit(handler.body, env, depth=depth)
                continue
            for node in ast.walk(statement):
                if isinstance(node, ast.Call):
                    self._call(node, env, depth)

    def _iterable(self, node: ast.expr, env: Mapping[str, Any]) -> list[str] | None:
        try:
            value = ast.literal_eval(node)
        except ValueError:
            value = env.get(node.id, self.constants.get(node.id)) if isinstance(node, ast.Name) else None
        if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            return list(value)
        return None

    def _call(self, call: ast.Call, env: dict[str, Any], depth: int) -> None:
        name = _callee(call)
        path, line = self.migration.relative, call.lineno
        if name.endswith("op.execute") and call.args:
            self.migration.statements.append(Statement(_string(call.args[0], env, self.constants), path, line))
        elif name.endswith("op.create_table") and call.args:
            table = _string(call.args[0], env, self.constants)
            if table is not None:
                self.migration.tables.append(self._table(table_name(table), call, env))
        elif name.endswith("op.add_column") and len(call.args) >= 2:
            table = _string(call.args[0], env, self.constants)
            column = self._column(call.args[1], env)
            if table is not None and column is not None:
                self.migration.added_columns.append((table_name(table), column[0]))
        elif name.endswith("op.create_check_constraint") and len(call.args) >= 3:
            table = _string(call.args[1], env, self.constants)
            condition = _string(call.args[2], env, self.constants)
            if table is not None and condition is not None:
                self.migration.added_checks.append((table_name(table), condition))
        elif name.endswith("op.drop_table") and call.args:
            table = _string(call.args[0], env, self.constants)
            if table is not None:
                self.migration.dropped.append(table_name(table))
        elif name in self.functions and depth < 1:
            helper = self.functions[name]
            parameters = [argument.arg for argument in helper.args.args]
            bound = {
                parameter: _string(argument, env, self.constants)
                for parameter, argument in zip(parameters, call.args, strict=False)
            }
            self.visit(helper.body, {**env, **bound}, depth=depth + 1)

    def _column(self, node: ast.expr, env: Mapping[str, Any]) -> tuple[str, bool] | None:
        """(name, unique-or-primary-key) of an `sa.Column(...)` expression."""
        if not (isinstance(node, ast.Call) and _callee(node).split(".")[-1] == "Column" and node.args):
            return None
        name = _string(node.args[0], env, self.constants)
        if name is None:
            return None
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        unique = any(
            isinstance(keywords.get(flag), ast.Constant) and keywords[flag].value is True  # type: ignore[union-attr]
            for flag in ("primary_key", "unique")
        )
        return name, unique

    def _table(self, name: str, call: ast.Call, env: Mapping[str, Any]) -> Table:
        table = Table(name, self.migration.relative, call.lineno)
        for argument in call.args[1:]:
            column = self._column(argument, env)
            if column is not None:
                table.columns.append(column[0])
                if column[1]:
                    table.unique.append((column[0],))
                continue
            if not isinstance(argument, ast.Call):
                continue
            kind = _callee(argument).split(".")[-1]
            texts = [_string(item, env, self.constants) for item in argument.args]
            if kind in ("PrimaryKeyConstraint", "UniqueConstraint") and all(texts):
                table.unique.append(tuple(text for text in texts if text))
            elif kind == "CheckConstraint" and texts and texts[0]:
                table.checks.append(texts[0])
        return table


def _in_revision_order(migrations: list[Migration]) -> list[Migration]:
    """Parents before children (down_revision and depends_on); file order breaks ties and cycles."""
    by_revision = {migration.revision: migration for migration in migrations if migration.revision}
    ordered: list[Migration] = []
    placed: set[int] = set()
    visiting: set[int] = set()

    def place(migration: Migration) -> None:
        if id(migration) in placed or id(migration) in visiting:
            return
        visiting.add(id(migration))
        for parent in migration.parents:
            if parent in by_revision:
                place(by_revision[parent])
        visiting.discard(id(migration))
        placed.add(id(migration))
        ordered.append(migration)

    for migration in migrations:
        place(migration)
    return ordered
