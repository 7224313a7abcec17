"""The path from a signed release to production (DEPLOY-02, DEPLOY-04): what verifies the artifact and
the source, and what makes production run only what was verified.

- `deploy.verified_from_main`: deploys run only from `main`, through a verifier that is a local
  reusable workflow (so main's copy runs, never the tag's), binds the signature and the provenance
  to the tag's commit and checks that commit is an ancestor of `main`;
- `deploy.one_verified_digest`: every container of every ECS task definition runs `var.image`,
  which must be a digest, except the one container named `opa` (projects on OPA), which runs
  `var.opa_image`, a digest too; `terraform apply` leaves the service's revision alone; the role that
  rolls the service cannot push images;
- `release.sbom_tool_pinned`: the image SBOM comes from a pinned tool in a job that cannot sign.

Read from the workflow YAML and the Terraform text; what a scanner checks better stays with it
(zizmor, actionlint, checkov in `workflows.py` and `infra.py`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from . import _hcl
from .infra import TERRAFORM_DIR
from .workflows import Workflow, workflows

ON_MAIN = "github.ref == 'refs/heads/main'"
SOURCE_BINDINGS = ("--certificate-github-workflow-sha", "--certificate-github-workflow-ref")
ANCESTRY = re.compile(r"git merge-base --is-ancestor \S+ \S*main")
SYFT_PINNED = re.compile(r"go install github\.com/anchore/syft/cmd/syft@v\d+\.\d+\.\d+\b")
SBOM_TOOLS = ("syft", "cyclonedx-py", "trivy")
DIGEST_VALIDATION = re.compile(r'can\(regex\("\^[^"]*@sha256:\[0-9a-f\]\{64\}\$", var\.image\)\)')
OPA_DIGEST_VALIDATION = re.compile(r'can\(regex\("\^[^"]*@sha256:\[0-9a-f\]\{64\}\$", var\.opa_image\)\)')
#: The container allowed its own image (scripts/ecs_release.py's SIDECARS): name -> the variable it runs.
SIDECAR_IMAGES = {"opa": "var.opa_image"}
CONTAINER_NAME = re.compile(r'^\s*name\s*=\s*"([^"]+)"', re.M)
ECR_WRITES = ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload")
ROLL_OUT = ("ecs:UpdateService", "ecs:RegisterTaskDefinition")
#: Commands whose failure must fail the verifier (a step that swallows it verifies nothing).
VERIFICATIONS = (
    "cosign verify",
    "gh attestation verify",
    "git merge-base --is-ancestor",
    "sbom_policy.py",
    "verify_artifact.py",
)
SWALLOWED = re.compile(r"\|\|\s*(true|:|exit\s+0)\b|^\s*set\s+\+e\b", re.M)
IMAGE_ARGUMENT = re.compile(r"--image\s+\"?\$\{?(\w+)")


def _runs(job: dict[str, Any]) -> str:
    steps = job.get("steps") if isinstance(job.get("steps"), list) else []
    return "\n".join(str(step.get("run", "")) for step in steps if isinstance(step, dict))


def _called(loaded: list[Workflow], job: dict[str, Any]) -> Workflow | None:
    """The local reusable workflow a job calls (`uses: ./.github/workflows/x.yml`), if any."""
    uses = str(job.get("uses", ""))
    if not uses.startswith("./.github/workflows/"):
        return None
    return next((workflow for workflow in loaded if workflow.path.name == uses.rsplit("/", 1)[1]), None)


# ------------------------------------------------------------------ deploy.verified_from_main


def _deploy_workflow(loaded: list[Workflow]) -> Workflow | None:
    return next((workflow for workflow in loaded if workflow.path.stem == "deploy"), None)


def _source_findings(deploy: Workflow, loaded: list[Workflow]) -> list[Finding]:
    findings = []
    verifiers = [(job_id, _called(loaded, job)) for job_id, job in deploy.jobs.items() if _called(loaded, job)]
    verifier = next((called for _, called in verifiers if "cosign verify " in called.runs), None)
    if verifier is None:
        return [
            Finding(
                "the deploy does not verify through a reusable workflow of this repository",
                "move the verification into .github/workflows/verify-release.yml and call it from deploy.yml with "
                "`uses: ./.github/workflows/verify-release.yml`, so main's copy runs, never the tag's",
                deploy.relative,
            )
        ]
    findings += _swallowed_findings(verifier)
    verify_jobs = [job_id for job_id, called in verifiers if called is verifier]
    findings += _image_source_findings(deploy, verify_jobs)
    for flag in SOURCE_BINDINGS:
        if flag not in verifier.runs:
            findings.append(
                Finding(
                    f"cosign verify does not bind the signature to the tag's commit ({flag} missing)",
                    "pass --certificate-github-workflow-sha <tag commit> and --certificate-github-workflow-ref "
                    "refs/tags/<version> to cosign verify and verify-attestation",
                    verifier.relative,
                    verifier.line_of("cosign verify "),
                )
            )
    if not ANCESTRY.search(verifier.runs):
        findings.append(
            Finding(
                "nothing checks that the released commit is on main (reviewed code)",
                "git merge-base --is-ancestor <tag commit> refs/remotes/origin/main after a full-history checkout",
                verifier.relative,
            )
        )
    if "gh attestation verify" in verifier.runs and "--signer-workflow" in verifier.runs:
        findings.append(
            Finding(
                "gh attestation verify --signer-workflow accepts the release workflow at any ref",
                "use --cert-identity <workflow>@refs/tags/<version> and check sourceRepositoryDigest",
                verifier.relative,
                verifier.line_of("--signer-workflow"),
            )
        )
    return findings


def _swallowed_findings(verifier: Workflow) -> list[Finding]:
    """A verification whose failure is ignored (`|| true`, `set +e`, `continue-on-error`) verifies nothing."""
    findings = []
    for job_id, job in verifier.jobs.items():
        for step in verifier.steps(job):
            run = str(step.get("run", ""))
            if not any(command in run for command in VERIFICATIONS):
                continue
            name = step.get("name") or job_id
            if str(step.get("continue-on-error", False)).strip().lower() not in {"false", ""}:
                findings.append(
                    Finding(
                        f"verification step `{name}` has continue-on-error: a failed verification deploys anyway",
                        "remove continue-on-error from every verification step",
                        verifier.relative,
                        verifier.line_of("continue-on-error"),
                    )
                )
            if match := SWALLOWED.search(run):
                findings.append(
                    Finding(
                        f"verification step `{name}` ignores a failure ({match.group(0).strip()})",
                        "let every verification command fail the step; handle an expected failure with "
                        "`|| { echo ...; exit 1; }`",
                        verifier.relative,
                        verifier.line_of(match.group(0).strip()),
                    )
                )
    return findings


def _image_source_findings(deploy: Workflow, verify_jobs: list[str]) -> list[Finding]:
    """What migrate and deploy run must be the digest the verifier output, not an input or a variable."""
    verified = re.compile(r"^\$\{\{\s*needs\.(" + "|".join(map(re.escape, verify_jobs)) + r")\.outputs\.[\w-]+\s*\}\}$")
    findings = []
    for job_id, job in deploy.jobs.items():
        for step in deploy.steps(job):
            run = str(step.get("run", ""))
            if "ecs_release.py" not in run or "--image" not in run:
                continue
            env = step.get("env") if isinstance(step.get("env"), dict) else {}
            variables = IMAGE_ARGUMENT.findall(run)
            sources = [str(env.get(variable, f"${variable} (not set by the step)")) for variable in variables]
            if not variables:
                sources = [run.split("--image", 1)[1].split()[0] if run.split("--image", 1)[1].split() else "?"]
            for source in sources:
                if not (verify_jobs and verified.match(source.strip())):
                    findings.append(
                        Finding(
                            f"job {job_id} releases {source}, not the digest the verifier output",
                            'pass `--image "$IMAGE"` with `IMAGE: ${{ needs.<verify job>.outputs.image }}`',
                            deploy.relative,
                            deploy.line_of(source) if variables else deploy.line_of("--image"),
                        )
                    )
    return findings


def _main_only_findings(deploy: Workflow, loaded: list[Workflow]) -> list[Finding]:
    findings = []
    called = {found.relative: found for job in deploy.jobs.values() if (found := _called(loaded, job))}
    checked = [deploy, *called.values()]
    for workflow in checked:
        for job_id, job in workflow.jobs.items():
            if str(job.get("if", "")).strip() != ON_MAIN:
                findings.append(
                    Finding(
                        f"job {job_id} runs when the workflow is dispatched on any branch or tag",
                        f"add `if: {ON_MAIN}` (and restrict the environments' deployment branches to main)",
                        workflow.relative,
                        workflow.line_of(f"  {job_id}:"),
                    )
                )
            for step in workflow.steps(job):
                ref = str((step.get("with") or {}).get("ref", "")) if isinstance(step.get("with"), dict) else ""
                if "refs/tags" in ref or "inputs." in ref:
                    findings.append(
                        Finding(
                            f"job {job_id} checks out the ref being deployed ({ref}) and runs its scripts",
                            "check out github.sha (main) for scripts; read release files with `git show <sha>:<path>`",
                            workflow.relative,
                            workflow.line_of(ref),
                        )
                    )
    return findings


@register("deploy.verified_from_main", controls=("DEPLOY-04",), requires=("workflows.present",))
def verified_from_main(project: Project) -> Outcome:
    """Deploys run only from main, through main's verifier, which binds the release to a commit on main."""
    loaded = workflows(project)
    deploy = _deploy_workflow(loaded)
    if deploy is None:
        return failed(Finding("no .github/workflows/deploy.yml", "add the generated deploy workflow"))
    findings = _source_findings(deploy, loaded) + _main_only_findings(deploy, loaded)
    if findings:
        return failed(*findings)
    return passed("deploys run from main only, through main's verifier, bound to the tag's commit on main")


# ------------------------------------------------------------------ release.sbom_tool_pinned


@register("release.sbom_tool_pinned", controls=("DEPLOY-02",), requires=("workflows.present",))
def sbom_tool_pinned(project: Project) -> Outcome:
    """The image SBOM is built by a pinned tool in a job that cannot sign (no id-token)."""
    findings = []
    for workflow in workflows(project):
        if workflow.path.stem != "release" and "release" not in workflow.triggers:
            continue
        if (line := workflow.line_of("anchore/sbom-action@")) is not None:
            findings.append(
                Finding(
                    "anchore/sbom-action downloads and runs syft's install script at run time",
                    "install syft with `go install github.com/anchore/syft/cmd/syft@vX.Y.Z` (Go checksum database)",
                    workflow.relative,
                    line,
                )
            )
        if "syft" in workflow.runs and not SYFT_PINNED.search(workflow.runs):
            findings.append(
                Finding("syft is not installed at a pinned version", "go install ...@vX.Y.Z", workflow.relative)
            )
        for job_id, job in workflow.jobs.items():
            permissions = job.get("permissions")
            signs = isinstance(permissions, dict) and permissions.get("id-token") == "write"
            if signs and any(tool in _runs(job) for tool in SBOM_TOOLS):
                findings.append(
                    Finding(
                        f"job {job_id} runs an SBOM tool and holds id-token: write (it could sign anything)",
                        "build the SBOM in a job without id-token; pass it to the signing job with its sha256",
                        workflow.relative,
                        workflow.line_of(f"  {job_id}:"),
                    )
                )
    if findings:
        return failed(*findings)
    return passed("the image SBOM comes from a pinned tool in a job without signing rights")


# ------------------------------------------------------------------ deploy.one_verified_digest


def _terraform(project: Project) -> dict[str, str]:
    root = project.root / TERRAFORM_DIR
    return {
        project.relative(path): path.read_text(encoding="utf-8")
        for path in project.files
        if path.suffix == ".tf" and root in path.parents and ".terraform" not in path.parts
    }


def _blocks(text: str, kind: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in re.finditer(rf'resource "{kind}" "(\w+)" \{{(.*?)\n\}}', text, re.S)]


def _line(text: str, needle: str) -> int | None:
    return next((number for number, line in enumerate(text.splitlines(), 1) if needle in line), None)


def _container_images(body: str) -> list[tuple[str, str]]:
    """(container name, image) of each `image =` of a task definition: the name is the nearest `name =` above."""
    start = body.find("container_definitions")
    found = []
    for match in re.finditer(r"^\s*image\s*=\s*(\S+)", body, re.M):
        names = CONTAINER_NAME.findall(body, start if 0 <= start < match.start() else 0, match.start())
        found.append((names[-1] if names else "", match.group(1)))
    return found


def _task_images(text: str) -> dict[str, list[tuple[str, str]]]:
    """Task definition name -> (container name, image expression) of each container, read from the parsed
    HCL (`image:` and `image =` alike); a container list that is not a literal `jsonencode([...])` is one
    unknown image."""
    try:
        body = _hcl.parse(text)
    except _hcl.HclError:
        return {}
    images: dict[str, list[tuple[str, str]]] = {}
    for block in body.blocks:
        if block.type != "resource" or block.labels[:1] != ("aws_ecs_task_definition",):
            continue
        value = block.attributes.get("container_definitions")
        containers = value.args[0] if isinstance(value, _hcl.Call) and value.args else None
        if not isinstance(containers, list | tuple):
            images[block.labels[-1]] = [("", "<container_definitions that are not a literal jsonencode([...])>")]
            continue
        images[block.labels[-1]] = [
            (
                str(container.get("name", "")),
                image.text if isinstance(image := container.get("image"), _hcl.Expr) else json.dumps(image),
            )
            for container in containers
            if isinstance(container, dict)
        ]
    return images


def _container_findings(files: dict[str, str]) -> list[Finding]:
    findings = []
    for relative, text in files.items():
        parsed = _task_images(text)
        for name, body in _blocks(text, "aws_ecs_task_definition"):
            pairs = parsed.get(name) or _container_images(body)
            images = [image for container, image in pairs if SIDECAR_IMAGES.get(container) != image]
            for image in sorted(set(images) - {"var.image"}):
                findings.append(
                    Finding(
                        f"task definition {name} runs a container on {image}, not the verified var.image",
                        "every container of a task shares its role: give each var.image (the verified digest)",
                        relative,
                        _line(text, f"image                  = {image}") or _line(text, image),
                    )
                )
        for name, body in _blocks(text, "aws_ecs_service"):
            if not re.search(r"ignore_changes\s*=\s*\[[^\]]*\btask_definition\b", body):
                findings.append(
                    Finding(
                        f"service {name}: `terraform apply` puts Terraform's task definition back in service",
                        "add `lifecycle { ignore_changes = [task_definition] }`: the deploy pipeline sets the revision",
                        relative,
                        _line(text, f'resource "aws_ecs_service" "{name}"'),
                    )
                )
        if re.search(r'variable "image" \{', text) and not DIGEST_VALIDATION.search(text):
            findings.append(
                Finding(
                    "variable image accepts a tag",
                    'validate it: can(regex("^<registry>/<repo>@sha256:[0-9a-f]{64}$", var.image))',
                    relative,
                    _line(text, 'variable "image"'),
                )
            )
        if re.search(r'variable "opa_image" \{', text) and not OPA_DIGEST_VALIDATION.search(text):
            findings.append(
                Finding(
                    "variable opa_image accepts a tag",
                    'validate it: can(regex("^<registry>/<repo>@sha256:[0-9a-f]{64}$", var.opa_image))',
                    relative,
                    _line(text, 'variable "opa_image"'),
                )
            )
    return findings


def _push_findings(files: dict[str, str]) -> list[Finding]:
    """A policy that rolls the service must not push images: what it pushed, nothing would have verified."""
    findings = []
    for relative, text in files.items():
        for _, body in _blocks(text, "aws_iam_role_policy"):
            pushes = [action for action in ECR_WRITES if f'"{action}"' in body]
            rolls = [action for action in ROLL_OUT if f'"{action}"' in body]
            if pushes and rolls:
                findings.append(
                    Finding(
                        f"one role may both push images ({', '.join(pushes)}) and roll the service",
                        "leave ECR push to the promotion role, which copies only the verified digest",
                        relative,
                        _line(text, f'"{pushes[0]}"'),
                    )
                )
    return findings


@register("deploy.one_verified_digest", controls=("DEPLOY-04",), requires=("infra.terraform_present",))
def one_verified_digest(project: Project) -> Outcome:
    """Every container runs var.image (the `opa` container var.opa_image), each a digest; apply cannot roll back
    the service; the deployer cannot push."""
    files = _terraform(project)
    findings = _container_findings(files) + _push_findings(files)
    if findings:
        return failed(*findings)
    return passed("every container runs the verified digest; apply keeps the deployed revision; no deployer pushes")
