"""`secure-scaffold` end to end, through the installed console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from secure_scaffold import __version__

SCRIPT = shutil.which("secure-scaffold", path=str(Path(sys.executable).parent))


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert SCRIPT, "the secure-scaffold console script is not installed in this venv (run `make install`)"
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd, timeout=300, check=False
    )


@pytest.fixture
def template_args(template_snapshot: Path) -> list[str]:
    """Render from the snapshot so the test does not depend on git state."""
    return ["--template", str(template_snapshot)]


def test_version() -> None:
    result = _cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"secure-scaffold {__version__}"


def test_one_version_everywhere_a_release_names_it() -> None:
    """The package, its metadata and the preflight the generated workflows install are one release."""
    repo = Path(__file__).resolve().parents[1]
    assert tomllib.loads((repo / "pyproject.toml").read_text())["project"]["version"] == __version__
    copier_yml = yaml.safe_load((repo / "copier.yml").read_text(encoding="utf-8"))
    assert copier_yml["secure_scaffold_tool_version"]["default"] == __version__
    workflows = [path for path in (repo / "template").rglob("*.yml*") if "/workflows/" in path.as_posix()]
    installs = [path.name for path in workflows if ".github/tools/secure-scaffold.lock" in path.read_text()]
    assert len(installs) >= 3, installs  # ci, deploy and the quarterly control review install that lock


def test_new_with_defaults_generates_a_project(tmp_path: Path, template_args: list[str]) -> None:
    destination = tmp_path / "app"
    result = _cli("new", str(destination), "--defaults", "-d", "idp=keycloak", "-d", "tenancy=single", *template_args)
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert (answers["idp"], answers["tenancy"], answers["package_name"]) == ("keycloak", "single", "secure_app")
    assert (destination / "src" / "secure_app" / "__main__.py").is_file()
    assert "make test" in result.stdout + result.stderr  # the next steps are shown
    assert f"Done: {destination.resolve()}" in result.stderr


def test_new_reads_a_data_file(tmp_path: Path, template_args: list[str]) -> None:
    data = tmp_path / "answers.yml"
    data.write_text(
        "project_name: Billing Portal\npayment_provider: adyen\ncompliance: [pci_saq_a]\n", encoding="utf-8"
    )
    destination = tmp_path / "portal"
    result = _cli("new", str(destination), "--defaults", "--data-file", str(data), "-q", *template_args)
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["project_slug"] == "billing-portal"
    assert answers["payment_provider"] == "adyen"
    assert answers["compliance"] == ["pci_saq_a"]


def test_malformed_data_file_names_the_line(tmp_path: Path, template_args: list[str]) -> None:
    data = tmp_path / "answers.yml"
    data.write_text("project_name: ok\nidp: [unclosed\n", encoding="utf-8")
    result = _cli("new", str(tmp_path / "x"), "--defaults", "--data-file", str(data), *template_args)
    assert result.returncode == 2
    assert "is not valid YAML at line" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_bad_answer_exits_2_with_one_clear_line_and_writes_nothing(tmp_path: Path, template_args: list[str]) -> None:
    destination = tmp_path / "bad"
    result = _cli("new", str(destination), "--defaults", "-d", "project_slug=../../etc", *template_args)
    assert result.returncode == 2
    assert "error: Validation error for question 'project_slug'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not destination.exists()
    assert not (tmp_path / "etc").exists()


def test_non_empty_destination_exits_2(tmp_path: Path, template_args: list[str]) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x", encoding="utf-8")
    result = _cli("new", str(tmp_path / "busy"), "--defaults", *template_args)
    assert result.returncode == 2
    assert "exists and is not empty" in result.stderr


def test_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    result = _cli("new", str(tmp_path / "x"), "--defaults", "--template", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_no_terminal_and_no_defaults_is_refused(tmp_path: Path, template_args: list[str]) -> None:
    result = _cli("new", str(tmp_path / "x"), *template_args)
    assert result.returncode == 2
    assert "pass --defaults" in result.stderr


def test_new_from_the_git_checkout(tmp_path: Path) -> None:
    """The default template source: this repository (copier clones it at HEAD)."""
    destination = tmp_path / "from-git"
    result = _cli("new", str(destination), "--defaults", "--vcs-ref", "HEAD", "-q")
    assert result.returncode == 0, result.stderr
    assert "_commit:" in (destination / ".copier-answers.yml").read_text(encoding="utf-8")
