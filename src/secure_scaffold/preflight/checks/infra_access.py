"""Who may read the secrets, use the keys and assume the cloud roles (DEPLOY-07, DEPLOY-11).

IAM policies say what a role may do; resource policies say who may touch a resource at all. A
secret without a resource policy is readable by any principal of the account whose IAM policy
allows `secretsmanager:GetSecretValue` on `*`, and a key policy that delegates `kms:Decrypt` to
the account root lets every such principal decrypt. The GitHub roles' trust (infra.py) is only as
good as the repository settings behind it: the OIDC subject template, protected environments,
rulesets on main and on release tags. These checks read all of it from the parsed Terraform.
"""

from __future__ import annotations

import json
from typing import Any

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from . import _hcl
from .infra import (
    TERRAFORM_DIR,
    Statement,
    _as_tuple,
    _block_json_statements,
    _module_locals,
    _nested_blocks,
    _resolve,
    _resources,
    iam_statements,
    terraform_files,
)

#: Key-policy actions that hand out plaintext or ciphertext: never to "every principal of the account".
KEY_USE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt", "kms:*")
#: The subject claims the roles' trust expects, in order (infra.WORKFLOW_BINDING).
SUBJECT_CLAIM_KEYS = ["repository_owner_id", "repository_id", "repo", "context", "ref", "job_workflow_ref"]


def _text(value: Any) -> str:
    return value.text if isinstance(value, _hcl.Expr) else str(value)


# ------------------------------------------------------------------ secrets


def _refuses_other_readers(statement: Statement) -> bool:
    """A Deny of GetSecretValue to every principal whose ARN is not in a list."""
    actions = {str(action) for action in statement.actions}
    names_principals = any(
        test.startswith(("ArnNot", "StringNot")) and "aws:PrincipalArn" in keys
        for test, keys in statement.condition.items()
    )
    return (
        statement.effect == "Deny"
        and bool(actions & {"secretsmanager:GetSecretValue", "secretsmanager:*"})
        and names_principals
    )


@register("infra.secret_policies", controls=("DEPLOY-07",), requires=("infra.terraform_present",))
def secret_policies(project: Project) -> Outcome:
    """Every Secrets Manager secret (the app's, and RDS's managed master password) has a resource policy
    that refuses its value to every principal but the roles it names."""
    files = terraform_files(project)
    local_values = _module_locals(files)
    guarded: dict[tuple[str, str], bool] = {}
    for file, block in _resources(files, "aws_secretsmanager_secret_policy"):
        target = _text(block.attributes.get("secret_arn", ""))
        statements = list(_block_json_statements(file, block, local_values.get(file.directory, {})))
        guarded[(file.directory, target)] = any(_refuses_other_readers(statement) for statement in statements)
    findings = []
    secrets = 0
    for file, block in _resources(files, "aws_secretsmanager_secret"):
        secrets += 1
        name = block.labels[-1]
        targets = [f"aws_secretsmanager_secret.{name}.arn", f"aws_secretsmanager_secret.{name}.id"]
        if not any(guarded.get((file.directory, target)) for target in targets):
            findings.append(
                Finding(
                    f"no resource policy of secret {name} refuses its value to all but named roles: any principal "
                    "of the account with secretsmanager:GetSecretValue reads it",
                    "add aws_secretsmanager_secret_policy: Deny secretsmanager:GetSecretValue when aws:PrincipalArn "
                    "is not one of the reader roles (ArnNotEquals)",
                    file.relative,
                    block.line,
                )
            )
    for file, block in _resources(files, "aws_db_instance", "aws_rds_cluster"):
        if block.attributes.get("manage_master_user_password") is not True:
            continue
        secrets += 1
        prefix = f"{block.labels[0]}.{block.labels[-1]}.master_user_secret"
        if not any(ok and target.startswith(prefix) for (directory, target), ok in guarded.items()):
            findings.append(
                Finding(
                    f"no resource policy of the master password of {block.labels[0]}.{block.labels[-1]} (managed by "
                    "RDS in Secrets Manager) refuses it to all but named roles: any principal of the account that "
                    "may read secrets reads it",
                    f"add aws_secretsmanager_secret_policy on {prefix}[0].secret_arn refusing GetSecretValue to all "
                    "but break-glass roles and RDS's service-linked role",
                    file.relative,
                    block.line,
                )
            )
    if findings:
        return failed(*findings)
    return passed(f"{secrets} secret(s), each readable only by the roles its resource policy names")


# ------------------------------------------------------------------ KMS key policies


def _account_root(principal: Any, local_values: dict[str, Any]) -> bool:
    if not isinstance(principal, dict):
        return False
    values = _as_tuple(_resolve(principal.get("AWS"), local_values))
    return any(isinstance(value, str) and value.endswith(":root") for value in values)


def _narrowed_to_named_roles(statement: Statement) -> bool:
    """`aws:PrincipalArn` equals exact role ARNs: the account principal then stands for those roles only.

    (The form a key policy uses for a role that may not exist yet, such as a service-linked role.)
    """
    for test in ("ArnEquals", "StringEquals"):
        values = [str(value) for value in _as_tuple(statement.condition.get(test, {}).get("aws:PrincipalArn"))]
        if values and not any("*" in value or "?" in value for value in values):
            return True
    return False


def _use_actions(statement: Statement) -> list[str]:
    actions = [str(action) for action in statement.actions if isinstance(action, str)]
    return [action for action in actions if action.startswith(KEY_USE_ACTIONS)]


@register("infra.kms_key_policies", controls=("DEPLOY-07",), requires=("infra.terraform_present",))
def kms_key_policies(project: Project) -> Outcome:
    """No key policy lets every principal of the account encrypt or decrypt: the account may administer a
    key and let AWS services grant themselves its use; using it is for named roles and service principals."""
    files = terraform_files(project)
    local_values = _module_locals(files)
    findings = [
        Finding(
            f"{'statement ' + statement.sid if statement.sid else 'a key policy statement'} lets every principal of "
            f"the account {sorted(set(_use_actions(statement)))}: any role whose IAM policy names the key decrypts "
            "with it",
            "keep the account (root) to key administration and grants for AWS resources; name the roles that use "
            "the key (the task role), with kms:ViaService or encryption-context conditions",
            statement.path,
            statement.line,
        )
        for statement in iam_statements(files)
        if statement.effect == "Allow"
        and _account_root(statement.principal, local_values.get(_directory(statement), {}))
        and _use_actions(statement)
        and not _narrowed_to_named_roles(statement)
    ]
    keys = sum(1 for _ in _resources(files, "aws_kms_key"))
    if findings:
        return failed(*findings)
    return passed(f"{keys} KMS key resource(s): no key policy delegates encrypt or decrypt to the whole account")


def _directory(statement: Statement) -> str:
    return statement.path.rsplit("/", 1)[0] if "/" in statement.path else "."


# ------------------------------------------------------------------ the GitHub repository's controls


def _attribute(block: _hcl.Block, name: str) -> Any:
    return next((child.attributes[name] for child in (block, *_nested_blocks(block)) if name in child.attributes), None)


def _environment_findings(files: list) -> list[Finding]:
    environments = list(_resources(files, "github_repository_environment"))
    if not environments:
        return [
            Finding(
                "nothing manages the deployment environments: GitHub creates a missing one, unprotected, the first "
                "time any workflow names it",
                "manage them with github_repository_environment (reviewers, prevent_self_review, "
                "can_admins_bypass = false, a custom deployment branch policy)",
                TERRAFORM_DIR,
            )
        ]
    findings = []
    for file, block in environments:
        for name, expected, why in (
            ("can_admins_bypass", False, "administrators could deploy without the approval"),
            ("prevent_self_review", True, "whoever starts a deployment could approve it"),
            ("custom_branch_policies", True, "any branch could deploy to it"),
        ):
            if _attribute(block, name) is not expected:
                findings.append(
                    Finding(
                        f"environment {block.labels[-1]} does not set {name} = {str(expected).lower()}: {why}",
                        f"set {name} = {str(expected).lower()}",
                        file.relative,
                        block.line,
                    )
                )
    policies = [
        block
        for _, block in _resources(files, "github_repository_environment_deployment_policy")
        if "branch_pattern" in block.attributes and "tag_pattern" not in block.attributes
    ]
    if not policies:
        findings.append(
            Finding(
                "no deployment branch policy limits the environments to the protected branch",
                'add github_repository_environment_deployment_policy with branch_pattern = "main"',
                TERRAFORM_DIR,
            )
        )
    return findings


def _ruleset_findings(files: list) -> list[Finding]:
    rulesets = [block for _, block in _resources(files, "github_repository_ruleset")]
    branch = [
        block
        for block in rulesets
        if block.attributes.get("target") == "branch"
        and any(child.type == "pull_request" for child in _nested_blocks(block))
        and _attribute(block, "non_fast_forward") is True
    ]
    tags = [block for block in rulesets if block.attributes.get("target") == "tag"]
    findings = []
    if not branch:
        findings.append(
            Finding(
                "no ruleset makes main change only through a reviewed pull request (and never by force-push)",
                "add github_repository_ruleset (target branch) with pull_request, required_status_checks and "
                "non_fast_forward",
                TERRAFORM_DIR,
            )
        )
    for rule, why in (
        ("creation", "anyone with write access creates release tags"),
        ("update", "a release tag can be moved to another commit"),
    ):
        if not any(_attribute(block, rule) is True for block in tags):
            findings.append(
                Finding(
                    f"no tag ruleset restricts {rule} of release tags: {why}",
                    f"add github_repository_ruleset (target tag, refs/tags/v*) with {rule} = true",
                    TERRAFORM_DIR,
                )
            )
    return findings


@register(
    "infra.github_repository_controls", controls=("DEPLOY-07", "DEPLOY-11"), requires=("infra.terraform_present",)
)
def github_repository_controls(project: Project) -> Outcome:
    """The GitHub side of the roles' trust is code: the OIDC subject names environment, ref and workflow;
    environments exist with approvals nobody bypasses and deploy from main only; main and release tags
    change only as rulesets allow."""
    files = terraform_files(project)
    templates = [
        block
        for _, block in _resources(files, "github_actions_repository_oidc_subject_claim_customization_template")
        if block.attributes.get("use_default") is False
    ]
    findings = []
    if not any(block.attributes.get("include_claim_keys") == SUBJECT_CLAIM_KEYS for block in templates):
        shown = json.dumps([block.attributes.get("include_claim_keys") for block in templates], default=str)
        findings.append(
            Finding(
                f"nothing sets the repository's OIDC subject to the form the roles trust ({shown}): GitHub sends "
                "repo:<owner>/<repo>:environment:<name>, which names no workflow or ref",
                "add github_actions_repository_oidc_subject_claim_customization_template with use_default = false "
                f"and include_claim_keys = {json.dumps(SUBJECT_CLAIM_KEYS)}",
                TERRAFORM_DIR,
            )
        )
    findings += _environment_findings(files)
    findings += _ruleset_findings(files)
    if findings:
        return failed(*findings)
    return passed("OIDC subject names environment, ref and workflow; environments protected; main and v* tags ruled")
