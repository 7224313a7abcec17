"""A run restricted with `--only` is PARTIAL in every format, never a PASS, and never calls the rest "not applicable".

The red team's run `preflight --only AUTH-01 --format json --evidence DIR .` printed
PASS, `"ok": true`, exited 0 and listed the 78 controls it never looked at as
`not_applicable`; the evidence bundle did not record the restriction. An auditor
reading that bundle would believe the whole project passed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from _breakable import private_copy
from secure_scaffold.controls import load_catalog
from secure_scaffold.preflight import Project, Verdict, run_preflight
from secure_scaffold.report import RENDERERS, write_evidence_bundle

CLI = (sys.executable, "-m", "secure_scaffold.cli")


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    return private_copy(pristine, tmp_path)


def _applicable(project: Path) -> set[str]:
    return {control.id for control in load_catalog().applicable(Project.load(project).answers)}


def test_a_restricted_run_is_partial_and_lists_what_it_did_not_select(project: Path) -> None:
    report = run_preflight(project, only=["AUTH-10"])
    assert [result.control_id for result in report.results] == ["AUTH-10"]
    assert report.verdict is Verdict.PARTIAL
    assert not report.ok
    assert report.verdict.exit_code == 0
    assert report.selected == ("AUTH-10",)
    assert set(report.not_selected) == _applicable(project) - {"AUTH-10"}
    assert not set(report.not_applicable) & _applicable(project), "unselected controls are not 'not applicable'"
    everything = {control.id for control in load_catalog()}
    assert set(report.not_selected) | set(report.not_applicable) | {"AUTH-10"} == everything


def test_every_format_says_partial_and_records_the_selection(project: Path, tmp_path: Path) -> None:
    report = run_preflight(project, only=["AUTH-10"])
    data = json.loads(RENDERERS["json"](report))
    assert (data["verdict"], data["ok"], data["selected"]) == ("PARTIAL", False, ["AUTH-10"])
    assert set(data["not_selected"]) == set(report.not_selected)
    assert data["not_selected"]
    assert RENDERERS["markdown"](report).startswith("# Preflight report: PARTIAL")
    assert "Not selected (not checked by this run): " in RENDERERS["markdown"](report)
    last = RENDERERS["table"](report).splitlines()[-1]
    assert f"{len(report.not_selected)} not selected. PARTIAL (restricted run (--only)" in last
    assert "PASS" not in last
    suite = ET.fromstring(RENDERERS["junit"](report).split("?>", 1)[1])  # noqa: S314 - our own output
    properties = {prop.get("name"): prop.get("value") for prop in suite.iter("property")}
    assert properties["verdict"] == "PARTIAL"
    assert properties["selected"] == "AUTH-10"
    assert set(properties["not_selected"].split(",")) == set(report.not_selected)
    sarif_run = json.loads(RENDERERS["sarif"](report))["runs"][0]
    assert sarif_run["properties"]["verdict"] == "PARTIAL"
    assert sarif_run["properties"]["restricted"] is True
    assert sarif_run["properties"]["selected"] == ["AUTH-10"]
    bundle = write_evidence_bundle(report, tmp_path / "evidence")
    record = json.loads((bundle / "run.json").read_text())
    assert (record["verdict"], record["restricted"], record["selected"]) == ("PARTIAL", True, ["AUTH-10"])
    assert set(record["not_selected"]) == set(report.not_selected)
    manifest = dict(reversed(line.split("  ", 1)) for line in (bundle / "MANIFEST.sha256").read_text().splitlines())
    assert manifest["run.json"] == hashlib.sha256((bundle / "run.json").read_bytes()).hexdigest()


def test_the_red_teams_command_says_partial_and_the_bundle_records_it(project: Path, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    args = [*CLI, "preflight", "--only", "AUTH-01", "--format", "json", "--evidence", str(evidence), str(project)]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    data = json.loads(result.stdout)
    assert (data["verdict"], data["ok"]) == ("PARTIAL", False), result.stderr
    assert "AUTH-02" in data["not_selected"]
    assert "AUTH-02" not in data["not_applicable"]
    assert result.returncode == 0, (
        "a passing selection exits 0; it is PARTIAL everywhere and the deploy gate refuses it"
    )
    assert "preflight: PARTIAL (" in result.stderr
    assert json.loads((evidence / "run.json").read_text())["selected"] == ["AUTH-01"]
    assert json.loads((evidence / "report.json").read_text())["verdict"] == "PARTIAL"


def test_a_restricted_run_with_a_failure_still_fails_and_names_its_restriction(project: Path) -> None:
    (project / ".env").write_text("APP_ENV=production\n", encoding="utf-8")
    report = run_preflight(project, only=["DEPLOY-05", "AUTH-10"])
    assert report.verdict is Verdict.FAIL
    assert report.verdict.exit_code == 1
    line = RENDERERS["table"](report).splitlines()[-1]
    assert "FAIL (1 blocking control(s) failed: DEPLOY-05; restricted run (--only)" in line
