"""Tenant purge (DATA-03): every table that holds a tenant's rows is declared, so offboarding erases it.

A multi-tenant project declares where a tenant's rows live in
`tenancy/tables.py`: the tables its tenancy model isolates (`TENANT_TABLES`,
taken from `db/privileges.py::TENANT_TABLE_GRANTS`), the shared tables purge
deletes from (`SHARED_TENANT_TABLES`) and the ones kept under a retention
policy (`RETAINED_TENANT_TABLES`). `tenants delete` / `tenants purge` erase
exactly what is declared, and the project's own test reads the migrated
database to the same end. This check proves it before any database exists,
from what the migrations declare: a migration that adds a table with a
`tenant_id` column that nobody declared would leave that tenant's rows (and
its keys' reach) behind after offboarding.
"""

from __future__ import annotations

from .._model import Finding, Outcome, failed, passed, unknown
from .._project import Project
from .._registry import register
from ._source import constant, location, missing, source
from .data import REQUIRES
from .tenancy import analyse

TABLES_FILE = "tenancy/tables.py"
PRIVILEGES_FILE = "db/privileges.py"
#: The declarations of tables.py (and privileges.py) that together say what purge erases.
DECLARATIONS = ("SHARED_TENANT_TABLES", "RETAINED_TENANT_TABLES")


def _declared(project: Project) -> tuple[set[str], list[Finding]]:
    tables_py = source(project, TABLES_FILE) or ""
    privileges = constant(source(project, PRIVILEGES_FILE) or "", "TENANT_TABLE_GRANTS")
    declared: set[str] = set(privileges or ())
    findings = []
    if privileges is None:
        findings.append(
            Finding(
                "db/privileges.py declares no TENANT_TABLE_GRANTS literal",
                "declare the tables each tenancy model isolates as a dict literal in db/privileges.py",
                path=location(project, PRIVILEGES_FILE),
            )
        )
    for name in DECLARATIONS:
        value = constant(tables_py, name)
        if value is None:
            findings.append(
                Finding(
                    f"tenancy/tables.py declares no {name} literal",
                    f"declare {name} in tenancy/tables.py: purge erases exactly what is declared there",
                    path=location(project, TABLES_FILE),
                )
            )
        else:
            declared.update(str(table) for table in value)
    return declared, findings


@register("data.tenant_purge_declared", controls=("DATA-03",), requires=REQUIRES)
def tenant_purge_declared(project: Project) -> Outcome:
    """Every table with a tenant_id column is declared in tenancy/tables.py, so purge erases the tenant's rows."""
    if source(project, TABLES_FILE) is None:
        return missing(
            project, TABLES_FILE, "declare the tenant tables (and how purge erases them) in tenancy/tables.py"
        )
    analysis = analyse(project)
    if analysis is None:
        return failed(
            Finding("no Alembic migrations found", "keep migrations in src/<package>/db/migrations/versions/")
        )
    declared, findings = _declared(project)
    findings.extend(
        Finding(
            f"tenant table {name} has a tenant_id column, but tenancy/tables.py does not say how purge erases it",
            "add it to SHARED_TENANT_TABLES (purge deletes the tenant's rows) or to RETAINED_TENANT_TABLES "
            "with its retention; `tenants purge` erases only what is declared",
            path=table.path,
            line=table.line,
        )
        for name, table in sorted(analysis.tenant_tables.items())
        if name not in declared
    )
    if findings and analysis.unreadable:
        where = ", ".join(f"{statement.path}:{statement.line}" for statement in analysis.unreadable)
        return unknown(
            f"{len(findings)} purge problem(s) found, but some migration SQL cannot be read statically ({where})",
            "use literal SQL (or f-strings over a module-level tuple) in op.execute so preflight can read it",
        )
    if findings:
        return failed(*findings)
    return passed(
        f"purge covers all {len(analysis.tenant_tables)} tables with a tenant_id column",
        tables=", ".join(sorted(analysis.tenant_tables)),
    )
