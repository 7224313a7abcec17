"""Preflight proves ABAC, admin justifications, classification, tenant keys and TLS (AUTHZ-05/09, DATA-01/02/03/05).

A freshly rendered project passes all six checks; each test then breaks the
project in exactly one way and asserts the control, the check and the message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from _breakable import edit, private_copy, render
from secure_scaffold.preflight import Status, run_preflight

CHECKS = {
    "AUTHZ-05": "authz.abac_attributes",
    "AUTHZ-09": "authz.admin_justification",
    "DATA-01": "data.fields_classified",
    "DATA-02": "data.pii_tagged_at_ingestion",
    "DATA-03": "data.tenant_keys",
    "DATA-05": "data.tls_everywhere",
}
PACKAGE = "src/secure_app"
ROLES = "policy/roles.yaml"
MIGRATION = f"{PACKAGE}/db/migrations/versions/dataprotection_0001_keys_and_customers.py"
STACK_TF = "infra/terraform/modules/stack/main.tf"


def _render(tmp_path_factory: pytest.TempPathFactory, template_snapshot: Path, **answers: object) -> Path:
    return render(template_snapshot, tmp_path_factory.mktemp("proofs") / "project", **answers)


@pytest.fixture(scope="module")
def schema_tenancy(tmp_path_factory: pytest.TempPathFactory, template_snapshot: Path) -> Path:
    """Schema tenancy on the cloud's secret manager: the variant whose infrastructure has a KMS key per tenant."""
    return _render(tmp_path_factory, template_snapshot, tenancy="schema", secrets_backend="cloud")


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    return private_copy(pristine, tmp_path)


def _outcomes(project: Path, controls: list[str]) -> dict[str, object]:
    report = run_preflight(project, only=controls)
    return {check.check: check.outcome for result in report.results for check in result.checks}


@pytest.mark.parametrize("variant", ["pristine", "schema_tenancy"])
def test_a_generated_project_passes_the_six_proofs(variant: str, request: pytest.FixtureRequest) -> None:
    outcomes = _outcomes(request.getfixturevalue(variant), list(CHECKS))
    for check in CHECKS.values():
        assert outcomes[check].status is Status.PASSED, (check, outcomes[check].findings)


def _assert_fails(project: Path, control: str, message: str) -> None:
    report = run_preflight(project, only=[control])
    (result,) = report.results
    (check,) = [check for check in result.checks if check.check == CHECKS[control]]
    outcome = check.outcome
    assert outcome.status is Status.FAILED, outcome.summary
    assert any(message in finding.message for finding in outcome.findings), [f.message for f in outcome.findings]
    located = [finding for finding in outcome.findings if message in finding.message]
    assert all(finding.path and finding.hint for finding in located), "a finding names the file and the way out"
    blocking = control in [failure.control_id for failure in report.blocking_failures]
    assert blocking is (result.severity == "blocking")


# ------------------------------------------------------------------ ABAC (AUTHZ-05)


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (ROLES, "  record: [owner, department, region, sensitivity]", "  record: [owner, department, region]",
         "policy/roles.yaml declares no record attribute sensitivity"),
        (ROLES, "      - same: department", "      - same: team",
         "condition 'same_department' compares 'team', which is not declared as both a principal and a record"),
        (ROLES, "      invoices:read: []\n  finance:", "      invoices:read: []\n      customers:read: []\n  finance:",
         "customers:read returns personal data and is limited by ABAC conditions for admin, finance, member, "
         "but granted unconditionally to auditor"),
        (ROLES, "      customers:read: [same_region, same_department]", "      customers:read: [same_regoin]",
         "role member is granted customers:read under the undefined condition 'same_regoin'"),
        (f"{PACKAGE}/config.py", '            "region": "region",\n', "",
         "oidc_attribute_claims reads no token claim for region, so conditions on it never hold"),
        (f"{PACKAGE}/security/policy/compiled.py", "        return CONDITION_FAILED", "        return GRANTED",
         "the compiled decision point never refuses on a failed ABAC condition"),
        (f"{PACKAGE}/security/policy/decision.py", '    sensitivity: str = ""\n', "",
         "record attribute 'sensitivity' is not a field of policy.Record"),
    ],
)  # fmt: skip
def test_breaking_abac_fails_authz_05(project: Path, relative, old, new, message) -> None:
    edit(project, relative, old, new)
    _assert_fails(project, "AUTHZ-05", message)


def test_an_unconditional_pii_grant_added_locally_fails_authz_05(project: Path) -> None:
    """roles.local.yaml may only add grants, but an added unconditioned PII grant opens every record to that role."""
    (project / "policy" / "roles.local.yaml").write_text("grants:\n  auditor:\n    exports:customers: []\n")
    _assert_fails(
        project,
        "AUTHZ-05",
        "exports:customers returns personal data and is limited by ABAC conditions for admin, finance, "
        "but granted unconditionally to auditor",
    )


# ------------------------------------------------------------------ admin justifications (AUTHZ-09)

AUDIT = f"{PACKAGE}/security/audit.py"


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (f"{PACKAGE}/web/routes/admin.py", "justification=body.justification,", 'justification="",',
         "POST /api/admin/users/{user_id}/roles performs the admin action users:assign_roles without passing a "
         "justification on"),
        (f"{PACKAGE}/web/routes/billing.py", '"credit", str(credit_id), body.justification)',
         '"credit", str(credit_id), "")',
         "POST /api/billing/credits/{credit_id}/approve performs the admin action credits:approve"),
        (AUDIT, "        raise JustificationRequiredError(permission)\n", "        pass\n",
         "security/audit.py accepts an admin action without a justification"),
        (AUDIT, "require_justification(self.matrix, entry.permission, entry.justification)",
         "entry.justification.strip()", "AuditLog.append writes events without checking the justification first"),
        (AUDIT, '            "justification": self.justification,\n', "",
         "the audit event's hashed document leaves out the justification"),
        (ROLES, "        admin_action: true\n  audit:", "  audit:",
         "users:assign_roles (role changes) is not flagged admin_action in policy/roles.yaml"),
        (f"{PACKAGE}/db/migrations/versions/audit_0001_audit_log.py",
         'sa.Column("justification", sa.Text(), nullable=False),', "",
         "no migration stores a justification with audit events"),
    ],
)  # fmt: skip
def test_an_admin_action_without_its_justification_fails_authz_09(project: Path, relative, old, new, message) -> None:
    edit(project, relative, old, new)
    _assert_fails(project, "AUTHZ-09", message)


# ------------------------------------------------------------------ classification (DATA-01, DATA-02)

CLASSIFICATION = f"{PACKAGE}/security/classification.py"
CUSTOMERS = f"{PACKAGE}/customers.py"
FULL_NAME = 'sa.Column("full_name", sa.LargeBinary(), nullable=False, info=classified(Classification.PII'


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (CLASSIFICATION, 'column.info.get("classification", Classification.INTERNAL)',
         'column.info.get("classification", Classification.PUBLIC)',
         "columns without a tag are classified 'public', so an unreviewed field counts as public"),
        (CUSTOMERS, 'REVEAL: Final = "customers:read"', 'REVEAL: Final = "customers:raed"',
         "customers.full_name is revealed by 'customers:raed', which policy/roles.yaml does not define"),
        (CUSTOMERS, FULL_NAME, FULL_NAME.replace("Classification.PII", "Classification.SECRET"),
         "customers.full_name is tagged SECRET, which is not a Classification level"),
        (CUSTOMERS, '    sa.Column("region", sa.Text(), nullable=False),',
         '    sa.Column("phone", sa.LargeBinary(), info=classified(Classification.PII, reveal=REVEAL)),\n'
         '    sa.Column("region", sa.Text(), nullable=False),',
         "customers.phone is tagged but no migration creates it"),
    ],
)  # fmt: skip
def test_breaking_the_classification_fails_data_01(project: Path, relative, old, new, message) -> None:
    edit(project, relative, old, new)
    _assert_fails(project, "DATA-01", message)


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (MIGRATION, '        sa.Column("owner", sa.Text(), nullable=False, server_default=""),',
         '        sa.Column("owner", sa.Text(), nullable=False, server_default=""),\n'
         '        sa.Column("phone_number", sa.Text(), nullable=True),',
         "customers.phone_number holds personal data by its name but is not tagged PII or PHI"),
        (CUSTOMERS, "sealed = seal_row(self._keyring, self._tx, customers, values)", "sealed = values",
         "add writes customers without seal_row, so its tagged columns reach the database in clear"),
        (CUSTOMERS, "CLASSIFIED_TABLES: Final = (customers,)", "CLASSIFIED_TABLES: Final = ()",
         "customers has PII/PHI columns but is not listed in CLASSIFIED_TABLES"),
        (MIGRATION, '        _ciphertext("email"),\n', "",
         "customers.email is tagged PII but no migration refuses clear text in it"),
        (CLASSIFICATION, "sealed[name] = keyring.encrypt_text(tx, _column_id(table, name), value)",
         "sealed[name] = value", "seal_row does not encrypt the tagged columns"),
    ],
)  # fmt: skip
def test_untagged_or_unsealed_personal_data_fails_data_02(project: Path, relative, old, new, message) -> None:
    edit(project, relative, old, new)
    _assert_fails(project, "DATA-02", message)


def test_a_classification_check_added_by_a_later_migration_counts(project: Path) -> None:
    """The CHECK may come from any migration (`op.create_check_constraint`), not only from create_table."""
    edit(project, MIGRATION, '        _ciphertext("email"),\n', "")
    edit(
        project,
        MIGRATION,
        '    op.create_index("customers_tenant_id_idx", "customers", ["tenant_id"])',
        '    op.create_index("customers_tenant_id_idx", "customers", ["tenant_id"])\n'
        '    op.create_check_constraint("customers_email_encrypted", "customers", "get_byte(email, 0) = 1")',
    )
    outcomes = _outcomes(project, ["DATA-02"])
    assert outcomes[CHECKS["DATA-02"]].status is Status.PASSED, outcomes[CHECKS["DATA-02"]].findings


# ------------------------------------------------------------------ per-tenant keys (DATA-03)

KEYS = f"{PACKAGE}/security/keys.py"


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (KEYS, "nonce, plaintext, _associated_data(tx.tenant, column, stored.version)", "nonce, plaintext, None",
         "encrypt produces a ciphertext that is not bound to the tenant"),
        (KEYS, 'return {"tenant": tenant, "purpose": "tenant-data-key", "key_version": str(version)}',
         'return {"purpose": "tenant-data-key", "key_version": str(version)}',
         "_create_first_key produces a wrapped data key that is not bound to the tenant"),
        (KEYS, '"WHERE tenant_id = :tenant AND version = :version"', '"WHERE version = :version"',
         "a query on tenant_keys does not filter by the tenant"),
        (MIGRATION, 'sa.PrimaryKeyConstraint("tenant_id", "version", name="tenant_keys_pkey")',
         'sa.PrimaryKeyConstraint("version", name="tenant_keys_pkey")',
         "no migration creates tenant_keys keyed by tenant_id"),
    ],
)  # fmt: skip
def test_keys_not_bound_to_their_tenant_fail_data_03(project: Path, relative, old, new, message) -> None:
    edit(project, relative, old, new)
    _assert_fails(project, "DATA-03", message)


def test_schema_tenancy_without_its_per_tenant_kms_keys_fails_data_03(schema_tenancy: Path, tmp_path: Path) -> None:
    project = private_copy(schema_tenancy, tmp_path)
    block = (
        'module "tenant_keys" {\n  source         = "../tenant_keys"\n  name           = local.name\n'
        "  tenants        = var.tenants\n  user_role_arns = [module.runtime.task_role_arn]\n}\n"
    )
    edit(project, STACK_TF, block, "")
    _assert_fails(
        project,
        "DATA-03",
        "the per-tenant KMS keys of infra/terraform/modules/tenant_keys are never created: no module block uses it",
    )


def test_one_kek_for_every_tenant_fails_data_03_when_each_tenant_has_a_kms_key(
    schema_tenancy: Path, tmp_path: Path
) -> None:
    """The per-tenant keys exist but the app would wrap every tenant with one key: offboarding shreds nothing."""
    project = private_copy(schema_tenancy, tmp_path)
    per_tenant = 'APP_TENANT_KEK = "alias/${local.name}/tenant/{tenant}"'
    edit(project, STACK_TF, per_tenant, "APP_TENANT_KEK = module.kms.data_key_arn")
    _assert_fails(
        project,
        "DATA-03",
        "APP_TENANT_KEK is module.kms.data_key_arn: one key wraps every tenant, so the per-tenant keys shred nothing",
    )


# ------------------------------------------------------------------ tenant purge (DATA-03)

PURGE_CHECK = "data.tenant_purge_declared"
TABLES = f"{PACKAGE}/tenancy/tables.py"
NEW_TENANT_TABLE = '''"""A later revision adds a tenant table and forgets to declare it for purge."""

import sqlalchemy as sa
from alembic import op

revision = "notes_0001"
down_revision = "0001"
branch_labels = ("notes",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_notes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
    )
'''


def _purge_outcome(project: Path):
    report = run_preflight(project, only=["DATA-03"])
    (result,) = report.results
    (check,) = [check for check in result.checks if check.check == PURGE_CHECK]
    return check.outcome, report


def test_a_generated_project_declares_every_tenant_table_for_purge(pristine: Path) -> None:
    outcome, _ = _purge_outcome(pristine)
    assert outcome.status is Status.PASSED, outcome.findings
    assert "role_assignments" in outcome.evidence["tables"]


@pytest.mark.parametrize(
    ("change", "message", "where"),
    [
        ("forget", "tenant table role_assignments has a tenant_id column, but tenancy/tables.py does not say how "
         "purge erases it", "audit_0001_audit_log.py"),
        ("new_table", "tenant table tenant_notes has a tenant_id column, but tenancy/tables.py does not say "
         "how purge erases it", "notes_0001_tenant_notes.py"),
        ("no_retention", "tenancy/tables.py declares no RETAINED_TENANT_TABLES literal", "tenancy/tables.py"),
    ],
)  # fmt: skip
def test_a_tenant_table_purge_does_not_know_fails_data_03(project: Path, change: str, message: str, where: str) -> None:
    if change == "forget":
        edit(project, TABLES, '    "role_assignments",\n', "", count=1)
    elif change == "new_table":
        (project / f"{PACKAGE}/db/migrations/versions/notes_0001_tenant_notes.py").write_text(NEW_TENANT_TABLE)
    else:
        edit(
            project, TABLES, "RETAINED_TENANT_TABLES: Final[dict[str, str]] = {", "RETAINED: Final[dict[str, str]] = {"
        )
    outcome, report = _purge_outcome(project)
    assert outcome.status is Status.FAILED, outcome.summary
    (finding,) = [finding for finding in outcome.findings if message in finding.message]
    assert finding.path.endswith(where), finding.path
    assert finding.hint
    assert "DATA-03" in [failure.control_id for failure in report.blocking_failures]


# ------------------------------------------------------------------ TLS 1.2+ (DATA-05)

RUNTIME_TF = "infra/terraform/modules/runtime/main.tf"


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (f"{PACKAGE}/security/tls.py", "ssl.TLSVersion.TLSv1_2", "ssl.TLSVersion.TLSv1_1",
         "client_context() does not refuse TLS below 1.2"),
        (f"{PACKAGE}/security/tls.py", "context.check_hostname = True", "context.check_hostname = False",
         "an outbound connection turns host-name checking off (check_hostname = False)"),
        (f"{PACKAGE}/security/siem.py", "internal_client(timeout=timeout)",
         "internal_client(timeout=timeout, verify=False)",
         "an outbound connection turns certificate verification off (verify=False)"),
        (f"{PACKAGE}/config.py", "if url and not verifies_tls(url):", "if url and not url:",
         "production database URLs are not required to use sslmode=verify-full"),
        (RUNTIME_TF, '"ELBSecurityPolicy-TLS13-1-2-2021-06"', '"ELBSecurityPolicy-2016-08"',
         "aws_lb_listener.https accepts TLS below 1.2 (ssl_policy 'ELBSecurityPolicy-2016-08')"),
        (RUNTIME_TF, '  protocol          = "HTTPS"', '  protocol          = "HTTP"',
         "aws_lb_listener.https serves plain HTTP without redirecting to HTTPS"),
        ("infra/terraform/modules/database/main.tf", 'name  = "rds.force_ssl"\n    value = "1"',
         'name  = "rds.force_ssl"\n    value = "0"', "aws_db_parameter_group.this does not force TLS"),
        ("infra/terraform/modules/redis/main.tf", "transit_encryption_enabled = true",
         "transit_encryption_enabled = false", "aws_elasticache_replication_group.this does not encrypt connections"),
        (STACK_TF, "?sslmode=verify-full&", "?sslmode=require&",
         "a connection string connects without verified TLS: postgresql://app_runtime@"),
    ],
)  # fmt: skip
def test_weakening_tls_fails_data_05(project: Path, relative, old, new, message) -> None:
    edit(project, relative, old, new)
    _assert_fails(project, "DATA-05", message)


# ------------------------------------------------------------------ internal clients (DATA-11, AUTHZ-11)

INTERNAL_HTTP = f"{PACKAGE}/security/internal_http.py"


@pytest.fixture(scope="module")
def opa_project(tmp_path_factory: pytest.TempPathFactory, template_snapshot: Path) -> Path:
    return _render(tmp_path_factory, template_snapshot, policy_engine="opa")


def _internal_clients(project: Path, control: str = "DATA-11"):
    report = run_preflight(project, only=[control])
    (result,) = report.results
    (check,) = [check for check in result.checks if check.check == "data.internal_clients"]
    return report, check.outcome


@pytest.mark.parametrize("variant", ["pristine", "opa_project"])
def test_a_generated_project_keeps_internal_clients_off_proxies(variant: str, request: pytest.FixtureRequest) -> None:
    _, outcome = _internal_clients(request.getfixturevalue(variant))
    assert outcome.status is Status.PASSED, outcome.findings


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (INTERNAL_HTTP, '"trust_env": False', '"trust_env": True',
         "internal_client_options() does not set trust_env=False"),
        (INTERNAL_HTTP, '"follow_redirects": False', '"follow_redirects": True',
         "internal_client_options() does not set follow_redirects=False"),
        (INTERNAL_HTTP, "session.trust_env = False", "session.trust_env = True",
         "internal_session() does not set trust_env = False"),
        (INTERNAL_HTTP, "session.max_redirects = 0", "session.max_redirects = 30",
         "internal_session() does not set max_redirects = 0"),
        (f"{PACKAGE}/security/siem.py", "internal_client(timeout=timeout)", "httpx2.Client(timeout=timeout)",
         "an internal client builds an HTTP client itself (httpx2.Client)"),
        (f"{PACKAGE}/security/oidc.py", "**internal_client_options(timeout=HTTP_TIMEOUT_SECONDS, verify=",
         "timeout=HTTP_TIMEOUT_SECONDS, verify=(",
         "an internal client builds an OAuth2Client without **internal_client_options"),
        (f"{PACKAGE}/secrets/vault.py", "allow_redirects=False,", "allow_redirects=True,",
         "an internal client builds an hvac.Client without session=internal_session() and allow_redirects=False"),
    ],
)  # fmt: skip
def test_an_internal_client_a_proxy_could_steer_fails_data_10(project: Path, relative, old, new, message) -> None:
    edit(project, relative, old, new)
    report, outcome = _internal_clients(project)
    assert outcome.status is Status.FAILED, outcome.summary
    located = [finding for finding in outcome.findings if message in finding.message]
    assert located, [finding.message for finding in outcome.findings]
    assert all(finding.path and finding.hint for finding in located)
    assert "DATA-11" in [failure.control_id for failure in report.blocking_failures]


def test_an_opa_url_the_settings_do_not_check_fails_authz_10(opa_project: Path, tmp_path: Path) -> None:
    project = private_copy(opa_project, tmp_path)
    edit(project, f"{PACKAGE}/config.py", 'require_internal_url(self.opa_url, setting="APP_OPA_URL")', "pass")
    report, outcome = _internal_clients(project, "AUTHZ-11")
    assert outcome.status is Status.FAILED
    assert any("Settings accept any APP_OPA_URL" in finding.message for finding in outcome.findings)
    assert "AUTHZ-11" in [failure.control_id for failure in report.blocking_failures]
