"""Preflight's authorization, data and governance checks: each way of breaking them fails its control.

A freshly rendered project passes all four checks; each test then breaks the
project in exactly one way and asserts the control, the check and the message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from _breakable import check_outcome, edit, private_copy
from secure_scaffold.preflight import Status, run_preflight

AUTHZ_CHECKS = {
    "AUTHZ-04": "authz.routes_declared",
    "AUTHZ-02": "authz.negative_tests",
    "AUTHZ-08": "authz.audit_wired",
    "AUTHZ-06": "authz.drift_scheduled",
}


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the pristine project, to break in one way."""
    return private_copy(pristine, tmp_path)


def _outcome(project: Path, control: str):
    return check_outcome(project, control, AUTHZ_CHECKS[control])


def test_a_generated_project_passes_every_authz_check(pristine: Path) -> None:
    report = run_preflight(pristine, only=list(AUTHZ_CHECKS))
    outcomes = {check.check: check.outcome for result in report.results for check in result.checks}
    for check in AUTHZ_CHECKS.values():
        assert outcomes[check].status is Status.PASSED, (check, outcomes[check].findings)


PACKAGE = "src/secure_app"


@pytest.mark.parametrize(
    ("control", "relative", "old", "new", "message"),
    [
        ("AUTHZ-04", f"{PACKAGE}/web/routes/projects.py", 'Annotated[Principal, require("projects:read")]',
         "Principal", "GET /api/projects declares no permission"),
        ("AUTHZ-04", f"{PACKAGE}/web/routes/admin.py", 'require("audit:read")', 'require("audit:raed")',
         "requires 'audit:raed', which policy/roles.yaml does not define"),
        ("AUTHZ-02", "policy/roles.yaml", "      projects:read: [owner_if_restricted]\n  member:",
         "      projects:read: [owner_if_restricted]\n      customers:read: []\n  member:",
         "the lowest role, viewer, is granted personal data: customers:read"),
        ("AUTHZ-02", "tests/test_policy_negative_matrix.py", "MATRIX", "HAND_WRITTEN",
         "does not derive its cases from the matrix"),
        ("AUTHZ-08", f"{PACKAGE}/db/privileges.py", '"audit_events": ("SELECT", "INSERT"),',
         '"audit_events": ("SELECT", "INSERT", "UPDATE"),', "the runtime role may UPDATE audit_events"),
        ("AUTHZ-08", f"{PACKAGE}/security/role_admin.py", "self.audit.append(", "self.audit_disabled(",
         "role changes are not written to the audit log"),
        ("AUTHZ-06", ".github/workflows/nightly.yml", '--family "$DRIFT_FAMILY"',
         '--family "$MIGRATE_FAMILY"', "no scheduled workflow runs the drift report"),
    ],
)  # fmt: skip
def test_breaking_an_authz_control_fails_it(project: Path, control, relative, old, new, message) -> None:
    edit(project, relative, old, new)
    outcome, report = _outcome(project, control)
    assert outcome.status is Status.FAILED
    assert any(message in finding.message for finding in outcome.findings), [f.message for f in outcome.findings]
    assert any(finding.path for finding in outcome.findings), "a finding names the file to fix"
    if control != "AUTHZ-06":  # drift reports are a warning, not a deploy blocker
        assert control in [result.control_id for result in report.blocking_failures]


def test_an_audit_trigger_removed_from_the_migrations_fails_authz_08(project: Path) -> None:
    versions = project / PACKAGE / "db" / "migrations" / "versions"
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("BEFORE UPDATE OR DELETE ON audit_events", "AFTER INSERT ON audit_events"))
    outcome, _ = _outcome(project, "AUTHZ-08")
    assert outcome.status is Status.FAILED
    assert any("refuses UPDATE and DELETE on audit_events" in finding.message for finding in outcome.findings)


def test_a_router_level_require_login_declares_its_routes(project: Path) -> None:
    """web/step_up.py declares require_login() once on its APIRouter; removing it is caught,
    although its paths start with /auth/: only login, callback and logout are public there."""
    edit(project, f"{PACKAGE}/web/step_up.py", ", dependencies=[require_login()])", ")")
    outcome, _ = _outcome(project, "AUTHZ-04")
    assert outcome.status is Status.FAILED
    assert any("POST /auth/webauthn/register/options declares no permission" in f.message for f in outcome.findings)


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (f"{PACKAGE}/config.py", "database_statement_timeout_ms: int = Field(default=5_000,",
         "database_statement_timeout_ms: int = Field(default=600_000,",
         "database_statement_timeout_ms defaults to 600000"),
        (f"{PACKAGE}/bootstrap.py", "limits=runtime_query_limits(settings),", "",
         "the runtime engine is built without the query limits"),
    ],
)  # fmt: skip
def test_breaking_the_query_limits_fails_data_09(project: Path, relative, old, new, message) -> None:
    report = run_preflight(project, only=["DATA-09"])
    assert report.results[0].status is Status.PASSED, report.results[0].findings
    edit(project, relative, old, new)
    report = run_preflight(project, only=["DATA-09"])
    (result,) = report.results
    assert result.status is Status.FAILED
    assert any(message in finding.message for finding in result.findings), [f.message for f in result.findings]
    assert "DATA-09" in [failure.control_id for failure in report.blocking_failures]


def test_a_log_renderer_without_redaction_fails_data_06(project: Path) -> None:
    report = run_preflight(project, only=["DATA-06"])
    assert report.results[0].status is Status.PASSED, report.results[0].findings
    edit(
        project,
        f"{PACKAGE}/log.py",
        "structlog.processors.format_exc_info, redact,",
        "structlog.processors.format_exc_info,",
    )
    (result,) = run_preflight(project, only=["DATA-06"]).results
    assert result.status is Status.FAILED
    assert any("without the redaction processor" in finding.message for finding in result.findings)
    assert all(finding.path and finding.path.endswith("log.py") for finding in result.findings)


# ------------------------------------------------------------------ governance (GOV-01..03, GOV-06)

WORKFLOW = ".github/workflows/control-review.yml"


@pytest.mark.parametrize(
    ("control", "relative", "old", "new", "message"),
    [
        ("GOV-02", "CONTROL_OWNERS", "OPS-*    @example-org/sre\n", "",
         "applicable controls have no owner: OPS-01, OPS-02, OPS-03, OPS-04"),
        ("GOV-02", "CONTROL_OWNERS", "GOV-*    @example-org/compliance", "GOV-*", "names no owner"),
        ("GOV-01", WORKFLOW, '"0 9 1 1,4,7,10 *"', '"0 9 1 1 *"', "runs preflight at least quarterly"),
        ("GOV-03", WORKFLOW, "retention-days: 400", "retention-days: 30", "keeps them a year"),
        ("GOV-03", WORKFLOW, "control_outcomes.py trend", "cat", "compares them over time"),
        ("GOV-06", "docs/threat-model.md", "::test_a_replayed_callback_is_refused`",
         "::test_a_callback_that_was_never_written`", "names tests/test_auth_routes.py::test_a_callback_that"),
        ("GOV-06", "docs/threat-model.md", "| `tests/test_auth_routes.py::test_a_replayed_callback_is_refused` |",
         "| (manual review) |", "abuse case TM-AUTH-01 names no test"),
        ("GOV-06", "docs/threat-model.md", "| TM-AUTH-02 |", "| TM-AUTH-01 |", "abuse case TM-AUTH-01 is listed twice"),
    ],
)  # fmt: skip
def test_breaking_governance_fails_its_control(project: Path, control, relative, old, new, message) -> None:
    assert run_preflight(project, only=[control]).results[0].status is Status.PASSED
    edit(project, relative, old, new)
    (result,) = run_preflight(project, only=[control]).results
    assert result.status is Status.FAILED
    assert any(message in finding.message for finding in result.findings), [f.message for f in result.findings]


def test_without_an_owners_file_gov_02_fails_and_reports_fall_back_to_the_catalog(project: Path) -> None:
    (project / "CONTROL_OWNERS").unlink()
    report = run_preflight(project, only=["GOV-02"])
    assert report.results[0].status is Status.FAILED
    assert "no CONTROL_OWNERS file" in report.results[0].findings[0].message


@pytest.mark.parametrize(
    ("cron", "quarterly"),
    [("0 9 1 1,4,7,10 *", True), ("0 9 1 */3 *", True), ("17 3 * * *", True), ("0 9 1 1,7 *", False),
     ("0 9 1 1,2,3,4 *", False), ("0 9 1 */6 *", False), ("not a cron", False)],
)  # fmt: skip
def test_quarterly_means_at_most_three_months_apart(cron: str, quarterly: bool) -> None:
    from secure_scaffold.preflight.checks.governance import _at_least_quarterly

    assert _at_least_quarterly(cron) is quarterly


# ------------------------------------------------------------------ the TPSP register (PAY-03)

REGISTER = "docs/compliance/tpsp-register.yaml"


def _record_review(project: Path, reviewed_on: str) -> None:
    edit(project, REGISTER, "agreement: null", "agreement: MSA-2026-014 (signed 2026-02-01)")
    edit(project, REGISTER, "aoc_reviewed_on: null", f"aoc_reviewed_on: {reviewed_on}")
    edit(project, REGISTER, "aoc_reviewed_by: null", "aoc_reviewed_by: compliance@example.test")


def test_a_fresh_register_fails_pay_03_until_people_record_the_facts(project: Path) -> None:
    (result,) = run_preflight(project, only=["PAY-03"]).results
    assert result.status is Status.FAILED
    messages = " | ".join(finding.message for finding in result.findings)
    assert "no written agreement recorded for Stripe" in messages
    assert "the AOC of Stripe has no recorded review" in messages
    assert result.control_id not in [r.control_id for r in run_preflight(project, only=["PAY-03"]).blocking_failures]


def test_a_recent_aoc_review_passes_and_a_stale_one_fails(project: Path) -> None:
    from datetime import UTC, datetime, timedelta

    recent = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    _record_review(project, recent)
    assert run_preflight(project, only=["PAY-03"]).results[0].status is Status.PASSED
    stale = (datetime.now(UTC) - timedelta(days=400)).date().isoformat()
    edit(project, REGISTER, f"aoc_reviewed_on: {recent}", f"aoc_reviewed_on: {stale}")
    (result,) = run_preflight(project, only=["PAY-03"]).results
    assert result.status is Status.FAILED
    assert f"was last reviewed on {stale}" in result.findings[0].message


def test_a_register_without_the_configured_provider_fails(project: Path) -> None:
    edit(project, REGISTER, "  - id: stripe", "  - id: adyen")
    (result,) = run_preflight(project, only=["PAY-03"]).results
    assert result.status is Status.FAILED
    assert "'stripe' is not in the TPSP register" in result.findings[0].message


# ------------------------------------------------------------------ sessions and monitoring

RUNTIME_TF = "infra/terraform/modules/runtime/main.tf"
ALARMS_TF = "infra/terraform/modules/runtime/alarms.tf"


@pytest.mark.parametrize(
    ("control", "relative", "old", "new", "message"),
    [
        ("AUTH-02", f"{PACKAGE}/config.py", "session_idle_timeout_seconds: int = Field(default=1800,",
         "session_idle_timeout_seconds: int = Field(default=86_400,", "session_idle_timeout_seconds defaults to 86400"),
        ("AUTH-08", f"{PACKAGE}/security/csrf.py",
         "hmac.compare_digest(presented_token.encode(), expected_token.encode())",
         "presented_token == expected_token", "not compared in constant time"),
        ("AUTH-13", f"{PACKAGE}/config.py", 'login_rate_limit: str = "10/minute"',
         'login_rate_limit: str = "10/second"', "login_rate_limit defaults to '10/second'"),
        ("AUTH-13", f"{PACKAGE}/config.py", 'login_rate_limit_hard: str = "300/minute"',
         'login_rate_limit_hard: str = "100/second"', "login_rate_limit_hard defaults to '100/second'"),
        ("AUTH-13", f"{PACKAGE}/security/abuse.py", "per_client_cap=settings.login_rate_limit_hard,", "",
         "the login guards do not apply the configured rate limits"),
        ("AUTH-13", f"{PACKAGE}/security/abuse.py", 'soft_limits=context.stage == "login",', "",
         "sign-in refuses by address or login_hint"),
        ("MON-02", RUNTIME_TF, '"audit-forward"]', '"audit-verify"]', "runs no audit-forward process"),
        ("MON-02", ALARMS_TF, 'treat_missing_data  = "breaching"', 'treat_missing_data  = "notBreaching"',
         "a dead forwarder, which reports nothing, never alarms"),
        ("MON-02", ALARMS_TF,
         "namespace           = aws_cloudwatch_log_metric_filter.siem_backlog.metric_transformation[0].namespace\n"
         "  metric_name         = aws_cloudwatch_log_metric_filter.siem_backlog.metric_transformation[0].name",
         'namespace           = "AWS/ECS"\n  metric_name         = "CPUUtilization"',
         "nothing alarms on the SIEM backlog"),
        ("MON-03", f"{PACKAGE}/security/alerts.py", '@alert_rule("AUTHZ002"', '@alert_rule("AUTHZ102"',
         "no alert rule AUTHZ002 (role escalations)"),
        ("MON-04", f"{PACKAGE}/security/alerts.py", '@alert_rule("PAY001"', '@alert_rule("PAY101"',
         "no alert rule PAY001 (payout edits)"),
        ("MON-03", f"{PACKAGE}/security/audit.py", "evaluate_alerts(", "skip_alerts(",
         "the audit log never evaluates the alert rules"),
        ("MON-03", f"{PACKAGE}/security/alerts.py",
         '@alert_rule("AUTHZ003", severity="high", title="Refused admin action", '
         "per_actor_window=REFUSAL_ALERT_WINDOW_SECONDS)",
         '@alert_rule("AUTHZ003", severity="high", title="Refused admin action")',
         "AUTHZ003 is not aggregated per actor: any member can flood the pager with refused admin actions"),
        ("MON-03", f"{PACKAGE}/web/authz.py", "AuditLog(point.matrix, counter=counter)", "AuditLog(point.matrix)",
         "the audit log counts no alert windows: AUTHZ003 pages on every refused request"),
    ],
)  # fmt: skip
def test_breaking_sessions_or_monitoring_fails_the_control(project: Path, control, relative, old, new, message) -> None:
    assert run_preflight(project, only=[control]).results[0].status is Status.PASSED
    edit(project, relative, old, new)
    report = run_preflight(project, only=[control])
    (result,) = report.results
    assert result.status is Status.FAILED
    assert any(message in finding.message for finding in result.findings), [f.message for f in result.findings]
    assert control in [failure.control_id for failure in report.blocking_failures]


def test_without_a_threat_model_gov_06_fails(project: Path) -> None:
    (project / "docs" / "threat-model.md").unlink()
    (result,) = run_preflight(project, only=["GOV-06"]).results
    assert result.status is Status.FAILED
    assert result.findings[0].message == "docs/threat-model.md is missing"
