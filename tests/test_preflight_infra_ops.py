"""Preflight's infrastructure, secrets, operations and evidence checks: a generated project passes each;
each way of breaking it fails with that control, and the finding names the file.

DEPLOY-07 (checkov, IAM least privilege, GitHub roles bound to one workflow on main, secret and key
policies, the GitHub repository's own controls), DEPLOY-09 (private egress, VPC endpoint policies, DNS
firewall), MON-05 (CloudTrail, GuardDuty, AWS Config), DEPLOY-05/06 (the secrets backend), OPS-01..04
(restore drill, RTO/RPO, runbooks, comms), GOV-04 (evidence). checkov takes ~10 s a run, so only
the tests about checkov run it; every other test points SECURE_SCAFFOLD_CHECKOV at nothing (the
check is then UNKNOWN, which those tests do not look at).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import copier
import pytest

from secure_scaffold.preflight import Status, run_preflight
from secure_scaffold.preflight.checks import _hcl

REPO = Path(__file__).resolve().parents[1]
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
MINE = ["DEPLOY-06", "DEPLOY-07", "DEPLOY-09", "MON-05", "OPS-01", "OPS-02", "OPS-03", "OPS-04", "GOV-04"]
CHECKS = (
    "infra.terraform_present",
    "infra.checkov",
    "infra.iam_least_privilege",
    "infra.private_egress",
    "infra.secret_policies",
    "infra.kms_key_policies",
    "infra.github_repository_controls",
    "infra.endpoint_policies",
    "infra.dns_firewall",
    "infra.account_baseline",
    "secrets.backend",
    "ops.restore_drill_scheduled",
    "ops.recovery_objectives",
    "ops.runbooks_owned",
    "ops.comms_templates",
    "ops.evidence_collected",
)
TF = Path("infra/terraform/modules")


@pytest.fixture(scope="module")
def rendered(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The default project, one on the cloud secret manager (silo tenancy, no billing) and one on OPA; tests
    break copies."""
    root = tmp_path_factory.mktemp("preflight-infra-ops")
    answers = {
        "default": {},
        "cloud": {"secrets_backend": "cloud", "tenancy": "silo", "payment_provider": "none"},
        "opa": {"policy_engine": "opa"},
    }
    for name, data in answers.items():
        copier.run_copy(str(template_snapshot), root / name, data=data, defaults=True, quiet=True, unsafe=False)
    return {name: root / name for name in answers}


@pytest.fixture
def no_checkov(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECURE_SCAFFOLD_CHECKOV", str(tmp_path / "no-checkov-here"))


@pytest.fixture
def checkov(monkeypatch: pytest.MonkeyPatch) -> None:
    if not CHECKOV.is_file():
        pytest.fail(f"checkov is not installed at {CHECKOV}; run `bash scripts/tools_venv.sh`", pytrace=False)
    monkeypatch.setenv("SECURE_SCAFFOLD_CHECKOV", str(CHECKOV))


def _copy(rendered: dict[str, Path], tmp_path: Path, name: str = "default") -> Path:
    copy = tmp_path / name
    shutil.copytree(rendered[name], copy, symlinks=True)
    return copy


@pytest.fixture
def project(rendered: dict[str, Path], tmp_path: Path, no_checkov) -> Path:
    return _copy(rendered, tmp_path)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}; update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _outcome(report, check: str):
    return next(c.outcome for result in report.results for c in result.checks if c.check == check)


def _broken(project: Path, control: str, check: str) -> list:
    """Run the control; assert the check FAILED and return its findings."""
    report = run_preflight(project, only=[control])
    outcome = _outcome(report, check)
    assert outcome.status is Status.FAILED, (check, outcome.summary)
    return list(outcome.findings)


# ------------------------------------------------------------------ a generated project passes


def test_a_generated_project_passes_every_infra_and_operations_check(rendered, tmp_path, checkov) -> None:
    report = run_preflight(_copy(rendered, tmp_path), only=MINE)
    for check in CHECKS:
        outcome = _outcome(report, check)
        assert outcome.status is Status.PASSED, (check, [f.message for f in outcome.findings])
    assert "checkov:" in _outcome(report, "infra.checkov").summary
    assert {result.control_id: result.status for result in report.results} == dict.fromkeys(MINE, Status.PASSED)


def test_the_cloud_secret_manager_project_passes_without_checkov(rendered, tmp_path, no_checkov) -> None:
    report = run_preflight(_copy(rendered, tmp_path, "cloud"), only=MINE)
    for check in CHECKS:
        expected = Status.UNKNOWN if check == "infra.checkov" else Status.PASSED
        outcome = _outcome(report, check)
        assert outcome.status is expected, (check, [f.message for f in outcome.findings])
    assert "secrets come from cloud" in _outcome(report, "secrets.backend").summary


def test_a_project_without_terraform_fails_once_and_skips_the_rest(project: Path) -> None:
    shutil.rmtree(project / "infra")
    report = run_preflight(project, only=["DEPLOY-07", "DEPLOY-09", "MON-05"])
    statuses = {c.check: c.outcome.status for result in report.results for c in result.checks}
    assert statuses == {
        "infra.terraform_present": Status.FAILED,
        "infra.checkov": Status.SKIPPED,
        "infra.iam_least_privilege": Status.SKIPPED,
        "infra.private_egress": Status.SKIPPED,
        "infra.secret_policies": Status.SKIPPED,
        "infra.kms_key_policies": Status.SKIPPED,
        "infra.github_repository_controls": Status.SKIPPED,
        "infra.endpoint_policies": Status.SKIPPED,
        "infra.dns_firewall": Status.SKIPPED,
        "infra.account_baseline": Status.SKIPPED,
    }
    assert _outcome(report, "infra.terraform_present").findings[0].message == "no Terraform in the repository"


def test_a_missing_checkov_is_unknown_never_passed(project: Path) -> None:
    outcome = _outcome(run_preflight(project, only=["DEPLOY-09"]), "infra.checkov")
    assert outcome.status is Status.UNKNOWN
    assert "checkov is not installed" in outcome.findings[0].message


# ------------------------------------------------------------------ checkov (one run each)


def test_an_unencrypted_database_fails_checkov(rendered, tmp_path, checkov) -> None:
    project = _copy(rendered, tmp_path)
    _edit(project / TF / "database/main.tf", "storage_encrypted     = true", "storage_encrypted     = false")
    findings = _broken(project, "DEPLOY-07", "infra.checkov")
    hit = [f for f in findings if "CKV_AWS_16" in f.message]
    assert hit, [f.message for f in findings]
    assert hit[0].path == str(TF.parent / "modules/database/main.tf")
    assert hit[0].line is not None


def test_a_checkov_skip_without_a_reason_fails(rendered, tmp_path, checkov) -> None:
    project = _copy(rendered, tmp_path)
    _edit(
        project / TF / "database/main.tf",
        'resource "aws_db_instance" "this" {\n',
        'resource "aws_db_instance" "this" {\n  #checkov:skip=CKV_AWS_161\n',
    )
    findings = _broken(project, "DEPLOY-07", "infra.checkov")
    assert len(findings) == 1, "a module used by staging and production is one place in the code, one finding"
    assert re.fullmatch(
        r"checkov CKV_AWS_161 is skipped on (module\.\w+\.)*aws_db_instance\.this without a written reason",
        findings[0].message,
    ), findings[0].message
    assert findings[0].path == str(TF / "database/main.tf")


# ------------------------------------------------------------------ IAM least privilege (DEPLOY-07)


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        ("runtime/iam.tf", '"ecr:GetDownloadUrlForLayer"]', '"ecr:GetDownloadUrlForLayer", "s3:Get*"]',
         "statement PullThisRepositoryOnly allows wildcard actions ['s3:Get*']"),
        ("runtime/iam.tf", "Resource = [aws_ecr_repository.app.arn]", 'Resource = "*"',
         "statement PullThisRepositoryOnly grants ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', "
         "'ecr:GetDownloadUrlForLayer'] on Resource '*'"),
        ("runtime/iam.tf", 'Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]',
         'NotAction = ["iam:*"]', "statement WriteThisLogGroupOnly allows through NotAction/NotResource"),
        ("deploy_role/main.tf", "StringEquals = {\n          \"token.actions.githubusercontent.com:aud\"",
         "StringLike = { \"token.actions.githubusercontent.com:sub\" = \"repo:*\" }\n        StringEquals = {\n"
         "          \"token.actions.githubusercontent.com:aud\"",
         "the GitHub deploy role's trust is not pinned to one repository and environment (repo:*"),
        ("deploy_role/main.tf", ":environment:${var.github_environment}", ":ref:refs/heads/main",
         "the GitHub deploy role's trust is not pinned to one repository and environment"),
        # B4 (red team): bound to the repository's name only, a re-created repository of that name would match.
        ("deploy_role/main.tf",
         '"repository_owner_id:${var.github_repository_owner_id}:repository_id:${var.github_repository_id}:repo:',
         '"repo:', "the GitHub deploy role's trust is not pinned to one repository and environment (repo:"),
        ("deploy_role/main.tf",
         ":ref:${var.github_ref}:job_workflow_ref:${var.github_repository}/${var.github_workflow}@${var.github_ref}\"",
         '"', "the GitHub deploy role's trust is not bound to one workflow on one branch (repository_owner_id:"),
        ("deploy_role/main.tf", "/${var.github_workflow}@${var.github_ref}\"", '/${var.github_workflow}@refs/heads/*"',
         "the GitHub deploy role's trust is not bound to one workflow on one branch"),
        ("deploy_role/migrations_role.tf", ":ref:${var.github_ref}:job_workflow_ref:", ":job_workflow_ref:",
         "the GitHub deploy role's trust is not bound to one workflow on one branch"),
        ("deploy_role/main.tf", '"token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"',
         '"token.actions.githubusercontent.com:aud" = "*"', "the GitHub OIDC trust does not require the STS audience"),
        ("kms/main.tf", '"kms:CancelKeyDeletion",', '"kms:*",',
         "statement KeyAdministrationThroughIam allows wildcard actions ['kms:*']"),
    ],
)  # fmt: skip
def test_widening_iam_fails_deploy_07(project: Path, relative: str, old: str, new: str, message: str) -> None:
    path = project / TF / relative
    _edit(path, old, new)
    findings = _broken(project, "DEPLOY-07", "infra.iam_least_privilege")
    hit = [finding for finding in findings if finding.message.startswith(message)]
    assert hit, [finding.message for finding in findings]
    assert hit[0].path == str(TF / relative)
    assert hit[0].line is not None


def _drop_block(path: Path, header: str) -> None:
    """Delete the block that starts with `header` (up to its closing brace at the same indentation)."""
    text = path.read_text(encoding="utf-8")
    indent = header[: len(header) - len(header.lstrip())]
    match = re.search(re.escape(header) + r".*?\n" + re.escape(indent) + r"\}\)?\n", text, re.S)
    assert match, f"{header!r} not in {path.name}; update this test"
    path.write_text(text.replace(match.group(0), "", 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("relative", "old", "new", "check", "message"),
    [
        ("database/main.tf", 'Sid       = "OnlyBreakGlassRolesReadTheMasterPassword"\n      Effect    = "Deny"',
         'Sid       = "OnlyBreakGlassRolesReadTheMasterPassword"\n      Effect    = "Allow"', "infra.secret_policies",
         "no resource policy of the master password of aws_db_instance.this (managed by RDS in Secrets Manager) "
         "refuses it to all but named roles"),
        ("kms/main.tf", 'Action    = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]',
         'Action    = ["kms:CreateGrant", "kms:Decrypt"]', "infra.kms_key_policies",
         "statement GrantsOnlyForAwsResources lets every principal of the account ['kms:Decrypt']"),
        ("kms/main.tf", ':role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS" }', ':role/*" }',
         "infra.kms_key_policies", "statement RdsManagesTheMasterSecret lets every principal of the account"),
        ("github_repository_controls/main.tf",
         'include_claim_keys = ["repository_owner_id", "repository_id", "repo", "context", "ref", "job_workflow_ref"]',
         'include_claim_keys = ["repo", "context", "ref", "job_workflow_ref"]', "infra.github_repository_controls",
         "nothing sets the repository's OIDC subject to the form the roles trust"),
        ("github_repository_controls/main.tf", "can_admins_bypass   = false", "can_admins_bypass   = true",
         "infra.github_repository_controls",
         "environment this does not set can_admins_bypass = false: administrators could deploy without the approval"),
        ("github_repository_controls/main.tf", "    update   = true\n", "    update   = false\n",
         "infra.github_repository_controls", "no tag ruleset restricts update of release tags"),
        ("github_repository_controls/main.tf", "    non_fast_forward = true\n", "    non_fast_forward = false\n",
         "infra.github_repository_controls", "no ruleset makes main change only through a reviewed pull request"),
    ],
)  # fmt: skip
def test_weakening_who_may_read_use_or_assume_fails_deploy_07(project, relative, old, new, check, message) -> None:
    """TM-CLOUD-02/03/08/09: each secret, key and repository control refuses the principals it should."""
    _edit(project / TF / relative, old, new)
    findings = _broken(project, "DEPLOY-07", check)
    assert any(finding.message.startswith(message) for finding in findings), [f.message for f in findings]


def test_an_app_secret_anyone_in_the_account_may_read_fails_deploy_07(rendered, tmp_path, no_checkov) -> None:
    project = _copy(rendered, tmp_path, "cloud")
    _drop_block(project / TF / "secrets/main.tf", 'resource "aws_secretsmanager_secret_policy" "app" {')
    findings = _broken(project, "DEPLOY-07", "infra.secret_policies")
    assert [finding.message.split(":")[0] for finding in findings] == [
        "no resource policy of secret app refuses its value to all but named roles"
    ]
    assert findings[0].path == str(TF / "secrets/main.tf")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('StringEquals = { "kms:EncryptionContext:tenant" = each.key }',
         'StringEquals = { "kms:EncryptionContext:purpose" = "tenant-data-key" }',
         "statement EnvelopeUseByTheAppBoundToThisTenant of the per-tenant KMS key does not require the key's own "
         "tenant as the encryption context"),
        ("Principal = { AWS = var.user_role_arns }", "Principal = { AWS = local.account_root }",
         "statement EnvelopeUseByTheAppBoundToThisTenant of the per-tenant KMS key lets every principal of the "
         "account use it"),
    ],
)  # fmt: skip
def test_a_tenant_key_usable_outside_its_tenant_fails_data_03(
    rendered, tmp_path, no_checkov, old, new, message
) -> None:
    """TM-CLOUD-10: the task role (or anyone in the account) unwraps tenant A's keys while serving tenant B."""
    project = _copy(rendered, tmp_path, "cloud")
    _edit(project / TF / "tenant_keys/main.tf", old, new)
    report = run_preflight(project, only=["DATA-03"])
    outcome = _outcome(report, "data.tenant_keys")
    assert outcome.status is Status.FAILED, outcome.summary
    assert [finding.message.split(":")[0] for finding in outcome.findings] == [message]


def test_the_aws_required_wildcards_stay_allowed(project: Path) -> None:
    outcome = _outcome(run_preflight(project, only=["DEPLOY-07"]), "infra.iam_least_privilege")
    assert outcome.status is Status.PASSED
    assert "GitHub OIDC trust(s) pinned" in outcome.summary


def test_access_keys_policy_documents_loose_trusts_and_vault_globs_fail_deploy_07(project: Path) -> None:
    extra = project / TF / "runtime" / "extra.tf"
    extra.write_text(
        """
resource "aws_iam_access_key" "ci" {
  user = "ci"
}

data "aws_iam_policy_document" "broad" {
  statement {
    actions   = ["s3:*"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "loose_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = ["arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"]
    }
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:acme/*"]
    }
  }
}

resource "vault_policy" "wide" {
  name   = "wide"
  policy = <<-EOT
    path "secret/*" {
      capabilities = ["read"]
    }
  EOT
}
""",
        encoding="utf-8",
    )
    messages = {finding.message for finding in _broken(project, "DEPLOY-07", "infra.iam_least_privilege")}
    assert "long-lived IAM access key ci" in messages
    assert "a statement allows wildcard actions ['s3:*']" in messages
    assert "a statement grants ['s3:*'] on Resource '*'" in messages
    assert "vault_policy wide grants ['read'] on 'secret/*'" in messages
    assert "the GitHub OIDC trust does not require the STS audience" in messages
    assert "the GitHub deploy role's trust is not pinned to one repository and environment (repo:acme/*)" in messages


def test_an_unreadable_terraform_file_is_unknown_not_passed(project: Path) -> None:
    (project / TF / "runtime" / "broken.tf").write_text('resource "x" "y" {\n  a = "unterminated\n', encoding="utf-8")
    outcome = _outcome(run_preflight(project, only=["DEPLOY-07"]), "infra.iam_least_privilege")
    assert outcome.status is Status.UNKNOWN
    assert "broken.tf" in outcome.findings[0].message


# ------------------------------------------------------------------ private egress (DEPLOY-09)


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        ("runtime/main.tf", "assign_public_ip = false", "assign_public_ip = true",
         "aws_ecs_service.app sets assign_public_ip = true"),
        ("network/main.tf", 'generated_rules_type = "ALLOWLIST"', 'generated_rules_type = "DENYLIST"',
         "no egress domain allow-list"),
        ("network/main.tf", '["aws:drop_established", "aws:alert_established"]', '["aws:alert_established"]',
         "firewall policy egress does not drop what the allow-list does not match"),
    ],
)  # fmt: skip
def test_opening_egress_fails_deploy_09(project: Path, relative: str, old: str, new: str, message: str) -> None:
    _edit(project / TF / relative, old, new)
    findings = _broken(project, "DEPLOY-09", "infra.private_egress")
    assert any(finding.message.startswith(message) for finding in findings), [f.message for f in findings]


ACCOUNT_AND_RESOURCE = (
    'Condition = { StringEquals = { "aws:PrincipalAccount" = local.account, "aws:ResourceAccount" = local.account } }'
)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (ACCOUNT_AND_RESOURCE + "\n      },",
         'Condition = { StringEquals = { "aws:PrincipalAccount" = local.account } }\n      },',
         "statement ThisAccountsPrincipalsOnThisAccountsBuckets of VPC endpoint s3 reaches any account's resources"),
        (ACCOUNT_AND_RESOURCE + "\n      }],",
         'Condition = { StringEquals = { "aws:ResourceAccount" = local.account } }\n      }],',
         "statement ThisAccountsPrincipalsOnThisAccountsResources of VPC endpoint interface admits any account's "
         "credentials"),
    ],
)  # fmt: skip
def test_an_endpoint_open_to_other_accounts_fails_deploy_09(project: Path, old: str, new: str, message: str) -> None:
    """TM-CLOUD-06: a compromised task sends data through a VPC endpoint to a bucket of the attacker's account."""
    _edit(project / TF / "network/main.tf", old, new)
    findings = _broken(project, "DEPLOY-09", "infra.endpoint_policies")
    assert [finding.message.split(":")[0] for finding in findings] == [message]
    assert findings[0].path == str(TF / "network/main.tf")


def test_an_endpoint_without_a_policy_fails_deploy_09(project: Path) -> None:
    network = project / TF / "network/main.tf"
    text = network.read_text(encoding="utf-8")
    start = text.index('resource "aws_vpc_endpoint" "s3" {')
    _drop_block_from(network, text.index("  policy = jsonencode({", start))
    findings = _broken(project, "DEPLOY-09", "infra.endpoint_policies")
    assert [finding.message for finding in findings] == [
        "VPC endpoint s3 has no policy: any account's credentials and resources pass it"
    ]


def _drop_block_from(path: Path, start: int) -> None:
    text = path.read_text(encoding="utf-8")
    end = text.index("\n  })\n", start) + len("\n  })\n")
    path.write_text(text[:start] + text[end:], encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unassociated", "no DNS Firewall rule group is associated with the VPC"),
        ("fail-open", "DNS Firewall fails open: a query it cannot evaluate is answered"),
        ("allow-last", "DNS Firewall rule block_everything_else blocks everything before the allow-list is read"),
        ("no-block", "no DNS Firewall rule blocks the names the allow-list does not match"),
    ],
)
def test_a_dns_firewall_that_lets_names_through_fails_deploy_09(project: Path, change: str, message: str) -> None:
    """TM-CLOUD-07: a compromised task tunnels data out in DNS queries for names under the attacker's domain."""
    dns = project / TF / "network/dns_firewall.tf"
    if change == "unassociated":
        _drop_block(dns, 'resource "aws_route53_resolver_firewall_rule_group_association" "egress" {')
    elif change == "fail-open":
        _edit(dns, 'firewall_fail_open = "DISABLED"', 'firewall_fail_open = "ENABLED"')
    elif change == "allow-last":
        _edit(dns, "  priority                = 100\n", "  priority                = 300\n")
    else:
        _edit(dns, 'action                  = "BLOCK"', 'action                  = "ALERT"')
    findings = _broken(project, "DEPLOY-09", "infra.dns_firewall")
    assert any(finding.message.startswith(message) for finding in findings), [f.message for f in findings]


# ------------------------------------------------------------------ the account's own record (MON-05)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("is_multi_region_trail         = true", "is_multi_region_trail         = false",
         "trail this does not set is_multi_region_trail = true: calls in other regions go unrecorded"),
        ("enable_log_file_validation    = true", "enable_log_file_validation    = false",
         "trail this does not set enable_log_file_validation = true: a deleted or edited trail file goes unnoticed"),
        ("  enable                       = true\n", "  enable                       = false\n",
         "GuardDuty is not enabled"),
        ("all_supported                 = true", "all_supported                 = false",
         "AWS Config does not record every resource type with a delivery channel, switched on"),
    ],
)  # fmt: skip
def test_an_account_that_stops_recording_fails_mon_05(project: Path, old: str, new: str, message: str) -> None:
    """TM-CLOUD-11: a compromised CI job or task acts on the AWS APIs and nothing records it."""
    _edit(project / TF / "account_baseline/main.tf", old, new)
    findings = _broken(project, "MON-05", "infra.account_baseline")
    assert [finding.message for finding in findings] == [message]


# ------------------------------------------------------------------ secrets backend (DEPLOY-05/06)


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        ("src/secure_app/config.py", 'secrets_backend: SecretsBackendName = "vault"',
         'secrets_backend: SecretsBackendName = "dev"', "secrets_backend defaults to 'dev'"),
        ("src/secure_app/config.py", 'SettingsConfigDict(env_prefix="APP_",',
         'SettingsConfigDict(env_file=".env", env_prefix="APP_",', "Settings read an env file"),
        ("pyproject.toml", '    "pyyaml==', '    "python-dotenv==1.1.1",\n    "pyyaml==',
         "python-dotenv is a dependency"),
        ("src/secure_app/bootstrap.py", "from __future__ import annotations\n",
         "from __future__ import annotations\n\nfrom dotenv import load_dotenv\n", "the app loads a .env file"),
    ],
)  # fmt: skip
def test_weakening_the_secrets_backend_fails_deploy_06(project, relative, old, new, message) -> None:
    _edit(project / relative, old, new)
    findings = _broken(project, "DEPLOY-06", "secrets.backend")
    hit = [finding for finding in findings if finding.message.startswith(message)]
    assert hit, [finding.message for finding in findings]
    assert hit[0].path == relative


def test_an_env_file_loader_is_a_blocking_deploy_05_failure_too(project: Path) -> None:
    _edit(project / "pyproject.toml", '    "pyyaml==', '    "python-dotenv==1.1.1",\n    "pyyaml==')
    report = run_preflight(project, only=["DEPLOY-05"])
    assert _outcome(report, "secrets.backend").status is Status.FAILED
    assert "DEPLOY-05" in [result.control_id for result in report.blocking_failures]


def test_a_cloud_project_without_its_provider_fails_deploy_06(rendered, tmp_path, no_checkov) -> None:
    project = _copy(rendered, tmp_path, "cloud")
    (project / "src" / "secure_app" / "secrets" / "aws.py").unlink()
    _edit(
        project / "src/secure_app/config.py",
        'secrets_backend: SecretsBackendName = "cloud"',
        'secrets_backend: SecretsBackendName = "vault"',
    )
    messages = [finding.message for finding in _broken(project, "DEPLOY-06", "secrets.backend")]
    assert "secrets_backend defaults to 'vault' but the project was generated for 'cloud'" in messages
    assert "secrets/aws.py (the cloud provider) is missing" in messages


# ------------------------------------------------------------------ operations (OPS-01..04) and evidence (GOV-04)


def test_an_rto_that_is_not_a_number_fails_ops_02(project: Path) -> None:
    _edit(project / "docs/operations/rto-rpo.md", "| RPO 24 h | RTO 30 min |", "| RPO 24 h | TBD |")
    findings = _broken(project, "OPS-02", "ops.recovery_objectives")
    assert [(f.message, f.path) for f in findings] == [
        ("Redis: RTO is 'TBD', not a duration", "docs/operations/rto-rpo.md")
    ]


def test_a_data_store_without_objectives_fails_ops_02(project: Path) -> None:
    path = project / "docs/operations/rto-rpo.md"
    path.write_text(re.sub(r"^\| Redis \|.*\n", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE))
    findings = _broken(project, "OPS-02", "ops.recovery_objectives")
    assert [f.message for f in findings] == [f"no RTO/RPO row for Redis / ElastiCache ({TF / 'redis/main.tf'})"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unowned", "no `Owner:` line near the top"),
        ("tbd", "owner 'TBD' is a placeholder near the top"),
        ("missing", "runbook key-compromise.md is missing"),
    ],
)
def test_an_unowned_or_missing_runbook_fails_ops_03(project: Path, change: str, message: str) -> None:
    runbook = project / "docs/runbooks/key-compromise.md"
    text = runbook.read_text(encoding="utf-8")
    if change == "missing":
        runbook.unlink()
    else:
        replacement = "" if change == "unowned" else "Owner: TBD\n"
        runbook.write_text(re.sub(r"^Owner: .*\n", replacement, text, count=1, flags=re.MULTILINE), encoding="utf-8")
    findings = _broken(project, "OPS-03", "ops.runbooks_owned")
    assert [f.message for f in findings] == [message]
    assert findings[0].path in {"docs/runbooks/key-compromise.md", "docs/runbooks"}


def test_a_breach_notice_without_its_deadline_fails_ops_04(project: Path) -> None:
    _edit(project / "docs/comms/breach-notification.md", "**72 hours**", "**promptly**")
    findings = _broken(project, "OPS-04", "ops.comms_templates")
    assert [(f.message, f.path) for f in findings] == [
        ("the breach notification does not state the 72-hour deadline", "docs/comms/breach-notification.md")
    ]


def test_a_nightly_run_without_the_restore_drill_fails_ops_01(project: Path) -> None:
    nightly = project / ".github/workflows/nightly.yml"
    text = nightly.read_text(encoding="utf-8")
    start, end = text.index("  restore-drill:\n"), text.index("  template-update:\n")
    nightly.write_text(text[:start] + text[end:], encoding="utf-8")
    findings = _broken(project, "OPS-01", "ops.restore_drill_scheduled")
    assert [(f.message, f.path) for f in findings] == [
        ("no scheduled workflow runs the restore drill", ".github/workflows/nightly.yml")
    ]


def test_a_deploy_that_drops_its_evidence_fails_gov_04(project: Path) -> None:
    deploy = project / ".github/workflows/deploy.yml"
    _edit(deploy, "--evidence preflight-evidence", "")
    findings = _broken(project, "GOV-04", "ops.evidence_collected")
    assert [f.message for f in findings] == [
        "job preflight runs preflight without --evidence",
        "no deploy workflow keeps a preflight evidence bundle",
    ]
    assert findings[0].path == ".github/workflows/deploy.yml"


# ------------------------------------------------------------------ the generated image and the HCL reader


def test_the_image_carries_the_ca_bundle_the_database_url_verifies_against(rendered) -> None:
    stack = (rendered["default"] / TF / "stack/main.tf").read_text(encoding="utf-8")
    bundle = re.search(r"sslrootcert=(\S+?\.pem)", stack)
    assert bundle
    dockerfile = (rendered["default"] / "Dockerfile").read_text(encoding="utf-8")
    assert f"COPY --from=build /opt/rds-global-bundle.pem {bundle.group(1)}" in dockerfile
    assert "truststore.pki.rds.amazonaws.com" in dockerfile
    assert "RDS_CA_BUNDLE_SHA256" in dockerfile


def test_the_hcl_reader_keeps_literals_and_marks_what_it_cannot_evaluate() -> None:
    body = _hcl.parse(
        """
/* block
   comment */
locals {
  names = [for n in var.names : "${n}-x"]
  arn   = "arn:${element(split("/", var.cluster_arn), 1)}:x" // trailing
}
resource "aws_iam_role_policy" "p" {
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = var.bucket ? "a" : "b" }]
  })
  inline = <<-EOT
    {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
  EOT
}
"""
    )
    local_values = body.blocks[0].attributes
    assert local_values["arn"] == 'arn:${element(split("/", var.cluster_arn), 1)}:x'
    assert isinstance(local_values["names"], _hcl.Expr)
    statements = [value for value in _hcl.walk(body) if isinstance(value, dict) and "Effect" in value]
    assert [statement["Action"] for statement in statements] == [["s3:GetObject"], "s3:*"]
    assert isinstance(statements[0]["Resource"], _hcl.Expr)
    with pytest.raises(_hcl.HclError, match="line 2"):
        _hcl.parse('a = 1\nb = "open\n')


# ------------------------------------------------------------------ every container on the verified digest (issue 18)


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (
            TF / "runtime" / "main.tf",
            '    name                   = "audit-forward"\n    image                  = var.image',
            '    name                   = "audit-forward"\n    image                  = var.sidecar_image',
            "task definition app runs a container on var.sidecar_image, not the verified var.image",
        ),
        (
            # B2 (red team): HCL objects accept `:` and spaces; the container list is parsed, not grepped.
            TF / "runtime" / "main.tf",
            "  }])\n  lifecycle {\n    precondition {\n      condition     = startswith(var.image",
            '  }, {\n    name      = "helper"\n    image : "docker.io/library/busybox:latest"\n    essential = false\n'
            "  }])\n  lifecycle {\n    precondition {\n      condition     = startswith(var.image",
            'task definition app runs a container on "docker.io/library/busybox:latest", not the verified var.image',
        ),
        (
            TF / "runtime" / "main.tf",
            "  lifecycle {\n    ignore_changes = [task_definition]\n  }\n",
            "",
            "service app: `terraform apply` puts Terraform's task definition back in service",
        ),
        (
            TF / "runtime" / "variables.tf",
            '@sha256:[0-9a-f]{64}$", var.image))',
            '(@sha256:[0-9a-f]{64})?$", var.image))',
            "variable image accepts a tag",
        ),
        (
            TF / "deploy_role" / "main.tf",
            'Action   = ["ecr:DescribeImages"]',
            'Action   = ["ecr:DescribeImages", "ecr:PutImage"]',
            "one role may both push images (ecr:PutImage) and roll the service",
        ),
    ],
    ids=["sidecar-on-another-image", "sidecar-image-colon", "apply-rolls-back", "image-by-tag", "deployer-pushes"],
)
def test_an_unverified_image_path_fails_deploy_04(
    project: Path, relative: Path, old: str, new: str, message: str
) -> None:
    _edit(project / relative, old, new)
    findings = _broken(project, "DEPLOY-04", "deploy.one_verified_digest")
    assert [f.message for f in findings] == [message]
    assert findings[0].path == str(relative)


# ------------------------------------------------------------------ the OPA sidecar (issue 19)

RUNTIME = TF / "runtime" / "main.tf"


def test_an_opa_project_ships_its_sidecar_and_passes_authz_10_and_deploy_04(rendered, tmp_path, no_checkov) -> None:
    report = run_preflight(_copy(rendered, tmp_path, "opa"), only=["AUTHZ-10", "DEPLOY-04"])
    for check in ("deploy.opa_sidecar", "deploy.one_verified_digest"):
        outcome = _outcome(report, check)
        assert outcome.status is Status.PASSED, (check, [f.message for f in outcome.findings])


def test_a_casbin_project_has_no_sidecar_and_authz_10_does_not_apply(project: Path) -> None:
    assert '"opa"' not in (project / RUNTIME).read_text(encoding="utf-8")
    report = run_preflight(project, only=["AUTHZ-10", "DEPLOY-04"])
    assert "AUTHZ-10" not in {result.control_id for result in report.results}, "it applies when policy_engine == 'opa'"
    assert _outcome(report, "deploy.one_verified_digest").status is Status.PASSED


def test_the_task_definition_before_issue_19_fails_deploy_opa_sidecar(rendered, tmp_path, no_checkov) -> None:
    """What an OPA project deployed before: the app and audit-forward only, so every decision was a denial."""
    project = _copy(rendered, tmp_path, "opa")
    main = project / RUNTIME
    text = main.read_text(encoding="utf-8")
    start = text.index("    }, {\n    # Copies policy/authz.rego")
    end = text.index("  }])\n", start)
    text = text[:start] + text[end:]
    text = text.replace('    dependsOn = [{ containerName = "opa", condition = "HEALTHY" }]\n', "")
    main.write_text(text, encoding="utf-8")
    findings = _broken(project, "AUTHZ-10", "deploy.opa_sidecar")
    assert [f.message for f in findings] == [
        "task definition app runs the app without an OPA sidecar: with policy_engine=opa, every decision would be "
        "a denial once deployed"
    ]
    assert findings[0].path == str(RUNTIME)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"--addr=127.0.0.1:8181"',
            '"--addr=0.0.0.0:8181"',
            "OPA does not listen on loopback only (--addr=0.0.0.0:8181)",
        ),
        (
            '    mountPoints = [{ sourceVolume = "opa-policy", containerPath = "/policy", readOnly = true }]\n',
            '    mountPoints = [{ sourceVolume = "opa-policy", containerPath = "/policy", readOnly = true }]\n'
            '    portMappings = [{ containerPort = 8181, protocol = "tcp" }]\n',
            "OPA does not listen on loopback only (--addr=127.0.0.1:8181, with port mappings)",
        ),
        (
            "    healthCheck = {\n",
            "    noHealthCheck = {\n",
            "the opa container has no health check",
        ),
        (
            '    dependsOn = [{ containerName = "opa", condition = "HEALTHY" }]\n',
            '    dependsOn = [{ containerName = "opa", condition = "START" }]\n',
            "the app container does not wait for OPA to be healthy",
        ),
        (
            "    image                  = var.opa_image\n    essential              = true\n"
            '    user                   = "10001:10001"\n',
            "    image                  = var.opa_image\n    essential              = true\n"
            '    user                   = "0"\n',
            "the opa container may run as root, write its root filesystem or run privileged",
        ),
        (
            '      condition     = startswith(var.opa_image, "${aws_ecr_repository.opa.repository_url}@sha256:")',
            '      condition     = var.opa_image != ""',
            "the opa container's image is not pinned to this stack's -opa ECR repository",
        ),
        (
            "    image                  = var.opa_image\n",
            '    image                  = "openpolicyagent/opa:latest"\n',
            "the opa container runs 'openpolicyagent/opa:latest', not var.opa_image (a pinned digest)",
        ),
    ],
    ids=["all-interfaces", "port-mapping", "no-health-check", "app-does-not-wait", "root", "no-pin", "by-tag"],
)
def test_an_opa_sidecar_that_is_not_loopback_pinned_healthy_and_unprivileged_fails_authz_10(
    rendered, tmp_path, no_checkov, old: str, new: str, message: str
) -> None:
    project = _copy(rendered, tmp_path, "opa")
    _edit(project / RUNTIME, old, new)
    findings = _broken(project, "AUTHZ-10", "deploy.opa_sidecar")
    assert [f.message for f in findings] == [message]
    assert findings[0].path == str(RUNTIME)


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (
            RUNTIME,
            '    name                   = "audit-forward"\n    image                  = var.image',
            '    name                   = "audit-forward"\n    image                  = var.opa_image',
            "task definition app runs a container on var.opa_image, not the verified var.image",
        ),
        (
            TF / "runtime" / "variables.tf",
            '@sha256:[0-9a-f]{64}$", var.opa_image))',
            '(@sha256:[0-9a-f]{64})?$", var.opa_image))',
            "variable opa_image accepts a tag",
        ),
    ],
    ids=["opa-image-in-another-container", "opa-image-by-tag"],
)
def test_only_the_opa_container_may_run_the_opa_digest_and_only_by_digest(
    rendered, tmp_path, no_checkov, relative: Path, old: str, new: str, message: str
) -> None:
    project = _copy(rendered, tmp_path, "opa")
    _edit(project / relative, old, new)
    findings = _broken(project, "DEPLOY-04", "deploy.one_verified_digest")
    assert [f.message for f in findings] == [message]
    assert findings[0].path == str(relative)
