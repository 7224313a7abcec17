"""The OPA sidecar of projects that decide with OPA (AUTHZ-10): `deploy.opa_sidecar`.

With `policy_engine=opa` every authorization decision is a call to OPA at
`APP_OPA_URL` (127.0.0.1:8181), and no answer is a denial. A task definition
without OPA next to the app therefore denies everything once deployed. This
check reads the ECS task definitions of the Terraform (through `_hcl`) and
wants, in the task that runs the app:

- a container named `opa` on `var.opa_image`, which is validated as a digest
  and pinned by a precondition to this stack's own `-opa` ECR repository;
- listening on loopback only (`--addr=127.0.0.1:...`, no port mapping): in
  awsvpc networking the task's containers share localhost, nothing else does;
- non-root, read-only root filesystem, no privileges;
- a health check, and the app container waiting for it (`dependsOn` HEALTHY).

What images may run at all stays with `deploy.one_verified_digest`.
"""

from __future__ import annotations

import re
from typing import Any

from .._model import Finding, Outcome, failed, passed, skipped
from .._project import Project
from .._registry import register
from . import _hcl
from .release_path import OPA_DIGEST_VALIDATION, _line, _terraform

LOOPBACK_ADDR = re.compile(r"^--addr=(127\.0\.0\.1|localhost|\[::1\]):\d+$")
ROOT_USERS = {"", "0", "root", "0:0"}


def _on_opa(project: Project) -> bool:
    engine = project.answers.get("policy_engine")
    return engine == "opa" or (engine is None and (project.root / "policy" / "authz.rego").is_file())


def _task_definitions(files: dict[str, str]) -> list[tuple[str, str, _hcl.Block]]:
    """(relative path, text, block) of every parseable `aws_ecs_task_definition`."""
    found = []
    for relative, text in files.items():
        try:
            body = _hcl.parse(text)
        except _hcl.HclError:
            continue  # infra.checkov and the IAM checks report files that do not parse
        for block in body.blocks:
            if block.type == "resource" and block.labels[:1] == ("aws_ecs_task_definition",):
                found.append((relative, text, block))
    return found


def _containers(block: _hcl.Block) -> list[dict[str, Any]]:
    value = block.attributes.get("container_definitions")
    if isinstance(value, _hcl.Call) and value.name == "jsonencode" and value.args and isinstance(value.args[0], list):
        return [item for item in value.args[0] if isinstance(item, dict)]
    return []


def _pinned_to_opa_repository(block: _hcl.Block) -> bool:
    """A precondition `startswith(var.opa_image, "${aws_ecr_repository.X.repository_url}@sha256:")`."""
    for lifecycle in (child for child in block.blocks if child.type == "lifecycle"):
        for precondition in (child for child in lifecycle.blocks if child.type == "precondition"):
            condition = precondition.attributes.get("condition")
            if (
                isinstance(condition, _hcl.Call)
                and condition.name == "startswith"
                and len(condition.args) == 2
                and isinstance(condition.args[0], _hcl.Expr)
                and condition.args[0].text == "var.opa_image"
                and re.fullmatch(r"\$\{aws_ecr_repository\.\w+\.repository_url\}@sha256:", str(condition.args[1]))
            ):
                return True
    return False


def _opa_repository_findings(files: dict[str, str], block: _hcl.Block, relative: str, line: int | None) -> list:
    """The pin's repository is this stack's `<name>-opa`; the variable takes only a digest."""
    findings = []
    repository = next(
        (
            match.group(1)
            for match in (
                re.search(r"var\.opa_image, \"\$\{aws_ecr_repository\.(\w+)\.repository_url\}@sha256:\"", text)
                for text in files.values()
            )
            if match
        ),
        None,
    )
    named = any(
        re.search(rf'resource "aws_ecr_repository" "{repository}" \{{\s*name\s*=\s*"\$\{{var\.name\}}-opa"', text)
        for text in files.values()
    )
    if not _pinned_to_opa_repository(block) or not named:
        findings.append(
            Finding(
                "the opa container's image is not pinned to this stack's -opa ECR repository",
                'add a precondition: startswith(var.opa_image, "${aws_ecr_repository.opa.repository_url}@sha256:"), '
                'with aws_ecr_repository.opa named "${var.name}-opa" (the promotion job copies the pinned digest in)',
                relative,
                line,
            )
        )
    if not any(OPA_DIGEST_VALIDATION.search(text) for text in files.values()):
        findings.append(
            Finding(
                "variable opa_image accepts a tag (or is not declared)",
                'declare it with validation can(regex("^<registry>/<repo>@sha256:[0-9a-f]{64}$", var.opa_image))',
                relative,
                line,
            )
        )
    return findings


def _shape_findings(opa: dict[str, Any], relative: str, line: int | None) -> list[Finding]:
    findings = []
    command = opa.get("command") if isinstance(opa.get("command"), list) else []
    addresses = [str(arg) for arg in command if str(arg).startswith("--addr")]
    if not addresses or not all(LOOPBACK_ADDR.match(address) for address in addresses) or opa.get("portMappings"):
        findings.append(
            Finding(
                f"OPA does not listen on loopback only ({', '.join(addresses) or 'no --addr'}"
                f"{', with port mappings' if opa.get('portMappings') else ''})",
                'run it with "--addr=127.0.0.1:8181" and no portMappings: the app reaches it over the task\'s '
                "shared localhost, and nothing else may ask it (or read the policy through its data API)",
                relative,
                line,
            )
        )
    user = str(opa.get("user", "")).strip()
    if user in ROOT_USERS or opa.get("readonlyRootFilesystem") is not True or opa.get("privileged") is True:
        findings.append(
            Finding(
                "the opa container may run as root, write its root filesystem or run privileged",
                'set user = "10001:10001", readonlyRootFilesystem = true, privileged = false',
                relative,
                line,
            )
        )
    if not isinstance(opa.get("healthCheck"), dict):
        findings.append(
            Finding(
                "the opa container has no health check",
                "add a healthCheck that asks OPA a decision (the app waits for it to be HEALTHY)",
                relative,
                line,
            )
        )
    return findings


def _waits_for_opa(container: dict[str, Any]) -> bool:
    depends = container.get("dependsOn") if isinstance(container.get("dependsOn"), list) else []
    return any(
        isinstance(item, dict) and item.get("containerName") == "opa" and item.get("condition") == "HEALTHY"
        for item in depends
    )


@register("deploy.opa_sidecar", controls=("AUTHZ-10",), requires=("infra.terraform_present",))
def opa_sidecar(project: Project) -> Outcome:
    """On OPA, the app's task runs a loopback-only, digest-pinned, unprivileged OPA it waits for."""
    if not _on_opa(project):
        return skipped("the project decides with Casbin, in process: there is no OPA to ship")
    files = _terraform(project)
    serving = [
        (relative, text, block)
        for relative, text, block in _task_definitions(files)
        if any(container.get("name") == "app" for container in _containers(block))
    ]
    if not serving:
        return failed(
            Finding(
                "no ECS task definition runs the app container",
                "keep the generated infra/terraform/modules/runtime/main.tf",
            )
        )
    findings = []
    for relative, text, block in serving:
        containers = {str(container.get("name")): container for container in _containers(block)}
        line = _line(text, f'resource "aws_ecs_task_definition" "{block.labels[1]}"')
        opa = containers.get("opa")
        if opa is None:
            findings.append(
                Finding(
                    f"task definition {block.labels[1]} runs the app without an OPA sidecar: with policy_engine=opa, "
                    "every decision would be a denial once deployed",
                    "add the `opa` container of the generated runtime/main.tf (var.opa_image, loopback only, "
                    "health check) and make the app depend on it HEALTHY",
                    relative,
                    line,
                )
            )
            continue
        opa_line = getattr(opa, "line", None) or line
        image = opa.get("image")
        if not (isinstance(image, _hcl.Expr) and image.text == "var.opa_image"):
            findings.append(
                Finding(
                    f"the opa container runs {getattr(image, 'text', image)!r}, not var.opa_image (a pinned digest)",
                    "run var.opa_image: the digest of policy/opa-image.txt, promoted into the -opa repository",
                    relative,
                    opa_line,
                )
            )
        else:
            findings.extend(_opa_repository_findings(files, block, relative, opa_line))
        findings.extend(_shape_findings(opa, relative, opa_line))
        if not _waits_for_opa(containers["app"]):
            findings.append(
                Finding(
                    "the app container does not wait for OPA to be healthy",
                    'add dependsOn = [{ containerName = "opa", condition = "HEALTHY" }] to the app container',
                    relative,
                    getattr(containers["app"], "line", None) or line,
                )
            )
    if findings:
        return failed(*findings)
    return passed("the app's task runs OPA on loopback, pinned to the -opa repository by digest, healthy first")
