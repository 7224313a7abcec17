"""The generated Terraform: checkov finds nothing, IAM has no wildcards, the controls are really there.

checkov conflicts with this venv's python-hcl2, so it lives in its own venv,
`.venv-checkov` (create it with `scripts/tools_venv.sh`); the test fails, not
skips, when it is missing. Which answers change the Terraform, and how:
`idp` (the IdP module and its provider), `payment_provider` (billing on/off:
the invoice bucket and its IAM; the egress allow-list), `tenancy` (per-tenant
KMS keys for schema/silo, a tenant-bound KMS statement for pooled+cloud) and
`secrets_backend` (Secrets Manager or Vault wiring), `policy_engine` (the OPA sidecar, its ECR repository
and the promotion role's access to it). `COVERING` renders a set
in which every value of each of them occurs and every pair of the three that
interact (secrets_backend x tenancy x billing) occurs; checkov scans all of
them in one run. The parse-based checks run over every distinct .tf file of
the whole answer matrix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import copier
import hcl2
import pytest

from secure_scaffold.options import IDPS, available_ids

REPO = Path(__file__).resolve().parents[1]
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
HOW_TO_CREATE = "create it with `bash scripts/tools_venv.sh` (or `make tools`), which installs the pinned checkov"

#: (secrets_backend, tenancy, payment_provider, idp, policy_engine): every (backend, tenancy), (backend, billing)
#: and (tenancy, billing) pair, every idp and payment provider at least once, and OPA with both backends.
COVERING: tuple[tuple[str, str, str, str, str], ...] = (
    ("vault", "single", "stripe", "auth0", "casbin"),
    ("vault", "pooled", "none", "okta", "opa"),
    ("vault", "schema", "adyen", "entra", "casbin"),
    ("vault", "silo", "none", "keycloak", "casbin"),
    ("cloud", "single", "none", "cognito", "casbin"),
    ("cloud", "pooled", "braintree", "google", "casbin"),
    ("cloud", "schema", "none", "generic_oidc", "casbin"),
    ("cloud", "silo", "paddle", "auth0", "opa"),
)

#: Every inline checkov skip the template may carry, with why it is acceptable (docs/infrastructure.md repeats them).
ALLOWED_SKIPS = {
    "CKV_AWS_18": "the access-log bucket cannot log into itself",
    "CKV_AWS_145": "ALB access logs can only go to an SSE-S3 bucket",
    "CKV_AWS_144": "no cross-region replication: data residency; Object Lock + multi-AZ durability instead",
    "CKV2_AWS_20": "no plain-HTTP listener exists to redirect",
    "CKV_AWS_378": "TLS ends at the ALB; the task hop stays inside private subnets behind security groups",
    "CKV2_AWS_57": "third-party credentials cannot be rotated by a Lambda; runbook rotation every 90 days",
    "CKV_AWS_252": "an SNS message per trail file would flood the alarm topic; the trail streams to CloudWatch Logs",
    "CKV2_AWS_3": "one account's detector; organisation-wide auto-enable is the GuardDuty delegated administrator's",
    "CKV2_AWS_34": "Terraform's task definition revision record holds an ARN, not a secret; no KMS grant for readers",
}

#: Allow statements AWS forces to use Resource "*": Sid -> (the exact actions, why). Anything else is a failure.
AWS_REQUIRED_WILDCARDS = {
    "EcrLoginToken": ({"ecr:GetAuthorizationToken"}, "ecr:GetAuthorizationToken has no resource-level permissions"),
    "RegisterTaskDefinitions": (
        {"ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"},
        "task-definition registration and description have no resource-level permissions",
    ),
    "DescribeTaskDefinitions": ({"ecs:DescribeTaskDefinition"}, "task-definition description has no resource ARN"),
}
#: Conditions that tie a VPC endpoint statement's "any principal" to this account (or organisation).
PRINCIPAL_PERIMETER = ("aws:PrincipalAccount", "aws:PrincipalOrgID")
#: In a KMS key policy, Resource "*" means "this key": AWS requires that form.
KEY_POLICY_RESOURCES = {"aws_kms_key"}


def _clean(node: Any) -> Any:
    """python-hcl2 keeps the quotes of strings and block labels; drop them (and its block markers)."""
    if isinstance(node, dict):
        return {_clean(key): _clean(value) for key, value in node.items() if key != "__is_block__"}
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


def _parse(text: str) -> dict[str, Any]:
    return _clean(hcl2.loads(text))


def _render(template: Path, destination: Path, answers: dict[str, Any]) -> Path:
    copier.run_copy(str(template), destination, data=answers, defaults=True, quiet=True, unsafe=False)
    return destination


def _combo_name(combo: tuple[str, str, str, str, str]) -> str:
    return "__".join(combo)


@pytest.fixture(scope="module")
def covering(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The infra/terraform trees of the COVERING combinations, keyed by combination name."""
    root = tmp_path_factory.mktemp("infra")
    trees = {}
    for combo in COVERING:
        backend, tenancy, payment, idp, engine = combo
        answers = {
            "secrets_backend": backend,
            "tenancy": tenancy,
            "payment_provider": payment,
            "idp": idp,
            "policy_engine": engine,
        }
        project = _render(template_snapshot, root / "projects" / _combo_name(combo), answers)
        trees[_combo_name(combo)] = project / "infra" / "terraform"
    yield trees
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def checkov_report(covering: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}; {HOW_TO_CREATE}", pytrace=False)
    scan = tmp_path_factory.mktemp("checkov-scan")
    for name, tree in covering.items():
        shutil.copytree(tree, scan / name)
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE", "LOG_LEVEL": "ERROR"}
    command = [str(CHECKOV), "-d", str(scan), "--skip-download", "--framework", "terraform"]
    result = subprocess.run(
        [*command, "--compact", "-o", "json"],  # not --quiet: it would drop the passed and skipped checks
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
        check=False,
    )
    assert result.stdout.strip(), f"checkov printed no report (exit {result.returncode}): {result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    assert [item["check_type"] for item in reports] == ["terraform"]
    return reports[0]


# ---------------------------------------------------------------- checkov


def test_checkov_reports_zero_failed_checks(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{item['check_id']} {item['resource']} ({item['file_path']}): {item['check_name']}"
        for item in checkov_report["results"]["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
    assert checkov_report["summary"]["parsing_errors"] == 0


def test_checkov_scanned_every_covering_combination(checkov_report: dict[str, Any]) -> None:
    scanned = {item["file_path"].strip("/").split("/")[0] for item in checkov_report["results"]["passed_checks"]}
    assert scanned == {_combo_name(combo) for combo in COVERING}
    assert checkov_report["summary"]["passed"] > 1000


def test_every_checkov_skip_is_allowed_and_has_a_written_reason(checkov_report: dict[str, Any]) -> None:
    skipped = checkov_report["results"]["skipped_checks"]
    assert skipped, "the documented skips should be visible to checkov"
    for item in skipped:
        assert item["check_id"] in ALLOWED_SKIPS, f"undocumented skip {item['check_id']} on {item['resource']}"
        reason = (item.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) >= 30, f"{item['check_id']} on {item['resource']} needs a real reason, got {reason!r}"


def test_skips_in_the_template_are_inline_with_reasons() -> None:
    template_tf = list((REPO / "template" / "infra").rglob("*.tf*"))
    skips = [
        (path, match)
        for path in template_tf
        for match in re.finditer(r"#checkov:skip=([A-Z0-9_]+):?(.*)", path.read_text(encoding="utf-8"))
    ]
    assert skips
    for path, match in skips:
        assert match.group(1) in ALLOWED_SKIPS, f"{path.name}: {match.group(1)} is not in ALLOWED_SKIPS"
        assert len(match.group(2).strip()) >= 30, f"{path.name}: {match.group(1)} has no written reason"
    documented = (REPO / "template" / "docs" / "infrastructure.md.jinja").read_text(encoding="utf-8")
    for check_id in {match.group(1) for _, match in skips}:
        assert check_id in documented, f"{check_id} is skipped but not explained in docs/infrastructure.md"


def test_the_checkov_venv_message_says_how_to_create_it() -> None:
    assert "scripts/tools_venv.sh" in HOW_TO_CREATE
    assert (REPO / "scripts" / "tools_venv.sh").is_file()


# ---------------------------------------------------------------- python-hcl2: every file parses


@pytest.fixture(scope="module")
def parsed_tf(matrix) -> dict[Path, dict[str, Any]]:
    """Every distinct .tf file of the whole answer matrix, parsed with python-hcl2."""
    parsed = {}
    failures = []
    for path in matrix.unique((".tf",)):
        try:
            parsed[path] = _parse(path.read_text(encoding="utf-8"))
        except Exception as error:  # noqa: BLE001 - every parser error is a finding
            failures.append(f"{path}: {type(error).__name__}: {str(error)[:200]}")
    assert failures == []
    return parsed


@pytest.mark.xdist_group("matrix")
def test_every_generated_tf_file_parses(parsed_tf: dict[Path, dict[str, Any]]) -> None:
    assert len(parsed_tf) > 30
    assert any("resource" in document for document in parsed_tf.values())


# ---------------------------------------------------------------- IAM: no wildcards


def _jsonencode_argument(text: str) -> str | None:
    """The object literal inside `${jsonencode({...})}` as python-hcl2 renders it."""
    match = re.fullmatch(r"\$\{jsonencode\((.*)\)\}", text.strip(), flags=re.DOTALL)
    return match.group(1) if match else None


def _statements(node: Any, context: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(context, statement) for every IAM statement found anywhere in a parsed document."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield context, node
        for key, value in node.items():
            yield from _statements(value, f"{context}/{key}")
    elif isinstance(node, list):
        for item in node:
            yield from _statements(item, context)
    elif isinstance(node, str):
        inner = _jsonencode_argument(node)
        if inner is not None:
            yield from _statements(_parse(f"x = {inner}\n")["x"], context)


def _values(field: Any) -> list[str]:
    return [str(item) for item in (field if isinstance(field, list) else [field])]


def _wildcard_findings(document: dict[str, Any], where: str) -> list[str]:
    findings = []
    for context, statement in _statements(document, where):
        if statement.get("Effect") != "Allow":
            continue  # a Deny with a wildcard only widens the denial (e.g. TLS-only bucket policies)
        sid = str(statement.get("Sid", ""))
        actions = _values(statement.get("Action", []))
        resources = _values(statement.get("Resource", []))
        principal = statement.get("Principal")
        if any("*" in action for action in actions) or "NotAction" in statement:
            findings.append(f"{context} [{sid}]: wildcard action {actions}")
        # A VPC endpoint policy is a boundary: "any principal" there must be tied to this account, or the
        # statement must name the (AWS-owned) data it reaches, such as ECR's layer bucket.
        in_endpoint_policy = "/aws_vpc_endpoint/" in context
        conditions = json.dumps(statement.get("Condition", {}))
        tied = in_endpoint_policy and any(key in conditions for key in PRINCIPAL_PERIMETER)
        named = in_endpoint_policy and "*" not in resources
        if principal is not None and "*" in json.dumps(principal) and not (tied or named):
            findings.append(f"{context} [{sid}]: wildcard principal {principal}")
        if "*" in resources and in_endpoint_policy and tied and "aws:ResourceAccount" in conditions:
            continue  # this account's principals on this account's resources
        if "*" in resources:
            # Key-policy statements: inside an aws_kms_key, or the kms module's shared statement locals.
            in_key_policy = any(f"/{kind}/" in context for kind in KEY_POLICY_RESOURCES) or (
                context.startswith("kms/") and "/locals/" in context
            )
            required = AWS_REQUIRED_WILDCARDS.get(sid)
            if not in_key_policy and not (required and set(actions) == required[0]):
                findings.append(f"{context} [{sid}]: Resource '*' for {actions}")
    return findings


@pytest.mark.xdist_group("matrix")
def test_no_iam_statement_allows_wildcard_actions_or_resources(parsed_tf: dict[Path, dict[str, Any]]) -> None:
    findings = []
    statements = 0
    for path, document in parsed_tf.items():
        statements += sum(1 for _ in _statements(document, path.name))
        findings += _wildcard_findings(document, f"{path.parent.name}/{path.name}")
    assert statements > 20, "the IAM walker found too few statements to be trusted"
    assert findings == []


def test_the_wildcard_check_catches_violations() -> None:
    bad = _parse(
        """
resource "aws_iam_role_policy" "x" {
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "A", Effect = "Allow", Action = ["s3:Get*"], Resource = ["arn:aws:s3:::b/*"] },
      { Sid = "B", Effect = "Allow", Action = ["s3:GetObject"], Resource = "*" },
      { Sid = "EcrLoginToken", Effect = "Allow", Resource = "*",
        Action = ["ecr:GetAuthorizationToken", "s3:GetObject"] },
      { Sid = "C", Effect = "Deny", Principal = { AWS = "*" }, Action = "s3:*", Resource = "*" },
    ]
  })
}
"""
    )
    findings = _wildcard_findings(bad, "bad.tf")
    assert len(findings) == 3, findings
    assert any("[A]: wildcard action" in finding for finding in findings)
    assert any("[B]: Resource '*'" in finding for finding in findings)
    assert any("[EcrLoginToken]: Resource '*'" in finding for finding in findings)


def test_aws_required_wildcards_are_marked_inline_and_documented() -> None:
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (REPO / "template" / "infra").rglob("*.tf*"))
    documented = (REPO / "template" / "docs" / "infrastructure.md.jinja").read_text(encoding="utf-8")
    for sid, (actions, _) in AWS_REQUIRED_WILDCARDS.items():
        marker = re.search(r"# AWS-REQUIRED-WILDCARD: (.+)\n\s*Sid\s*=\s*\"" + sid + '"', sources)
        assert marker, f"statement {sid} lacks its inline AWS-REQUIRED-WILDCARD comment"
        for action in actions:
            assert action in documented, f"{action} (Resource '*') is not documented in docs/infrastructure.md"


# ---------------------------------------------------------------- controls that must be present


def _text(tree: Path, relative: str) -> str:
    return (tree / relative).read_text(encoding="utf-8")


def test_deploy_role_trust_is_pinned_to_repository_environment_and_sts_audience(covering: dict[str, Path]) -> None:
    for tree in covering.values():
        document = _parse(_text(tree, "modules/deploy_role/main.tf"))
        trust = next(s for c, s in _statements(document, "deploy") if "assume_role_policy" in c)
        assert _values(trust["Action"]) == ["sts:AssumeRoleWithWebIdentity"]
        conditions = trust["Condition"]
        assert set(conditions) == {"StringEquals"}, "no StringLike: the subject must match exactly"
        equals = conditions["StringEquals"]
        assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
        assert equals["token.actions.githubusercontent.com:sub"] == (
            "repository_owner_id:${var.github_repository_owner_id}:repository_id:${var.github_repository_id}:"
            "repo:${var.github_repository}:environment:${var.github_environment}:ref:${var.github_ref}"
            ":job_workflow_ref:${var.github_repository}/${var.github_workflow}@${var.github_ref}"
        )
        assert "github_environment     = var.environment" in _text(tree, "modules/stack/main.tf")
        assert "aws_iam_access_key" not in "".join(p.read_text() for p in tree.rglob("*.tf"))


def test_tls_policy_waf_and_private_tasks(covering: dict[str, Path]) -> None:
    for tree in covering.values():
        runtime = _text(tree, "modules/runtime/main.tf")
        assert 'ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"' in runtime
        assert "assign_public_ip = false" in runtime
        assert "readonlyRootFilesystem = true" in runtime
        assert "AWSManagedRulesKnownBadInputsRuleSet" in _text(tree, "modules/runtime/waf.tf")
        network = _text(tree, "modules/network/main.tf")
        assert network.count("map_public_ip_on_launch = false") == 4
        assert "map_public_ip_on_launch = true" not in network
        for service in ("ecr.api", "ecr.dkr", "secretsmanager", "kms", "logs"):
            assert f'"{service}"' in network


def test_database_is_encrypted_tls_only_iam_authenticated_and_recoverable(covering: dict[str, Path]) -> None:
    database = _text(next(iter(covering.values())), "modules/database/main.tf")
    for setting in (
        "storage_encrypted     = true",
        "iam_database_authentication_enabled = true",
        "deletion_protection       = true",
        "manage_master_user_password   = true",
        "publicly_accessible    = false",
    ):
        assert setting in database
    assert re.search(r'name\s+=\s+"rds.force_ssl"\s+value\s+=\s+"1"', database)
    variables = _text(next(iter(covering.values())), "modules/database/variables.tf")
    assert re.search(r'variable "backup_retention_days" \{[^}]*default\s+=\s+35', variables)


def test_redis_has_tls_at_rest_encryption_and_iam_auth(covering: dict[str, Path]) -> None:
    redis = _text(next(iter(covering.values())), "modules/redis/main.tf")
    for setting in ('transit_encryption_mode    = "required"', "at_rest_encryption_enabled = true", 'type = "iam"'):
        assert setting in redis
    assert 'access_string = "off -@all"' in redis, "the default user must be switched off"


def test_invoice_bucket_only_with_billing_and_in_compliance_mode(covering: dict[str, Path]) -> None:
    for name, tree in covering.items():
        billing = name.split("__")[2] != "none"
        assert (tree / "modules/invoices").is_dir() == billing, name
        if billing:
            invoices = _text(tree, "modules/invoices/main.tf")
            assert 'mode = "COMPLIANCE"' in invoices
            assert "object_lock_enabled = true" in invoices
            assert '"aws:SecureTransport" = "false"' in invoices
            assert 'sse_algorithm     = "aws:kms"' in invoices


def test_tenant_keys_only_for_schema_and_silo(covering: dict[str, Path]) -> None:
    for name, tree in covering.items():
        tenancy = name.split("__")[1]
        assert (tree / "modules/tenant_keys").is_dir() == (tenancy in {"schema", "silo"}), name


def test_secrets_wiring_follows_the_backend(covering: dict[str, Path]) -> None:
    for name, tree in covering.items():
        secrets = _text(tree, "modules/secrets/main.tf")
        if name.startswith("vault"):
            assert 'resource "vault_aws_auth_backend_role" "app"' in secrets
            assert "aws_secretsmanager_secret" not in secrets
        else:
            assert 'resource "aws_secretsmanager_secret" "app"' in secrets
            assert "vault_" not in secrets


def test_idp_registration_uses_the_idps_terraform_provider(covering: dict[str, Path]) -> None:
    providers = {preset.id: preset.terraform_provider for preset in IDPS}
    for name, tree in covering.items():
        idp = name.split("__")[3]
        has_module = (tree / "modules/idp").is_dir()
        assert has_module == bool(providers[idp]), name
        if has_module:
            assert f'source = "{providers[idp]}"' in _text(tree, "modules/idp/main.tf")
        if providers[idp] and providers[idp] != "hashicorp/aws":
            assert f'source  = "{providers[idp]}"' in _text(tree, "environments/production/versions.tf")


def _resources_of(main_tf: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Resource name -> body, for the resources of one type in a parsed .tf file."""
    return {name: body for block in main_tf.get("resource", []) for name, body in block.get(kind, {}).items()}


def test_idp_registrations_keep_tenant_and_abac_attributes_admin_only(covering: dict[str, Path]) -> None:
    """Suspected in issue 13: users editing their own tenant. Each IdP registration makes the attributes admin-only."""
    checked = set()
    for name, tree in covering.items():
        idp = name.split("__")[3]
        if not (tree / "modules/idp").is_dir():
            continue
        main_tf = _parse(_text(tree, "modules/idp/main.tf"))
        checked.add(idp)
        if idp == "cognito":
            pool = _resources_of(main_tf, "aws_cognito_user_pool")["this"]
            assert pool["admin_create_user_config"][0]["allow_admin_create_user_only"] is True  # no self sign-up
            client = _resources_of(main_tf, "aws_cognito_user_pool_client")["app"]
            assert not {"custom:tenant", "custom:department", "custom:region"} & set(client["write_attributes"])
        elif idp == "keycloak":
            profile = _resources_of(main_tf, "keycloak_realm_user_profile")["profile"]
            attributes = [block["attribute"] for block in profile["dynamic"]]
            custom = next(block for block in attributes if "tenant" in block["for_each"])
            assert custom["content"][0]["permissions"][0]["edit"] == ["admin"]
        elif idp == "okta":
            custom = _resources_of(main_tf, "okta_user_schema_property")["attribute"]
            department = _resources_of(main_tf, "okta_user_base_schema_property")["department"]
            assert custom["permissions"] == department["permissions"] == "READ_ONLY"
        elif idp == "auth0":
            code = _resources_of(main_tf, "auth0_action")["claims"]["code"]
            assert "event.user.app_metadata" in code
            assert "user_metadata" not in code
            assert _resources_of(main_tf, "auth0_trigger_actions")["post_login"]["trigger"] == "post-login"
        elif idp == "entra":
            assert _resources_of(main_tf, "azuread_service_principal")["app"]["app_role_assignment_required"] is True
            audiences = {app["sign_in_audience"] for app in _resources_of(main_tf, "azuread_application").values()}
            assert audiences == {"AzureADMyOrg"}
    assert checked == {"auth0", "okta", "entra", "keycloak", "cognito"}


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_environments_pin_providers_and_lock_encrypted_remote_state(
    covering: dict[str, Path], environment: str
) -> None:
    for tree in covering.values():
        versions = _parse(_text(tree, f"environments/{environment}/versions.tf"))
        required = versions["terraform"][0]["required_providers"][0]
        assert required
        for name, spec in required.items():
            assert re.fullmatch(r"\d+\.\d+\.\d+", spec["version"]), f"{name} is not pinned: {spec['version']}"
        backend = _text(tree, f"environments/{environment}/backend.tf")
        assert 'backend "s3"' in backend
        assert "encrypt      = true" in backend
        assert "use_lockfile = true" in backend
        assert f'environment             = "{environment}"' in _text(tree, f"environments/{environment}/main.tf")


def test_every_idp_payment_provider_and_policy_engine_is_covered() -> None:
    assert {combo[3] for combo in COVERING} == set(available_ids("idp"))
    assert {combo[2] for combo in COVERING} == set(available_ids("payment_provider"))
    assert {(combo[0], combo[4]) for combo in COVERING} == {
        (backend, engine) for backend in available_ids("secrets_backend") for engine in available_ids("policy_engine")
    }
    pairs = {(backend, tenancy, payment == "none") for backend, tenancy, payment, _, _ in COVERING}
    assert {(backend, tenancy) for backend, tenancy, _ in pairs} == {
        (backend, tenancy) for backend in available_ids("secrets_backend") for tenancy in available_ids("tenancy")
    }
    assert {(tenancy, no_billing) for _, tenancy, no_billing in pairs} == {
        (tenancy, flag) for tenancy in available_ids("tenancy") for flag in (True, False)
    }


# ---------------------------------------------------------------- issue 18: the deploy path and the perimeter


def test_every_github_role_is_bound_to_one_workflow_on_main(covering: dict[str, Path]) -> None:
    """Deploy, migrations, promotion and audit roles: the customised subject (environment, ref and workflow)."""
    for tree in covering.values():
        roles = {}
        for path in (tree / "modules/deploy_role").glob("*.tf"):
            for context, statement in _statements(_parse(path.read_text(encoding="utf-8")), path.name):
                if "assume_role_policy" in context:
                    roles[context] = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        assert len(roles) == 4, roles
        for subject in roles.values():
            assert re.fullmatch(
                r"repository_owner_id:\$\{var\.github_repository_owner_id\}:repository_id:\$\{var\.github_repository_id\}:"
                r"repo:\$\{var\.github_repository\}:environment:\$\{var\.\w+\}:ref:\$\{var\.github_ref\}"
                r":job_workflow_ref:\$\{var\.github_repository\}/\$\{var\.\w+\}@\$\{var\.github_ref\}",
                subject,
            ), subject
        controls = _parse(_text(tree, "modules/github_repository_controls/main.tf"))
        template = controls["resource"][0]["github_actions_repository_oidc_subject_claim_customization_template"]
        assert template["this"]["include_claim_keys"] == [
            "repository_owner_id", "repository_id", "repo", "context", "ref", "job_workflow_ref",
        ]  # fmt: skip


def test_the_github_root_pins_its_provider_and_locks_encrypted_state(covering: dict[str, Path]) -> None:
    for tree in covering.values():
        versions = _parse(_text(tree, "github/versions.tf"))
        required = versions["terraform"][0]["required_providers"][0]
        assert required["github"]["source"] == "integrations/github"
        assert re.fullmatch(r"\d+\.\d+\.\d+", required["github"]["version"])
        backend = _text(tree, "github/backend.tf")
        assert "encrypt      = true" in backend
        assert "use_lockfile = true" in backend


def test_the_perimeter_and_the_account_baseline_are_in_every_combination(covering: dict[str, Path]) -> None:
    for tree in covering.values():
        network = _text(tree, "modules/network/main.tf")
        endpoints = [chunk.split('\nresource "', 1)[0] for chunk in network.split('resource "aws_vpc_endpoint"')[1:]]
        assert len(endpoints) == 2
        for endpoint in endpoints:
            assert "  policy = jsonencode(" in endpoint, "a VPC endpoint without a policy"
        dns = _text(tree, "modules/network/dns_firewall.tf")
        assert 'firewall_fail_open = "DISABLED"' in dns
        assert 'domains = ["*"]' in dns
        assert 'resource "aws_cloudtrail" "this"' in _text(tree, "modules/account_baseline/main.tf")
        assert "count            = var.manage_account_baseline ? 1 : 0" in _text(tree, "modules/stack/main.tf")


def test_secret_and_key_policies_follow_the_backend_and_tenancy(covering: dict[str, Path]) -> None:
    for name, tree in covering.items():
        backend, tenancy = name.split("__")[:2]
        stack = _text(tree, "modules/stack/main.tf")
        assert ("reader_role_arns = [module.runtime.task_role_arn]" in stack) == (backend == "cloud"), name
        assert ("tenant_wrap_role_arns = [module.runtime.task_role_arn]" in stack) == (
            backend == "cloud" and tenancy in {"single", "pooled"}
        ), name
        assert ("user_role_arns = [module.runtime.task_role_arn]" in stack) == (tenancy in {"schema", "silo"}), name
        assert ("resolvable_domains     = [local.vault_host]" in stack) == (backend == "vault"), name
        kms = _text(tree, "modules/kms/main.tf")
        assert "KeyUseThroughIamPoliciesOfThisAccount" not in kms, "the whole account may use the keys"
        assert 'aws_secretsmanager_secret_policy" "master"' in _text(tree, "modules/database/main.tf")
