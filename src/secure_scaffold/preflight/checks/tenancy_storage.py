"""Tenant storage is never adopted (DATA-10); restore-drill copies are closed and purged (OPS-05, OPS-06).

Each proof reads the code that enforces the rule and requires the project's own
negative test of it (present and not skipped), so deleting either the rule or
its test fails preflight:

- DATA-10: the registry records each tenant's schema or database name under a
  UNIQUE constraint (migration `tenancy_0003`) and `claim_storage` refuses a
  name another tenant holds or storage nobody recorded; schema and silo
  provisioning claim the name before creating anything.
- OPS-05: `restore_drill.py` revokes PUBLIC's privileges on every copy before
  any row is restored.
- OPS-06: tenant purge drops the kept drill copies (`drop_kept_copies`) first.
"""

from __future__ import annotations

import re

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._python import function, parse
from ._source import location, project_tests, source
from .tenancy import REQUIRES

STORAGE_MIGRATION = "db/migrations/versions/tenancy_0003_tenant_storage_names.py"
REGISTRY = "tenancy/registry.py"
#: Where each storage-per-tenant model provisions (pooled tenants share one schema: no name to adopt).
PROVISIONERS = {"schema": "tenancy/schemas.py", "silo": "tenancy/silo.py"}
RESTORE_DRILL = "restore_drill.py"
LIFECYCLE = "tenancy/lifecycle.py"
_UNIQUE_STORAGE = re.compile(
    r"create_unique_constraint\(\s*['\"]\w+['\"]\s*,\s*['\"]tenants['\"]\s*,\s*\[\s*['\"]storage_name"
)
_REVOKE_DATABASE = re.compile(r"REVOKE\s+ALL\s+ON\s+DATABASE\b[^\n]*FROM\s+PUBLIC", re.IGNORECASE)


def _missing_tests(project: Project, *names: str) -> list[Finding]:
    present = {test.function.name for test in project_tests(project)}
    return [
        Finding(
            f"the project's negative test {name}() is missing or skipped",
            "restore it from the template: the control is unproven without it",
            path="tests",
        )
        for name in names
        if name not in present
    ]


@register("tenancy.storage_never_adopted", controls=("DATA-10",), requires=REQUIRES)
def storage_never_adopted(project: Project) -> Outcome:
    """Each tenant's schema/database name is registered under a UNIQUE constraint and claimed before creation."""
    findings = []
    migration = source(project, STORAGE_MIGRATION)
    if migration is None or not _UNIQUE_STORAGE.search(migration):
        findings.append(
            Finding(
                "no migration puts a UNIQUE constraint on tenants.storage_name",
                "keep tenancy_0003: two tenant ids must never map to one schema or database",
                path=location(project, STORAGE_MIGRATION),
            )
        )
    registry = parse(source(project, REGISTRY) or "")
    if registry is None or function(registry, "claim_storage") is None:
        findings.append(
            Finding(
                "tenancy/registry.py has no claim_storage()",
                "claim the storage name in the registry before creating the schema or database",
                path=location(project, REGISTRY),
            )
        )
    tenancy = str(project.answers.get("tenancy", ""))
    provisioner = PROVISIONERS.get(tenancy)
    if provisioner is not None and "claim_storage(" not in (source(project, provisioner) or ""):
        findings.append(
            Finding(
                f"{provisioner} creates tenant storage without claiming its name first",
                "call registry.claim_storage() before CREATE SCHEMA / CREATE DATABASE, in the same transaction",
                path=location(project, provisioner),
            )
        )
    findings += _missing_tests(
        project,
        "test_the_registry_refuses_two_tenants_with_one_storage_name",
        "test_claiming_storage_refuses_another_tenants_name_and_unrecorded_storage",
    )
    if findings:
        return failed(*findings)
    return passed("tenant storage names are registered UNIQUE and claimed before anything is created")


@register("operations.drill_copies_closed", controls=("OPS-05",), requires=("layout.application_package",))
def drill_copies_closed(project: Project) -> Outcome:
    """Restore-drill copies revoke PUBLIC's privileges before any row is restored into them."""
    findings = []
    if not _REVOKE_DATABASE.search(source(project, RESTORE_DRILL) or ""):
        findings.append(
            Finding(
                "restore_drill.py never revokes PUBLIC's privileges on the copy it restores",
                "REVOKE ALL ON DATABASE <copy> FROM PUBLIC right after CREATE DATABASE, before pg_restore",
                path=location(project, RESTORE_DRILL),
            )
        )
    findings += _missing_tests(project, "test_a_kept_copy_refuses_connections_from_a_plain_role")
    if findings:
        return failed(*findings)
    return passed("drill copies are closed to PUBLIC before any row arrives")


@register("operations.purge_drops_drill_copies", controls=("OPS-06",), requires=REQUIRES)
def purge_drops_drill_copies(project: Project) -> Outcome:
    """Tenant purge drops the kept restore-drill copies, which hold the tenant's rows too."""
    findings = []
    if "drop_kept_copies(" not in (source(project, LIFECYCLE) or ""):
        findings.append(
            Finding(
                "tenant purge does not drop the kept restore-drill copies",
                "call restore_drill.drop_kept_copies() before erasing the tenant (tenancy/lifecycle.py)",
                path=location(project, LIFECYCLE),
            )
        )
    findings += _missing_tests(project, "test_purge_drops_the_kept_restore_drill_copies_that_hold_the_tenants_rows")
    if findings:
        return failed(*findings)
    return passed("purge drops every kept drill copy before it erases the tenant")
