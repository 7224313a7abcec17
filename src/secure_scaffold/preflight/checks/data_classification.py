"""Data classification (DATA-01, DATA-02): every stored field has a sensitivity; personal data is sealed.

`data.fields_classified` proves each column has a known sensitivity -- a
`classified(...)` tag naming a level of security/classification.py, or its
non-public default -- so an unreviewed field is never treated as public, and
a sensitive tag names the permission of the matrix that may reveal it.
`data.pii_tagged_at_ingestion` proves personal data is tagged PII/PHI,
encrypted by `seal_row` on every write and refused in clear by a migration
CHECK, so even hand-written SQL cannot store it unencrypted.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from . import _migrations
from ._python import calls, dotted, function, module_assignment, named, parse
from ._source import constant, finding_at, location, missing, source
from .authz import ROLES_FILE, matrix_permissions
from .data import REQUIRES

CLASSIFICATION_FILE = "security/classification.py"
CLASSIFIED_TABLES = "CLASSIFIED_TABLES"
#: Column names that are personal data by definition: a migration that creates one must have it tagged.
PERSONAL_COLUMNS = frozenset(
    {
        "email", "email_address", "full_name", "first_name", "last_name", "given_name", "family_name",
        "phone", "phone_number", "mobile", "home_address", "street_address", "postal_address",
        "date_of_birth", "birth_date", "birthdate", "dob", "ssn", "social_security_number", "national_id",
        "passport_number", "tax_id", "iban", "diagnosis", "medical_record_number",
    }
)  # fmt: skip
_GET_BYTE = re.compile(r"get_byte\(\s*\"?(\w+)\"?\s*,\s*0\s*\)", re.IGNORECASE)
_ALTER_CHECK = re.compile(
    r"ALTER\s+TABLE\s+(?:ONLY\s+)?([\w\".$]+)\s+ADD\s+CONSTRAINT\s+\S+\s+CHECK\s*(.*)", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class Tag:
    """A column tagged `info=classified(Classification.<LEVEL>, reveal=...)` in a model table."""

    column: str
    level: str  # the Classification member as written: `PII`, or a value such as "pii"
    reveal: str | None
    line: int


@dataclass(frozen=True)
class ModelTable:
    """A module-level `name = sa.Table("table", metadata, sa.Column(...), ...)` of the package."""

    variable: str
    name: str
    path: str
    line: int
    tree: ast.Module
    tags: tuple[Tag, ...]


@dataclass(frozen=True)
class Scheme:
    """security/classification.py: its levels (member -> value), the sensitive members, the untagged default."""

    levels: dict[str, str]
    sensitive: frozenset[str]
    default: str | None
    default_line: int | None

    def member(self, level: str) -> str | None:
        """The member a tag names, written as a member (`PII`) or as its value (`"pii"`)."""
        if level in self.levels:
            return level
        return next((name for name, value in self.levels.items() if value == level), None)

    def is_sensitive(self, level: str) -> bool:
        return self.member(level) in self.sensitive


def _scheme(tree: ast.Module) -> Scheme:
    """Read the `Classification` enum, the `SENSITIVE` set and the default of `classification_of`."""
    enum = next((n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "Classification"), None)
    levels = {}
    for statement in enum.body if enum is not None else []:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant):
            levels.update({t.id: str(statement.value.value) for t in statement.targets if isinstance(t, ast.Name)})
    sensitive_set = module_assignment(tree, "SENSITIVE")
    members = ast.walk(sensitive_set) if sensitive_set is not None else iter(())
    sensitive = frozenset(node.attr for node in members if isinstance(node, ast.Attribute) and node.attr in levels)
    default, line = _untagged_default(tree)
    return Scheme(levels, sensitive, default, line)


def _untagged_default(tree: ast.Module) -> tuple[str | None, int | None]:
    """The level `classification_of` gives a column without a tag: `info.get("classification", <default>)`."""
    reader = function(tree, "classification_of")
    for name, call in calls(reader) if reader is not None else []:
        first = call.args[0] if call.args else None
        if name.endswith(".get") and isinstance(first, ast.Constant) and first.value == "classification":
            fallback = call.args[1] if len(call.args) > 1 else None
            if isinstance(fallback, ast.Attribute):
                return fallback.attr, call.lineno
            if isinstance(fallback, ast.Constant):
                return str(fallback.value), call.lineno
            return None, call.lineno
    return None, reader.lineno if reader is not None else None


def _tag(column: ast.Call, text: str) -> Tag | None:
    """The tag of an `sa.Column(...)`; a `reveal=NAME` is read from the module's constant NAME."""
    info = next((k.value for k in column.keywords if k.arg == "info"), None)
    if not (isinstance(info, ast.Call) and dotted(info.func).split(".")[-1] == "classified" and info.args):
        return None
    level = info.args[0]
    written = level.attr if isinstance(level, ast.Attribute) else str(getattr(level, "value", ""))
    reveal = next((k.value for k in info.keywords if k.arg == "reveal"), None)
    permission = reveal.value if isinstance(reveal, ast.Constant) else None
    if isinstance(reveal, ast.Name):
        permission = constant(text, reveal.id)
    name = column.args[0].value  # a str constant: checked by the caller
    return Tag(str(name), written, permission if isinstance(permission, str) else None, column.lineno)


def _table(node: ast.stmt, text: str, relative: str, tree: ast.Module) -> ModelTable | None:
    """`variable = <...>.Table("name", metadata, <...>.Column("col", ...), ...)`; None for anything else."""
    value = getattr(node, "value", None)
    if not (isinstance(node, ast.Assign) and isinstance(value, ast.Call) and value.args):
        return None
    if dotted(value.func).split(".")[-1] != "Table" or not isinstance(value.args[0], ast.Constant):
        return None
    columns = [
        argument
        for argument in value.args[1:]
        if isinstance(argument, ast.Call) and dotted(argument.func).split(".")[-1] == "Column" and argument.args
        if isinstance(argument.args[0], ast.Constant) and isinstance(argument.args[0].value, str)
    ]
    tags = tuple(tag for column in columns if (tag := _tag(column, text)) is not None)
    variable = next((t.id for t in node.targets if isinstance(t, ast.Name)), "")
    return ModelTable(variable, _migrations.table_name(str(value.args[0].value)), relative, node.lineno, tree, tags)


def model_tables(project: Project) -> list[ModelTable]:
    """Every module-level SQLAlchemy Table of the package (migrations excluded), with its classification tags."""
    assert project.package_dir is not None
    migrations = project.package_dir / "db" / "migrations"
    found = []
    for path in sorted(project.python_files(project.package_dir)):
        if migrations in path.parents:
            continue
        text = path.read_text(encoding="utf-8")
        tree = parse(text) if "Table(" in text else None
        for node in tree.body if tree is not None else []:
            table = _table(node, text, project.relative(path), tree)
            if table is not None:
                found.append(table)
    return found


def _tag_findings(tables: list[ModelTable], scheme: Scheme, permissions: set[str] | None) -> list[Finding]:
    """Every tag names a level of the scheme, and a sensitive one the permission that may reveal it."""
    findings = []
    for table in tables:
        for tag in table.tags:
            where = f"{table.name}.{tag.column}"
            if scheme.member(tag.level) is None:
                findings.append(
                    Finding(
                        f"{where} is tagged {tag.level}, which is not a Classification level",
                        f"use one of {', '.join(sorted(scheme.levels))}",
                        table.path,
                        tag.line,
                    )
                )
            elif scheme.is_sensitive(tag.level) and permissions is not None and tag.reveal not in permissions:
                findings.append(
                    Finding(
                        f"{where} is revealed by {tag.reveal!r}, which {ROLES_FILE} does not define",
                        "name the permission that may see the column in clear (e.g. customers:read)",
                        table.path,
                        tag.line,
                    )
                )
    return findings


def _unstored_tags(tables: list[ModelTable], stored: dict[str, _migrations.Table] | None) -> list[Finding]:
    """A tag on a column no migration creates classifies nothing the database holds."""
    if stored is None:
        return []
    return [
        Finding(
            f"{table.name}.{tag.column} is tagged but no migration creates it",
            "tag the column the migrations create, or add the column in a migration",
            table.path,
            tag.line,
        )
        for table in tables
        for tag in table.tags
        if tag.column not in (stored[table.name].columns if table.name in stored else [])
    ]


def _scheme_findings(project: Project, scheme: Scheme) -> list[Finding]:
    where = location(project, CLASSIFICATION_FILE)
    if not scheme.levels or not scheme.sensitive:
        return [
            Finding(
                f"{CLASSIFICATION_FILE} defines no sensitivity levels with PII/PHI among them",
                "keep the Classification enum (public, internal, pii, phi) and SENSITIVE = {PII, PHI}",
                where,
            )
        ]
    member = scheme.member(scheme.default) if scheme.default is not None else None
    if member is None:
        return [
            Finding(
                "classification_of gives a column without a tag no known level",
                'read it as column.info.get("classification", Classification.INTERNAL)',
                where,
                scheme.default_line,
            )
        ]
    if scheme.levels[member] == "public":
        return [
            Finding(
                "columns without a tag are classified 'public', so an unreviewed field counts as public",
                "default untagged columns to Classification.INTERNAL",
                where,
                scheme.default_line,
            )
        ]
    return []


def _classification(project: Project) -> tuple[Scheme, ast.Module] | None:
    """The scheme of security/classification.py and its tree; None when the file is missing or not Python."""
    text = source(project, CLASSIFICATION_FILE)
    tree = parse(text) if text is not None else None
    return (_scheme(tree), tree) if tree is not None else None


@register("data.fields_classified", controls=("DATA-01",), requires=REQUIRES)
def fields_classified(project: Project) -> Outcome:
    """Every stored field has a sensitivity: tagged with a known level, or the non-public default."""
    loaded = _classification(project)
    if loaded is None:
        return missing(project, CLASSIFICATION_FILE, "declare the Classification levels and tag columns with them")
    scheme, _ = loaded
    tables = model_tables(project)
    findings = [
        *_scheme_findings(project, scheme),
        *_tag_findings(tables, scheme, matrix_permissions(project)),
        *_unstored_tags(tables, _migrations.stored_tables(project)),
    ]
    if findings:
        return failed(*findings)
    tagged = sum(len(table.tags) for table in tables)
    default = scheme.levels[scheme.member(scheme.default or "") or ""]
    return passed(f"{tagged} stored columns tagged; every other column is classified {default!r} by default")


def _personal_findings(stored: dict[str, _migrations.Table], sensitive: set[tuple[str, str]]) -> list[Finding]:
    """Migrated columns named like personal data (email, full_name, phone...) must carry a PII/PHI tag."""
    return [
        Finding(
            f"{name}.{column} holds personal data by its name but is not tagged PII or PHI",
            "declare the column with info=classified(Classification.PII, reveal=...) in its model table and list "
            f"the table in {CLASSIFIED_TABLES}",
            table.path,
            table.line,
        )
        for name, table in sorted(stored.items())
        for column in table.columns
        if column.lower() in PERSONAL_COLUMNS and (name, column) not in sensitive
    ]


def _registered(project: Project) -> set[str]:
    """Names listed in any module-level CLASSIFIED_TABLES of the package (redaction imports it from there)."""
    assert project.package_dir is not None
    listed: set[str] = set()
    for path in project.python_files(project.package_dir):
        text = path.read_text(encoding="utf-8")
        tree = parse(text) if CLASSIFIED_TABLES in text else None
        value = module_assignment(tree, CLASSIFIED_TABLES) if tree is not None else None
        if value is not None:
            listed.update(node.id for node in ast.walk(value) if isinstance(node, ast.Name))
    return listed


def _registration_findings(project: Project, tagged: list[ModelTable]) -> list[Finding]:
    """Tables with PII/PHI are listed where log redaction and the encryption test look for them."""
    registered = _registered(project)
    return [
        Finding(
            f"{table.name} has PII/PHI columns but is not listed in {CLASSIFIED_TABLES}",
            f"add it to {CLASSIFIED_TABLES}: log redaction and the encryption test read that list",
            table.path,
            table.line,
        )
        for table in tagged
        if table.variable not in registered
    ]


def _writes(table: ModelTable, writer: ast.AST) -> bool:
    """`<table>.insert()` / `.update()`, or `insert(<table>)` / `update(<table>)`, anywhere in `writer`."""
    for name, call in calls(writer):
        if named(name, (f"{table.variable}.insert", f"{table.variable}.update")):
            return True
        first = call.args[0] if call.args else None
        if named(name, ("insert", "update")) and isinstance(first, ast.Name) and first.id == table.variable:
            return True
    return False


def _unsealed_writes(tagged: list[ModelTable]) -> list[Finding]:
    """Every function that writes a table with PII/PHI seals the values first (encryption at ingestion)."""
    return [
        Finding(
            f"{writer.name} writes {table.name} without seal_row, so its tagged columns reach the database in clear",
            "pass the values through seal_row(keyring, tx, table, values) before insert or update",
            table.path,
            writer.lineno,
        )
        for table in tagged
        for writer in ast.walk(table.tree)
        if isinstance(writer, ast.FunctionDef | ast.AsyncFunctionDef) and _writes(table, writer)
        if not any(named(name, ("seal_row",)) for name, _ in calls(writer))
    ]


def _seal_findings(project: Project, tree: ast.Module) -> list[Finding]:
    seal = function(tree, "seal_row")
    if seal is not None and any(named(name, ("encrypt_text", "encrypt")) for name, _ in calls(seal)):
        return []
    return [
        finding_at(
            project,
            CLASSIFICATION_FILE,
            seal,
            "seal_row does not encrypt the tagged columns",
            "encrypt every tagged value with the tenant's data key (keyring.encrypt_text) in seal_row",
        )
    ]


def _text(node: ast.expr, env: dict, constants: dict) -> str | None:
    """A CHECK's SQL text; unlike `_migrations._string`, numbers interpolate (`f"octet_length(c) >= {_MIN}"`)."""
    if isinstance(node, ast.JoinedStr):
        values = [part.value if isinstance(part, ast.FormattedValue) else part for part in node.values]
        parts = [_text(value, env, constants) for value in values]
        return None if None in parts else "".join(parts)
    value = env.get(node.id, constants.get(node.id)) if isinstance(node, ast.Name) else getattr(node, "value", None)
    if isinstance(node, ast.Name | ast.Constant) and isinstance(value, str | int | float):
        return str(value)
    return _migrations._string(node, env, constants)


def _check_texts(argument: ast.expr, functions: dict[str, ast.FunctionDef], constants: dict) -> list[str | None]:
    """CHECK texts an argument of op.create_table adds: a CheckConstraint, or a helper returning one."""
    if not isinstance(argument, ast.Call):
        return []
    callee = dotted(argument.func)
    if callee.split(".")[-1] == "CheckConstraint" and argument.args:
        return [_text(argument.args[0], {}, constants)]
    helper = functions.get(callee)
    if helper is None:
        return []
    bound = {
        parameter.arg: _text(value, {}, constants)
        for parameter, value in zip(helper.args.args, argument.args, strict=False)
    }
    return [
        _text(node.value.args[0], bound, constants)
        for node in ast.walk(helper)
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Call) and node.value.args
        if dotted(node.value.func).split(".")[-1] == "CheckConstraint"
    ]


def _migration_checks(migration: _migrations.Migration) -> Iterator[tuple[str, str]]:
    """(table, CHECK text) of one migration's upgrade(), including checks built by module-level helpers."""
    tree = ast.parse(migration.path.read_text(encoding="utf-8"))
    constants = _migrations._module_constants(tree)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    upgrade = functions.get("upgrade")
    for name, call in calls(upgrade) if upgrade is not None else []:
        if named(name, ("op.create_table",)) and call.args:
            table = _migrations._string(call.args[0], {}, constants)
            texts = [text for argument in call.args[1:] for text in _check_texts(argument, functions, constants)]
        elif named(name, ("op.create_check_constraint",)) and len(call.args) >= 3:
            table = _migrations._string(call.args[1], {}, constants)
            texts = [_text(call.args[2], {}, constants)]
        else:
            continue
        yield from ((table, text) for text in texts if table and text)
    for statement in migration.statements:
        match = _ALTER_CHECK.search(statement.sql or "")
        if match:
            yield match.group(1), match.group(2)


def ciphertext_columns(project: Project) -> set[tuple[str, str]]:
    """(table, column) pairs a migration CHECK refuses to hold anything but a ciphertext (`get_byte(col, 0) = 1`)."""
    found = set()
    for migration in _migrations.load(project) or []:
        for table, text in _migration_checks(migration):
            found.update((_migrations.table_name(table), column) for column in _GET_BYTE.findall(text))
    return found


def _clear_text_findings(project: Project, tagged: list[ModelTable], scheme: Scheme) -> list[Finding]:
    encrypted = ciphertext_columns(project)
    return [
        Finding(
            f"{table.name}.{tag.column} is tagged {tag.level} but no migration refuses clear text in it",
            f"add CHECK (octet_length({tag.column}) >= 33 AND get_byte({tag.column}, 0) = 1) in a migration, so "
            "even hand-written SQL cannot store it unencrypted",
            table.path,
            tag.line,
        )
        for table in tagged
        for tag in table.tags
        if scheme.is_sensitive(tag.level) and (table.name, tag.column) not in encrypted
    ]


@register("data.pii_tagged_at_ingestion", controls=("DATA-02",), requires=REQUIRES)
def pii_tagged_at_ingestion(project: Project) -> Outcome:
    """Personal data is tagged PII/PHI, sealed by seal_row when it is written, and refused in clear by the database."""
    loaded = _classification(project)
    if loaded is None:
        return missing(project, CLASSIFICATION_FILE, "tag PII/PHI columns and seal them at ingestion")
    scheme, tree = loaded
    tables = model_tables(project)
    tagged = [table for table in tables if any(scheme.is_sensitive(tag.level) for tag in table.tags)]
    sensitive = {(table.name, tag.column) for table in tagged for tag in table.tags if scheme.is_sensitive(tag.level)}
    findings = [
        *_personal_findings(_migrations.stored_tables(project) or {}, sensitive),
        *_seal_findings(project, tree),
        *_registration_findings(project, tagged),
        *_unsealed_writes(tagged),
        *_clear_text_findings(project, tagged, scheme),
    ]
    if findings:
        return failed(*findings)
    return passed(
        f"{len(sensitive)} PII/PHI column(s) tagged in {len(tagged)} table(s), sealed by seal_row on every write and "
        "refused in clear by a CHECK constraint"
    )
