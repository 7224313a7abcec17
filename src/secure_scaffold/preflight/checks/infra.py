"""Infrastructure as code and where runtime secrets come from (DEPLOY-05, DEPLOY-06, DEPLOY-07, DEPLOY-09).

checkov is the well-kept scanner for Terraform, so `infra.checkov` runs it and
its failed checks become findings. What checkov does not hold the project to
is checked here from the parsed Terraform: no wildcard in IAM (checkov only
flags `*` on a few "restrictable" actions, and never `s3:Get*`), each GitHub
role trusting exactly one repository's environment *and one workflow file on
one ref*, and egress only through a default-drop domain allow-list. The
perimeter (endpoint policies, DNS firewall), secrets and keys, the GitHub
repository's own controls and the account baseline are in `infra_*.py`.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._model import Finding, Outcome, failed, passed, unknown
from .._project import Project
from .._registry import register
from .._tools import find_tool, install_hint, run_tool
from . import _hcl
from ._source import location, missing, settings_default, source

TERRAFORM_DIR = "infra/terraform"
IGNORED_TERRAFORM_DIRS = frozenset({".terraform", ".terragrunt-cache"})
#: checkov must not phone home: no guideline download, no mapping fetch, no update check.
CHECKOV_OFFLINE_ENV = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE", "LOG_LEVEL": "ERROR"}
MIN_SKIP_REASON = 20
#: Actions with no resource-level permissions (AWS Service Authorization Reference): `Resource: "*"` is the only
#: form AWS accepts for them. Anything else with `Resource: "*"` in an identity policy is a finding.
RESOURCE_WILDCARD_REQUIRED = frozenset(
    {
        "cloudwatch:PutMetricData",
        "ecr:GetAuthorizationToken",
        "ecr-public:GetAuthorizationToken",
        "ecs:DeregisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:ListClusters",
        "ecs:ListTaskDefinitions",
        "ecs:RegisterTaskDefinition",
        "kms:ListAliases",
        "kms:ListKeys",
        "s3:ListAllMyBuckets",
        "sts:GetCallerIdentity",
        "sts:GetServiceBearerToken",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }
)
GITHUB_OIDC = "token.actions.githubusercontent.com"
_REPO = r"(?:[^:*?/${}]+/[^:*?${}]+|\$\{var\.\w+\})"
_ID = r"(?:[0-9]+|\$\{var\.\w+\})"
#: `repository_owner_id:<id>:repository_id:<id>:repo:<owner>/<repo>:environment:<name>...`: the owner's and the
#: repository's numeric ids (a name can be re-registered, an id cannot), the repository and the environment,
#: each a literal or one `${var.x}`.
GITHUB_SUBJECT = re.compile(
    rf"^repository_owner_id:(?P<owner_id>{_ID}):repository_id:(?P<repo_id>{_ID})"
    rf":repo:(?P<repo>{_REPO}):environment:(?P<environment>[^:*?${{}}]+|\$\{{var\.\w+\}})(?P<rest>:.*)?$"
)
#: ...`:ref:<ref>:job_workflow_ref:<owner>/<repo>/<workflow>@<ref>`: the customised subject
#: (repository template `repo, context, ref, job_workflow_ref`) naming one workflow file on one branch.
WORKFLOW_BINDING = re.compile(
    rf"^:ref:(?P<ref>refs/heads/[^:*?${{}}]+|\$\{{var\.(?P<ref_var>\w+)\}})"
    rf":job_workflow_ref:(?P<repo>{_REPO})/(?P<workflow>\.github/workflows/[^:*?${{}}@]+|\$\{{var\.(?P<workflow_var>\w+)\}})"
    r"@(?P<workflow_ref>[^:*?@]+)$"
)
#: Direct dependencies that load `.env` files into the process (secrets would live in files next to the code).
ENV_FILE_LOADERS = frozenset({"python-dotenv", "django-environ", "environs", "python-decouple", "dotenv"})
PRODUCTION_BACKENDS = frozenset({"vault", "cloud"})
BACKEND_MODULES = {"vault": "secrets/vault.py", "cloud": "secrets/aws.py"}


# ------------------------------------------------------------------ reading the Terraform


@dataclass(frozen=True)
class TerraformFile:
    relative: str
    directory: str
    body: _hcl.Block | None
    error: str | None


def _terraform_paths(project: Project) -> list[Path]:
    return [
        path
        for path in project.files
        if path.suffix == ".tf" and not IGNORED_TERRAFORM_DIRS.intersection(path.relative_to(project.root).parts)
    ]


def terraform_files(project: Project) -> list[TerraformFile]:
    """Every .tf file of the project, parsed (or with the reason it could not be)."""
    parsed = []
    for path in _terraform_paths(project):
        relative = project.relative(path)
        try:
            body, error = _hcl.parse(path.read_text(encoding="utf-8")), None
        except (OSError, UnicodeDecodeError, _hcl.HclError) as problem:
            body, error = None, str(problem)
        parsed.append(TerraformFile(relative, str(Path(relative).parent), body, error))
    return parsed


def _resources(files: list[TerraformFile], *types: str) -> Iterator[tuple[TerraformFile, _hcl.Block]]:
    for file in files:
        if file.body is None:
            continue
        for block in file.body.blocks:
            if block.type == "resource" and block.labels and (not types or block.labels[0] in types):
                yield file, block


def _nested_blocks(block: _hcl.Block) -> Iterator[_hcl.Block]:
    for child in block.blocks:
        yield child
        yield from _nested_blocks(child)


@register("infra.terraform_present", controls=("DEPLOY-07", "DEPLOY-09"))
def terraform_present(project: Project) -> Outcome:
    """The project describes its cloud infrastructure in Terraform, so least privilege and egress are reviewable."""
    files = _terraform_paths(project)
    if not files:
        return failed(
            Finding(
                "no Terraform in the repository",
                f"describe the infrastructure as code in {TERRAFORM_DIR}/ (secure-scaffold generates the AWS modules)",
            )
        )
    return passed(f"{len(files)} Terraform file(s)")


# ------------------------------------------------------------------ checkov


def _checkov_target(project: Project) -> Path:
    target = project.root / TERRAFORM_DIR
    return target if target.is_dir() else project.root


def _checkov_results(stdout: str) -> dict[str, Any] | None:
    try:
        report = json.loads(stdout or "null")
    except json.JSONDecodeError:
        return None
    reports = report if isinstance(report, list) else [report]
    for item in reports:
        if isinstance(item, dict) and item.get("check_type") == "terraform":
            return item
    # With nothing to scan checkov prints only its counters (no check_type, no results).
    first = reports[0] if reports else None
    if isinstance(first, dict) and "passed" in first and "results" not in first:
        return {"results": {}, "summary": first}
    return None


def _one_per_place(findings: list[Finding]) -> list[Finding]:
    """checkov reports a module once per use (staging, production); keep one finding per check and place."""
    seen: set[tuple[str, str | None, int | None]] = set()
    kept = []
    for finding in findings:
        key = (finding.message.split(" on ", 1)[0], finding.path, finding.line)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept


@register("infra.checkov", controls=("DEPLOY-07", "DEPLOY-09"), requires=("infra.terraform_present",), runs_tool=True)
def checkov(project: Project) -> Outcome:
    """checkov (offline) finds no failed check in the Terraform; every inline skip carries a written reason."""
    executable = find_tool("checkov", project.root)
    if executable is None:
        return unknown("checkov is not installed", install_hint("checkov"))
    target = _checkov_target(project)
    prefix = project.relative(target) if target != project.root else ""
    run = run_tool(
        executable,
        "-d",
        str(target),
        "--skip-download",
        "--framework",
        "terraform",
        "--compact",
        "-o",
        "json",
        cwd=project.root,
        env=CHECKOV_OFFLINE_ENV,
        timeout=900,
    )
    report = _checkov_results(run.stdout)
    if report is None:
        return unknown(f"checkov failed (exit {run.returncode}): {run.stderr.strip()[-300:]}", "run checkov by hand")
    results, summary = report.get("results", {}), report.get("summary", {})

    def where(item: dict[str, Any]) -> tuple[str, int | None]:
        path = str(item.get("file_path", "")).lstrip("/")
        lines = item.get("file_line_range") or [None]
        return (f"{prefix}/{path}" if prefix else path), lines[0]

    findings = []
    for item in results.get("failed_checks", []):
        path, line = where(item)
        findings.append(
            Finding(
                f"checkov {item.get('check_id')} on {item.get('resource')}: {item.get('check_name')}",
                item.get("guideline") or "fix the resource, or skip inline with `#checkov:skip=<ID>:<why>`",
                path,
                line,
            )
        )
    for item in results.get("skipped_checks", []):
        reason = str((item.get("check_result") or {}).get("suppress_comment") or "")
        if len(reason.strip()) < MIN_SKIP_REASON or reason.strip() == "No comment provided":
            path, line = where(item)
            findings.append(
                Finding(
                    f"checkov {item.get('check_id')} is skipped on {item.get('resource')} without a written reason",
                    f"write why after the id: `#checkov:skip={item.get('check_id')}:<why this is acceptable>`",
                    path,
                    line,
                )
            )
    if summary.get("parsing_errors"):
        findings.append(
            Finding(
                f"checkov could not parse {summary['parsing_errors']} file(s)",
                "run `terraform validate`; an unparsed file is an unscanned file",
                prefix or None,
            )
        )
    findings = _one_per_place(findings)
    if findings:
        return failed(*findings, checkov=run.stdout)
    return passed(
        f"checkov: {summary.get('passed', 0)} passed, 0 failed, {summary.get('skipped', 0)} skipped with reasons",
        checkov=run.stdout,
    )


# ------------------------------------------------------------------ IAM


@dataclass(frozen=True)
class Statement:
    """One IAM policy statement, normalised from jsonencode/heredoc JSON or an aws_iam_policy_document block."""

    path: str
    line: int | None
    sid: str
    effect: str
    actions: tuple[Any, ...]
    resources: tuple[Any, ...]
    principal: Any
    condition: dict[str, dict[str, Any]]
    not_action: bool
    not_resource: bool
    container: str = ""  # the resource type the policy belongs to (aws_vpc_endpoint, aws_kms_key, ...), if any


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _module_locals(files: list[TerraformFile]) -> dict[str, dict[str, Any]]:
    """directory -> the `locals` of every file in it (a module's locals are shared by its files)."""
    found: dict[str, dict[str, Any]] = {}
    for file in files:
        if file.body is not None:
            for block in file.body.blocks:
                if block.type == "locals":
                    found.setdefault(file.directory, {}).update(block.attributes)
    return found


def _resolve(value: Any, local_values: dict[str, Any]) -> Any:
    """`local.name` to its literal value, when the module declares one; anything else unchanged.

    `local.name[each.key]` (one entry of a map of lists) resolves to every entry's items: a check
    then judges everything the expression can evaluate to.
    """
    if not (isinstance(value, _hcl.Expr) and value.text.startswith("local.")):
        return value
    name, _, index = value.text.removeprefix("local.").partition("[")
    found = local_values.get(name, value)
    if index and isinstance(found, dict) and all(isinstance(item, list) for item in found.values()):
        return [item for items in found.values() for item in items]
    return value if index else found


def _json_statements(file: TerraformFile, local_values: dict[str, Any]) -> Iterator[Statement]:
    assert file.body is not None
    for block in file.body.blocks:
        container = block.labels[0] if block.type == "resource" and block.labels else ""
        for statement in _block_json_statements(file, block, local_values):
            yield replace(statement, container=container)


def _block_json_statements(file: TerraformFile, block: _hcl.Block, local_values: dict[str, Any]) -> Iterator[Statement]:
    for value in _hcl.walk(block):
        if not (isinstance(value, dict) and "Effect" in value and ({"Action", "NotAction"} & set(value))):
            continue
        actions = _resolve(value.get("Action", value.get("NotAction")), local_values)
        resources = _resolve(value.get("Resource", value.get("NotResource")), local_values)
        condition = value.get("Condition") if isinstance(value.get("Condition"), dict) else {}
        yield Statement(
            file.relative,
            getattr(value, "line", None) or None,
            str(value.get("Sid", "")),
            str(value.get("Effect")),
            _as_tuple(actions),
            _as_tuple(resources),
            value.get("Principal"),
            {str(test): dict(keys) for test, keys in condition.items() if isinstance(keys, dict)},
            "NotAction" in value,
            "NotResource" in value,
        )


def _document_statements(file: TerraformFile) -> Iterator[Statement]:
    """Statements of `data "aws_iam_policy_document"` blocks (their own block syntax)."""
    assert file.body is not None
    for block in file.body.blocks:
        if block.type != "data" or not block.labels or block.labels[0] != "aws_iam_policy_document":
            continue
        for statement in (child for child in block.blocks if child.type == "statement"):
            attributes = statement.attributes
            principals = [child for child in statement.blocks if child.type in {"principals", "not_principals"}]
            condition: dict[str, dict[str, Any]] = {}
            for child in statement.blocks:
                if child.type == "condition":
                    test = str(child.attributes.get("test", ""))
                    condition.setdefault(test, {})[str(child.attributes.get("variable", ""))] = child.attributes.get(
                        "values"
                    )
            yield Statement(
                file.relative,
                statement.line,
                str(attributes.get("sid", "")),
                str(attributes.get("effect", "Allow")),
                _as_tuple(attributes.get("actions", attributes.get("not_actions"))),
                _as_tuple(attributes.get("resources", attributes.get("not_resources"))),
                {str(p.attributes.get("type")): p.attributes.get("identifiers") for p in principals} or None,
                condition,
                "not_actions" in attributes,
                "not_resources" in attributes,
            )


def iam_statements(files: list[TerraformFile]) -> list[Statement]:
    local_values = _module_locals(files)
    statements: list[Statement] = []
    for file in files:
        if file.body is not None:
            statements += _json_statements(file, local_values.get(file.directory, {}))
            statements += _document_statements(file)
    return statements


def _label(statement: Statement) -> str:
    return f"statement {statement.sid}" if statement.sid else "a statement"


def _wildcard_findings(statement: Statement) -> list[Finding]:
    """Allow statements only: a wildcard in a Deny widens the denial, which is the point of e.g. TLS-only policies."""
    if statement.effect != "Allow":
        return []
    where = {"path": statement.path, "line": statement.line}
    findings = []
    literal_actions = [action for action in statement.actions if isinstance(action, str)]
    if statement.not_action or statement.not_resource:
        findings.append(
            Finding(
                f"{_label(statement)} allows through NotAction/NotResource (everything except a list)",
                "list the actions and resources the role needs",
                **where,
            )
        )
    starred = [action for action in literal_actions if "*" in action]
    if starred:
        findings.append(
            Finding(
                f"{_label(statement)} allows wildcard actions {starred}",
                "name each action the role needs (e.g. s3:GetObject, not s3:* or s3:Get*)",
                **where,
            )
        )
    principal = json.dumps(statement.principal, default=str) if statement.principal is not None else ""
    # A VPC endpoint policy bounds what passes the endpoint; a statement there may name AWS-owned
    # data (ECR's layer bucket, reached with URLs an ECR account presigns) instead of a principal.
    names_its_resources = bool(statement.resources) and all(
        isinstance(resource, str) and resource != "*" for resource in statement.resources
    )
    if statement.container == "aws_vpc_endpoint" and names_its_resources:
        principal = ""
    if '"*"' in principal and not statement.condition:
        findings.append(
            Finding(
                f"{_label(statement)} allows any principal ('*') without a condition",
                "name the principals, or constrain with aws:SourceArn / aws:PrincipalOrgID",
                **where,
            )
        )
    # With a Principal the statement is a resource policy (key, bucket, trust): there "*" is the resource itself.
    if "*" in statement.resources and statement.principal is None:
        unscoped = set(literal_actions) - RESOURCE_WILDCARD_REQUIRED
        if unscoped or len(literal_actions) != len(statement.actions):
            findings.append(
                Finding(
                    f"{_label(statement)} grants {sorted(unscoped) or 'its actions'} on Resource '*'",
                    "scope Resource to the ARNs the role uses; only actions without resource-level permissions "
                    "(e.g. ecr:GetAuthorizationToken) may use '*'",
                    **where,
                )
            )
    return findings


def _subject_values(statement: Statement, test: str) -> list[Any]:
    values = statement.condition.get(test, {}).get(f"{GITHUB_OIDC}:sub")
    return list(_as_tuple(values))


def _validated_variables(files: list[TerraformFile]) -> dict[str, set[str]]:
    """directory -> variables declared there with a `validation` regex (so `${var.x}` cannot be a wildcard)."""
    found: dict[str, set[str]] = {}
    for file in files:
        for block in file.body.blocks if file.body is not None else ():
            if (
                block.type == "variable"
                and block.labels
                and any(
                    child.type == "validation" and "regex" in str(child.attributes.get("condition"))
                    for child in block.blocks
                )
            ):
                found.setdefault(file.directory, set()).add(block.labels[0])
    return found


def _variable_ok(name: str | None, validated: set[str]) -> bool:
    return name is None or name in validated


def _pinned_subject(subject: str, validated: set[str]) -> bool:
    match = GITHUB_SUBJECT.match(subject)
    if match is None:
        return False
    names = [re.fullmatch(r"\$\{var\.(\w+)\}", match.group(part)) for part in ("repo", "owner_id", "repo_id")]
    return all(_variable_ok(name.group(1) if name else None, validated) for name in names)


def _bound_to_workflow(subject: str, validated: set[str]) -> bool:
    """The subject goes on to name one workflow file of the same repository, on the same single branch."""
    match = GITHUB_SUBJECT.match(subject)
    binding = WORKFLOW_BINDING.match(match.group("rest") or "") if match else None
    return (
        binding is not None
        and binding.group("repo") == match.group("repo")
        and binding.group("workflow_ref") == binding.group("ref")
        and _variable_ok(binding.group("ref_var"), validated)
        and _variable_ok(binding.group("workflow_var"), validated)
    )


def _trust_findings(statement: Statement, validated: set[str]) -> list[Finding]:
    """A GitHub OIDC trust: exact audience, and a subject pinned to one repository's environment, one
    workflow file and one branch (so a writer's branch workflow that names the environment is refused)."""
    where = {"path": statement.path, "line": statement.line}
    findings = []
    equals = statement.condition.get("StringEquals", {})
    if _as_tuple(equals.get(f"{GITHUB_OIDC}:aud")) != ("sts.amazonaws.com",):
        findings.append(
            Finding(
                "the GitHub OIDC trust does not require the STS audience",
                f'add StringEquals "{GITHUB_OIDC}:aud" = "sts.amazonaws.com"',
                **where,
            )
        )
    loose = _subject_values(statement, "StringLike")
    exact = _subject_values(statement, "StringEquals")
    subjects = [str(value) for value in exact if isinstance(value, str)]
    if loose or not subjects or not all(_pinned_subject(subject, validated) for subject in subjects):
        shown = ", ".join(str(value) for value in (loose or exact)) or "no subject condition"
        findings.append(
            Finding(
                f"the GitHub deploy role's trust is not pinned to one repository and environment ({shown})",
                f'use StringEquals "{GITHUB_OIDC}:sub" = "repository_owner_id:<id>:repository_id:<id>:repo:<owner>/'
                "<repo>:environment:<environment>:ref:refs/heads/main:job_workflow_ref:<owner>/<repo>/.github/"
                'workflows/<file>@refs/heads/main" (no StringLike, no wildcard; the ids bind the trust to this '
                "repository, a name can be re-registered)",
                **where,
            )
        )
    elif not all(_bound_to_workflow(subject, validated) for subject in subjects):
        findings.append(
            Finding(
                f"the GitHub deploy role's trust is not bound to one workflow on one branch ({', '.join(subjects)}): "
                "any workflow a writer pushes that names the environment can assume it",
                "customise the repository's OIDC subject (claim keys repo, context, ref, job_workflow_ref) and "
                'match ":ref:refs/heads/main:job_workflow_ref:<owner>/<repo>/.github/workflows/<file>@refs/heads/main"',
                **where,
            )
        )
    return findings


def _is_github_trust(statement: Statement) -> bool:
    actions = {str(action) for action in statement.actions}
    keys = {key for tests in statement.condition.values() for key in tests}
    return "sts:AssumeRoleWithWebIdentity" in actions and (
        any(key.startswith(GITHUB_OIDC) for key in keys) or GITHUB_OIDC in json.dumps(statement.principal, default=str)
    )


def _vault_policy_findings(files: list[TerraformFile]) -> list[Finding]:
    """Vault policies (HCL in a heredoc): no glob over paths, no sudo."""
    findings = []
    for file, block in _resources(files, "vault_policy"):
        text = block.attributes.get("policy")
        if not isinstance(text, str):
            continue
        try:
            policy = _hcl.parse(text)
        except _hcl.HclError:
            continue
        for rule in policy.blocks:
            capabilities = [str(item) for item in _as_tuple(rule.attributes.get("capabilities"))]
            path = rule.labels[0] if rule.labels else ""
            if path.endswith(("*", "+")) or path in {"", "*"} or "sudo" in capabilities:
                findings.append(
                    Finding(
                        f"vault_policy {block.labels[-1]} grants {capabilities} on {path!r}",
                        "grant the exact paths the app reads (KV data path, transit encrypt/decrypt of its key)",
                        file.relative,
                        block.line,
                    )
                )
    return findings


@register("infra.iam_least_privilege", controls=("DEPLOY-07",), requires=("infra.terraform_present",))
def iam_least_privilege(project: Project) -> Outcome:
    """No IAM Allow with wildcard actions, NotAction, or Resource '*' (except actions AWS offers only on '*');
    each GitHub role trusts one repository environment, workflow and branch; no IAM access keys; Vault
    policies are exact."""
    files = terraform_files(project)
    unreadable = [file for file in files if file.error is not None]
    statements = iam_statements(files)
    findings = [finding for statement in statements for finding in _wildcard_findings(statement)]
    trusts = [statement for statement in statements if _is_github_trust(statement)]
    validated = _validated_variables(files)
    findings += [
        finding
        for statement in trusts
        for finding in _trust_findings(statement, validated.get(str(Path(statement.path).parent), set()))
    ]
    if not trusts:
        findings.append(
            Finding(
                "no IAM role trusts GitHub's OIDC provider: deploys would need stored cloud keys",
                f"add a deploy role assumable with sts:AssumeRoleWithWebIdentity from {GITHUB_OIDC}",
                TERRAFORM_DIR if (project.root / TERRAFORM_DIR).is_dir() else None,
            )
        )
    findings += [
        Finding(
            f"long-lived IAM access key {block.labels[-1]}",
            "delete it; CI assumes a role through GitHub OIDC and workloads use their task role",
            file.relative,
            block.line,
        )
        for file, block in _resources(files, "aws_iam_access_key", "aws_iam_user_login_profile")
    ]
    findings += _vault_policy_findings(files)
    if findings:
        return failed(*findings)
    if unreadable:
        return unknown(
            f"{len(unreadable)} Terraform file(s) could not be read: {unreadable[0].relative}: {unreadable[0].error}",
            "the statements in them were not checked; run checkov / terraform validate",
        )
    return passed(
        f"{len(statements)} IAM statement(s): no wildcard actions, '*' resources only where AWS requires them; "
        f"{len(trusts)} GitHub OIDC trust(s) pinned to a repository environment, workflow and branch"
    )


# ------------------------------------------------------------------ egress


def _true_attribute(block: _hcl.Block, name: str) -> bool:
    return any(child.attributes.get(name) is True for child in (block, *_nested_blocks(block)))


@register("infra.private_egress", controls=("DEPLOY-09",), requires=("infra.terraform_present",))
def private_egress(project: Project) -> Outcome:
    """Nothing gets a public IP, and internet egress passes a default-drop domain allow-list (AWS Network
    Firewall), so third-party APIs are reached only through allow-listed, logged egress."""
    files = terraform_files(project)
    findings = [
        Finding(
            f"{block.labels[0]}.{block.labels[-1]} sets {name} = true",
            "keep workloads in private subnets; the load balancer is the only public entry",
            file.relative,
            block.line,
        )
        for file, block in _resources(files)
        for name in ("assign_public_ip", "map_public_ip_on_launch", "associate_public_ip_address")
        if _true_attribute(block, name)
    ]
    allowlists = [
        (file, block)
        for file, block in _resources(files, "aws_networkfirewall_rule_group")
        if any(
            child.type == "rules_source_list" and child.attributes.get("generated_rules_type") == "ALLOWLIST"
            for child in _nested_blocks(block)
        )
    ]
    if not allowlists:
        findings.append(
            Finding(
                "no egress domain allow-list (aws_networkfirewall_rule_group with generated_rules_type = ALLOWLIST)",
                "route private subnets' internet traffic through a firewall (or proxy) that allows only the "
                "third-party API domains",
                TERRAFORM_DIR if (project.root / TERRAFORM_DIR).is_dir() else None,
            )
        )
    for file, block in _resources(files, "aws_networkfirewall_firewall_policy"):
        defaults = [
            str(action)
            for child in _nested_blocks(block)
            for action in _as_tuple(child.attributes.get("stateful_default_actions"))
        ]
        if not any(action.startswith("aws:drop") for action in defaults):
            findings.append(
                Finding(
                    f"firewall policy {block.labels[-1]} does not drop what the allow-list does not match",
                    'set stateful_default_actions = ["aws:drop_established", "aws:alert_established"]',
                    file.relative,
                    block.line,
                )
            )
    if findings:
        return failed(*findings)
    return passed("no public IPs on workloads; egress through a default-drop domain allow-list")


# ------------------------------------------------------------------ secrets backend


def _direct_dependencies(pyproject: dict[str, Any]) -> list[str]:
    project = pyproject.get("project", {})
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    names = [re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0] for requirement in requirements]
    return [re.sub(r"[-_.]+", "-", name).lower() for name in names if name]


def _env_file_findings(project: Project, config: str) -> list[Finding]:
    findings = []
    if re.search(r"\benv_file\s*=", config):
        findings.append(
            Finding(
                "Settings read an env file (env_file=...)",
                "drop env_file: configuration comes from the environment, secrets from the secrets backend",
                location(project, "config.py"),
            )
        )
    text = project.read("pyproject.toml")
    if text is not None:
        try:
            dependencies = _direct_dependencies(tomllib.loads(text))
        except tomllib.TOMLDecodeError:
            dependencies = []
        findings += [
            Finding(
                f"{name} is a dependency: it loads .env files into the process",
                "remove it; read secrets from Vault / the cloud secret manager",
                "pyproject.toml",
            )
            for name in dependencies
            if name in ENV_FILE_LOADERS
        ]
    assert project.package_dir is not None
    for path in project.python_files(project.package_dir):
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if re.match(r"\s*(from\s+dotenv\s+import|import\s+dotenv\b)", line) or "load_dotenv(" in line:
                findings.append(
                    Finding("the app loads a .env file", "remove the dotenv loader", project.relative(path), number)
                )
    return findings


@register("secrets.backend", controls=("DEPLOY-06", "DEPLOY-05"), requires=("layout.application_package",))
def secrets_backend(project: Project) -> Outcome:
    """Settings default to Vault or the cloud secret manager (the dev file backend is opt-in and refused in
    production), the backend's provider is there, and nothing loads `.env` files."""
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare Settings with secrets_backend defaulting to vault or cloud")
    findings = []
    default = settings_default(config, "secrets_backend")
    generated = project.answers.get("secrets_backend")
    if default is None or default[0] not in PRODUCTION_BACKENDS:
        shown = "no secrets_backend setting" if default is None else f"secrets_backend defaults to {default[0]!r}"
        findings.append(
            Finding(
                f"{shown}: production would not read its secrets from a secrets manager",
                'default secrets_backend to "vault" or "cloud"; keep "dev" opt-in and refused in production',
                location(project, "config.py"),
                None if default is None else default[1],
            )
        )
    elif generated in PRODUCTION_BACKENDS and default[0] != generated:
        findings.append(
            Finding(
                f"secrets_backend defaults to {default[0]!r} but the project was generated for {generated!r}",
                f'set the default back to "{generated}" (or update the answers with copier)',
                location(project, "config.py"),
                default[1],
            )
        )
    if not re.search(r"secrets_backend\s*==\s*[\"']dev[\"']", config):
        findings.append(
            Finding(
                "nothing refuses the dev secrets backend in production",
                "validate settings: APP_SECRETS_BACKEND=dev with APP_ENV=production is an error",
                location(project, "config.py"),
            )
        )
    backend = generated if generated in BACKEND_MODULES else (default[0] if default else None)
    if backend in BACKEND_MODULES and source(project, BACKEND_MODULES[backend]) is None:
        findings.append(
            Finding(
                f"{BACKEND_MODULES[backend]} (the {backend} provider) is missing",
                "restore the provider the settings default to",
                location(project, BACKEND_MODULES[backend]),
            )
        )
    findings += _env_file_findings(project, config)
    if findings:
        return failed(*findings)
    return passed(f"secrets come from {backend}; the dev backend is refused in production; no .env loader")
