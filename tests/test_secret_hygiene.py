"""No secret, and no .env file, in any generated project.

detect-secrets (`scan --all-files --no-verify`) runs over rendered projects
covering each payment provider, each secrets backend and AI features on and
off. It runs with the generated project's own configuration (its
`.secrets.baseline`), whose only filter excludes the secrets-backend and
readiness enum words (`secrets_backend: vault` is not a secret); the test pins
that filter so it cannot quietly grow.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from secure_scaffold.options import available_ids

REPO = Path(__file__).resolve().parents[1]
DETECT_SECRETS = Path(sys.executable).with_name("detect-secrets")
#: The one filter of the generated `.secrets.baseline`: enum values that sit next to the word "secret".
EXCLUDED_SECRETS = "^(dev|vault|cloud|app|ok|unavailable)$"

#: (payment_provider, secrets_backend, ai_features, idp, tenancy): every payment provider, each backend
#: with AI on and off, and a spread of the other answers so more files are scanned.
COMBINATIONS: tuple[tuple[str, str, bool, str, str], ...] = (
    ("stripe", "vault", False, "auth0", "pooled"),
    ("adyen", "cloud", True, "okta", "schema"),
    ("braintree", "vault", True, "entra", "silo"),
    ("paddle", "cloud", False, "keycloak", "single"),
    ("none", "vault", False, "cognito", "schema"),
    ("none", "cloud", True, "google", "pooled"),
)


@pytest.fixture(scope="module")
def projects(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("hygiene")
    rendered = {}
    for payment, backend, ai, idp, tenancy in COMBINATIONS:
        name = f"{payment}-{backend}-ai{int(ai)}"
        answers: dict[str, Any] = {
            "payment_provider": payment,
            "secrets_backend": backend,
            "ai_features": ai,
            "idp": idp,
            "tenancy": tenancy,
        }
        rendered[name] = root / name
        copier.run_copy(str(template_snapshot), rendered[name], data=answers, defaults=True, quiet=True, unsafe=False)
    yield rendered
    shutil.rmtree(root, ignore_errors=True)


def _scan(project: Path) -> dict[str, list[dict[str, Any]]]:
    if not DETECT_SECRETS.exists():
        pytest.fail("detect-secrets is not installed in this venv: pip install detect-secrets==1.5.0", pytrace=False)
    result = subprocess.run(
        [str(DETECT_SECRETS), "scan", "--all-files", "--no-verify", "--exclude-secrets", EXCLUDED_SECRETS, "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)["results"]


def _describe(project: Path, results: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = []
    for name, findings in results.items():
        text = (project / name).read_text(encoding="utf-8", errors="replace").splitlines()
        for finding in findings:
            number = finding["line_number"]
            lines.append(f"{name}:{number} [{finding['type']}] {text[number - 1].strip()[:120]}")
    return lines


def test_the_combinations_cover_every_payment_provider_and_backend_with_ai_on_and_off() -> None:
    assert {combo[0] for combo in COMBINATIONS} == set(available_ids("payment_provider"))
    assert {(combo[1], combo[2]) for combo in COMBINATIONS} == {
        (backend, ai) for backend in available_ids("secrets_backend") for ai in (False, True)
    }


def test_detect_secrets_finds_nothing_in_generated_projects(projects: dict[str, Path]) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:  # each scan is its own process
        scans = dict(zip(projects, pool.map(_scan, projects.values()), strict=True))
    findings = {name: _describe(projects[name], results) for name, results in scans.items()}
    assert {name: lines for name, lines in findings.items() if lines} == {}


def test_detect_secrets_does_find_a_planted_secret(projects: dict[str, Path], tmp_path: Path) -> None:
    """The scan is live: a realistic-looking key in a copy of a project is reported."""
    project = shutil.copytree(next(iter(projects.values())), tmp_path / "planted")
    planted = "AKIA" + "".join(chr(ord("A") + (index * 7) % 26) for index in range(16))
    (project / "src" / "leak.py").write_text(f'AWS_KEY = "{planted}"\n', encoding="utf-8")
    assert "src/leak.py" in _scan(project)


def test_the_generated_baseline_is_empty_and_uses_only_the_pinned_filter(projects: dict[str, Path]) -> None:
    for project in projects.values():
        baseline = json.loads((project / ".secrets.baseline").read_text(encoding="utf-8"))
        assert baseline["version"] == "1.5.0"
        assert baseline["results"] == {}
        regex_filters = [
            item for item in baseline["filters_used"] if item["path"].startswith("detect_secrets.filters.regex")
        ]
        assert regex_filters == [
            {"path": "detect_secrets.filters.regex.should_exclude_secret", "pattern": [EXCLUDED_SECRETS]}
        ]


def test_pre_commit_runs_detect_secrets_and_refuses_env_files(projects: dict[str, Path]) -> None:
    for project in projects.values():
        config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
        repos = {repo["repo"]: repo for repo in config["repos"]}
        detect = repos["https://github.com/Yelp/detect-secrets"]
        assert detect["rev"] == "v1.5.0"
        assert detect["hooks"][0]["args"] == ["--baseline", ".secrets.baseline"]
        guard = next(hook for hook in repos["local"]["hooks"] if hook["id"] == "no-env-files")
        assert guard["language"] == "fail"
        pattern = re.compile(guard["files"])
        for refused in (".env", ".env.local", "app/.env.production", "deploy/.envrc"):
            assert pattern.search(refused), refused
        for allowed in ("src/environment.py", "docs/env.md", ".github/workflows/ci.yml"):
            assert not pattern.search(allowed), allowed


def test_gitignore_blocks_env_files(projects: dict[str, Path]) -> None:
    for project in projects.values():
        ignored = (project / ".gitignore").read_text(encoding="utf-8").splitlines()
        assert ".env" in ignored
        assert ".env.*" in ignored


def test_docker_compose_is_dev_only_and_holds_no_credentials(projects: dict[str, Path]) -> None:
    for project in projects.values():
        text = (project / "docker-compose.yml").read_text(encoding="utf-8")
        assert "LOCAL DEVELOPMENT ONLY" in text
        compose = yaml.safe_load(text)
        assert set(compose["services"]) == {"postgres", "redis", "keycloak", "vault"}
        for service in compose["services"].values():
            for port in service.get("ports", []):
                assert port.startswith("127.0.0.1:"), port
            for name, value in (service.get("environment") or {}).items():
                if any(word in name for word in ("PASSWORD", "TOKEN", "SECRET")):
                    assert str(value).startswith("${"), f"{name} must be generated per machine"
                    assert ":?" in str(value), f"{name} must refuse to start when not exported"


@pytest.mark.xdist_group("matrix")
def test_no_env_file_in_any_generated_project(matrix) -> None:
    offenders = [
        str(path.relative_to(matrix.root))
        for project in matrix.projects
        for path in project.rglob(".env*")
        if ".venv" not in path.parts
    ]
    assert offenders == []
