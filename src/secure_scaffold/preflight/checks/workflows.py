"""CI/CD supply chain: pinned actions and dependencies, least-privilege workflows, the release
(SBOM, signatures, provenance) and the deploy gates (DEPLOY-01..04, DEPLOY-10, DEPLOY-11).

Structure is read from the workflow YAML; what a well-kept scanner checks better
(template injection, dangerous triggers, cache poisoning, invalid expressions)
is left to zizmor and actionlint, whose findings become this control's findings.
What no tool sees offline -- GitHub's environment protection rules -- is out of
reach: the checks prove the workflows *name* the protected environments, and
docs/supply-chain.md lists the repository settings to enable.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .._model import Finding, Outcome, failed, passed, unknown
from .._project import Project
from .._registry import register
from .._tools import find_tool, install_hint, run_tool
from ._preflight_calls import preflight_calls

WORKFLOWS_DIR = ".github/workflows"
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v?\d+(\.\d+)*\S*")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?P<comment>#.*)?$")
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;]+)")
LOCK_HEAD = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)")
PRODUCTION = "production"
MIGRATIONS_ENVIRONMENT = "production-migrations"
MIGRATE_COMMAND = re.compile(r"(?:^|\s)(?:--\s+)?migrate(?:\s|$)")
OIDC_ISSUER_FLAG = "--certificate-oidc-issuer"
IDENTITY_FLAGS = ("--certificate-identity ", "--certificate-identity-regexp ", "--certificate-identity=")
ZIZMOR_PERSONA = "regular"
PROVENANCE_ACTIONS = ("actions/attest-build-provenance@", "slsa-framework/slsa-github-generator/")
PROVENANCE_ATTEST = re.compile(r"cosign attest[^\n]*--type[ =](slsaprovenance|https://slsa\.dev/provenance)")


@dataclass(frozen=True)
class Workflow:
    """One parsed workflow file."""

    path: Path
    relative: str
    text: str
    data: dict[str, Any]

    @property
    def triggers(self) -> set[str]:
        # YAML 1.1 reads the bare key `on` as the boolean True.
        on = self.data.get("on", self.data.get(True))
        if isinstance(on, str):
            return {on}
        if isinstance(on, list):
            return {str(item) for item in on}
        if isinstance(on, dict):
            return {str(key) for key in on}
        return set()

    @property
    def crons(self) -> list[str]:
        """The `on.schedule[*].cron` expressions."""
        on = self.data.get("on", self.data.get(True))
        schedule = on.get("schedule") if isinstance(on, dict) else None
        return [str(entry.get("cron", "")) for entry in schedule or [] if isinstance(entry, dict)]

    @property
    def runs(self) -> str:
        """Every `run:` script of every job, joined: what the workflow executes."""
        return "\n".join(_runs(self, job) for job in self.jobs.values())

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        jobs = self.data.get("jobs")
        return {str(k): v for k, v in jobs.items() if isinstance(v, dict)} if isinstance(jobs, dict) else {}

    def steps(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        steps = job.get("steps")
        return [step for step in steps if isinstance(step, dict)] if isinstance(steps, list) else []

    def line_of(self, needle: str) -> int | None:
        for number, line in enumerate(self.text.splitlines(), 1):
            if needle in line:
                return number
        return None


def _workflow_files(project: Project) -> list[Path]:
    directory = project.root / WORKFLOWS_DIR
    return [path for path in project.files if path.parent == directory and path.suffix in {".yml", ".yaml"}]


def _load(path: Path) -> dict[str, Any] | str:
    """The parsed workflow, or the parse error's first line."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        return str(error).splitlines()[0]
    return data if isinstance(data, dict) else "not a mapping"


def workflows(project: Project) -> list[Workflow]:
    loaded = []
    for path in _workflow_files(project):
        data = _load(path)
        if isinstance(data, dict):
            loaded.append(Workflow(path, project.relative(path), path.read_text(encoding="utf-8"), data))
    return loaded


def _environment(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    if isinstance(environment, dict):
        environment = environment.get("name")
    return str(environment) if environment else None


def _needs(job: dict[str, Any]) -> set[str]:
    needs = job.get("needs")
    if isinstance(needs, str):
        return {needs}
    return {str(item) for item in needs} if isinstance(needs, list) else set()


def _ancestors(workflow: Workflow, job_id: str) -> set[str]:
    seen: set[str] = set()
    todo = list(_needs(workflow.jobs.get(job_id, {})))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(_needs(workflow.jobs.get(current, {})))
    return seen


def _runs(workflow: Workflow, job: dict[str, Any]) -> str:
    """The job's scripts; a job calling a local reusable workflow runs that workflow's scripts."""
    uses = str(job.get("uses", ""))
    if uses.startswith("./.github/workflows/"):
        called = workflow.path.parent / uses.rsplit("/", 1)[1]
        data = _load(called) if called.is_file() else None
        if isinstance(data, dict):
            inner = Workflow(called, workflow.relative, "", data)
            return "\n".join(_runs(inner, inner_job) for inner_job in inner.jobs.values())
        return ""
    return "\n".join(str(step.get("run", "")) for step in workflow.steps(job))


def _uses(workflow: Workflow, job: dict[str, Any]) -> list[str]:
    return [str(step["uses"]) for step in workflow.steps(job) if "uses" in step]


# ------------------------------------------------------------------ prerequisite


@register("workflows.present", controls=("DEPLOY-01", "DEPLOY-03", "DEPLOY-04", "DEPLOY-10", "DEPLOY-11"))
def present(project: Project) -> Outcome:
    """The project has GitHub Actions workflows and every one of them parses."""
    files = _workflow_files(project)
    if not files:
        return failed(
            Finding(
                "no GitHub Actions workflows in .github/workflows/",
                "add CI, release and deploy workflows (secure-scaffold generates ci.yml, release.yml, deploy.yml)",
            )
        )
    broken = [
        Finding(f"workflow does not parse: {error}", "fix the YAML", path=project.relative(path))
        for path in files
        if isinstance(error := _load(path), str)
    ]
    if broken:
        return failed(*broken)
    return passed(f"{len(files)} workflow(s) parse")


# ------------------------------------------------------------------ DEPLOY-01: pinned actions


def _uses_lines(workflow: Workflow) -> Iterator[tuple[int, str, str]]:
    for number, line in enumerate(workflow.text.splitlines(), 1):
        match = USES_LINE.match(line)
        if match:
            yield number, match["ref"].strip("'\""), (match["comment"] or "")


@register("workflows.actions_pinned", controls=("DEPLOY-01",), requires=("workflows.present",))
def actions_pinned(project: Project) -> Outcome:
    """Every `uses:` names a full 40-hex commit SHA with a `# vX.Y.Z` comment (Dependabot keeps both current)."""
    findings = []
    count = 0
    for workflow in workflows(project):
        for number, ref, comment in _uses_lines(workflow):
            count += 1
            if ref.startswith("./"):
                continue
            if ref.startswith("docker://"):
                if "@sha256:" not in ref:
                    findings.append(
                        Finding(
                            f"container action {ref} is not pinned by digest",
                            "use docker://image@sha256:<digest>",
                            workflow.relative,
                            number,
                        )
                    )
                continue
            _, _, version = ref.partition("@")
            if not FULL_SHA.match(version):
                findings.append(
                    Finding(
                        f"{ref} is not pinned to a commit SHA",
                        "pin the full 40-hex commit SHA of the release: `uses: owner/action@<sha> # vX.Y.Z`",
                        workflow.relative,
                        number,
                    )
                )
            elif not VERSION_COMMENT.search(comment):
                findings.append(
                    Finding(
                        f"{ref} has no version comment",
                        "add `# vX.Y.Z` after the SHA so reviewers and Dependabot see the version",
                        workflow.relative,
                        number,
                    )
                )
    if findings:
        return failed(*findings)
    return passed(f"{count} action reference(s), each pinned to a commit SHA with its version")


# ------------------------------------------------------------------ least privilege


def _write_all(value: object) -> bool:
    return value == "write-all" or (isinstance(value, dict) and "write-all" in value.values())


def _permission_findings(workflow: Workflow) -> list[Finding]:
    findings = []
    top = workflow.data.get("permissions", None)
    read_only = top == {} or top == "read-all" or (isinstance(top, dict) and set(top.values()) <= {"read", "none"})
    if "permissions" not in workflow.data:
        findings.append(
            Finding(
                "no top-level `permissions:`; the token gets the repository's default (possibly write-all)",
                "add `permissions: {}` at the top and grant each job only what it needs",
                workflow.relative,
            )
        )
    elif not read_only:
        findings.append(
            Finding(
                f"top-level permissions grant write access: {top}",
                "use `permissions: {}` at the top and grant write scopes per job",
                workflow.relative,
                workflow.line_of("permissions:"),
            )
        )
    for job_id, job in workflow.jobs.items():
        if _write_all(job.get("permissions")):
            findings.append(
                Finding(
                    f"job {job_id} asks for write-all",
                    "list the scopes the job needs (e.g. contents: read)",
                    workflow.relative,
                    workflow.line_of("write-all"),
                )
            )
    return findings


def _checkout_findings(workflow: Workflow) -> list[Finding]:
    findings = []
    checks_out = False
    for job_id, job in workflow.jobs.items():
        for step in workflow.steps(job):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                checks_out = True
                options = step.get("with") if isinstance(step.get("with"), dict) else {}
                if str(options.get("persist-credentials", "true")).lower() != "false":
                    findings.append(
                        Finding(
                            f"job {job_id}: checkout leaves the token in .git/config",
                            "set `persist-credentials: false` on actions/checkout",
                            workflow.relative,
                            workflow.line_of("actions/checkout@"),
                        )
                    )
    if "pull_request_target" in workflow.triggers and checks_out:
        findings.append(
            Finding(
                "pull_request_target with a checkout: untrusted pull-request code runs with the base repository's "
                "token and secrets",
                "use `pull_request` (no secrets, read-only token) for anything that checks out or runs PR code",
                workflow.relative,
                workflow.line_of("pull_request_target"),
            )
        )
    return findings


def _stored_cloud_keys(workflow: Workflow) -> list[Finding]:
    needles = ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
    return [
        Finding(
            f"long-lived AWS keys referenced ({needle})",
            "assume a role with GitHub OIDC (aws-actions/configure-aws-credentials with role-to-assume)",
            workflow.relative,
            workflow.line_of(needle),
        )
        for needle in needles
        if needle in workflow.text
    ]


@register("workflows.least_privilege", controls=("DEPLOY-03", "DEPLOY-04"), requires=("workflows.present",))
def least_privilege(project: Project) -> Outcome:
    """Read-only token by default, no write-all, no credentials left by checkout, no pull_request_target
    running PR code, no stored cloud keys."""
    findings = []
    loaded = workflows(project)
    for workflow in loaded:
        findings += _permission_findings(workflow) + _checkout_findings(workflow) + _stored_cloud_keys(workflow)
    if findings:
        return failed(*findings)
    return passed(f"{len(loaded)} workflow(s): permissions {{}} or read-only by default, credentials not persisted")


# ------------------------------------------------------------------ scanners


@register("workflows.zizmor", controls=("DEPLOY-03", "DEPLOY-04"), requires=("workflows.present",), runs_tool=True)
def zizmor(project: Project) -> Outcome:
    """zizmor (offline, regular persona) finds nothing in the workflows and dependabot.yml."""
    executable = find_tool("zizmor", project.root)
    if executable is None:
        return unknown("zizmor is not installed", install_hint("zizmor"))
    run = run_tool(
        executable, "--offline", "--persona", ZIZMOR_PERSONA, "--format", "json-v1", ".github", cwd=project.root
    )
    try:
        results = json.loads(run.stdout or "null")
    except json.JSONDecodeError:
        results = None
    if not isinstance(results, list):
        return unknown(f"zizmor failed (exit {run.returncode}): {run.stderr.strip()[-300:]}", "run zizmor by hand")
    findings = []
    for result in results:
        if result.get("ignored"):
            continue
        location = next(iter(result.get("locations", [])), {})
        path = location.get("symbolic", {}).get("key", {}).get("Local", {}).get("verbatim_path")
        row = location.get("concrete", {}).get("location", {}).get("start_point", {}).get("row")
        severity = result.get("determinations", {}).get("severity", "?")
        findings.append(
            Finding(
                f"zizmor {result.get('ident')} ({severity}): {result.get('desc')}",
                f"see {result.get('url', 'https://docs.zizmor.sh/audits/')}",
                path,
                row + 1 if isinstance(row, int) else None,
            )
        )
    if findings:
        return failed(*findings, zizmor=run.stdout)
    return passed("zizmor found nothing", zizmor=run.stdout)


@register("workflows.actionlint", controls=("DEPLOY-10",), requires=("workflows.present",), runs_tool=True)
def actionlint(project: Project) -> Outcome:
    """actionlint finds no error in any workflow (syntax, expressions, job graph, runner labels)."""
    executable = find_tool("actionlint", project.root)
    if executable is None:
        return unknown("actionlint is not installed", install_hint("actionlint"))
    names = [project.relative(path) for path in _workflow_files(project)]
    run = run_tool(executable, "-format", "{{json .}}", *names, cwd=project.root)
    if run.returncode not in (0, 1):
        return unknown(f"actionlint failed (exit {run.returncode}): {run.stderr.strip()[-300:]}", "run it by hand")
    try:
        problems = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return unknown("actionlint printed no JSON", "run it by hand")
    findings = [
        Finding(
            f"actionlint [{problem.get('kind')}]: {problem.get('message')}",
            "fix the workflow; actionlint explains each message",
            problem.get("filepath"),
            problem.get("line"),
        )
        for problem in problems
    ]
    if findings:
        return failed(*findings, actionlint=run.stdout)
    return passed(f"actionlint: {len(names)} workflow(s) clean", actionlint=run.stdout)


# ------------------------------------------------------------------ deploy gates


def _deploy_workflows(loaded: list[Workflow]) -> list[Workflow]:
    return [
        workflow
        for workflow in loaded
        if any(_environment(job) in {PRODUCTION, MIGRATIONS_ENVIRONMENT} for job in workflow.jobs.values())
        or workflow.path.stem == "deploy"
    ]


def _verifies_signature(runs: str) -> bool:
    return "cosign verify " in runs and OIDC_ISSUER_FLAG in runs and any(flag in runs for flag in IDENTITY_FLAGS)


def _verifies_provenance(runs: str) -> bool:
    return "gh attestation verify" in runs or "cosign verify-attestation" in runs or "slsa-verifier" in runs


def _gates_on_preflight(script: str) -> bool:
    """A full preflight run whose failure fails the job: no --only/--skip/--allow-unknown, no `|| true`."""
    return any(not call.narrowing() and not call.exit_ignored for call in preflight_calls(script))


def _gate_findings(workflow: Workflow) -> list[Finding]:
    jobs = workflow.jobs
    runs = {job_id: _runs(workflow, job) for job_id, job in jobs.items()}
    preflight = {job_id for job_id, text in runs.items() if _gates_on_preflight(text)}
    signature = {job_id for job_id, text in runs.items() if _verifies_signature(text)}
    provenance = {job_id for job_id, text in runs.items() if _verifies_provenance(text)}
    production = [job_id for job_id, job in jobs.items() if _environment(job) == PRODUCTION]
    findings = []
    if not production:
        findings.append(
            Finding(
                "no job deploys in the `production` environment",
                "run the deploy job with `environment: production` and require reviewers on that environment",
                workflow.relative,
            )
        )
    gated = [job_id for job_id, job in jobs.items() if _environment(job) in {PRODUCTION, MIGRATIONS_ENVIRONMENT}]
    for job_id in gated:
        before = _ancestors(workflow, job_id)
        for required, what, hint in (
            (
                preflight,
                "the preflight gate",
                "add a job running the full `secure-scaffold preflight` (no --only, --skip or --allow-unknown; "
                "its failure fails the job) and list it in `needs:`",
            ),
            (signature, "cosign signature verification", "verify with `cosign verify --certificate-identity ...`"),
            (provenance, "provenance verification", "run `gh attestation verify` (or cosign verify-attestation)"),
        ):
            if not required & before:
                findings.append(
                    Finding(
                        f"job {job_id} ({_environment(jobs[job_id])}) does not need {what}",
                        hint,
                        workflow.relative,
                        workflow.line_of(f"{job_id}:"),
                    )
                )
    for job_id, text in runs.items():
        if MIGRATE_COMMAND.search(text) and _environment(jobs[job_id]) != MIGRATIONS_ENVIRONMENT:
            findings.append(
                Finding(
                    f"job {job_id} runs migrations outside the `{MIGRATIONS_ENVIRONMENT}` environment",
                    f"run migrations in a job with `environment: {MIGRATIONS_ENVIRONMENT}` (required reviewers)",
                    workflow.relative,
                    workflow.line_of(f"{job_id}:"),
                )
            )
    return findings


@register("workflows.deploy_gates", controls=("DEPLOY-04", "DEPLOY-10", "DEPLOY-11"), requires=("workflows.present",))
def deploy_gates(project: Project) -> Outcome:
    """Production jobs need the preflight gate and verified signature + provenance; migrations run in the
    approval-gated `production-migrations` environment."""
    deploys = _deploy_workflows(workflows(project))
    if not deploys:
        return failed(
            Finding(
                "no deploy workflow (no job in the `production` environment)",
                "add .github/workflows/deploy.yml: preflight -> verify -> migrate (production-migrations) -> deploy",
            )
        )
    findings = [finding for workflow in deploys for finding in _gate_findings(workflow)]
    if findings:
        return failed(*findings)
    return passed(
        "production jobs need preflight, cosign verification and provenance verification; "
        f"migrations run in {MIGRATIONS_ENVIRONMENT}"
    )


# ------------------------------------------------------------------ supply chain


def _lock_entries(text: str) -> tuple[dict[str, set[str]], list[str]]:
    """(name -> locked versions, names with an entry that has no hash). A universal lock may hold
    one package at two versions under complementary markers."""
    entries: dict[str, set[str]] = {}
    unhashed: set[str] = set()
    lines = text.splitlines()
    for number, line in enumerate(lines):
        match = LOCK_HEAD.match(line)
        if match:
            name = _normalize(match.group(1))
            entries.setdefault(name, set()).add(match.group(2))
            following = lines[number + 1] if number + 1 < len(lines) else ""
            if not following.strip().startswith("--hash=sha256:"):
                unhashed.add(name)
    return entries, sorted(unhashed)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(pyproject: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """(name -> pinned version, requirements not pinned with ==)."""
    project = pyproject.get("project", {})
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    pins, loose = {}, []
    for requirement in requirements:
        match = PIN.match(requirement)
        if match:
            pins[_normalize(match.group(1))] = match.group(3)
        else:
            loose.append(requirement)
    return pins, loose


def _unhashed_installs(project: Project) -> list[Finding]:
    """`pip install` lines in workflows and the Dockerfile that do not check hashes."""
    sources = [(workflow.relative, workflow.text) for workflow in workflows(project)]
    dockerfile = project.read("Dockerfile")
    if dockerfile is not None:
        sources.append(("Dockerfile", dockerfile))
    findings = []
    for relative, text in sources:
        for number, line in enumerate(text.splitlines(), 1):
            if "pip install" not in line or line.lstrip().startswith("#"):
                continue
            # `--no-deps pkg==X` is not safe: the version is pinned, the file is not (item 6 of issue 18).
            safe = "--require-hashes" in line or "--no-index" in line
            if not safe:
                findings.append(
                    Finding(
                        "pip install without hash checking",
                        "install from a lock: `pip install --require-hashes -r requirements.lock`",
                        relative,
                        number,
                    )
                )
    return findings


@register("supplychain.locked_dependencies", controls=("DEPLOY-01",))
def locked_dependencies(project: Project) -> Outcome:
    """pyproject pins exact versions; requirements.lock holds each at that version with SHA-256 hashes;
    workflows and the Dockerfile install with hash checking."""
    pyproject_text, lock_text = project.read("pyproject.toml"), project.read("requirements.lock")
    if pyproject_text is None or lock_text is None:
        missing = "pyproject.toml" if pyproject_text is None else "requirements.lock"
        return failed(
            Finding(
                f"{missing} is missing",
                "pin exact versions in pyproject.toml and lock them with hashes "
                "(uv pip compile --universal --generate-hashes)",
            )
        )
    try:
        pins, loose = _pins(tomllib.loads(pyproject_text))
    except tomllib.TOMLDecodeError as error:
        return failed(Finding(f"pyproject.toml does not parse: {error}", "fix it", "pyproject.toml"))
    locked, unhashed = _lock_entries(lock_text)
    findings = [
        Finding(f"{requirement!r} is not pinned with ==", "pin the exact version", "pyproject.toml")
        for requirement in loose
    ]
    findings += [
        Finding(f"{name} has no --hash in requirements.lock", "regenerate the lock with hashes", "requirements.lock")
        for name in unhashed
    ]
    for name, version in sorted(pins.items()):
        if locked.get(name) != {version}:
            found = " or ".join(sorted(locked[name])) if name in locked else "nothing"
            findings.append(
                Finding(
                    f"{name}=={version} is pinned but requirements.lock has {found}",
                    "regenerate requirements.lock after changing a pin",
                    "requirements.lock",
                )
            )
    findings += _unhashed_installs(project)
    if findings:
        return failed(*findings)
    return passed(f"{len(pins)} pins locked with hashes among {len(locked)} locked packages; installs check hashes")


def _release_workflows(loaded: list[Workflow]) -> list[Workflow]:
    return [workflow for workflow in loaded if workflow.path.stem == "release" or "release" in workflow.triggers]


@register("supplychain.sbom_and_signing", controls=("DEPLOY-02", "DEPLOY-03"), requires=("workflows.present",))
def sbom_and_signing(project: Project) -> Outcome:
    """The release workflow builds CycloneDX SBOMs, signs with cosign (keyless), attests build provenance,
    and attaches SBOMs and signatures to the release."""
    releases = _release_workflows(workflows(project))
    if not releases:
        return failed(
            Finding(
                "no release workflow",
                "add .github/workflows/release.yml: build, SBOM (cyclonedx), cosign sign, attest provenance",
            )
        )
    findings = []
    for workflow in releases:
        runs = "\n".join(_runs(workflow, job) for job in workflow.jobs.values())
        uses = [ref for job in workflow.jobs.values() for ref in _uses(workflow, job)]
        keyless = any(
            isinstance(job.get("permissions"), dict) and job["permissions"].get("id-token") == "write"
            for job in workflow.jobs.values()
        )
        requirements = (
            (
                "cyclonedx-py" in runs
                or re.search(r'syft"? scan', runs) is not None
                or any(ref.startswith("anchore/sbom-action@") for ref in uses),
                "no CycloneDX SBOM is generated",
                "run cyclonedx-py (Python deps) and a pinned syft (the image)",
            ),
            ("cosign sign" in runs, "nothing is signed with cosign", "cosign sign / cosign sign-blob --bundle"),
            (keyless, "no job may request an OIDC token (keyless signing)", "grant `id-token: write` to that job"),
            (
                any(ref.startswith(PROVENANCE_ACTIONS) for ref in uses) or PROVENANCE_ATTEST.search(runs) is not None,
                "no build provenance is attested",
                "add actions/attest-build-provenance for the wheel and the image",
            ),
            (
                "gh release upload" in runs or any(ref.startswith("softprops/action-gh-release@") for ref in uses),
                "SBOMs and signatures are not attached to the release",
                "gh release upload <tag> dist/*",
            ),
        )
        findings += [
            Finding(message, hint, workflow.relative) for satisfied, message, hint in requirements if not satisfied
        ]
    if findings:
        return failed(*findings)
    return passed("release: CycloneDX SBOMs, cosign keyless signatures, build provenance, attached to the release")
