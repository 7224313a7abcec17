"""Tenant isolation (DATA-08): every tenant table is under forced row-level security, read from the migrations.

The generated project proves isolation at runtime against PostgreSQL's own
catalog (`tenancy/rls.py`, its tests, and `serve`'s refusal to start). This
check proves the same thing before any database exists, from what the
migrations declare, so a pull request that adds a tenant table without a
policy fails the deploy gate even if nobody ran the database tests.

Only the `pooled` model shares tables between tenants: DATA-08 applies to it
alone, so the runner never calls this check for single, schema or silo
projects (their DATA-08 is listed as not applicable).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .._model import Finding, Outcome, failed, passed, skipped, unknown
from .._project import Project
from .._registry import register
from . import _migrations
from ._source import constant, source

REQUIRES = ("layout.application_package",)
TENANT_COLUMN = "tenant_id"
TENANT_SETTING = "app.tenant_id"

_NAME = r'((?:"?[\w$]+"?\.)?"?[\w$]+"?)'
_ALTER_RLS = re.compile(
    rf"ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_NAME}\s+(ENABLE|DISABLE|FORCE|NO\s+FORCE)\s+ROW\s+LEVEL\s+SECURITY",
    re.IGNORECASE,
)
_CREATE_POLICY = re.compile(rf"CREATE\s+POLICY\s+{_NAME}\s+ON\s+{_NAME}(?P<rest>.*)", re.IGNORECASE | re.DOTALL)
_DROP_POLICY = re.compile(rf"DROP\s+POLICY\s+(?:IF\s+EXISTS\s+)?{_NAME}\s+ON\s+{_NAME}", re.IGNORECASE)
_RAW_CREATE = re.compile(
    rf"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}\s*\((?P<body>.*)\)", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class Policy:
    name: str
    command: str  # ALL, SELECT, INSERT, UPDATE, DELETE
    permissive: bool
    using: str
    check: str

    def binds(self, expression: str) -> bool:
        return TENANT_COLUMN in expression and TENANT_SETTING in expression

    @property
    def isolates(self) -> bool:
        """A FOR ALL policy comparing tenant_id with app.tenant_id for reads AND writes."""
        return self.command == "ALL" and self.binds(self.using) and self.binds(self.check)

    @property
    def widens(self) -> bool:
        """A permissive policy that does not bind the tenant: policies are OR-ed, so it opens rows."""
        needs_using = self.command in ("ALL", "SELECT", "UPDATE", "DELETE")
        needs_check = self.command in ("ALL", "INSERT", "UPDATE")
        return self.permissive and (
            (needs_using and not self.binds(self.using)) or (needs_check and not self.binds(self.check))
        )


@dataclass
class RlsState:
    enabled: bool = False
    forced: bool = False
    policies: dict[str, Policy] = field(default_factory=dict)


@dataclass(frozen=True)
class RlsAnalysis:
    """What the migrations declare: tenant tables, their RLS state, exemptions, SQL that could not be read."""

    tenant_tables: dict[str, _migrations.Table]
    state: dict[str, RlsState]
    exempt: dict[str, str]
    unreadable: list[_migrations.Statement]

    def problems(self, table: str) -> list[str]:
        state = self.state.get(table, RlsState())
        found = []
        if not state.enabled:
            found.append("row-level security is not enabled")
        if not state.forced:
            found.append("row-level security is not forced (the table owner would bypass it)")
        if not any(policy.isolates for policy in state.policies.values()):
            found.append(f"no FOR ALL policy comparing {TENANT_COLUMN} with {TENANT_SETTING} in USING and WITH CHECK")
        found.extend(
            f"permissive policy {policy.name!r} does not bind the tenant (policies are OR-ed: it widens access)"
            for policy in state.policies.values()
            if policy.widens
        )
        return found


def _policy(name: str, rest: str) -> Policy:
    text = " ".join(rest.split())
    command = re.search(r"\bFOR\s+(ALL|SELECT|INSERT|UPDATE|DELETE)\b", text, re.IGNORECASE)
    check_at = re.search(r"\bWITH\s+CHECK\b", text, re.IGNORECASE)
    using_at = re.search(r"\bUSING\b", text, re.IGNORECASE)
    using = ""
    if using_at:
        using = text[using_at.end() : check_at.start() if check_at and check_at.start() > using_at.end() else None]
    return Policy(
        name=_migrations.table_name(name),
        command=command.group(1).upper() if command else "ALL",
        permissive=not re.search(r"\bAS\s+RESTRICTIVE\b", text, re.IGNORECASE),
        using=using,
        check=text[check_at.end() :] if check_at else "",
    )


def analyse(project: Project) -> RlsAnalysis | None:
    """Replay the migrations' RLS statements in revision order; None when there are no migrations."""
    migrations = _migrations.load(project)
    if migrations is None:
        return None
    tables = _migrations.tables(migrations)
    tenant_tables = {name: table for name, table in tables.items() if TENANT_COLUMN in table.columns}
    state: dict[str, RlsState] = {}
    unreadable = []
    for statement in _migrations.statements(migrations):
        if statement.sql is None:
            unreadable.append(statement)
            continue
        for sql in statement.sql.split(";"):
            _apply(sql, state, tenant_tables, statement)
    exempt = constant(source(project, "tenancy/tables.py") or "", "RLS_EXEMPT")
    exempt = {_migrations.table_name(str(name)): str(reason) for name, reason in (exempt or {}).items()}
    return RlsAnalysis(tenant_tables, state, exempt, unreadable)


def _apply(sql: str, state: dict[str, RlsState], tenant_tables: dict, statement: _migrations.Statement) -> None:
    raw = _RAW_CREATE.search(sql)
    if raw and re.search(rf"\b{TENANT_COLUMN}\b", raw.group("body")):
        name = _migrations.table_name(raw.group(1))
        tenant_tables.setdefault(name, _migrations.Table(name, statement.path, statement.line, [TENANT_COLUMN]))
    for match in _ALTER_RLS.finditer(sql):
        table = state.setdefault(_migrations.table_name(match.group(1)), RlsState())
        action = " ".join(match.group(2).upper().split())
        if action in ("ENABLE", "DISABLE"):
            table.enabled = action == "ENABLE"
        else:
            table.forced = action == "FORCE"
    created = _CREATE_POLICY.search(sql)
    if created:
        policy = _policy(created.group(1), created.group("rest"))
        state.setdefault(_migrations.table_name(created.group(2)), RlsState()).policies[policy.name] = policy
    for match in _DROP_POLICY.finditer(sql):
        state.setdefault(_migrations.table_name(match.group(2)), RlsState()).policies.pop(
            _migrations.table_name(match.group(1)), None
        )


@register("tenancy.rls_forced", controls=("DATA-08",), requires=REQUIRES)
def rls_forced(project: Project) -> Outcome:
    """Every table with a tenant_id column has RLS enabled AND forced and a FOR ALL tenant policy (pooled)."""
    if project.answers.get("tenancy") not in (None, "pooled"):
        return skipped(f"tenancy is {project.answers['tenancy']}: tenants do not share tables")
    analysis = analyse(project)
    if analysis is None:
        return failed(
            Finding(
                "no Alembic migrations found",
                f"keep migrations in src/<package>/{_migrations.VERSIONS_DIR}/ so tenant isolation can be proven",
            )
        )
    findings = [
        Finding(f"tenant table {name}: {problem}", _hint(name), path=table.path, line=table.line)
        for name, table in sorted(analysis.tenant_tables.items())
        if name not in analysis.exempt
        for problem in analysis.problems(name)
    ]
    if findings and analysis.unreadable:
        where = ", ".join(f"{statement.path}:{statement.line}" for statement in analysis.unreadable)
        return unknown(
            f"{len(findings)} RLS problem(s) found, but some migration SQL cannot be read statically ({where})",
            "use literal SQL (or f-strings over a module-level tuple) in op.execute so preflight can read it",
        )
    if findings:
        return failed(*findings)
    isolated = sorted(set(analysis.tenant_tables) - set(analysis.exempt))
    return passed(
        f"{len(isolated)} tenant tables under forced row-level security with a tenant policy"
        + (f"; exempt with a reason: {', '.join(sorted(analysis.exempt))}" if analysis.exempt else ""),
        tables=", ".join(isolated),
    )


def _hint(table: str) -> str:
    return (
        f"in a migration: ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; ALTER TABLE {table} FORCE ROW LEVEL "
        f"SECURITY; CREATE POLICY tenant_isolation ON {table} FOR ALL USING (tenant_id = "
        f"current_setting('{TENANT_SETTING}', true)) WITH CHECK (same) -- or list it in tenancy/tables.py "
        "RLS_EXEMPT with the reason"
    )
