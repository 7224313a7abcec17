"""Run a one-off task or roll out a new image on Amazon ECS, by image digest, with the AWS CLI.

    python3 scripts/ecs_release.py run-task --cluster C --service S [--family F] [--image IMG@sha256:...] -- migrate
    python3 scripts/ecs_release.py deploy --cluster C --service S --image IMG@sha256:...

`run-task` registers a revision of task family F (default: the service's) with
the given image (default: unchanged), runs it once in the service's network
configuration with the container command replaced by the arguments after `--`,
waits for it to stop, prints its log stream and exits with its exit code.
`deploy` registers a revision of the service's task definition with the image
and waits until the service is stable. The deploy workflow calls both only with
a digest whose signature, provenance and SBOM it has verified; an image by tag
is refused, so what runs is exactly what was verified.

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


def register_with_image(task_definition: str, image: str | None) -> tuple[str, str]:
    """A new revision of `task_definition` running `image` in its first container; (arn, container name)."""
    definition = aws("ecs", "describe-task-definition", "--task-definition", task_definition)["taskDefinition"]
    container = definition["containerDefinitions"][0]["name"]
    if image is None:
        return definition["taskDefinitionArn"], container
    definition["containerDefinitions"][0]["image"] = image
    for field in READ_ONLY_FIELDS:
        definition.pop(field, None)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "task-definition.json"
        path.write_text(json.dumps(definition), encoding="utf-8")
        registered = aws("ecs", "register-task-definition", "--cli-input-json", f"file://{path}")
    return registered["taskDefinition"]["taskDefinitionArn"], container


def run_task(cluster: str, service: str, family: str | None, image: str | None, command: list[str]) -> int:
    current = _service(cluster, service)
    arn, container = register_with_image(family or current["taskDefinition"], image)
    overrides = {"containerOverrides": [{"name": container, "command": command}]}
    started = aws(
        "ecs", "run-task", "--cluster", cluster, "--task-definition", arn, "--launch-type", "FARGATE",
        "--network-configuration", json.dumps(current["networkConfiguration"]),
        "--overrides", json.dumps(overrides), "--started-by", "github-actions",
    )  # fmt: skip
    if started.get("failures") or not started.get("tasks"):
        raise ReleaseError(f"the task did not start: {started.get('failures')}")
    task = started["tasks"][0]["taskArn"]
    print(f"started {task} ({arn}): {' '.join(command)}", file=sys.stderr)
    aws("ecs", "wait", "tasks-stopped", "--cluster", cluster, "--tasks", task)
    stopped = aws("ecs", "describe-tasks", "--cluster", cluster, "--tasks", task)["tasks"][0]
    exit_code = next((c.get("exitCode") for c in stopped.get("containers", []) if c.get("name") == container), None)
    if exit_code is None:
        raise ReleaseError(f"the task stopped without an exit code: {stopped.get('stoppedReason', 'unknown')}")
    return int(exit_code)


def deploy(cluster: str, service: str, image: str) -> int:
    current = _service(cluster, service)
    arn, _ = register_with_image(current["taskDefinition"], image)
    aws("ecs", "update-service", "--cluster", cluster, "--service", service, "--task-definition", arn)
    print(f"rolling out {arn} to {service}", file=sys.stderr)
    aws("ecs", "wait", "services-stable", "--cluster", cluster, "--services", service)
    print(f"{service} is stable on {image}", file=sys.stderr)
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
        if name == "run-task":
            command.add_argument("--family", help="task definition family (default: the service's)")
            command.add_argument("command", nargs="+", help="the container command, after --")
    args = parser.parse_args(argv)
    try:
        if args.action == "deploy":
            return deploy(args.cluster, args.service, args.image)
        return run_task(args.cluster, args.service, args.family, args.image, args.command)
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
