"""Distinct SARIF results never share a `partialFingerprints` value; the same result keeps its value across runs.

The red team found two IAM statements (lines 6 and 7) whose messages differ only in
digits: digits are masked so a changing count does not re-open an alert, which made
both findings one fingerprint, and code scanning would have merged them into one alert.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from secure_scaffold.preflight import CheckResult, ControlResult, Finding, Report, Status, failed

REPO = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = REPO / ".tools/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"
KEY = "secureScaffoldFinding/v2"
IAM = "infra/terraform/iam.tf"


def _report(root: Path, *findings: Finding) -> Report:
    control = ControlResult(
        control_id="DEPLOY-08",
        title="Least privilege",
        severity="blocking",
        owner="platform",
        compliance={},
        status=Status.FAILED,
        checks=(CheckResult("infra.iam_least_privilege", failed(*findings)),),
    )
    return Report(project=str(root), generated=False, answers={}, results=(control,), not_applicable=())


def _fingerprints(report: Report) -> list[str]:
    from secure_scaffold.report import RENDERERS

    document = json.loads(RENDERERS["sarif"](report))
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(document)
    return [result["partialFingerprints"][KEY] for result in document["runs"][0]["results"]]


def _statement(line: int, number: int) -> Finding:
    return Finding(f"IAM statement {number} allows iam:*", "name the actions", path=IAM, line=line)


def test_findings_on_different_lines_that_differ_only_in_digits_get_different_fingerprints(tmp_path: Path) -> None:
    (tmp_path / IAM).parent.mkdir(parents=True)
    (tmp_path / IAM).write_text("\n" * 10, encoding="utf-8")
    fingerprints = _fingerprints(_report(tmp_path, _statement(6, 1), _statement(7, 2)))
    assert len(set(fingerprints)) == 2


def test_the_same_finding_twice_at_one_place_gets_an_occurrence_index(tmp_path: Path) -> None:
    twice = Finding("wildcard resource", "name the resources")  # no path: pinned to a project-level file
    fingerprints = _fingerprints(_report(tmp_path, twice, twice))
    assert len(set(fingerprints)) == 2
    assert [fingerprint.rsplit(":", 1)[1] for fingerprint in fingerprints] == ["1", "2"]


def test_fingerprints_are_stable_across_runs_and_ignore_a_changed_count(tmp_path: Path) -> None:
    first = _fingerprints(_report(tmp_path, _statement(6, 1), _statement(7, 2)))
    assert first == _fingerprints(_report(tmp_path, _statement(6, 1), _statement(7, 2)))
    recounted = _fingerprints(_report(tmp_path, _statement(6, 3), _statement(7, 4)))
    assert recounted == first, "a count in the message changing is the same problem at the same place"
