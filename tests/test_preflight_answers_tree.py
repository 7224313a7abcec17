"""The answers file decides which controls apply, so preflight refuses to trust it when the tree contradicts it.

The red team edited a stripe + pooled project's answers to `payment_provider: none`,
`tenancy: single`: 17 controls (DATA-03, DATA-08, MON-04, PAY-01..14) became "not
applicable" while `src/<pkg>/billing/` and `tenancy/` still ran. And an answers file
that is not YAML crashed preflight with a traceback and exit 1 (a FAIL's code).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from _breakable import edit, private_copy
from secure_scaffold.errors import AnswersError
from secure_scaffold.preflight import Status, run_preflight

CLI = (sys.executable, "-m", "secure_scaffold.cli")
SWITCHED_OFF = {"DATA-03", "DATA-08", "MON-04", *(f"PAY-{number:02d}" for number in range(1, 15))}
AI_CONTROLS = {"AI-01", "AI-03"}


@pytest.fixture
def edited(full: Path, tmp_path: Path) -> Path:
    """The full project (stripe, pooled, AI) with its answers edited to switch all three off; the code stays."""
    project = private_copy(full, tmp_path)
    edit(project, ".copier-answers.yml", "payment_provider: stripe", "payment_provider: none")
    edit(project, ".copier-answers.yml", "tenancy: pooled", "tenancy: single")
    edit(project, ".copier-answers.yml", "ai_features: true", "ai_features: false")
    return project


def test_controls_guarding_code_that_is_still_there_stay_applicable(edited: Path, full: Path) -> None:
    selection = sorted(SWITCHED_OFF | AI_CONTROLS)
    report = run_preflight(edited, only=[*selection, "GOV-05"])
    assert not set(report.not_applicable) & (SWITCHED_OFF | AI_CONTROLS)
    checked = {result.control_id for result in report.results}
    assert checked >= SWITCHED_OFF | AI_CONTROLS
    statuses = {result.control_id: result.status for result in report.results if result.control_id in selection}
    as_generated = {result.control_id: result.status for result in run_preflight(full, only=selection).results}
    assert statuses == as_generated, "the checks read the tree, not the edited answers: none stands down"
    assert Status.SKIPPED not in statuses.values()
    assert report.answers["payment_provider"] == "none", "the report shows the answers as recorded"


def test_gov_05_fails_naming_the_inconsistent_answers(edited: Path) -> None:
    report = run_preflight(edited, only=["GOV-05"])
    (gov05,) = report.results
    assert gov05.status is Status.FAILED
    messages = {finding.message for finding in gov05.findings}
    package = "src/secure_app"
    assert (
        f"answers file inconsistent with the tree: {package}/billing/ exists but payment_provider is none" in messages
    )
    assert f"answers file inconsistent with the tree: {package}/tenancy/ exists but tenancy is single" in messages
    assert f"answers file inconsistent with the tree: {package}/ai/ exists but ai_features is false" in messages
    assert report.contradictions
    assert all("inconsistent" in line for line in report.contradictions)


def test_a_consistent_project_passes_the_tree_check(full: Path, tmp_path: Path) -> None:
    report = run_preflight(private_copy(full, tmp_path), only=["GOV-05"])
    (gov05,) = report.results
    (match,) = [check for check in gov05.checks if check.check == "answers.match_tree"]
    assert match.outcome.status is Status.PASSED
    assert report.contradictions == ()


def test_an_unparsable_answers_file_is_one_line_naming_file_and_line_exit_2(pristine: Path, tmp_path: Path) -> None:
    project = private_copy(pristine, tmp_path)
    answers = project / ".copier-answers.yml"
    answers.write_text(answers.read_text(encoding="utf-8") + "BAD: [unclosed\n", encoding="utf-8")
    lines = answers.read_text(encoding="utf-8").count("\n")
    with pytest.raises(AnswersError, match=r"\.copier-answers\.yml:\d+: cannot read the answers file"):
        run_preflight(project)
    result = subprocess.run([*CLI, "preflight", str(project)], capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {answers.resolve()}:") or line.startswith(f"error: {answers}:"), line
    reported = int(line.split(".copier-answers.yml:", 1)[1].split(":", 1)[0])
    assert lines - 1 <= reported <= lines + 1


def test_an_answers_file_that_is_not_a_mapping_is_refused(pristine: Path, tmp_path: Path) -> None:
    project = private_copy(pristine, tmp_path)
    (project / ".copier-answers.yml").write_text("- stripe\n- pooled\n", encoding="utf-8")
    with pytest.raises(AnswersError, match="not a mapping of answers"):
        run_preflight(project)
