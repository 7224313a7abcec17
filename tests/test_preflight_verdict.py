"""Preflight never says PASS for what it did not check, and its SARIF is what code scanning accepts.

A fresh project on a machine without the scanners used to print `PASS`,
`"ok": true` and exit 0 while five blocking controls were UNKNOWN. Here the
scanners are made unfindable (their `SECURE_SCAFFOLD_<TOOL>` variables point
at nothing), and the run must be INCOMPLETE, name each unchecked control with
its hint, and exit 3 -- unless the run accepts each one by id, with a reason
that the report and evidence keep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from _breakable import private_copy
from secure_scaffold.errors import PreflightError
from secure_scaffold.preflight import Status, Verdict, run_preflight
from secure_scaffold.report import RENDERERS, write_evidence_bundle

REPO = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = REPO / ".tools/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"
SCANNERS = ("CHECKOV", "ZIZMOR", "ACTIONLINT", "BANDIT", "DETECT_SECRETS")
#: The blocking controls a default project cannot prove without its scanners.
NEEDS_SCANNERS = {"DEPLOY-03", "DEPLOY-04", "DEPLOY-07", "DEPLOY-09", "DEPLOY-10"}
CLI = (sys.executable, "-m", "secure_scaffold.cli")


@pytest.fixture
def without_scanners(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    missing = str(tmp_path / "not-installed")
    for tool in SCANNERS:
        monkeypatch.setenv(f"SECURE_SCAFFOLD_{tool}", missing)
    return {f"SECURE_SCAFFOLD_{tool}": missing for tool in SCANNERS}


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    return private_copy(pristine, tmp_path)


def _unchecked(report) -> set[str]:
    return {result.control_id for result in report.unchecked}


def test_unchecked_blocking_controls_make_the_run_incomplete_not_a_pass(project: Path, without_scanners) -> None:
    report = run_preflight(project)
    assert report.blocking_failures == ()
    assert _unchecked(report) >= NEEDS_SCANNERS
    assert report.verdict is Verdict.INCOMPLETE
    assert not report.ok
    data = json.loads(RENDERERS["json"](report))
    assert (data["verdict"], data["ok"]) == ("INCOMPLETE", False)
    assert set(data["unchecked"]) == _unchecked(report)
    markdown = RENDERERS["markdown"](report)
    assert markdown.startswith("# Preflight report: INCOMPLETE")
    table = RENDERERS["table"](report)
    assert "INCOMPLETE (" in table.splitlines()[-1]
    for control in NEEDS_SCANNERS:
        assert control in table.splitlines()[-1]
    # Each unchecked control says how to make it checkable, in the project's own terms.
    assert "hint: run `make tools` in the project" in table


def test_the_cli_exits_3_when_incomplete_and_1_when_failed(project: Path, without_scanners) -> None:
    env = {**os.environ, **without_scanners}
    incomplete = subprocess.run([*CLI, "preflight", str(project)], capture_output=True, text=True, env=env, check=False)
    assert incomplete.returncode == 3, incomplete.stdout[-2000:]
    assert incomplete.stdout.splitlines()[-1].endswith(
        "make them checkable as each hint says, or accept them with --allow-unknown ID --reason TEXT)"
    )
    (project / ".env").write_text("APP_ENV=production\n", encoding="utf-8")
    failed = subprocess.run([*CLI, "preflight", str(project)], capture_output=True, text=True, env=env, check=False)
    assert failed.returncode == 1
    assert "FAIL (" in failed.stdout.splitlines()[-1]


def test_accepting_each_unknown_by_id_with_a_reason_passes_and_is_recorded(
    project: Path, without_scanners, tmp_path: Path
) -> None:
    unchecked = sorted(_unchecked(run_preflight(project)))
    reasons = {control: f"no scanner on this laptop, CI runs it ({control})" for control in unchecked}
    partial = run_preflight(project, allow_unknown=dict(list(reasons.items())[:-1]))
    assert partial.verdict is Verdict.INCOMPLETE
    assert _unchecked(partial) == {unchecked[-1]}
    report = run_preflight(project, allow_unknown=reasons)
    assert report.verdict is Verdict.PASS
    accepted = {result.control_id: result.accepted_reason for result in report.results if result.accepted_reason}
    assert accepted == reasons
    bundle = write_evidence_bundle(report, tmp_path / "evidence")
    recorded = json.loads((bundle / "report.json").read_text())
    assert recorded["accepted_unknown"] == reasons
    assert all(control["status"] == "unknown" for control in recorded["controls"] if control["id"] in reasons), (
        "an accepted control stays UNKNOWN in the evidence: accepting is not proving"
    )


def test_allow_unknown_needs_a_known_id_and_a_reason(project: Path) -> None:
    with pytest.raises(PreflightError, match="--allow-unknown DEPLOY-07 needs a --reason"):
        run_preflight(project, only=["DEPLOY-07"], allow_unknown={"DEPLOY-07": "  "})
    with pytest.raises(PreflightError, match="unknown control id"):
        run_preflight(project, allow_unknown={"DEPLOY-99": "typo"})


def test_allow_unknown_through_the_cli(project: Path, without_scanners) -> None:
    env = {**os.environ, **without_scanners}
    args = [*CLI, "preflight", str(project), "--only", "DEPLOY-07", "--format", "json"]
    accepted = subprocess.run(
        [*args, "--allow-unknown", "DEPLOY-07", "--reason", "checkov runs in CI"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert accepted.returncode == 0, accepted.stderr
    data = json.loads(accepted.stdout)
    assert data["accepted_unknown"] == {"DEPLOY-07": "checkov runs in CI"}
    assert (data["verdict"], data["ok"]) == ("PARTIAL", False), "an --only run is never a plain PASS"
    bare = subprocess.run([*args, "--allow-unknown", "DEPLOY-07"], capture_output=True, text=True, env=env, check=False)
    assert bare.returncode == 2
    assert "needs a --reason" in bare.stderr


# ------------------------------------------------------------------ SARIF for code scanning


def _sarif(report) -> dict:
    document = json.loads(RENDERERS["sarif"](report))
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(document)
    return document


def test_sarif_validates_and_locates_every_result(project: Path, without_scanners) -> None:
    (project / ".env").write_text("APP_ENV=production\n", encoding="utf-8")
    report = run_preflight(project)
    run = _sarif(report)["runs"][0]
    results, rules = run["results"], run["tool"]["driver"]["rules"]
    problems = {result.control_id for result in report.results if result.status in (Status.FAILED, Status.UNKNOWN)}
    assert {result["ruleId"] for result in results} == problems
    passed = {result.control_id for result in report.results if result.status is Status.PASSED}
    assert passed
    assert not passed & {result["ruleId"] for result in results}, "no results for passes"
    for result in results:
        (location,) = result["locations"]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert uri
        assert not uri.startswith(("/", "./", "file:")), uri
        assert (project / uri).exists(), uri
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["partialFingerprints"]["secureScaffoldFinding/v2"]
    env_result = next(result for result in results if result["ruleId"] == "DEPLOY-05")
    assert env_result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ".env"


def test_sarif_level_follows_the_controls_severity_not_its_status(project: Path, without_scanners) -> None:
    report = run_preflight(project)
    severity = {result.control_id: result.severity for result in report.results}
    run = _sarif(report)["runs"][0]
    expected = {"blocking": "error", "warning": "warning"}
    for result in run["results"]:
        assert result["level"] == expected[severity[result["ruleId"]]], result
    unknown_blocking = [result for result in run["results"] if result["ruleId"] in NEEDS_SCANNERS]
    assert unknown_blocking
    assert {result["level"] for result in unknown_blocking} == {"error"}
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["help"]["text"]
        assert float(rule["properties"]["security-severity"]) > 0
        assert len(rule["properties"]["tags"]) <= 20


def test_sarif_fingerprints_are_stable_across_runs(project: Path, without_scanners) -> None:
    first = _sarif(run_preflight(project))["runs"][0]["results"]
    second = _sarif(run_preflight(project))["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in first] == [r["partialFingerprints"] for r in second]
    assert len({r["partialFingerprints"]["secureScaffoldFinding/v2"] for r in first}) == len(first)


def test_sarif_leaves_out_accepted_and_skipped_controls(project: Path, without_scanners) -> None:
    report = run_preflight(
        project,
        allow_unknown=dict.fromkeys(NEEDS_SCANNERS, "runs in CI"),
        skip={"GOV-06": "reviewed by hand this quarter"},
    )
    rule_ids = {result["ruleId"] for result in _sarif(report)["runs"][0]["results"]}
    assert not rule_ids & (NEEDS_SCANNERS | {"GOV-06"})
