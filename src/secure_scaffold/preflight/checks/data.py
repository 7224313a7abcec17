"""Data controls read from the code: classification, per-tenant keys, TLS, redaction, query limits (DATA-*)."""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from . import _hcl, _migrations
from ._python import calls, dotted, function, module_assignment, named, parse
from ._source import bounded_default, constant, location, missing, source
from .authz import ROLES_FILE, matrix_permissions
from .infra import TerraformFile, terraform_files

REQUIRES = ("layout.application_package",)
#: Setting -> the most a deployment may allow by default (milliseconds).
LIMIT_SETTINGS = {"database_statement_timeout_ms": 60_000, "database_idle_in_transaction_timeout_ms": 300_000}
LIMIT_WHY = "bound every runtime statement server-side"


@register("data.query_limits", controls=("DATA-09",), requires=REQUIRES)
def query_limits(project: Project) -> Outcome:
    """Runtime connections carry server-side statement and idle-transaction timeouts with sane defaults."""
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare the settings, including the database query limits")
    findings = [
        finding
        for name, ceiling in LIMIT_SETTINGS.items()
        if (finding := bounded_default(project, config, name, ceiling, unit="ms", why=LIMIT_WHY)) is not None
    ]
    bootstrap = source(project, "bootstrap.py") or ""
    engine = source(project, "db/engine.py") or ""
    if "limits=runtime_query_limits(settings)" not in bootstrap or "statement_timeout" not in engine:
        findings.append(
            Finding(
                "the runtime engine is built without the query limits",
                "pass limits=runtime_query_limits(settings) to build_engine in bootstrap.py",
                path=location(project, "bootstrap.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("runtime connections time out statements and idle transactions server-side")


def _redacting_names(tree: ast.AST) -> set[str]:
    """Names bound to `default_redactor()` (or any `*redactor()` factory) anywhere in the module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called.endswith("redactor"):
                names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


def _renderer_pipelines(tree: ast.AST) -> list[tuple[int, list[ast.expr]]]:
    """Every processors list that ends in a renderer: the elements before the renderer, with the line."""
    pipelines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.List):
            continue
        for index, element in enumerate(node.elts):
            func = element.func if isinstance(element, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr.endswith("Renderer"):
                pipelines.append((node.lineno, node.elts[:index]))
    return pipelines


@register("data.log_redaction", controls=("DATA-06",), requires=REQUIRES)
def log_redaction(project: Project) -> Outcome:
    """Every log renderer is preceded by the redaction processor, and the entry point configures logging."""
    text = source(project, "log.py")
    if text is None:
        return missing(project, "log.py", "configure structlog with the redaction processor before the renderer")
    tree = ast.parse(text)
    redactors = _redacting_names(tree)
    pipelines = _renderer_pipelines(tree)
    findings = [
        Finding(
            "a log renderer runs without the redaction processor before it",
            "put the redactor (security/redaction.py default_redactor()) before every renderer",
            path=location(project, "log.py"),
            line=line,
        )
        for line, before in pipelines
        if not any(isinstance(element, ast.Name) and element.id in redactors for element in before)
    ]
    if not pipelines:
        findings.append(
            Finding("log.py renders no log lines", "render JSON logs through structlog", location(project, "log.py"))
        )
    entry = source(project, "__main__.py") or ""
    if "configure_logging(" not in entry:
        findings.append(
            Finding(
                "the entry point never configures logging, so the redaction processor is not installed",
                "call configure_logging() in __main__.py before serving",
                path=location(project, "__main__.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed(f"{len(pipelines)} log pipelines redact before they render")


# ------------------------------------------------------------------ classification (DATA-01, DATA-02)

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


def _stored_tables(project: Project) -> dict[str, _migrations.Table] | None:
    migrations = _migrations.load(project)
    return _migrations.tables(migrations) if migrations is not None else None


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
        *_unstored_tags(tables, _stored_tables(project)),
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
        Finding(
            "seal_row does not encrypt the tagged columns",
            "encrypt every tagged value with the tenant's data key (keyring.encrypt_text) in seal_row",
            location(project, CLASSIFICATION_FILE),
            seal.lineno if seal is not None else None,
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
        *_personal_findings(_stored_tables(project) or {}, sensitive),
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


# ------------------------------------------------------------------ per-tenant keys (DATA-03)

KEYS_FILE = "security/keys.py"
KEY_TABLE = "tenant_keys"
#: Tenancy models whose infrastructure gives every tenant its own KMS key (crypto-shredding on offboarding).
KMS_PER_TENANT = frozenset({"schema", "silo"})
_AEAD = re.compile(r"(?:\w+\.)*(?:AESGCM|AESGCMSIV|AESCCM|AESOCB3|ChaCha20Poly1305)\(\)\.(?:encrypt|decrypt)")
_TENANT_FILTER = re.compile(r"\btenant_id\s*=\s*:tenant\b", re.IGNORECASE)


def _assignments(node: ast.AST) -> dict[str, ast.expr]:
    """`name = value` statements under `node`: a context built first and passed by name is still read."""
    return {
        target.id: statement.value
        for statement in ast.walk(node)
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Name)
    }


def _returns_tenant(helper: ast.FunctionDef) -> bool:
    """The helper's result carries the tenant: a `"tenant"` key or the `tenant` parameter in what it returns."""
    for node in ast.walk(helper):
        if isinstance(node, ast.Return) and node.value is not None:
            for part in ast.walk(node.value):
                if isinstance(part, ast.Constant) and part.value == "tenant":
                    return True
                if isinstance(part, ast.Name) and part.id == "tenant":
                    return True
    return False


def _names_tenant(node: ast.AST) -> bool:
    """`tenant` or `<something>.tenant` appears in the expression."""
    return any(
        (isinstance(part, ast.Attribute) and part.attr == "tenant")
        or (isinstance(part, ast.Name) and part.id == "tenant")
        for part in ast.walk(node)
    )


def _binds_tenant(node: ast.expr, assigned: dict[str, ast.expr], helpers: dict[str, ast.FunctionDef]) -> bool:
    """Whether an associated-data or wrap-context expression is built from the tenant.

    Names are followed to their assignment in the same function (each once:
    `assigned` is consumed, so a cycle ends); a call to a module-level helper
    counts only when the helper also puts the tenant in what it returns
    (`_wrap_context(tx.tenant, 1)` -> `{"tenant": tenant, ...}`).
    """
    if isinstance(node, ast.Name) and node.id in assigned:
        return _binds_tenant(assigned.pop(node.id), assigned, helpers)
    helper = helpers.get(dotted(node.func)) if isinstance(node, ast.Call) else None
    if helper is not None and not _returns_tenant(helper):
        return False
    return _names_tenant(node)


#: What each kind of key operation must bind to the tenant, and how to fix it when it does not.
BINDINGS = {
    "ciphertext": "pass associated data naming the tenant, so a ciphertext moved to another tenant fails",
    "wrapped data key": "bind the tenant into the key-wrap context (the KMS encryption context)",
}


def _key_operations(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.Call, str]]:
    """AEAD seals/opens (kind `ciphertext`) and key wraps (kind `wrapped data key`), with their function."""
    for method in (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)):
        for name, call in calls(method):
            if _AEAD.fullmatch(name):
                yield method, call, "ciphertext"
            elif named(name, ("generate_data_key", "wrap", "unwrap")):
                yield method, call, "wrapped data key"


def _bound_argument(call: ast.Call, kind: str) -> ast.expr | None:
    """The associated data (third argument) of an AEAD call; the context (keyword or last argument) of a wrap."""
    if kind == "ciphertext":
        return call.args[2] if len(call.args) > 2 else None
    context = next((keyword.value for keyword in call.keywords if keyword.arg == "context"), None)
    return context if context is not None else (call.args[-1] if call.args else None)


def _binding_findings(project: Project, tree: ast.Module) -> list[Finding]:
    """Every AEAD call binds the tenant into its associated data; every key wrap binds it into the context."""
    helpers = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    operations = list(_key_operations(tree))
    findings = [
        Finding(
            f"{method.name} produces a {kind} that is not bound to the tenant",
            BINDINGS[kind],
            location(project, KEYS_FILE),
            call.lineno,
        )
        for method, call, kind in operations
        if (bound := _bound_argument(call, kind)) is None or not _binds_tenant(bound, _assignments(method), helpers)
    ]
    if not any(kind == "ciphertext" for _, _, kind in operations):
        findings.append(
            Finding(
                f"{KEYS_FILE} encrypts nothing with a tenant data key",
                "seal column values with AES-GCM under the tenant's data key (TenantKeyring.encrypt)",
                location(project, KEYS_FILE),
            )
        )
    return findings


def _key_query_findings(project: Project, tree: ast.Module) -> list[Finding]:
    """Every read or change of tenant_keys is limited to the transaction's tenant."""
    return [
        Finding(
            f"a query on {KEY_TABLE} does not filter by the tenant: {' '.join(node.value.split())[:70]}",
            "add `WHERE tenant_id = :tenant` (the transaction's tenant) to every SELECT, UPDATE and DELETE",
            location(project, KEYS_FILE),
            node.lineno,
        )
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY_TABLE in node.value
        if node.value.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
        and not _TENANT_FILTER.search(node.value)
    ]


def _key_table_findings(project: Project) -> list[Finding]:
    table = (_stored_tables(project) or {}).get(KEY_TABLE)
    if table is not None and any("tenant_id" in key for key in table.unique):
        return []
    return [
        Finding(
            f"no migration creates {KEY_TABLE} keyed by tenant_id",
            f"create {KEY_TABLE} with PRIMARY KEY (tenant_id, version): one data key per tenant and version",
            path=table.path if table is not None else location(project, _migrations.VERSIONS_DIR),
            line=table.line if table is not None else None,
        )
    ]


def _kms_findings(project: Project, tenancy: str) -> list[Finding]:
    """Schema and silo projects give each tenant its own KMS key, in a module the stack instantiates."""
    files = [file for file in terraform_files(project) if file.body is not None]
    per_tenant = [
        (file, block)
        for file in files
        for block in file.body.blocks
        if block.type == "resource" and block.labels[:1] == ("aws_kms_key",)
        if "tenant" in getattr(block.attributes.get("for_each"), "text", "")
    ]
    if not per_tenant:
        return [
            Finding(
                f"tenancy is {tenancy} but the infrastructure creates no KMS key per tenant",
                "create aws_kms_key with for_each = var.tenants, so each tenant's data keys have their own KEK "
                "and offboarding can schedule its deletion",
                "infra/terraform",
            )
        ]
    sources = {
        posixpath.normpath(posixpath.join(file.directory, block.attributes["source"]))
        for file in files
        for block in file.body.blocks
        if block.type == "module" and isinstance(block.attributes.get("source"), str)
    }
    return [
        Finding(
            f"the per-tenant KMS keys of {file.directory} are never created: no module block uses it",
            f'instantiate it: module "tenant_keys" {{ source = "../{posixpath.basename(file.directory)}" }}',
            file.relative,
            block.line,
        )
        for file, block in per_tenant
        if file.directory not in sources
    ]


@register("data.tenant_keys", controls=("DATA-03",), requires=REQUIRES)
def tenant_keys(project: Project) -> Outcome:
    """Each tenant's data is sealed with its own data key, bound to the tenant; a KMS key per tenant where modelled."""
    text = source(project, KEYS_FILE)
    tree = parse(text) if text is not None else None
    if tree is None:
        return missing(project, KEYS_FILE, "seal tenant data with per-tenant data keys (envelope encryption)")
    tenancy = str(project.answers.get("tenancy") or "")
    findings = [
        *_binding_findings(project, tree),
        *_key_query_findings(project, tree),
        *_key_table_findings(project),
        *(_kms_findings(project, tenancy) if tenancy in KMS_PER_TENANT else []),
    ]
    if findings:
        return failed(*findings)
    kek = "; each tenant has its own KMS key" if tenancy in KMS_PER_TENANT else ""
    return passed(f"data keys per tenant in {KEY_TABLE}, bound to the tenant in every ciphertext and wrap{kek}")


# ------------------------------------------------------------------ TLS 1.2+ (DATA-05)

TLS_FILE = "security/tls.py"
MODERN_TLS = frozenset({"TLSv1_2", "TLSv1_3", "MAXIMUM_SUPPORTED"})
OLD_TLS = frozenset({"SSLv3", "TLSv1", "TLSv1_1", "MINIMUM_SUPPORTED"})
OLD_PROTOCOLS = frozenset({"PROTOCOL_SSLv2", "PROTOCOL_SSLv3", "PROTOCOL_TLSv1", "PROTOCOL_TLSv1_1"})
#: AWS load-balancer security policies that refuse anything below TLS 1.2.
_MODERN_POLICY = re.compile(r"^ELBSecurityPolicy-(?:TLS13-1-[23]|TLS-1-2|FS-1-2)-")
_POSTGRES_URL = re.compile(r"postgres(?:ql)?(?:\+\w+)?://[^\s\"']*")
_PLAIN_REDIS = re.compile(r"\bredis://")


def _assigned_attributes(node: ast.AST) -> dict[str, ast.expr]:
    """`<anything>.<attr> = value` under `node`, by attribute name."""
    return {
        target.attr: statement.value
        for statement in ast.walk(node)
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Attribute)
    }


def _client_context_findings(project: Project, tree: ast.Module) -> list[Finding]:
    """security/tls.py's client context refuses TLS below 1.2 and verifies certificate and host name."""
    where = location(project, TLS_FILE)
    floor = module_assignment(tree, "MINIMUM_VERSION")
    builder = function(tree, "client_context")
    if builder is None:
        return [Finding(f"{TLS_FILE} defines no client_context()", "build outbound TLS contexts in one place", where)]
    assigned = _assigned_attributes(builder)
    version = assigned.get("minimum_version")
    if isinstance(version, ast.Name) and version.id == "MINIMUM_VERSION":
        version = floor
    checks = {
        "does not refuse TLS below 1.2": isinstance(version, ast.Attribute) and version.attr in MODERN_TLS,
        "does not verify the server's host name": getattr(assigned.get("check_hostname"), "value", None) is True,
        "does not require a server certificate": getattr(assigned.get("verify_mode"), "attr", "") == "CERT_REQUIRED",
    }
    return [
        Finding(
            f"client_context() {problem}",
            "set minimum_version = ssl.TLSVersion.TLSv1_2 (or later), check_hostname = True and "
            "verify_mode = ssl.CERT_REQUIRED",
            where,
            builder.lineno,
        )
        for problem, holds in checks.items()
        if not holds
    ]


def _weakening(node: ast.AST) -> str | None:
    """What a node does to weaken TLS, if anything."""
    if isinstance(node, ast.keyword):
        return _keyword_weakening(node)
    if isinstance(node, ast.Attribute):
        return _attribute_weakening(node)
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value is False:
        hostname = any(isinstance(target, ast.Attribute) and target.attr == "check_hostname" for target in node.targets)
        return "turns host-name checking off (check_hostname = False)" if hostname else None
    return None


def _keyword_weakening(node: ast.keyword) -> str | None:
    value = node.value.value if isinstance(node.value, ast.Constant) else True
    off = value in (False, "none", None) if node.arg == "ssl_cert_reqs" else value is False
    if node.arg in ("verify", "ssl_cert_reqs", "verify_ssl") and off:
        return f"turns certificate verification off ({node.arg}={value!r})"
    return None


def _attribute_weakening(node: ast.Attribute) -> str | None:
    if node.attr == "CERT_NONE":
        return "accepts any certificate (ssl.CERT_NONE)"
    if node.attr in OLD_PROTOCOLS or (node.attr in OLD_TLS and dotted(node.value).endswith("TLSVersion")):
        return f"allows a protocol below TLS 1.2 ({node.attr})"
    if node.attr == "_create_unverified_context":
        return "builds a TLS context that verifies nothing"
    return None


def _weakened_findings(project: Project) -> list[Finding]:
    """No module of the package weakens TLS on an outbound connection."""
    assert project.package_dir is not None
    findings = []
    for path in sorted(project.python_files(project.package_dir)):
        tree = parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree) if tree is not None else []:
            problem = _weakening(node)
            if problem:
                findings.append(
                    Finding(
                        f"an outbound connection {problem}",
                        f"use {TLS_FILE} client_context() (TLS 1.2+, verified); point cafile at a private CA instead",
                        project.relative(path),
                        getattr(node, "lineno", None) or getattr(getattr(node, "value", None), "lineno", None),
                    )
                )
    return findings


def _database_tls_findings(project: Project) -> list[Finding]:
    """Settings refuse a production database URL without sslmode=verify-full."""
    config = parse(source(project, "config.py") or "") or ast.Module(body=[], type_ignores=[])
    verifier = function(config, "verifies_tls")
    settings = next((n for n in ast.walk(config) if isinstance(n, ast.ClassDef) and n.name == "Settings"), None)
    demands = verifier is not None and any(
        isinstance(node, ast.Constant) and node.value == "verify-full" for node in ast.walk(verifier)
    )
    used = settings is not None and any(named(name, ("verifies_tls",)) for name, _ in calls(settings))
    if demands and used:
        return []
    return [
        Finding(
            "production database URLs are not required to use sslmode=verify-full",
            "refuse, when Settings load in production, any database URL whose sslmode is not verify-full",
            location(project, "config.py"),
            verifier.lineno if verifier is not None else None,
        )
    ]


def _listener_findings(file: TerraformFile, block: _hcl.Block) -> list[Finding]:
    protocol = str(block.attributes.get("protocol", "")).upper()
    policy = block.attributes.get("ssl_policy")
    label = f"{block.labels[0]}.{block.labels[1] if len(block.labels) > 1 else ''}"
    if protocol in ("HTTPS", "TLS"):
        if isinstance(policy, str) and _MODERN_POLICY.match(policy):
            return []
        return [
            Finding(
                f"{label} accepts TLS below 1.2 (ssl_policy {policy!r})",
                'use ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06" (TLS 1.2 and 1.3 only)',
                file.relative,
                block.line,
            )
        ]
    redirects = any(
        str(action.attributes.get("type")) == "redirect"
        and any(str(inner.attributes.get("protocol", "")).upper() == "HTTPS" for inner in action.blocks)
        for action in block.blocks
        if action.type == "default_action"
    )
    if redirects:
        return []
    return [
        Finding(
            f"{label} serves plain {protocol or 'traffic'} without redirecting to HTTPS",
            "terminate TLS on the listener (protocol HTTPS, a TLS 1.2+ ssl_policy) or redirect to HTTPS",
            file.relative,
            block.line,
        )
    ]


def _parameters(block: _hcl.Block) -> dict[str, str]:
    return {
        str(child.attributes.get("name")): str(child.attributes.get("value"))
        for child in block.blocks
        if child.type == "parameter"
    }


def _datastore_findings(file: TerraformFile, block: _hcl.Block) -> list[Finding]:
    kind = block.labels[0]
    if kind == "aws_db_parameter_group":
        parameters = _parameters(block)
        problems = []
        if parameters.get("rds.force_ssl") != "1":
            problems.append("does not force TLS (rds.force_ssl = 1)")
        if parameters.get("ssl_min_protocol_version", "TLSv1.2") not in ("TLSv1.2", "TLSv1.3"):
            problems.append(f"allows {parameters['ssl_min_protocol_version']} (ssl_min_protocol_version)")
        hint = "set rds.force_ssl = 1 and ssl_min_protocol_version = TLSv1.2"
    elif kind == "aws_elasticache_replication_group":
        enabled = block.attributes.get("transit_encryption_enabled") is True
        problems = [] if enabled else ["does not encrypt connections (transit_encryption_enabled)"]
        hint = 'set transit_encryption_enabled = true and transit_encryption_mode = "required"'
    else:
        return []
    return [Finding(f"{kind}.{block.labels[1]} {problem}", hint, file.relative, block.line) for problem in problems]


def _url_findings(project: Project, file: TerraformFile) -> list[Finding]:
    """Connection strings the infrastructure hands the app: verify-full for PostgreSQL, rediss:// for Redis."""
    text = (project.root / file.relative).read_text(encoding="utf-8")
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        urls = [url for url in _POSTGRES_URL.findall(line) if "sslmode=verify-full" not in url]
        if urls or _PLAIN_REDIS.search(line):
            findings.append(
                Finding(
                    f"a connection string connects without verified TLS: {(urls or ['redis://'])[0][:60]}",
                    "use postgresql://...?sslmode=verify-full&sslrootcert=... and rediss://",
                    file.relative,
                    number,
                )
            )
    return findings


def _infrastructure_tls_findings(project: Project) -> list[Finding]:
    findings = []
    for file in terraform_files(project):
        if file.body is None:
            continue
        for block in file.body.blocks:
            if block.type == "resource" and block.labels[:1] == ("aws_lb_listener",):
                findings.extend(_listener_findings(file, block))
            elif block.type == "resource" and block.labels:
                findings.extend(_datastore_findings(file, block))
        findings.extend(_url_findings(project, file))
    return findings


@register("data.tls_everywhere", controls=("DATA-05",), requires=REQUIRES)
def tls_everywhere(project: Project) -> Outcome:
    """Listeners and outbound connections speak TLS 1.2+ with verification, and nothing in the code turns it off."""
    text = source(project, TLS_FILE)
    tree = parse(text) if text is not None else None
    if tree is None:
        return missing(project, TLS_FILE, "build verifying TLS 1.2+ client contexts in one place")
    findings = [
        *_client_context_findings(project, tree),
        *_weakened_findings(project),
        *_database_tls_findings(project),
        *_infrastructure_tls_findings(project),
    ]
    if findings:
        return failed(*findings)
    return passed(
        "TLS 1.2+ with verification: client context, PostgreSQL verify-full in production, load balancer, "
        "database and Redis; no code turns verification off"
    )
