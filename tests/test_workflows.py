"""The generated CI/CD: hardened workflows, hash-locked dependencies, a valid SBOM, offline signing.

Projects are rendered for a few answer combinations that change these files
(the OPA step in ci.yml, the dependency sets behind the locks). Then:
zizmor (offline, pedantic) and actionlint report nothing on any workflow, the
`run:` scripts pass shellcheck, every action is pinned to one of the commit SHAs
verified in PINNED_ACTIONS, permissions start from nothing, checkouts keep no
credentials, the rendered locks cover the rendered pins, the bundled semgrep
rules fire on bad code and not on the app, and an SBOM of a demo environment
validates against the CycloneDX 1.6 schema and survives offline signing only
untampered. Tools come from `make tools` (tests/_supply_chain_tools.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

import _supply_chain_tools as tools

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import lock_generated  # noqa: E402 - the lock generator lives in scripts/

COMBINATIONS = {
    "default": {},
    "opa-cloud-nobilling": {
        "policy_engine": "opa",
        "secrets_backend": "cloud",
        "payment_provider": "none",
        "tenancy": "schema",
    },
    "keycloak-silo-adyen-ai": {"idp": "keycloak", "tenancy": "silo", "payment_provider": "adyen", "ai_features": True},
}

#: Every action the template uses, at the commit verified to be that release (see docs/supply-chain.md
#: of a generated project for how they were verified). A new or updated pin is added here on purpose.
PINNED_ACTIONS = {
    "actions/checkout": ("08c6903cd8c0fde910a37f88322edcfb5dd907a8", "v5.0.0"),
    "actions/setup-python": ("e797f83bcb11b83ae66e0230d6156d7c80228e7c", "v6.0.0"),
    "actions/setup-go": ("44694675825211faa026b3c33043df3e48a5fa00", "v6.0.0"),
    "actions/upload-artifact": ("330a01c490aca151604b8cf639adc76d48f6c5d4", "v5.0.0"),
    "actions/download-artifact": ("634f93cb2916e3fdff6788551b99b062d0335ce0", "v5.0.0"),
    "actions/attest-build-provenance": ("c074443f1aee8d4aeeae555aebba3282517141b2", "v2.2.3"),
    "docker/setup-buildx-action": ("b5ca514318bd6ebac0fb2aedd5d36ec1b5c232a2", "v3.10.0"),
    "docker/login-action": ("74a5d142397b4f367a81961eba4e8cd7edddf772", "v3.4.0"),
    "docker/build-push-action": ("471d1dc4e07e5cdedd4c2171150001c434f0b7a4", "v6.15.0"),
    "sigstore/cosign-installer": ("d7d6bc7722e3daa8354c50bcb52f4837da5e9b6a", "v3.8.1"),
    "aws-actions/configure-aws-credentials": ("61815dcd50bd041e203e49132bacad1fd04d2708", "v5.1.1"),
    "ossf/scorecard-action": ("4eaacf0543bb3f2c246792bd56e8cdeffafb205a", "v2.4.3"),
    "github/codeql-action/upload-sarif": ("5d4e8d1aca955e8d8589aabd499c5cae939e33c7", "v4.31.9"),
    # The commit tag v4.0.1 points to in github.com/hashicorp/setup-terraform (2026-05-12).
    "hashicorp/setup-terraform": ("dfe3c3f87815947d99a8997f908cb6525fc44e9e", "v4.0.1"),
}
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?:\s+#\s*(?P<version>\S+))?")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
UNTRUSTED_IN_RUN = re.compile(r"\$\{\{\s*(github\.event\.|github\.head_ref|inputs\.)")
LOCK_HEAD = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)")
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;]+)")


@pytest.fixture(scope="module")
def projects(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("workflows")
    rendered = {}
    for name, answers in COMBINATIONS.items():
        copier.run_copy(str(template_snapshot), root / name, data=answers, defaults=True, quiet=True, unsafe=False)
        rendered[name] = root / name
    return rendered


def _workflows(project: Path) -> list[Path]:
    files = sorted((project / ".github" / "workflows").glob("*.yml"))
    assert [path.name for path in files] == [
        "ci.yml",
        "control-review.yml",
        "deploy.yml",
        "nightly.yml",
        "release.yml",
        "scorecard.yml",
        "verify-release.yml",
    ]
    return files


def _load(path: Path) -> dict[Any, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(params=list(COMBINATIONS))
def project(request: pytest.FixtureRequest, projects: dict[str, Path]) -> Path:
    return projects[request.param]


# ------------------------------------------------------------------ scanners: zero findings


def test_zizmor_pedantic_finds_nothing(project: Path) -> None:
    result = subprocess.run(
        [tools.zizmor(), "--offline", "--persona", "pedantic", "--format", "json-v1", ".github"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "null")
    assert findings == [], [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings or []]
    assert result.returncode == 0, result.stderr[-2000:]


def test_zizmor_reports_a_broken_workflow(projects: dict[str, Path], tmp_path: Path) -> None:
    """The scanner run above can fail: the same tree with an injectable `run:` is reported."""
    broken = tmp_path / "broken"
    (broken / ".github" / "workflows").mkdir(parents=True)
    ci = (projects["default"] / ".github" / "workflows" / "ci.yml").read_text()
    ci = ci.replace("run: .venv/bin/python -m pytest -ra", 'run: echo "${{ github.event.pull_request.title }}"')
    (broken / ".github" / "workflows" / "ci.yml").write_text(ci)
    result = subprocess.run(
        [tools.zizmor(), "--offline", "--persona", "pedantic", "--format", "json-v1", ".github"],
        cwd=broken,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "template-injection" in {finding["ident"] for finding in json.loads(result.stdout)}


def test_actionlint_finds_nothing(project: Path) -> None:
    files = [str(path.relative_to(project)) for path in _workflows(project)]
    result = subprocess.run(
        [tools.actionlint(), "-format", "{{json .}}", *files], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert json.loads(result.stdout) == []


def test_actionlint_reports_a_broken_workflow(projects: dict[str, Path], tmp_path: Path) -> None:
    ci = (projects["default"] / ".github" / "workflows" / "ci.yml").read_text()
    broken = tmp_path / "ci.yml"
    broken.write_text(ci.replace("runs-on: ubuntu-24.04", "runs-on: ubuntu-24.04\n    needs: no-such-job", 1))
    result = subprocess.run(
        [tools.actionlint(), "-format", "{{json .}}", str(broken)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert any("no-such-job" in problem["message"] for problem in json.loads(result.stdout))


def _run_scripts(path: Path) -> list[tuple[str, str]]:
    scripts = []
    for job_id, job in _load(path)["jobs"].items():
        for index, step in enumerate(job.get("steps", [])):
            if "run" in step:
                scripts.append((f"{path.name}:{job_id}:{step.get('name', index)}", step["run"]))
    return scripts


def test_run_scripts_pass_shellcheck(project: Path) -> None:
    """What actionlint's Go build does with shellcheck and its wasm build cannot."""
    problems = []
    for path in _workflows(project):
        for where, script in _run_scripts(path):
            # As actionlint does: expressions become plain words, GitHub runs bash -e.
            text = EXPRESSION.sub("placeholder", script)
            result = subprocess.run(
                [tools.shellcheck(), "--shell=bash", "--norc", "--exclude=SC1091,SC2154", "-"],
                input=text,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                problems.append(f"{where}:\n{result.stdout}")
    assert problems == []


# ------------------------------------------------------------------ hardening rules


def test_every_action_is_pinned_to_a_verified_commit_with_its_version(project: Path) -> None:
    seen = set()
    for path in _workflows(project):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = USES.match(line)
            if not match:
                continue
            action, ref, version = match["action"], match["ref"], match["version"]
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}:{number}: {action}@{ref} is not a commit SHA"
            assert version, f"{path.name}:{number}: {action}@{ref} has no `# vX.Y.Z` comment"
            assert PINNED_ACTIONS.get(action) == (ref, version), (
                f"{path.name}:{number}: {action}@{ref} # {version} is not a verified pin; verify it, then add it"
            )
            seen.add(action)
    assert seen, "no action found: the USES pattern is broken"


def test_container_images_are_pinned_by_digest(project: Path) -> None:
    ci = _load(project / ".github" / "workflows" / "ci.yml")
    images = [service["image"] for job in ci["jobs"].values() for service in job.get("services", {}).values()]
    assert images
    assert all(re.search(r"@sha256:[0-9a-f]{64}$", image) for image in images), images
    froms = re.findall(r"^FROM (\S+)", (project / "Dockerfile").read_text(), flags=re.MULTILINE)
    assert len(froms) == 2
    assert all(re.search(r"@sha256:[0-9a-f]{64}$", image) for image in froms), froms


def test_permissions_start_from_nothing_and_no_job_writes_everything(project: Path) -> None:
    for path in _workflows(project):
        workflow = _load(path)
        assert workflow["permissions"] == {}, f"{path.name}: top-level permissions must be {{}}"
        for job_id, job in workflow["jobs"].items():
            assert isinstance(job.get("permissions"), dict), f"{path.name}:{job_id} must list its permissions"
            assert "write-all" not in str(job["permissions"])
            if "uses" not in job:  # a reusable-workflow call: its jobs carry the timeouts
                assert isinstance(job.get("timeout-minutes"), int), f"{path.name}:{job_id} has no timeout"
        assert "concurrency" in workflow, f"{path.name} has no concurrency group"


def test_no_pull_request_target_and_no_persisted_credentials(project: Path) -> None:
    for path in _workflows(project):
        workflow = _load(path)
        assert "pull_request_target" not in workflow[True], path.name  # YAML 1.1 reads `on` as True
        assert "workflow_run" not in workflow[True], path.name
        for job_id, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}:{job_id}"


def test_no_untrusted_expression_reaches_a_shell(project: Path) -> None:
    for path in _workflows(project):
        for where, script in _run_scripts(path):
            assert not UNTRUSTED_IN_RUN.search(script), f"{where}: pass it through env: instead"


def test_deploy_gates(project: Path) -> None:
    deploy = _load(project / ".github" / "workflows" / "deploy.yml")
    jobs = deploy["jobs"]
    assert jobs["migrate"]["environment"]["name"] == "production-migrations"
    assert jobs["deploy"]["environment"]["name"] == "production"
    assert set(jobs["migrate"]["needs"]) >= {"preflight", "verify"}
    assert set(jobs["deploy"]["needs"]) >= {"preflight", "verify", "migrate"}
    assert jobs["verify"]["uses"] == "./.github/workflows/verify-release.yml"
    called = _load(project / ".github" / "workflows" / "verify-release.yml")["jobs"]
    verify = "\n".join(step.get("run", "") for step in called["verify"]["steps"])
    assert "/.github/workflows/release.yml@refs/tags/${VERSION}" in verify, "the signer identity must be pinned"
    assert "--certificate-oidc-issuer" in verify
    assert '--certificate-github-workflow-sha "$SOURCE_SHA"' in verify
    assert "git merge-base --is-ancestor" in verify
    assert "gh attestation verify" in verify
    assert "sbom_policy.py" in verify
    for workflow, job_id in (("deploy.yml", "migrate"), ("deploy.yml", "deploy"), ("verify-release.yml", "promote")):
        job = _load(project / ".github" / "workflows" / workflow)["jobs"][job_id]
        aws = next(s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/"))
        assert "role-to-assume" in aws["with"]
        assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"]), "OIDC only, no stored keys"
        assert job["permissions"]["id-token"] == "write"
    preflight = "\n".join(step.get("run", "") for step in jobs["preflight"]["steps"])
    assert "secure-scaffold preflight" in preflight


def test_release_signs_attests_and_ships_sboms(project: Path) -> None:
    release = (project / ".github" / "workflows" / "release.yml").read_text()
    for needle in (
        "cyclonedx-py environment",
        "go install github.com/anchore/syft/cmd/syft@v1.51.0",
        '-o "cyclonedx-json=image.cdx.json"',
        "cosign sign --yes",
        "cosign attest --yes --type cyclonedx",
        "cosign sign-blob --yes --bundle",
        "actions/attest-build-provenance@",
        "gh release upload",
    ):
        assert needle in release, needle
    assert "anchore/sbom-action" not in release


def test_the_distribution_is_hashed_before_the_sbom_tools_and_checked_before_signing(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    """B6 (red team): the SBOM tools run in the build job after the wheel exists; what they could change in
    dist/ must not be signed. The hash is taken before any tool is installed and checked by `publish`."""
    release = _load(projects["default"] / ".github" / "workflows" / "release.yml")
    build, publish = release["jobs"]["build"], release["jobs"]["publish"]
    names = [step.get("name", "") for step in build["steps"]]
    hashed = next(i for i, step in enumerate(build["steps"]) if step.get("id") == "built")
    first_tool = next(i for i, step in enumerate(build["steps"]) if "python-tools.lock" in step.get("run", ""))
    assert names[hashed - 1].startswith("Build")
    assert hashed < first_tool
    assert build["outputs"]["dist-sha256"] == "${{ steps.built.outputs.sha256 }}"
    steps = publish["steps"]
    check = next(i for i, step in enumerate(steps) if "dist-sha256" in str(step.get("env", {})))
    first_sign = next(i for i, step in enumerate(steps) if "cosign sign-blob" in step.get("run", ""))
    assert check < first_sign
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "app-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (dist / "app-1.0.tar.gz").write_bytes(b"sdist")
    output = tmp_path / "output"
    subprocess.run(["bash", "-e", "-c", build["steps"][hashed]["run"]], cwd=tmp_path, check=True,
                   env={"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output)})  # fmt: skip
    expected = output.read_text(encoding="utf-8").strip().removeprefix("sha256=")

    def verify() -> int:
        env = {"PATH": "/usr/bin:/bin", "EXPECTED": expected}
        return subprocess.run(["bash", "-e", "-c", steps[check]["run"]], cwd=tmp_path, env=env, check=False).returncode

    assert verify() == 0
    (dist / "app-1.0-py3-none-any.whl").write_bytes(b"wheel with a tool's extra file")
    assert verify() == 1


FAKE_GH = """#!/bin/sh
# `gh api` prints the canned runs; `gh run download` records which run it would trust.
case "$1" in
  api) cat "$FAKE_RUNS" ;;
  run) echo "$3" >> "$FAKE_DOWNLOADS" ;;
esac
"""


def _git(repository: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repository), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_control_review_trusts_only_mains_own_runs(projects: dict[str, Path], tmp_path: Path) -> None:
    """B3 (red team): `headBranch == "main"` also matches a fork's main (a pull request) and a tag named main;
    only this repository's scheduled or dispatched runs on a commit of main may supply earlier outcomes."""
    workflow = projects["default"] / ".github" / "workflows" / "control-review.yml"
    (script,) = [run for name, run in _run_scripts(workflow) if "Earlier quarters" in name]
    repository = tmp_path / "repository"
    repository.mkdir()
    _git(repository, "init", "-q", "-b", "main")
    _git(repository, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "a")
    on_main = _git(repository, "rev-parse", "HEAD")
    _git(repository, "update-ref", "refs/remotes/origin/main", on_main)
    _git(repository, "checkout", "-q", "-b", "elsewhere")
    _git(repository, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "b")
    off_main = _git(repository, "rev-parse", "HEAD")
    mine = {"full_name": "acme/app"}
    runs = [
        {"id": 1, "head_branch": "main", "event": "schedule", "head_sha": on_main, "head_repository": mine},
        {"id": 2, "head_branch": "main", "event": "pull_request", "head_sha": on_main,
         "head_repository": {"full_name": "mallory/app"}},
        {"id": 3, "head_branch": "main", "event": "schedule", "head_sha": on_main,
         "head_repository": {"full_name": "mallory/app"}},
        {"id": 4, "head_branch": "main", "event": "push", "head_sha": off_main, "head_repository": mine},
        {"id": 5, "head_branch": "main", "event": "workflow_dispatch", "head_sha": off_main, "head_repository": mine},
        {"id": 6, "head_branch": "main", "event": "workflow_dispatch", "head_sha": on_main, "head_repository": mine},
    ]  # fmt: skip
    (tmp_path / "runs.json").write_text(json.dumps({"workflow_runs": runs}), encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH, encoding="utf-8")
    (bin_dir / "gh").chmod(0o755)
    downloads = tmp_path / "downloads"
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=repository,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "GITHUB_REPOSITORY": "acme/app",
            "FAKE_RUNS": str(tmp_path / "runs.json"),
            "FAKE_DOWNLOADS": str(downloads),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert downloads.read_text(encoding="utf-8").split() == ["1", "6"]


def test_dependabot_has_a_cooldown_for_every_ecosystem(project: Path) -> None:
    config = _load(project / ".github" / "dependabot.yml")
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert ecosystems >= {"pip", "github-actions", "docker"}
    for update in config["updates"]:
        assert update["cooldown"]["default-days"] >= 7, update["package-ecosystem"]
        assert update.get("groups"), f"{update['package-ecosystem']} updates are not grouped"


def test_ci_installs_only_hash_checked_packages(project: Path) -> None:
    for path in [*_workflows(project), project / "Dockerfile"]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "pip install" in line and not line.lstrip().startswith("#"):
                hashed = "--require-hashes" in line or "--no-index" in line
                assert hashed, f"{path.name}:{number}: {line.strip()}"


# ------------------------------------------------------------------ locks


def _lock(path: Path) -> dict[str, dict[str, Any]]:
    """name -> its versions (two when a universal lock forks on a marker), entries without a hash, its parents."""
    entries: dict[str, dict[str, Any]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    current: dict[str, Any] | None = None
    for number, line in enumerate(lines):
        if match := LOCK_HEAD.match(line):
            name = lock_generated.normalize(match.group(1))
            current = entries.setdefault(name, {"versions": set(), "unhashed": 0, "via": set()})
            current["versions"].add(match.group(2))
            following = lines[number + 1] if number + 1 < len(lines) else ""
            current["unhashed"] += not following.strip().startswith("--hash=sha256:")
        elif current is not None and line.strip().startswith("# via "):
            current["via"] |= {lock_generated.normalize(v.strip()) for v in line.split("via", 1)[1].split(",")}
    return entries


def _rendered_pins(project: Path, groups: tuple[str, ...]) -> dict[str, str]:
    import tomllib

    data = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    requirements = []
    if "runtime" in groups:
        requirements += data["dependencies"]
    if "dev" in groups:
        requirements += data["optional-dependencies"]["dev"]
    pins = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, requirement
        pins[lock_generated.normalize(match.group(1))] = match.group(3)
    return pins


@pytest.mark.parametrize(
    ("lock_name", "groups"),
    [("requirements.lock", ("runtime", "dev")), ("requirements-runtime.lock", ("runtime",))],
)
def test_rendered_lock_covers_exactly_the_rendered_pins(project: Path, lock_name: str, groups: tuple[str, ...]) -> None:
    locked = _lock(project / lock_name)
    pins = _rendered_pins(project, groups)
    for name, version in pins.items():
        assert name in locked, f"{lock_name}: {name} is pinned but has no hash block (run `make lock`)"
        assert locked[name]["versions"] == {version}, f"{lock_name}: {name} {locked[name]['versions']} != pin {version}"
    for name, entry in locked.items():
        assert entry["unhashed"] == 0, f"{lock_name}: {name} has no hash"
        if name in pins:
            continue
        # Not pinned here: it must be there because something in this same lock depends on it.
        assert entry["via"] & set(locked), f"{lock_name}: {name} is locked but nothing here needs it ({entry['via']})"


def test_lock_templates_cover_every_pin_of_the_pyproject_template() -> None:
    """Offline guard for `make lock`: a pin added to pyproject.toml.jinja has a hash block under its condition."""
    pins = lock_generated.read_pins((REPO / "template" / "pyproject.toml.jinja").read_text(encoding="utf-8"))
    template = (REPO / "template" / "requirements.lock.jinja").read_text(encoding="utf-8")
    stale = []
    for pin in pins:
        block = re.search(
            rf"(\{{%- if (?P<condition>[^\n]+) %\}}\n)?{re.escape(pin.name)}=={re.escape(pin.version)}[ \n]", template
        )
        if block is None:
            stale.append(f"{pin.name}=={pin.version} has no hash block")
        elif pin.condition and block["condition"] and pin.condition not in block["condition"]:
            stale.append(f"{pin.name}: lock guarded by {block['condition']!r}, pin by {pin.condition!r}")
    assert stale == [], "requirements.lock.jinja is stale; run `make lock`:\n" + "\n".join(stale)


# ------------------------------------------------------------------ semgrep rules


BAD_CODE = """
import random
import ssl
import subprocess

import httpx
import jwt
import pickle
import sqlalchemy
import yaml

httpx.get("https://idp.example", verify=False)
eval("1 + 1")
COLUMNS = "id, name"


def find(connection, name):
    connection.execute(sqlalchemy.text(f"SELECT {COLUMNS} FROM users WHERE name = :name"), {"name": name})
    return connection.execute(f"SELECT * FROM users WHERE name = '{name}'")
token = random.choice("abc")
yaml.load(open("x"), Loader=yaml.Loader)
pickle.loads(b"")
subprocess.run("ls " + name, shell=True)
jwt.decode(token, options={"verify_signature": False})
"""


def _semgrep(target: Path, rules: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            tools.semgrep(),
            "scan",
            "--metrics=off",
            "--disable-version-check",
            "--json",
            "--config",
            str(rules),
            str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert not report["errors"], report["errors"]
    return report["results"]


def test_semgrep_rules_are_quiet_on_the_app_and_fire_on_bad_code(projects: dict[str, Path], tmp_path: Path) -> None:
    rules = projects["default"] / ".semgrep"
    for name in COMBINATIONS:  # pooled, schema and silo tenancy: each has its own SQL
        findings = _semgrep(projects[name] / "src", rules)
        assert findings == [], [(f["check_id"], f["path"], f["start"]["line"]) for f in findings]
    bad = tmp_path / "app" / "bad.py"
    bad.parent.mkdir()
    bad.write_text(BAD_CODE, encoding="utf-8")
    results = _semgrep(bad, rules)
    fired = {finding["check_id"].rsplit(".", 1)[-1] for finding in results}
    sql_lines = {f["start"]["line"] for f in results if f["check_id"].endswith("sql-built-from-strings")}
    constant_line = next(n for n, line in enumerate(BAD_CODE.splitlines(), 1) if "{COLUMNS}" in line)
    assert constant_line not in sql_lines, "interpolating a module constant is not injection"
    declared = {rule["id"] for rule in yaml.safe_load((rules / "python-security.yml").read_text())["rules"]}
    assert fired == declared, f"rules that never fired on the bad example: {declared - fired}"


# ------------------------------------------------------------------ bandit and the Dockerfile


def test_bandit_finds_nothing_at_ci_thresholds(projects: dict[str, Path]) -> None:
    for name in COMBINATIONS:
        result = subprocess.run(
            [
                tools.bandit(),
                "-r",
                "src",
                "--severity-level",
                "medium",
                "--confidence-level",
                "medium",
                "-q",
                "-f",
                "json",
            ],
            cwd=projects[name],
            capture_output=True,
            text=True,
            check=False,
        )
        issues = json.loads(result.stdout)["results"]
        assert issues == [], [(i["test_id"], i["filename"], i["line_number"]) for i in issues]


def test_dockerfile_runs_as_non_root_from_locked_packages(projects: dict[str, Path]) -> None:
    dockerfile = (projects["default"] / "Dockerfile").read_text()
    assert re.search(r"^USER 10001:10001$", dockerfile, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["python", "-m", "secure_app"]' in dockerfile
    assert "--require-hashes -r requirements-runtime.lock" in dockerfile
    ignore = [line for line in (projects["default"] / ".dockerignore").read_text().splitlines() if line[:1] not in "#"]
    assert ignore[0] == "*", "the build context must be an allow-list"
    assert not any(line.startswith("!") and (".env" in line or "secret" in line) for line in ignore)


# ------------------------------------------------------------------ SBOM and offline signing


VALIDATE_CYCLONEDX = """
import json, sys
from pathlib import Path
from jsonschema import validators
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

schemas, document = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())

def retrieve(uri):
    local = schemas / uri.rsplit("/", 1)[-1]
    if not local.is_file():
        raise NoSuchResource(ref=uri)  # never fetched from the network
    return Resource.from_contents(json.loads(local.read_text()))

schema = json.loads((schemas / "bom-1.6.SNAPSHOT.schema.json").read_text())
validator = validators.validator_for(schema)(schema, registry=Registry(retrieve=retrieve))
print(json.dumps([f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)][:10]))
"""


def _cyclonedx_16_errors(document: dict[str, Any], tmp_path: Path) -> list[str]:
    """Schema errors of `document` against CycloneDX 1.6, offline, with the schemas cyclonedx-python-lib ships."""
    path = tmp_path / f"sbom-{len(list(tmp_path.glob('sbom-*.json')))}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    python = str(Path(tools.cyclonedx_py()).with_name("python"))
    result = subprocess.run(
        [python, "-c", VALIDATE_CYCLONEDX, str(tools.cyclonedx_schema_dir()), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"jsonschema is missing from .venv-tools (run `make tools`): {result.stderr[-1500:]}"
    return json.loads(result.stdout)


def _cyclonedx(*args: str, cwd: Path) -> dict[str, Any]:
    result = subprocess.run([tools.cyclonedx_py(), *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((cwd / args[args.index("-o") + 1]).read_text())


def test_sbom_of_the_demo_environment_is_valid_cyclonedx_16(projects: dict[str, Path], tmp_path: Path) -> None:
    demo = projects["default"]
    sbom = _cyclonedx(
        "environment", "--of", "JSON", "--sv", "1.6", "--pyproject", "pyproject.toml", "-o", "env.cdx.json",
        sys.executable, cwd=demo,
    )  # fmt: skip
    assert sbom["specVersion"] == "1.6"
    names = {component["name"].lower() for component in sbom["components"]}
    assert {"fastapi", "sqlalchemy", "cryptography"} <= names
    assert _cyclonedx_16_errors(sbom, tmp_path) == []
    broken = json.loads(json.dumps(sbom))
    broken["components"][0]["type"] = "not-a-component-type"
    assert _cyclonedx_16_errors(broken, tmp_path), "the validator must be able to fail"


def test_sbom_of_the_lock_passes_the_policy_and_offline_signing_rejects_tampering(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    demo = projects["default"]
    sbom = _cyclonedx(
        "requirements", "--of", "JSON", "--sv", "1.6", "--pyproject", "pyproject.toml", "-o", "lock.cdx.json",
        "requirements-runtime.lock", cwd=demo,
    )  # fmt: skip
    assert _cyclonedx_16_errors(sbom, tmp_path) == []

    def script(name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(demo / "scripts" / name), *args], cwd=demo, capture_output=True, text=True, check=False
        )

    policy = script("sbom_policy.py", "lock.cdx.json", "--lock", "requirements-runtime.lock")
    assert policy.returncode == 0, policy.stderr
    keys = tmp_path / "keys"
    keys.mkdir()
    assert (
        script(
            "sign_artifact.py", "keygen", "--private", str(keys / "k.key"), "--public", str(keys / "k.pub")
        ).returncode
        == 0
    )
    signed = script("sign_artifact.py", "sign", "--key", str(keys / "k.key"), "--release", "v1.0.0", "lock.cdx.json")
    assert signed.returncode == 0
    assert (
        script("verify_artifact.py", "--public", str(keys / "k.pub"), "--release", "v1.0.0", "lock.cdx.json").returncode
        == 0
    )
    tampered = (demo / "lock.cdx.json").read_text().replace('"fastapi"', '"fastapi-evil"', 1)
    (demo / "lock.cdx.json").write_text(tampered)
    rejected = script("verify_artifact.py", "--public", str(keys / "k.pub"), "--release", "v1.0.0", "lock.cdx.json")
    assert rejected.returncode == 1
    assert "has changed since it was signed" in rejected.stderr
