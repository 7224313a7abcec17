"""Each scanner preflight ran is recorded with its path and `--version` output, so a stub cannot pass unseen.

The red team put two-line scripts in the project's `.venv-tools/bin`: preflight found them
where `make tools` installs scanners, ran them, and nothing in the report said what ran.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from _breakable import private_copy
from secure_scaffold.preflight import Status, run_preflight
from secure_scaffold.report import RENDERERS, write_evidence_bundle


def _stub(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def stubbed(pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    project = private_copy(pristine, tmp_path)
    stub = _stub(project / ".venv-tools/bin/zizmor", "exit 0")  # prints nothing, for --version too
    monkeypatch.delenv("SECURE_SCAFFOLD_ZIZMOR", raising=False)
    return project, stub


def test_a_stub_scanner_is_recorded_with_its_path_and_no_version_and_decides_nothing(stubbed, tmp_path) -> None:
    project, stub = stubbed
    report = run_preflight(project, only=["DEPLOY-03"])
    assert report.tools["zizmor"]["path"] == str(stub)
    assert report.tools["zizmor"]["version"].startswith("(no version:")
    (result,) = report.results
    (zizmor,) = [check for check in result.checks if check.check == "workflows.zizmor"]
    assert zizmor.outcome.status is Status.UNKNOWN, "empty scanner output is not a pass"
    assert json.loads(RENDERERS["json"](report))["tools"]["zizmor"]["path"] == str(stub)
    bundle = write_evidence_bundle(report, tmp_path / "evidence")
    assert json.loads((bundle / "run.json").read_text())["tools"]["zizmor"]["path"] == str(stub)


def test_a_real_scanner_is_recorded_with_its_version(
    pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = private_copy(pristine, tmp_path)
    fake = _stub(tmp_path / "bin/zizmor", 'if [ "$1" = --version ]; then echo "zizmor 1.2.3"; else echo "[]"; fi')
    monkeypatch.setenv("SECURE_SCAFFOLD_ZIZMOR", str(fake))
    report = run_preflight(project, only=["DEPLOY-03"])
    assert report.tools["zizmor"] == {"path": str(fake), "version": "zizmor 1.2.3"}
