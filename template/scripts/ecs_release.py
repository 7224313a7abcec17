"""Run a one-off task or roll out a new image on Amazon ECS, by image digest, with the AWS CLI.

    python3 scripts/ecs_release.py run-task --cluster C --service S [--family F] [--image IMG@sha256:...] [-- migrate]
    python3 scripts/ecs_release.py deploy --cluster C --service S --image IMG@sha256:... [--also-family F]
        [--opa-image IMG-opa@sha256:...]

`run-task` registers a revision of task family F (default: the service's) with
the given image, runs it once in the service's network configuration, waits
for it to stop and exits with its exit code. With arguments after `--` they
replace the first container's command (migrations); without them the task runs
exactly as defined, with no override (the nightly drift task, whose command is
fixed in its definition), and, without `--image`, only if it runs the image the
service runs now. `deploy` registers a revision of the service's task definition
(and of each `--also-family`) with the image, rolls the service, waits until it
is stable, then reads back every running task and fails unless each of its
containers runs the digest.

Every new revision is built from the revision TERRAFORM registered, never from the one the service
runs now nor the family's latest: Terraform records its revision's ARN in the SSM parameter
`/ecs-release/<family>/terraform-revision` (runtime/release_record.tf), which the release roles may
read but not write. An out-of-band revision (another entryPoint, environment, secrets or roles
registered with the deploy role's RegisterTaskDefinition on `*`) is therefore never carried forward,
and a reviewed Terraform change reaches production with the next deploy. A service that runs a
revision that differs in anything but `image` from every revision Terraform has recorded is refused
(investigate, then roll it back onto Terraform's revision); so is a fixed task (the drift check)
whose latest revision does. After the roll-out, the revision the tasks run is read back and compared
with Terraform's in everything but `image`.

Every container of a task shares the task's IAM role, so every container gets
the verified image, not just the first: a task definition holding a container
whose image comes from another repository is refused rather than half-updated.
The one exception is by name (`SIDECARS`): a container called `opa` (the OPA
sidecar of projects on OPA) runs `--opa-image`, a digest in the app repository's
`-opa` sibling, which the promotion job filled with the digest pinned in
policy/opa-image.txt. A task holding an `opa` container without `--opa-image`,
or an `--opa-image` from any other repository, is refused.
The deploy workflow calls both only with a digest whose signature, provenance
and SBOM it has verified; an image by tag is refused, so what runs is exactly
what was verified.

Standard library + the AWS CLI that GitHub's runners ship; credentials come
from the OIDC role the workflow assumed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

#: Containers that run their own pinned image, by name -> the suffix of their repository's name (the
#: app repository's name + suffix). Every other container runs the verified app image.
SIDECARS = {"opa": "-opa"}
DIGEST_REFERENCE = re.compile(r"^[a-z0-9./_-]+(:[0-9]+)?(/[a-z0-9._-]+)*@sha256:[0-9a-f]{64}$")
#: Fields describe-task-definition returns that register-task-definition does not accept.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)


#: Where Terraform records the task definition revision it registered (runtime/release_record.tf).
TERRAFORM_RECORD = "/ecs-release/{family}/terraform-revision"
#: What a revision must share with Terraform's: everything but each container's `image`.
VOLATILE_CONTAINER_FIELDS = ("image",)


class ReleaseError(Exception):
    """The AWS call failed or the task did not succeed; the message says which."""


def aws(*args: str) -> Any:
    executable = shutil.which("aws")
    if executable is None:
        raise ReleaseError("the AWS CLI is not installed")
    result = subprocess.run(  # noqa: S603 - a located executable, arguments built here
        [executable, *args, "--output", "json"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ReleaseError(f"aws {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return json.loads(result.stdout) if result.stdout.strip() else {}


def _service(cluster: str, service: str) -> dict[str, Any]:
    services = aws("ecs", "describe-services", "--cluster", cluster, "--services", service).get("services", [])
    if not services:
        raise ReleaseError(f"service {service} not found in cluster {cluster}")
    return services[0]


def repository(image: str) -> str:
    """The repository of an image reference: without its digest and tag (a registry port is not a tag)."""
    name = image.split("@", 1)[0]
    head, slash, last = name.rpartition("/")
    return f"{head}{slash}{last.split(':', 1)[0]}"


def _images(definition: dict[str, Any]) -> dict[str, str]:
    return {container["name"]: str(container.get("image", "")) for container in definition["containerDefinitions"]}


def _expected_image(name: str, image: str, sidecars: dict[str, str]) -> tuple[str, str | None]:
    """(the repository container `name` must come from, the image it gets: None when none was given)."""
    if name not in SIDECARS:
        return repository(image), image
    return repository(image) + SIDECARS[name], sidecars.get(name)


def _replace_every_image(definition: dict[str, Any], image: str, sidecars: dict[str, str]) -> None:
    """Point every container at `image` (a sidecar of SIDECARS at its own pinned image); refuse when one
    comes from another repository (it would keep an unverified image next to the verified one, with the
    same task role), or a sidecar has no image given."""
    foreign = {
        name: current
        for name, current in _images(definition).items()
        if repository(current) != _expected_image(name, image, sidecars)[0]
    }
    for name, given in sidecars.items():
        if repository(given) != repository(image) + SIDECARS[name]:
            raise ReleaseError(f"the {name} image {given} does not come from {repository(image)}{SIDECARS[name]}")
    missing = sorted(name for name in _images(definition) if name in SIDECARS and name not in sidecars)
    if missing:
        raise ReleaseError(
            f"{definition.get('family', 'the task definition')}: container(s) {', '.join(missing)} run a pinned "
            "sidecar image; pass it (--opa-image, the digest the promotion job copied) rather than keep a stale one"
        )
    if foreign:
        listed = ", ".join(f"{name} ({current})" for name, current in sorted(foreign.items()))
        raise ReleaseError(
            f"{definition.get('family', 'the task definition')}: container(s) {listed} do not come from "
            f"{repository(image)}; every container shares the task role, so each must run the verified release "
            "(build it from this release, or move it to a task of its own)"
        )
    for container in definition["containerDefinitions"]:
        container["image"] = _expected_image(container["name"], image, sidecars)[1]


def family_of(task_definition: str) -> str:
    """The family of a task definition ARN or `family[:revision]` reference."""
    name = task_definition.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if name.rsplit(":", 1)[-1].isdigit() else name


def _describe(task_definition: str) -> dict[str, Any]:
    return aws("ecs", "describe-task-definition", "--task-definition", task_definition)["taskDefinition"]


def terraform_revisions(family: str) -> list[str]:
    """The revisions Terraform has recorded for `family`, newest first (the first is the current one)."""
    name = TERRAFORM_RECORD.format(family=family)
    current = aws("ssm", "get-parameter", "--name", name).get("Parameter", {}).get("Value")
    if not current:
        raise ReleaseError(f"Terraform has recorded no revision of {family} ({name}): apply the runtime module first")
    history = aws("ssm", "get-parameter-history", "--name", name).get("Parameters", [])
    earlier = [entry.get("Value") for entry in reversed(history) if entry.get("Value") not in (None, current)]
    return [current, *dict.fromkeys(earlier)]


def _comparable(definition: dict[str, Any]) -> dict[str, Any]:
    """A task definition without what a release may change (each container's image) and what AWS adds."""
    kept = {k: v for k, v in definition.items() if k not in READ_ONLY_FIELDS and k != "tags"}
    kept["containerDefinitions"] = [
        {k: v for k, v in c.items() if k not in VOLATILE_CONTAINER_FIELDS}
        for c in definition.get("containerDefinitions", [])
    ]
    return kept


def differences(definition: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """The fields (command, entryPoint, environment, secrets, roles, ...) in which `definition` differs
    from `reference`, ignoring each container's image."""
    ours, theirs = _comparable(definition), _comparable(reference)
    changed = [
        key
        for key in sorted(set(ours) | set(theirs))
        if key != "containerDefinitions" and ours.get(key) != theirs.get(key)
    ]
    containers = {c.get("name"): c for c in ours["containerDefinitions"]}
    expected = {c.get("name"): c for c in theirs["containerDefinitions"]}
    for name in sorted(set(containers) | set(expected), key=str):
        mine, other = containers.get(name, {}), expected.get(name, {})
        changed += [f"{name}.{key}" for key in sorted(set(mine) | set(other)) if mine.get(key) != other.get(key)]
    return changed


def _refuse_unrecorded(task_definition: str, recorded: list[str]) -> None:
    """Refuse when `task_definition` matches (but for images) none of the revisions Terraform recorded."""
    definition = _describe(task_definition)
    first = differences(definition, _describe(recorded[0]))
    if not first or any(not differences(definition, _describe(arn)) for arn in recorded[1:]):
        return
    raise ReleaseError(
        f"{task_definition} is not a revision Terraform registered: it differs from {recorded[0]} in "
        f"{', '.join(first)} (an out-of-band change?). Investigate, roll the service back onto "
        f"{recorded[0]}, then release again"
    )


def register_with_image(
    family: str, image: str, sidecars: dict[str, str] | None = None
) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    """A new revision of Terraform's revision of `family` with `image` in every container and each sidecar's
    pinned image in it; (arn, first container's name, container name -> image, Terraform's definition)."""
    baseline = _describe(terraform_revisions(family)[0])
    definition = json.loads(json.dumps(baseline))
    container = definition["containerDefinitions"][0]["name"]
    _replace_every_image(definition, image, sidecars or {})
    for field in READ_ONLY_FIELDS:
        definition.pop(field, None)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "task-definition.json"
        path.write_text(json.dumps(definition), encoding="utf-8")
        registered = aws("ecs", "register-task-definition", "--cli-input-json", f"file://{path}")
    return registered["taskDefinition"]["taskDefinitionArn"], container, _images(definition), baseline


def _fixed_revision(family: str) -> tuple[str, str, dict[str, str]]:
    """The family's latest revision (the deploy registered it), refused unless it is Terraform's but for images."""
    definition = _describe(family)
    _refuse_unrecorded(definition["taskDefinitionArn"], terraform_revisions(family))
    return definition["taskDefinitionArn"], definition["containerDefinitions"][0]["name"], _images(definition)


def _app_images(images: dict[str, str]) -> set[str]:
    """The images of the containers that run the app image (sidecars run their own)."""
    return {current for name, current in images.items() if name not in SIDECARS}


def _running_images(current: dict[str, Any]) -> set[str]:
    """The app images of the task definition the service runs now (sidecars run their own)."""
    return _app_images(_images(_describe(current["taskDefinition"])))


def run_task(
    cluster: str, service: str, family: str | None, image: str | None, command: list[str], sidecars: dict[str, str]
) -> int:
    current = _service(cluster, service)
    family = family or family_of(current["taskDefinition"])
    if image is None:
        arn, container, images = _fixed_revision(family)
    else:
        arn, container, images, _ = register_with_image(family, image, sidecars)
    if image is None and _app_images(images) != (deployed := _running_images(current)):
        raise ReleaseError(
            f"{arn} runs {sorted(_app_images(images))}, but {service} runs {sorted(deployed)}; "
            "the deploy registers both with the verified digest: deploy again rather than run another image"
        )
    started_with = ["--overrides", json.dumps({"containerOverrides": [{"name": container, "command": command}]})]
    started = aws(
        "ecs", "run-task", "--cluster", cluster, "--task-definition", arn, "--launch-type", "FARGATE",
        "--network-configuration", json.dumps(current["networkConfiguration"]),
        *(started_with if command else []), "--started-by", "github-actions",
    )  # fmt: skip
    if started.get("failures") or not started.get("tasks"):
        raise ReleaseError(f"the task did not start: {started.get('failures')}")
    task = started["tasks"][0]["taskArn"]
    print(f"started {task} ({arn}): {' '.join(command) or 'its own command'}", file=sys.stderr)
    aws("ecs", "wait", "tasks-stopped", "--cluster", cluster, "--tasks", task)
    stopped = aws("ecs", "describe-tasks", "--cluster", cluster, "--tasks", task)["tasks"][0]
    exit_code = next((c.get("exitCode") for c in stopped.get("containers", []) if c.get("name") == container), None)
    if exit_code is None:
        raise ReleaseError(f"the task stopped without an exit code: {stopped.get('stoppedReason', 'unknown')}")
    return int(exit_code)


def _check_running(
    cluster: str, service: str, arn: str, image: str, baseline: dict[str, Any], sidecars: dict[str, str]
) -> int:
    """Every task the service runs is of revision `arn`, which is Terraform's `baseline` but for images
    (command, entryPoint, environment, secrets, roles), and each of its containers runs the digest (a
    sidecar: its own pinned digest)."""
    if drift := differences(_describe(arn), baseline):
        raise ReleaseError(f"{arn} differs from Terraform's {baseline.get('taskDefinitionArn')} in {', '.join(drift)}")
    digests = {name: sidecar.split("@", 1)[1] for name, sidecar in sidecars.items()}
    digest = image.split("@", 1)[1]
    listed = aws("ecs", "list-tasks", "--cluster", cluster, "--service-name", service, "--desired-status", "RUNNING")
    arns = listed.get("taskArns", [])
    if not arns:
        raise ReleaseError(f"{service} is stable but runs no task")
    tasks = aws("ecs", "describe-tasks", "--cluster", cluster, "--tasks", *arns).get("tasks", [])
    wrong = [
        f"{task.get('taskArn')} {container.get('name')}: {container.get('imageDigest') or 'no digest'}"
        for task in tasks
        for container in task.get("containers", [])
        if task.get("taskDefinitionArn") != arn
        or container.get("imageDigest") != digests.get(str(container.get("name")), digest)
    ]
    if wrong or len(tasks) != len(arns):
        raise ReleaseError(f"{service} runs something other than {arn} on {digest}: {'; '.join(wrong) or arns}")
    return len(tasks)


def deploy(cluster: str, service: str, image: str, also: list[str], sidecars: dict[str, str]) -> int:
    current = _service(cluster, service)
    family = family_of(current["taskDefinition"])
    _refuse_unrecorded(current["taskDefinition"], terraform_revisions(family))
    arn, _, _, baseline = register_with_image(family, image, sidecars)
    for other in also:
        extra, _, _, _ = register_with_image(other, image, sidecars)
        print(f"registered {extra} on {image}", file=sys.stderr)
    aws("ecs", "update-service", "--cluster", cluster, "--service", service, "--task-definition", arn)
    print(f"rolling out {arn} to {service}", file=sys.stderr)
    aws("ecs", "wait", "services-stable", "--cluster", cluster, "--services", service)
    count = _check_running(cluster, service, arn, image, baseline, sidecars)
    print(f"{service} is stable on {image}: {count} task(s), every container on the digest", file=sys.stderr)
    return 0


def _image(value: str) -> str:
    if not DIGEST_REFERENCE.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an image reference by sha256 digest")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecs_release.py", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="action", required=True)
    for name in ("run-task", "deploy"):
        command = commands.add_parser(name)
        command.add_argument("--cluster", required=True)
        command.add_argument("--service", required=True)
        command.add_argument("--image", type=_image, required=name == "deploy")
        command.add_argument("--opa-image", type=_image, help="the OPA sidecar's digest in the app repository's -opa")
        if name == "run-task":
            command.add_argument("--family", help="task definition family (default: the service's)")
            command.add_argument("command", nargs="*", help="the container command, after -- (default: its own)")
        else:
            command.add_argument(
                "--also-family", action="append", default=[], help="another task family to register on the image"
            )
    args = parser.parse_args(argv)
    sidecars = {"opa": args.opa_image} if args.opa_image else {}
    try:
        if args.action == "deploy":
            return deploy(args.cluster, args.service, args.image, args.also_family, sidecars)
        return run_task(args.cluster, args.service, args.family, args.image, args.command, sidecars)
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
