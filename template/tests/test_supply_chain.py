"""Supply chain: hash-locked dependencies, offline artifact signing, the SBOM policy, the release scripts.

The scripts under scripts/ are run as the workflows run them (a subprocess per
command), so these tests prove the command lines in .github/workflows too.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;]+)")
LOCK_HEAD = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)")
DIGEST = "sha256:" + "ab" * 32


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _script(name: str, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )


# ------------------------------------------------------------------ locks


def _pins(group: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] if group == "runtime" else project["optional-dependencies"]["dev"]
    pins = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, f"{requirement!r} is not pinned with =="
        pins[_normalize(match.group(1))] = match.group(3)
    return pins


def _lock(name: str) -> dict[str, set[str]]:
    """name -> locked versions (two when the universal lock forks on a marker); fails on an entry without a hash."""
    entries: dict[str, set[str]] = {}
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        match = LOCK_HEAD.match(line)
        if match:
            entries.setdefault(_normalize(match.group(1)), set()).add(match.group(2))
            following = lines[number + 1] if number + 1 < len(lines) else ""
            assert following.strip().startswith("--hash=sha256:"), f"{name}: {line.strip()} has no hash"
    return entries


@pytest.mark.parametrize(
    ("lock_name", "groups"),
    [("requirements.lock", ("runtime", "dev")), ("requirements-runtime.lock", ("runtime",))],
)
def test_every_pin_is_locked_at_its_version_with_hashes(lock_name: str, groups: tuple[str, ...]) -> None:
    locked = _lock(lock_name)
    for group in groups:
        for name, version in _pins(group).items():
            assert name in locked, f"{name} is pinned in pyproject.toml but missing from {lock_name}"
            assert locked[name] == {version}, f"{lock_name} has {name} {sorted(locked[name])}, pyproject pins {version}"


def test_the_runtime_lock_is_the_full_lock_without_dev_only_packages() -> None:
    full, runtime = _lock("requirements.lock"), _lock("requirements-runtime.lock")
    assert runtime == {name: full[name] for name in runtime}, "the two locks disagree on a version"
    assert "pytest" not in runtime, "test tools must not reach the production image"


# ------------------------------------------------------------------ offline Ed25519 signing


def _sbom(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "components": [{"name": "fastapi", "version": "1.0.0", "purl": "pkg:pypi/fastapi@1.0.0"}],
            }
        ),
        encoding="utf-8",
    )
    return path


def _sign(key: Path | str, *files: Path | str, release: str = "v1.0.0", env: dict | None = None):
    return _script("sign_artifact.py", "sign", "--key", str(key), "--release", release, *map(str, files), env=env)


def _verify(public: Path | str, *files: Path | str, release: str = "v1.0.0"):
    return _script("verify_artifact.py", "--public", str(public), "--release", release, *map(str, files))


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    directory = tmp_path / "keys"
    directory.mkdir()
    private, public = directory / "release.key", directory / "release.pub"
    result = _script("sign_artifact.py", "keygen", "--private", str(private), "--public", str(public))
    assert result.returncode == 0, result.stderr
    assert private.stat().st_mode & 0o777 == 0o600
    return private, public


def test_a_signed_sbom_verifies(keys: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keys
    sbom = _sbom(tmp_path / "sbom.cdx.json")
    assert _sign(str(private), str(sbom)).returncode == 0
    result = _verify(str(public), str(sbom))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK")


def test_a_tampered_sbom_is_rejected(keys: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keys
    sbom = _sbom(tmp_path / "sbom.cdx.json")
    _sign(str(private), str(sbom))
    sbom.write_text(sbom.read_text().replace("1.0.0", "6.6.6"), encoding="utf-8")
    result = _verify(str(public), str(sbom))
    assert result.returncode == 1
    assert "has changed since it was signed" in result.stderr


def test_a_signature_by_another_key_is_rejected(keys: tuple[Path, Path], tmp_path: Path) -> None:
    private, _ = keys
    other = tmp_path / "other"
    other.mkdir()
    _script("sign_artifact.py", "keygen", "--private", str(other / "o.key"), "--public", str(other / "o.pub"))
    sbom = _sbom(tmp_path / "sbom.cdx.json")
    _sign(str(private), str(sbom))
    result = _verify(str(other / "o.pub"), str(sbom))
    assert result.returncode == 1
    assert "not by the given key" in result.stderr


def test_a_forged_signature_with_the_right_key_id_is_rejected(keys: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keys
    sbom = _sbom(tmp_path / "sbom.cdx.json")
    _sign(str(private), str(sbom))
    signature_path = sbom.with_name(sbom.name + ".sig")
    signature = json.loads(signature_path.read_text())
    other = tmp_path / "other.json"
    other.write_text("{}", encoding="utf-8")
    _sign(str(private), str(other))
    signature["signature"] = json.loads(other.with_name("other.json.sig").read_text())["signature"]
    signature_path.write_text(json.dumps(signature), encoding="utf-8")
    result = _verify(str(public), str(sbom))
    assert result.returncode == 1
    assert "the signature does not verify" in result.stderr


def test_a_missing_signature_is_rejected(keys: tuple[Path, Path], tmp_path: Path) -> None:
    result = _verify(str(keys[1]), str(_sbom(tmp_path / "sbom.cdx.json")))
    assert result.returncode == 1
    assert "is missing" in result.stderr


def test_an_encrypted_key_needs_its_passphrase(tmp_path: Path) -> None:
    passphrase = {"ARTIFACT_SIGNING_PASSPHRASE": "correct horse battery staple"}  # pragma: allowlist secret
    private, public = tmp_path / "k.key", tmp_path / "k.pub"
    keygen = _script("sign_artifact.py", "keygen", "--private", str(private), "--public", str(public), env=passphrase)
    assert keygen.returncode == 0
    assert b"ENCRYPTED" in private.read_bytes()
    sbom = _sbom(tmp_path / "sbom.cdx.json")
    without = _sign(str(private), str(sbom))
    assert without.returncode == 1
    assert "cannot load the private key" in without.stderr
    assert _sign(private, sbom, env=passphrase).returncode == 0
    assert _verify(str(public), str(sbom)).returncode == 0


def test_keygen_refuses_to_write_a_private_key_into_a_repository(tmp_path: Path) -> None:
    git = shutil.which("git")
    assert git, "git is needed to build the repository fixture"
    subprocess.run([git, "init", "-q", str(tmp_path)], check=True)
    result = _script(
        "sign_artifact.py", "keygen", "--private", str(tmp_path / "r.key"), "--public", str(tmp_path / "r.pub")
    )
    assert result.returncode == 1
    assert "inside a git work tree" in result.stderr
    assert not (tmp_path / "r.key").exists()


def test_keygen_never_overwrites_a_key(keys: tuple[Path, Path]) -> None:
    private, public = keys
    before = private.read_bytes()
    result = _script("sign_artifact.py", "keygen", "--private", str(private), "--public", str(public))
    assert result.returncode == 1
    assert private.read_bytes() == before


def test_a_signed_sbom_does_not_verify_under_another_name(keys: tuple[Path, Path], tmp_path: Path) -> None:
    """An old release's signed SBOM, renamed to pass for another file, is refused (the name is signed)."""
    private, public = keys
    old = _sbom(tmp_path / "app-1.0.0.cdx.json")
    assert _sign(private, old).returncode == 0
    new = tmp_path / "app-1.1.0.cdx.json"
    new.write_bytes(old.read_bytes())
    new.with_name(new.name + ".sig").write_bytes(old.with_name(old.name + ".sig").read_bytes())
    result = _verify(public, new)
    assert result.returncode == 1
    assert "signed as 'app-1.0.0.cdx.json', not as 'app-1.1.0.cdx.json'" in result.stderr
    # Rewriting the name recorded in the signature file does not help: the signed message holds the old name.
    signature_path = new.with_name(new.name + ".sig")
    signature = json.loads(signature_path.read_text())
    signature["file"] = new.name
    signature_path.write_text(json.dumps(signature), encoding="utf-8")
    result = _verify(public, new)
    assert result.returncode == 1
    assert "the signature does not verify" in result.stderr


def test_a_signature_for_another_release_is_rejected(keys: tuple[Path, Path], tmp_path: Path) -> None:
    """Same file name in every release (python.cdx.json): the release is signed too, so v1.0's fails for v1.1."""
    private, public = keys
    sbom = _sbom(tmp_path / "python.cdx.json")
    assert _sign(private, sbom, release="v1.0.0").returncode == 0
    result = _verify(public, sbom, release="v1.1.0")
    assert result.returncode == 1
    assert "signed for release 'v1.0.0', not for 'v1.1.0'" in result.stderr
    signature_path = sbom.with_name(sbom.name + ".sig")
    signature = json.loads(signature_path.read_text())
    signature["release"] = "v1.1.0"
    signature_path.write_text(json.dumps(signature), encoding="utf-8")
    result = _verify(public, sbom, release="v1.1.0")
    assert result.returncode == 1
    assert "the signature does not verify" in result.stderr


def test_a_first_format_signature_is_refused_with_the_way_out(keys: tuple[Path, Path], tmp_path: Path) -> None:
    """v1 signatures covered the digest only; they cannot say which file or release they were for."""
    private, public = keys
    sbom = _sbom(tmp_path / "sbom.cdx.json")
    assert _sign(private, sbom).returncode == 0
    signature_path = sbom.with_name(sbom.name + ".sig")
    signature = json.loads(signature_path.read_text())
    signature["format"] = "ed25519-sha256-v1"
    signature_path.write_text(json.dumps(signature), encoding="utf-8")
    result = _verify(public, sbom)
    assert result.returncode == 1
    assert "re-sign the file with scripts/sign_artifact.py sign --release" in result.stderr


# ------------------------------------------------------------------ SBOM policy


def _policy_inputs(tmp_path: Path, components: list[dict], lock: str) -> tuple[Path, Path, Path]:
    sbom = tmp_path / "sbom.json"
    sbom.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "metadata": {"component": {"name": "registry/app", "version": "1"}},
                "components": components,
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "req.lock").write_text(lock, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "my-app"\n', encoding="utf-8")
    return sbom, tmp_path / "req.lock", tmp_path / "pyproject.toml"


def _component(name: str, version: str) -> dict:
    return {"name": name, "version": version, "purl": f"pkg:pypi/{name}@{version}"}


LOCK = "fastapi==1.0.0 \\\n    --hash=sha256:00\nPyYAML==6.0.4 \\\n    --hash=sha256:11\n"
LIBSSL = "pkg:deb/debian/libssl3@{}?arch=amd64&upstream=openssl&distro=debian-12"
GOOD = [
    _component("fastapi", "1.0.0"),
    _component("pyyaml", "6.0.4"),
    _component("pip", "25.0"),
    _component("my-app", "0.1.0"),
    {"name": "libc6", "version": "2.36", "purl": "pkg:deb/debian/libc6@2.36"},
    {"name": "libssl3", "version": "3.0.17-1~deb12u3", "purl": LIBSSL.format("3.0.17-1~deb12u3")},
    {"name": "python", "version": "3.12.14", "purl": "pkg:generic/python@3.12.14", "type": "application"},
    {"name": "debian", "version": "12", "type": "operating-system"},
    {"name": "/usr/lib/os-release", "type": "file", "bom-ref": "file-1"},
]


def _policy(tmp_path: Path, components: list[dict], lock: str = LOCK) -> subprocess.CompletedProcess:
    sbom, lock_path, pyproject = _policy_inputs(tmp_path, components, lock)
    return _script("sbom_policy.py", str(sbom), "--lock", str(lock_path), "--pyproject", str(pyproject))


def test_an_sbom_matching_the_lock_passes_the_policy(tmp_path: Path) -> None:
    result = _policy(tmp_path, GOOD)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("components", "violation"),
    [
        ([c for c in GOOD if c["name"] != "pyyaml"], "locked pyyaml==6.0.4 is missing"),
        ([*GOOD, _component("fastapi", "0.9.0")], "fastapi is present at ['0.9.0'], but the lock says 1.0.0"),
        ([*GOOD, _component("evil-package", "1.0")], "evil-package ['1.0'] is in the SBOM but not in the lock"),
        ([*GOOD, {"name": "nameless-version", "purl": "pkg:deb/x"}], "component without a name or version"),
        # purl types and PyPI names are case-insensitive: a capitalised type is still a Python package.
        (
            [*GOOD, {"name": "Evil_Package", "version": "1.0", "purl": "pkg:PyPI/Evil_Package@1.0"}],
            "evil-package ['1.0'] is in the SBOM but not in the lock",
        ),
        (
            [*GOOD, {"name": "x", "version": "6.6.6", "purl": "PKG:pypi/FastAPI@6.6.6"}],
            "fastapi is present at ['6.6.6']",
        ),
        ([*GOOD, {"name": "mystery", "version": "1.0"}], "mystery 1.0 has no package URL (purl)"),
        (
            [*GOOD, {"name": "evil", "version": "1.0", "purl": "pkg:generic/evil@1.0"}],
            "evil 1.0 is pkg:generic (unknown ecosystem)",
        ),
        (
            [*GOOD, {"name": "left-pad", "version": "1.3.0", "purl": "pkg:npm/left-pad@1.3.0"}],
            "left-pad 1.3.0 is a pkg:npm package",
        ),
        (
            [*GOOD, {"name": "libssl3", "version": "3.0.11-1~deb12u2", "purl": LIBSSL.format("3.0.11-1~deb12u2")}],
            "deb package libssl3 3.0.11-1~deb12u2 (openssl) is older than the floor 3.0.17",
        ),
        (
            [
                *GOOD,
                {"name": "openssl", "version": "1.1.1n-0+deb11u5", "purl": "pkg:deb/debian/openssl@1.1.1n-0+deb11u5"},
            ],
            "deb package openssl 1.1.1n-0+deb11u5 (openssl) is older than the floor 3.0.17",
        ),
        (
            [*GOOD, {"name": "x", "version": "1", "components": [_component("hidden-package", "1.0")]}],
            "hidden-package ['1.0'] is in the SBOM but not in the lock",
        ),
    ],
    ids=[
        "missing",
        "other-version",
        "unlocked",
        "no-version",
        "mixed-case-purl-type",
        "upper-case-scheme",
        "no-purl",
        "generic-purl",
        "unexpected-ecosystem",
        "openssl-below-floor",
        "openssl-1.1",
        "nested-component",
    ],
)
def test_an_sbom_that_differs_from_the_lock_is_refused(tmp_path: Path, components: list[dict], violation: str) -> None:
    result = _policy(tmp_path, components)
    assert result.returncode == 1
    assert violation in result.stderr


def test_os_floors_compare_in_debian_version_order() -> None:
    """The floor comparison is dpkg's: epochs first, `~` before anything, numbers numerically."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        from sbom_policy import compare_versions
    finally:
        sys.path.remove(str(SCRIPTS))
    ordered = ["1.1.1w-0+deb11u1", "3.0.9-1", "3.0.11-1~deb12u2", "3.0.17", "3.0.17-1~deb12u3", "3.0.17-1", "3.5.1-1"]
    for lower, higher in itertools.pairwise(ordered):
        assert compare_versions(lower, higher) == -1, (lower, higher)
        assert compare_versions(higher, lower) == 1, (higher, lower)
    assert compare_versions("1:0.9", "3.5.1-1") == 1, "an epoch outranks the upstream version"
    assert compare_versions("3.0.17~rc1", "3.0.17") == -1, "a pre-release (~) sorts before its release"
    assert compare_versions("3.0.010", "3.0.10") == 0


def test_an_allow_list_entry_lets_a_component_through(tmp_path: Path) -> None:
    """What sbom_policy.toml names passes; the shipped file allows only the base image's interpreter and OS."""
    components = [*GOOD, {"name": "vendored-lib", "version": "2.0", "purl": "pkg:generic/vendored-lib@2.0"}]
    assert _policy(tmp_path, components).returncode == 1
    policy = tmp_path / "policy.toml"
    policy.write_text(
        (SCRIPTS / "sbom_policy.toml").read_text(encoding="utf-8")
        + '\n[allow.generic."vendored-lib"]\nwhy = "reviewed in PR 42"\n',
        encoding="utf-8",
    )
    sbom, lock, pyproject = _policy_inputs(tmp_path, components, LOCK)
    result = _script(
        "sbom_policy.py", str(sbom), "--lock", str(lock), "--pyproject", str(pyproject), "--policy", str(policy)
    )
    assert result.returncode == 0, result.stderr


def test_a_document_that_is_not_cyclonedx_is_refused(tmp_path: Path) -> None:
    sbom, lock, pyproject = _policy_inputs(tmp_path, GOOD, LOCK)
    sbom.write_text(json.dumps({"spdxVersion": "SPDX-2.3"}), encoding="utf-8")
    result = _script("sbom_policy.py", str(sbom), "--lock", str(lock), "--pyproject", str(pyproject))
    assert result.returncode == 1
    assert "not a CycloneDX JSON document" in result.stderr


# ------------------------------------------------------------------ ECS release script (a stand-in AWS CLI)

FAKE_AWS = r"""#!__PYTHON__
import json, os, sys
args = [a for a in sys.argv[1:] if a not in ("--output", "json")]
log_path = os.environ["FAKE_AWS_LOG"]
with open(log_path, "a") as log:
    log.write(json.dumps(args) + "\n")
command = " ".join(args[:2])
old = "ghcr.io/acme/app@sha256:" + "0" * 64
def container(name, image):
    return {"name": name, "image": image, "command": ["python", "-m", "app", name],
            "environment": [{"name": "APP_SIEM_URL", "value": "https://siem.example"}]}
# Task definitions by ARN: Terraform registered app:7 (the service runs it) and app-drift:3; a test may add more
# (an out-of-band revision) to the state file, and every registration is kept there.
state_path = log_path + ".state"
if os.path.exists(state_path):
    state = json.load(open(state_path))
else:
    state = {"tds": {
        "arn:td/app:7": {"taskDefinitionArn": "arn:td/app:7", "family": "app", "revision": 7, "status": "ACTIVE",
                         "taskRoleArn": "arn:role/task", "containerDefinitions": [container("app", old),
                         container("audit-forward", os.environ.get("FAKE_SIDECAR_IMAGE", old))]},
        "arn:td/app-drift:3": {"taskDefinitionArn": "arn:td/app-drift:3", "family": "app-drift", "revision": 3,
                               "taskRoleArn": "arn:role/drift",
                               "containerDefinitions": [container("drift", os.environ.get("FAKE_DRIFT_IMAGE", old))]}},
        "service": "arn:td/app:7", "terraform": {"app": ["arn:td/app:7"], "app-drift": ["arn:td/app-drift:3"]}}
    if "FAKE_OPA_IMAGE" in os.environ:
        state["tds"]["arn:td/app:7"]["containerDefinitions"].append(container("opa", os.environ["FAKE_OPA_IMAGE"]))
    patch = json.loads(os.environ.get("FAKE_STATE_PATCH", "{}"))
    state["tds"].update(patch.pop("tds", {}))
    state.update(patch)
def save():
    json.dump(state, open(state_path, "w"))
def resolve(reference):
    if reference in state["tds"]:
        return state["tds"][reference]
    family = reference.rsplit("-migrate", 1)[0]  # the migrations family shares the app's definition here
    return max((td for td in state["tds"].values() if td["family"] == family), key=lambda td: td["revision"])
if command == "ecs describe-services":
    print(json.dumps({"services": [{"taskDefinition": state["service"],
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}}]}))
elif command == "ecs describe-task-definition":
    print(json.dumps({"taskDefinition": resolve(args[-1])}))
elif command in ("ssm get-parameter", "ssm get-parameter-history"):
    family = args[args.index("--name") + 1].split("/")[2].rsplit("-migrate", 1)[0]
    recorded = state["terraform"].get(family, [])
    if command == "ssm get-parameter":
        print(json.dumps({"Parameter": {"Value": recorded[-1]}} if recorded else {}))
    else:
        print(json.dumps({"Parameters": [{"Value": arn} for arn in recorded]}))
elif command == "ecs register-task-definition":
    registered = open(args[-1].removeprefix("file://")).read()
    with open(log_path + ".registered", "a") as kept:
        kept.write(registered.replace("\n", " ") + "\n")
    definition = json.loads(registered)
    family = definition["family"]
    arn = f"arn:td/{family}:8"
    state["tds"][arn] = {**definition, "taskDefinitionArn": arn, "revision": 8}
    if os.environ.get("FAKE_REGISTER_TAMPER"):  # someone edits what was registered before it runs
        state["tds"][arn]["containerDefinitions"][0]["entryPoint"] = ["sh", "-c"]
    save()
    print(json.dumps({"taskDefinition": {"taskDefinitionArn": arn}}))
elif command == "ecs update-service":
    state["service"] = args[args.index("--task-definition") + 1]
    save()
    print("{}")
elif command == "ecs run-task":
    print(json.dumps({"tasks": [{"taskArn": "arn:task/1"}], "failures": []}))
elif command == "ecs list-tasks":
    print(json.dumps({"taskArns": ["arn:task/a", "arn:task/b"]}))
elif command == "ecs describe-tasks":
    code = int(os.environ.get("FAKE_TASK_EXIT", "0"))
    digest = os.environ.get("FAKE_RUNNING_DIGEST", "sha256:" + "ab" * 32)
    names = ("app", "audit-forward", "drift")
    containers = [{"name": n, "exitCode": code, "imageDigest": digest} for n in names]
    if "FAKE_OPA_IMAGE" in os.environ:
        opa = os.environ.get("FAKE_OPA_RUNNING_DIGEST", "sha256:" + "0a" * 32)
        containers.append({"name": "opa", "imageDigest": opa})
    print(json.dumps({"tasks": [{"taskArn": arn, "taskDefinitionArn": os.environ.get("FAKE_RUNNING_TD", "arn:td/app:8"),
        "containers": containers} for arn in args[args.index("--tasks") + 1:]]}))
"""


@pytest.fixture
def fake_aws(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(FAKE_AWS.replace("__PYTHON__", sys.executable, 1), encoding="utf-8")
    aws.chmod(0o755)
    log = tmp_path / "aws.log"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_AWS_LOG": str(log)}
    return env, log


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _registered(log: Path) -> list[dict]:
    kept = log.with_name("aws.log.registered")
    return [json.loads(line) for line in kept.read_text().splitlines()] if kept.exists() else []


IMAGE = f"ghcr.io/acme/app@{DIGEST}"


def test_migrations_run_in_a_new_revision_of_the_verified_digest(fake_aws) -> None:
    env, log = fake_aws
    args = [
        "run-task",
        "--cluster",
        "c",
        "--service",
        "s",
        "--family",
        "app-migrate",
        "--image",
        IMAGE,
        "--",
        "migrate",
    ]
    result = _script("ecs_release.py", *args, env=env)
    assert result.returncode == 0, result.stderr
    calls = _calls(log)
    (registered,) = _registered(log)
    assert [container["image"] for container in registered["containerDefinitions"]] == [IMAGE, IMAGE]
    assert not {"taskDefinitionArn", "revision", "status"} & set(registered), "read-only fields must not be re-sent"
    run = next(call for call in calls if call[:2] == ["ecs", "run-task"])
    assert run[run.index("--task-definition") + 1] == "arn:td/app:8"
    overrides = json.loads(run[run.index("--overrides") + 1])
    assert overrides == {"containerOverrides": [{"name": "app", "command": ["migrate"]}]}
    assert ["ssm", "get-parameter", "--name", "/ecs-release/app-migrate/terraform-revision"] in calls


def test_a_failed_migration_fails_the_job(fake_aws) -> None:
    env, _ = fake_aws
    args = ["run-task", "--cluster", "c", "--service", "s", "--image", IMAGE, "--", "migrate"]
    result = _script("ecs_release.py", *args, env={**env, "FAKE_TASK_EXIT": "3"})
    assert result.returncode == 3


def test_an_image_by_tag_is_refused(fake_aws) -> None:
    env, log = fake_aws
    result = _script(
        "ecs_release.py", "deploy", "--cluster", "c", "--service", "s", "--image", "ghcr.io/a/b:v1", env=env
    )
    assert result.returncode == 2
    assert "not an image reference by sha256 digest" in result.stderr
    assert not log.exists(), "nothing may reach AWS before the image reference is checked"


def test_deploy_rolls_out_the_digest_and_waits_for_stability(fake_aws) -> None:
    env, log = fake_aws
    result = _script("ecs_release.py", "deploy", "--cluster", "c", "--service", "s", "--image", IMAGE, env=env)
    assert result.returncode == 0, result.stderr
    calls = _calls(log)
    update = next(call for call in calls if call[:2] == ["ecs", "update-service"])
    assert update[update.index("--task-definition") + 1] == "arn:td/app:8"
    assert ["ecs", "wait", "services-stable", "--cluster", "c", "--services", "s"] in calls
    assert calls[-1][:2] == ["ecs", "describe-tasks"], "the roll-out is checked after the service is stable"


def test_every_container_of_the_task_runs_the_verified_digest(fake_aws) -> None:
    """The audit-forward sidecar shares the task role: it gets the verified digest too, not Terraform's image."""
    env, log = fake_aws
    result = _script("ecs_release.py", "deploy", "--cluster", "c", "--service", "s", "--image", IMAGE, env=env)
    assert result.returncode == 0, result.stderr
    (registered,) = _registered(log)
    assert {c["name"]: c["image"] for c in registered["containerDefinitions"]} == {
        "app": IMAGE,
        "audit-forward": IMAGE,
    }


def test_a_container_from_another_repository_is_refused(fake_aws) -> None:
    """A sidecar nobody verified would run with the task role next to the verified app: refuse, register nothing."""
    env, log = fake_aws
    sidecar = "docker.io/someone/forwarder@sha256:" + "cd" * 32
    result = _script(
        "ecs_release.py", "deploy", "--cluster", "c", "--service", "s", "--image", IMAGE,
        env={**env, "FAKE_SIDECAR_IMAGE": sidecar},
    )  # fmt: skip
    assert result.returncode == 1
    assert f"container(s) audit-forward ({sidecar}) do not come from ghcr.io/acme/app" in result.stderr
    assert _registered(log) == []
    assert not any(call[:2] == ["ecs", "update-service"] for call in _calls(log))


def test_a_roll_out_that_runs_another_digest_fails(fake_aws) -> None:
    """After `services-stable`, every running task is read back: a container on another digest fails the deploy."""
    env, _ = fake_aws
    other = "sha256:" + "ef" * 32
    result = _script(
        "ecs_release.py", "deploy", "--cluster", "c", "--service", "s", "--image", IMAGE,
        env={**env, "FAKE_RUNNING_DIGEST": other},
    )  # fmt: skip
    assert result.returncode == 1
    assert f"app: {other}" in result.stderr
    stale = _script(
        "ecs_release.py", "deploy", "--cluster", "c", "--service", "s", "--image", IMAGE,
        env={**env, "FAKE_RUNNING_TD": "arn:td/app:7"},
    )  # fmt: skip
    assert stale.returncode == 1
    assert "runs something other than arn:td/app:8" in stale.stderr


def test_deploy_registers_the_other_families_on_the_same_digest(fake_aws) -> None:
    """The drift task definition follows every deploy, so the nightly drift check runs the deployed image."""
    env, log = fake_aws
    args = ["deploy", "--cluster", "c", "--service", "s", "--image", IMAGE, "--also-family", "app-drift"]
    assert _script("ecs_release.py", *args, env=env).returncode == 0
    drift = next(d for d in _registered(log) if d["family"] == "app-drift")
    assert [c["image"] for c in drift["containerDefinitions"]] == [IMAGE]


def test_a_task_with_a_fixed_command_runs_without_overrides(fake_aws) -> None:
    """The nightly drift task: nothing after `--`, so no containerOverrides and no new revision."""
    env, log = fake_aws
    result = _script("ecs_release.py", "run-task", "--cluster", "c", "--service", "s", "--family", "app-drift", env=env)
    assert result.returncode == 0, result.stderr
    run = next(call for call in _calls(log) if call[:2] == ["ecs", "run-task"])
    assert "--overrides" not in run
    assert run[run.index("--task-definition") + 1] == "arn:td/app-drift:3"
    assert _registered(log) == []


def test_a_fixed_task_on_another_image_than_the_service_is_refused(fake_aws) -> None:
    env, log = fake_aws
    stale = "ghcr.io/acme/app@sha256:" + "11" * 32
    result = _script(
        "ecs_release.py", "run-task", "--cluster", "c", "--service", "s", "--family", "app-drift",
        env={**env, "FAKE_DRIFT_IMAGE": stale},
    )  # fmt: skip
    assert result.returncode == 1
    assert "deploy again rather than run another image" in result.stderr
    assert not any(call[:2] == ["ecs", "run-task"] for call in _calls(log))


# ------------------------------------------------------------------ the OPA sidecar: its own pinned digest, by name

OPA_IMAGE = "ghcr.io/acme/app-opa@sha256:" + "0a" * 32
OPA_ARGS = ("deploy", "--cluster", "c", "--service", "s", "--image", IMAGE, "--also-family", "app-drift")


def test_the_opa_sidecar_gets_its_pinned_digest_and_every_other_container_the_app_digest(fake_aws) -> None:
    env, log = fake_aws
    stale = "ghcr.io/acme/app-opa@sha256:" + "99" * 32
    result = _script("ecs_release.py", *OPA_ARGS, "--opa-image", OPA_IMAGE, env={**env, "FAKE_OPA_IMAGE": stale})
    assert result.returncode == 0, result.stderr
    app = next(d for d in _registered(log) if d["family"] == "app")
    assert {c["name"]: c["image"] for c in app["containerDefinitions"]} == {
        "app": IMAGE,
        "audit-forward": IMAGE,
        "opa": OPA_IMAGE,
    }
    drift = next(d for d in _registered(log) if d["family"] == "app-drift")
    assert [c["image"] for c in drift["containerDefinitions"]] == [IMAGE]


@pytest.mark.parametrize(
    ("opa_args", "current", "message"),
    [
        ((), OPA_IMAGE, "container(s) opa run a pinned sidecar image; pass it (--opa-image"),
        (
            ("--opa-image", "docker.io/openpolicyagent/opa@sha256:" + "0a" * 32),
            OPA_IMAGE,
            "does not come from ghcr.io/acme/app-opa",
        ),
        (
            ("--opa-image", OPA_IMAGE),
            "docker.io/openpolicyagent/opa@sha256:" + "0a" * 32,
            "container(s) opa (docker.io/openpolicyagent/opa@",
        ),
    ],
    ids=["no-opa-image", "opa-image-from-elsewhere", "opa-container-from-elsewhere"],
)
def test_an_opa_sidecar_off_its_pinned_repository_is_refused(fake_aws, opa_args, current, message) -> None:
    env, log = fake_aws
    result = _script("ecs_release.py", *OPA_ARGS, *opa_args, env={**env, "FAKE_OPA_IMAGE": current})
    assert result.returncode == 1
    assert message in result.stderr
    assert _registered(log) == []


def test_only_a_container_named_opa_may_run_the_opa_image(fake_aws) -> None:
    """The exception is by name: audit-forward on the -opa repository is still a foreign image."""
    env, log = fake_aws
    result = _script(
        "ecs_release.py", *OPA_ARGS, "--opa-image", OPA_IMAGE,
        env={**env, "FAKE_OPA_IMAGE": OPA_IMAGE, "FAKE_SIDECAR_IMAGE": OPA_IMAGE},
    )  # fmt: skip
    assert result.returncode == 1
    assert f"container(s) audit-forward ({OPA_IMAGE}) do not come from ghcr.io/acme/app" in result.stderr
    assert _registered(log) == []


def test_a_roll_out_whose_opa_runs_another_digest_fails(fake_aws) -> None:
    env, _ = fake_aws
    other = "sha256:" + "ef" * 32
    result = _script(
        "ecs_release.py", *OPA_ARGS, "--opa-image", OPA_IMAGE,
        env={**env, "FAKE_OPA_IMAGE": OPA_IMAGE, "FAKE_OPA_RUNNING_DIGEST": other},
    )  # fmt: skip
    assert result.returncode == 1
    assert f"opa: {other}" in result.stderr


def test_the_drift_task_runs_when_only_the_service_has_an_opa_sidecar(fake_aws) -> None:
    """run-task compares the app images only: the drift task needs no OPA of its own."""
    env, _ = fake_aws
    args = ("run-task", "--cluster", "c", "--service", "s", "--family", "app-drift")
    result = _script("ecs_release.py", *args, env={**env, "FAKE_OPA_IMAGE": OPA_IMAGE})
    assert result.returncode == 0, result.stderr


def _definition(arn: str, containers: list[dict], role: str = "arn:role/task") -> dict:
    family, revision = arn.rsplit("/", 1)[-1].rsplit(":", 1)
    return {"taskDefinitionArn": arn, "family": family, "revision": int(revision), "taskRoleArn": role,
            "containerDefinitions": containers}  # fmt: skip


OLD = "ghcr.io/acme/app@sha256:" + "0" * 64


def _app_container(name: str, **changes: object) -> dict:
    reviewed = {"name": name, "image": OLD, "command": ["python", "-m", "app", name],
                "environment": [{"name": "APP_SIEM_URL", "value": "https://siem.example"}]}  # fmt: skip
    return {**reviewed, **changes}


#: Someone with the deploy role's RegisterTaskDefinition on `*` (or console access) put the service on
#: a revision of their own: another entryPoint, the audit trail sent elsewhere, a writable PYTHONPATH.
ATTACKER_REVISION = _definition(
    "arn:td/app:9",
    [
        _app_container(
            "app",
            entryPoint=["sh", "-c", "exec python -m app serve"],
            environment=[
                {"name": "APP_SIEM_URL", "value": "https://siem.attacker.example"},
                {"name": "PYTHONPATH", "value": "/mnt/efs/attacker"},
            ],
        ),
        _app_container("audit-forward"),
    ],
)


def test_an_out_of_band_revision_is_refused_not_carried_forward(fake_aws) -> None:
    """B1: the service runs a revision Terraform never registered: the deploy refuses, registers nothing."""
    env, log = fake_aws
    patch = {"tds": {"arn:td/app:9": ATTACKER_REVISION}, "service": "arn:td/app:9"}
    args = ["deploy", "--cluster", "c", "--service", "s", "--image", IMAGE, "--also-family", "app-drift"]
    result = _script("ecs_release.py", *args, env={**env, "FAKE_STATE_PATCH": json.dumps(patch)})
    assert result.returncode == 1
    assert "arn:td/app:9 is not a revision Terraform registered" in result.stderr
    assert "app.entryPoint" in result.stderr
    assert "app.environment" in result.stderr
    assert _registered(log) == []
    assert not any(call[:2] == ["ecs", "update-service"] for call in _calls(log))


def test_the_deploy_builds_from_terraforms_revision_not_the_running_one(fake_aws) -> None:
    """B1: a reviewed Terraform change (app:10, new environment) reaches production with the next deploy,
    although the service still runs the previous Terraform revision (ignore_changes = [task_definition])."""
    env, log = fake_aws
    reviewed = [{"name": "APP_SIEM_URL", "value": "https://siem-v2.example"}]
    newer = _definition("arn:td/app:10", [_app_container("app", environment=reviewed), _app_container("audit-forward")])
    patch = {"tds": {"arn:td/app:10": newer}, "terraform": {"app": ["arn:td/app:7", "arn:td/app:10"],
             "app-drift": ["arn:td/app-drift:3"]}}  # fmt: skip
    result = _script(
        "ecs_release.py", "deploy", "--cluster", "c", "--service", "s", "--image", IMAGE,
        env={**env, "FAKE_STATE_PATCH": json.dumps(patch)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (registered,) = _registered(log)
    assert [c["environment"] for c in registered["containerDefinitions"]] == [
        reviewed,
        _app_container("x")["environment"],
    ]
    assert "entryPoint" not in registered["containerDefinitions"][0]


def test_the_latest_revision_is_not_the_one_built_from(fake_aws) -> None:
    """B1: `--also-family` and migrations used the family's LATEST revision; an attacker's newer one is ignored."""
    env, log = fake_aws
    hostile = _definition(
        "arn:td/app-drift:5", [_app_container("drift", command=["sh", "-c", "curl evil"])], "arn:role/drift"
    )
    patch = {"tds": {"arn:td/app-drift:5": hostile}}
    args = ["deploy", "--cluster", "c", "--service", "s", "--image", IMAGE, "--also-family", "app-drift"]
    assert _script("ecs_release.py", *args, env={**env, "FAKE_STATE_PATCH": json.dumps(patch)}).returncode == 0
    drift = next(d for d in _registered(log) if d["family"] == "app-drift")
    assert drift["containerDefinitions"][0]["command"] == ["python", "-m", "app", "drift"]


def test_a_fixed_task_whose_latest_revision_is_not_terraforms_is_refused(fake_aws) -> None:
    """B1: the nightly drift run (no `--image`) runs the family's latest revision only if it is Terraform's
    but for the image."""
    env, log = fake_aws
    hostile = _definition(
        "arn:td/app-drift:5", [_app_container("drift", command=["sh", "-c", "curl evil"])], "arn:role/drift"
    )
    patch = {"tds": {"arn:td/app-drift:5": hostile}}
    result = _script(
        "ecs_release.py", "run-task", "--cluster", "c", "--service", "s", "--family", "app-drift",
        env={**env, "FAKE_STATE_PATCH": json.dumps(patch)},
    )  # fmt: skip
    assert result.returncode == 1
    assert "drift.command" in result.stderr
    assert not any(call[:2] == ["ecs", "run-task"] for call in _calls(log))


def test_the_read_back_compares_the_running_revision_with_terraforms(fake_aws) -> None:
    """B1: the revision the tasks run must be Terraform's but for images (command, entryPoint, environment,
    secrets, roles), not just on the digest."""
    env, _ = fake_aws
    result = _script(
        "ecs_release.py", "deploy", "--cluster", "c", "--service", "s", "--image", IMAGE,
        env={**env, "FAKE_REGISTER_TAMPER": "1"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "arn:td/app:8 differs from Terraform's arn:td/app:7 in app.entryPoint" in result.stderr


# ------------------------------------------------------------------ nightly template-update report


@pytest.mark.parametrize(("available", "exit_code"), [(True, 0), (False, 1)])
def test_template_update_report(tmp_path: Path, available: bool, exit_code: int) -> None:
    report = tmp_path / "update.json"
    report.write_text(
        json.dumps({"update_available": available, "current_version": "0.1.0", "latest_version": "0.2.0"}),
        encoding="utf-8",
    )
    assert _script("template_update_report.py", str(report), "--available").returncode == exit_code
    summary = _script("template_update_report.py", str(report)).stdout
    assert ("copier update --vcs-ref 0.2.0" in summary) is available
