"""The network perimeter beyond the egress firewall (DEPLOY-09): VPC endpoint policies and DNS.

The egress firewall (infra.private_egress) only sees traffic to the internet. Two paths skip it:
a VPC endpoint carries AWS API calls with *any* credentials to *any* account's resources unless
its policy says otherwise (a compromised task uploads data to the attacker's bucket with the
attacker's keys), and the VPC's resolver answers every name, so DNS queries themselves can carry
data to a name server the attacker runs. These checks read both from the parsed Terraform.
"""

from __future__ import annotations

from typing import Any

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from . import _hcl
from .infra import (
    RESOURCE_WILDCARD_REQUIRED,
    TERRAFORM_DIR,
    Statement,
    _block_json_statements,
    _module_locals,
    _nested_blocks,
    _resources,
    terraform_files,
)

#: Conditions that keep an endpoint to this account's (or organisation's) principals and resources.
PRINCIPAL_PERIMETER = frozenset({"aws:PrincipalAccount", "aws:PrincipalOrgID"})
RESOURCE_PERIMETER = frozenset({"aws:ResourceAccount", "aws:ResourceOrgID"})


def _condition_keys(statement: Statement) -> set[str]:
    return {key for tests in statement.condition.values() for key in tests}


def _resourceless(statement: Statement) -> bool:
    """Every action names no resource (aws:ResourceAccount is absent from such requests)."""
    literal = [action for action in statement.actions if isinstance(action, str)]
    return bool(literal) and len(literal) == len(statement.actions) and set(literal) <= RESOURCE_WILDCARD_REQUIRED


def _endpoint_statement_findings(endpoint: str, statement: Statement) -> list[Finding]:
    if statement.effect != "Allow" or "*" not in statement.resources:
        return []  # a Deny only narrows; an Allow on named resources (AWS-owned buckets) is bounded by them
    where = {"path": statement.path, "line": statement.line}
    label = f"statement {statement.sid}" if statement.sid else "a statement"
    keys = _condition_keys(statement)
    findings = []
    if not keys & PRINCIPAL_PERIMETER:
        findings.append(
            Finding(
                f"{label} of VPC endpoint {endpoint} admits any account's credentials",
                'add Condition StringEquals "aws:PrincipalAccount" = <this account> (or aws:PrincipalOrgID)',
                **where,
            )
        )
    if not keys & RESOURCE_PERIMETER and not _resourceless(statement):
        findings.append(
            Finding(
                f"{label} of VPC endpoint {endpoint} reaches any account's resources: data can leave to a "
                "bucket, secret or key the attacker owns",
                'add Condition StringEquals "aws:ResourceAccount" = <this account> (or aws:ResourceOrgID)',
                **where,
            )
        )
    return findings


@register("infra.endpoint_policies", controls=("DEPLOY-09",), requires=("infra.terraform_present",))
def endpoint_policies(project: Project) -> Outcome:
    """Every VPC endpoint has a policy that admits only this account's principals, on this account's
    resources (or on named AWS-owned data, such as ECR's image-layer bucket)."""
    files = terraform_files(project)
    local_values = _module_locals(files)
    findings = []
    endpoints = list(_resources(files, "aws_vpc_endpoint"))
    for file, block in endpoints:
        endpoint = block.labels[-1]
        if "policy" not in block.attributes:
            findings.append(
                Finding(
                    f"VPC endpoint {endpoint} has no policy: any account's credentials and resources pass it",
                    "set policy = jsonencode(...) allowing the workloads' actions with aws:PrincipalAccount and "
                    "aws:ResourceAccount conditions",
                    file.relative,
                    block.line,
                )
            )
            continue
        for statement in _block_json_statements(file, block, local_values.get(file.directory, {})):
            findings += _endpoint_statement_findings(endpoint, statement)
    if findings:
        return failed(*findings)
    return passed(f"{len(endpoints)} VPC endpoint(s), each limited to this account's principals and resources")


# ------------------------------------------------------------------ DNS


def _reference(value: Any, kind: str) -> str | None:
    """The resource name in `<kind>.<name>.id`, when the value is that reference."""
    text = value.text if isinstance(value, _hcl.Expr) else ""
    parts = text.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == kind else None


def _priority(block: _hcl.Block) -> int | None:
    value = block.attributes.get("priority")
    text = value.text if isinstance(value, _hcl.Expr) else str(value)
    return int(text) if text.isdigit() else None


def _dns_rule_findings(files: list, root: str | None) -> list[Finding]:
    everything = {
        block.labels[-1]
        for _, block in _resources(files, "aws_route53_resolver_firewall_domain_list")
        if block.attributes.get("domains") == ["*"]
    }
    rules = list(_resources(files, "aws_route53_resolver_firewall_rule"))
    blocks = [
        (file, block)
        for file, block in rules
        if block.attributes.get("action") == "BLOCK"
        and _reference(block.attributes.get("firewall_domain_list_id"), "aws_route53_resolver_firewall_domain_list")
        in everything
    ]
    if not blocks:
        return [
            Finding(
                "no DNS Firewall rule blocks the names the allow-list does not match",
                'add an aws_route53_resolver_firewall_rule with action = "BLOCK" on a domain list of ["*"], '
                "after (a higher priority number than) the ALLOW rule of the allowed names",
                root,
            )
        ]
    findings = []
    allows = [_priority(block) for _, block in rules if block.attributes.get("action") == "ALLOW"]
    for file, block in blocks:
        mine = _priority(block)
        if not allows or mine is None or any(priority is None or priority >= mine for priority in allows):
            findings.append(
                Finding(
                    f"DNS Firewall rule {block.labels[-1]} blocks everything before the allow-list is read",
                    "give the ALLOW rule of the allowed names a lower priority number than the block-all rule",
                    file.relative,
                    block.line,
                )
            )
    return findings


@register("infra.dns_firewall", controls=("DEPLOY-09",), requires=("infra.terraform_present",))
def dns_firewall(project: Project) -> Outcome:
    """Route 53 Resolver DNS Firewall is associated with the VPC, answers only allow-listed names (a
    BLOCK rule on every other name) and does not fail open, so DNS cannot carry data out."""
    files = terraform_files(project)
    root = TERRAFORM_DIR if (project.root / TERRAFORM_DIR).is_dir() else None
    associated = [
        block
        for _, block in _resources(files, "aws_route53_resolver_firewall_rule_group_association")
        if "vpc_id" in block.attributes
    ]
    if not associated:
        return failed(
            Finding(
                "no DNS Firewall rule group is associated with the VPC: its resolver answers any name, so queries "
                "can carry data to a name server an attacker runs",
                "associate an aws_route53_resolver_firewall_rule_group (ALLOW the needed names, BLOCK the rest) "
                "with the VPC",
                root,
            )
        )
    findings = _dns_rule_findings(files, root)
    findings += [
        Finding(
            "DNS Firewall fails open: a query it cannot evaluate is answered",
            'set firewall_fail_open = "DISABLED"',
            file.relative,
            block.line,
        )
        for file, block in _resources(files, "aws_route53_resolver_firewall_config")
        if any(child.attributes.get("firewall_fail_open") == "ENABLED" for child in (block, *_nested_blocks(block)))
    ]
    if findings:
        return failed(*findings)
    return passed(f"DNS Firewall on {len(associated)} VPC association(s): allow-listed names only, fails closed")
