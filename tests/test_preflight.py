"""Preflight: a generated project passes the checks; each way of breaking it fails with that control's id.

Every check has a passing fixture (a freshly rendered project) and a failing
one (the same project broken in exactly one way), and asserts the exact
control and check that report it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from secure_scaffold.errors import PreflightError
from secure_scaffold.preflight import CheckRegistry, Finding, Outcome, Status, failed, passed, run_preflight
from secure_scaffold.report import RENDERERS, write_evidence_bundle

CODE_CHECKS = (
    "layout.application_package",
    "runtime.database_role_guard",
    "runtime.security_headers",
    "runtime.json_errors",
)


def _statuses(report, control_id: str) -> dict[str, Status]:
    result = next(result for result in report.results if result.control_id == control_id)
    return {check.check: check.outcome.status for check in result.checks}


def _control(report, control_id: str):
    return next(result for result in report.results if result.control_id == control_id)


@pytest.fixture
def project(render) -> Path:
    return render("project")


def test_generated_project_passes_the_code_checks(project: Path) -> None:
    report = run_preflight(project)
    outcomes = {check.check: check.outcome for result in report.results for check in result.checks}
    for name in (*CODE_CHECKS, "hygiene.no_env_files", "hygiene.secret_scan"):
        assert outcomes[name].status is Status.PASSED, (name, outcomes[name].findings)
    assert report.generated


def test_env_file_fails_deploy_05(project: Path) -> None:
    (project / ".env").write_text("APP_ENV=production\n", encoding="utf-8")
    report = run_preflight(project, only=["DEPLOY-05"])
    assert _statuses(report, "DEPLOY-05")["hygiene.no_env_files"] is Status.FAILED
    assert [f.path for f in _control(report, "DEPLOY-05").findings if f.path == ".env"] == [".env"]
    assert "DEPLOY-05" in [result.control_id for result in report.blocking_failures]


def test_a_fresh_project_outside_git_is_judged_by_its_own_gitignore(project: Path) -> None:
    """`secure-scaffold new` runs no `git init`: preflight right after it must not fail DEPLOY-05 for that."""
    assert not (project / ".git").exists()
    assert _statuses(run_preflight(project, only=["DEPLOY-05"]), "DEPLOY-05")["hygiene.env_files_ignored"] is (
        Status.PASSED
    )
    gitignore = project / ".gitignore"
    gitignore.write_text(
        "".join(line for line in gitignore.read_text().splitlines(keepends=True) if ".env" not in line)
    )
    report = run_preflight(project, only=["DEPLOY-05"])
    assert _statuses(report, "DEPLOY-05")["hygiene.env_files_ignored"] is Status.FAILED
    assert "git would not ignore .env, .env.local, config/.env.production" in [
        finding.message for finding in _control(report, "DEPLOY-05").findings
    ]


def test_missing_header_middleware_fails_auth_10(project: Path) -> None:
    app = project / "src" / "secure_app" / "web" / "app.py"
    app.write_text(app.read_text().replace("app.add_middleware(SecurityHeadersMiddleware)\n", ""), encoding="utf-8")
    report = run_preflight(project, only=["AUTH-10"])
    assert _statuses(report, "AUTH-10") == {
        "runtime.security_headers": Status.FAILED,
        "layout.application_package": Status.PASSED,
    }


def test_unsafe_inline_csp_fails_auth_10(project: Path) -> None:
    headers = project / "src" / "secure_app" / "security" / "headers.py"
    headers.write_text(headers.read_text().replace("default-src 'none'", "default-src 'self' 'unsafe-inline'"))
    report = run_preflight(project, only=["AUTH-10"])
    assert any("unsafe-inline" in f.message for f in _control(report, "AUTH-10").findings)


def test_short_hsts_fails_data_04(project: Path) -> None:
    headers = project / "src" / "secure_app" / "security" / "headers.py"
    headers.write_text(headers.read_text().replace("max-age=63072000", "max-age=600"))
    report = run_preflight(project, only=["DATA-04"])
    assert _control(report, "DATA-04").status is Status.FAILED


def test_broad_grant_fails_deploy_08(project: Path) -> None:
    privileges = project / "src" / "secure_app" / "db" / "privileges.py"
    text = privileges.read_text()
    privileges.write_text(text.replace('"projects": ("SELECT",', '"projects": ("ALL", "SELECT",'))
    report = run_preflight(project, only=["DEPLOY-08"])
    findings = _control(report, "DEPLOY-08").findings
    assert [f.message for f in findings] == ["runtime role granted ALL"]
    assert findings[0].line is not None


def test_serve_without_role_guard_fails_deploy_08(project: Path) -> None:
    main = project / "src" / "secure_app" / "__main__.py"
    main.write_text(main.read_text().replace("assert_runtime_role_is_safe", "print"))
    report = run_preflight(project, only=["DEPLOY-08"])
    assert _statuses(report, "DEPLOY-08")["runtime.database_role_guard"] is Status.FAILED


def test_removed_last_resort_handler_fails_data_07(project: Path) -> None:
    middleware = project / "src" / "secure_app" / "web" / "middleware.py"
    middleware.write_text(middleware.read_text().replace("except Exception:", "except ValueError:"))
    report = run_preflight(project, only=["DATA-07"])
    assert _statuses(report, "DATA-07")["runtime.json_errors"] is Status.FAILED


def _edit(project: Path, relative: str, old: str, new: str) -> None:
    path = project / "src" / "secure_app" / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{relative} no longer contains {old!r}; update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("control", "check", "relative", "old", "new", "message"),
    [
        ("AUTH-03", "identity.pkce_s256", "security/pkce.py", 'CHALLENGE_METHOD: Final = "S256"',
         'CHALLENGE_METHOD: Final = "plain"', "not S256"),
        ("AUTH-01", "identity.token_algorithms", "security/jwks.py", '"ES256": (ECKey, "P-256"),',
         '"ES256": (ECKey, "P-256"),\n    "HS256": (ECKey, None),', "HS256"),
        ("AUTH-05", "identity.mfa_enforced", "config.py",
         "mfa_optional_roles: Annotated[list[str], NoDecode] = Field(default_factory=list)",
         'mfa_optional_roles: Annotated[list[str], NoDecode] = Field(default=["admin"])',
         "optional by default for admin"),
        ("AUTH-11", "identity.narrow_scopes", "config.py", 'oidc_scopes: str = "openid email profile"',
         'oidc_scopes: str = "openid email profile offline_access"', "offline_access"),
        ("AUTH-07", "identity.session_cookie", "web/authentication.py", "Secure; HttpOnly; SameSite=Strict\"",
         "Secure; HttpOnly; SameSite=Lax\"", "missing SameSite=Strict"),
    ],
)  # fmt: skip
def test_breaking_an_identity_control_fails_it(project, control, check, relative, old, new, message) -> None:
    _edit(project, relative, old, new)
    report = run_preflight(project, only=[control])
    assert _statuses(report, control)[check] is Status.FAILED
    assert any(message in finding.message for finding in _control(report, control).findings)
    assert control in [result.control_id for result in report.blocking_failures]


def test_computed_mfa_default_is_unknown_not_passed(project: Path) -> None:
    _edit(
        project,
        "config.py",
        "mfa_optional_roles: Annotated[list[str], NoDecode] = Field(default_factory=list)",
        "mfa_optional_roles: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ['viewer'])",
    )
    report = run_preflight(project, only=["AUTH-05"])
    assert _statuses(report, "AUTH-05")["identity.mfa_enforced"] is Status.UNKNOWN


def test_bare_repository_reports_everything_missing(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    report = run_preflight(tmp_path)
    assert not report.generated
    assert not report.ok
    assert report.not_applicable == ()
    assert {result.status for result in report.results} <= {Status.FAILED, Status.UNKNOWN, Status.SKIPPED}
    # One root cause, one finding: without an application package the code checks are skipped, not failed.
    headers = _statuses(report, "AUTH-10")
    assert headers == {"runtime.security_headers": Status.SKIPPED, "layout.application_package": Status.FAILED}


def test_bare_repository_through_the_cli_exits_1_without_traceback(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("secure-scaffold")
    result = subprocess.run([str(script), "preflight", str(tmp_path)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "no application package found under src/" in result.stdout
    assert "FAIL" in result.stdout.splitlines()[-1]


def test_skip_needs_a_reason_and_is_recorded(project: Path) -> None:
    with pytest.raises(PreflightError, match="needs a --reason"):
        run_preflight(project, only=["AUTH-10"], skip={"AUTH-10": " "})
    report = run_preflight(project, only=["AUTH-10"], skip={"AUTH-10": "headers set by the CDN, ticket SEC-12"})
    result = _control(report, "AUTH-10")
    assert (result.status, result.skip_reason) == (Status.SKIPPED, "headers set by the CDN, ticket SEC-12")
    assert (
        json.loads(RENDERERS["json"](report))["controls"][0]["skip_reason"] == "headers set by the CDN, ticket SEC-12"
    )


def test_unknown_control_id_is_an_error(project: Path) -> None:
    with pytest.raises(PreflightError, match="unknown control id"):
        run_preflight(project, only=["AUTH-99"])


def test_cli_skip_and_reason_pairs(project: Path) -> None:
    script = Path(sys.executable).with_name("secure-scaffold")
    args = [str(script), "preflight", str(project), "--only", "AUTH-10", "--only", "DATA-07", "--format", "json"]
    result = subprocess.run(
        [*args, "--skip", "AUTH-10", "--reason", "CDN sets them"], capture_output=True, text=True, check=False
    )
    data = json.loads(result.stdout)
    assert {c["id"]: c["status"] for c in data["controls"]} == {"AUTH-10": "skipped", "DATA-07": "passed"}
    assert (result.returncode, data["verdict"], data["ok"]) == (0, "PARTIAL", False)
    dangling = subprocess.run([*args, "--reason", "why"], capture_output=True, text=True, check=False)
    assert dangling.returncode == 2
    assert "--reason must follow a --skip ID" in dangling.stderr


def test_crashing_check_is_unknown_never_passed(project: Path) -> None:
    checks = CheckRegistry()

    @checks.register("test.crash", controls=("AUTH-10",))
    def crash(_project) -> None:
        raise RuntimeError("boom")

    report = run_preflight(project, only=["AUTH-10"], checks=checks)
    result = _control(report, "AUTH-10")
    assert result.status is Status.UNKNOWN
    assert "crashed: RuntimeError: boom" in result.findings[0].message


def test_registry_rejects_bad_declarations() -> None:
    checks = CheckRegistry()
    with pytest.raises(ValueError, match="dotted lowercase"):
        checks.register("NoDots", controls=("AUTH-01",))
    with pytest.raises(ValueError, match="at least one control"):
        checks.register("a.b", controls=())
    with pytest.raises(TypeError, match="exactly one argument"):
        checks.register("a.b", controls=("AUTH-01",))(lambda: passed("x"))
    checks.register("a.c", controls=("AUTH-01",))(lambda project: passed("x"))
    with pytest.raises(ValueError, match="registered twice"):
        checks.register("a.c", controls=("AUTH-01",))(lambda project: passed("x"))


def test_every_check_proves_catalog_controls_and_the_catalog_names_them() -> None:
    from secure_scaffold.controls import load_catalog
    from secure_scaffold.preflight import checks as _  # noqa: F401 - registers the checks
    from secure_scaffold.preflight import registry

    catalog = load_catalog()
    for check in registry:
        for control_id in check.controls:
            assert catalog.get(control_id) is not None, (check.name, control_id)
        for prerequisite in check.requires:
            assert prerequisite in registry, (check.name, prerequisite)
    for control in catalog:
        if control.preflight is not None:
            assert control.preflight in registry, (control.id, control.preflight)
            assert control.id in registry[control.preflight].controls, (control.id, control.preflight)


def test_report_formats_carry_the_same_facts(project: Path, tmp_path: Path) -> None:
    (project / ".env").write_text("X=1\n", encoding="utf-8")
    report = run_preflight(project, only=["DEPLOY-05", "AUTH-10"])
    as_json = json.loads(RENDERERS["json"](report))
    assert as_json["blocking_failures"] == ["DEPLOY-05"]
    sarif = json.loads(RENDERERS["sarif"](report))
    assert sarif["version"] == "2.1.0"
    rule_ids = {result["ruleId"] for result in sarif["runs"][0]["results"]}
    assert "DEPLOY-05" in rule_ids
    assert "AUTH-10" not in rule_ids  # passed controls produce no SARIF results
    suite = ET.fromstring(RENDERERS["junit"](report).split("?>", 1)[1])  # noqa: S314 - our own output
    assert suite.get("tests") == "2"
    assert [case.get("name").split()[0] for case in suite if case.find("failure") is not None] == ["DEPLOY-05"]
    markdown = RENDERERS["markdown"](report)
    assert markdown.startswith("# Preflight report: FAIL")
    assert "| DEPLOY-05 | failed | blocking |" in markdown
    assert "`.env`" in markdown
    bundle = write_evidence_bundle(report, tmp_path / "evidence")
    for line in (bundle / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == digest


def test_owners_file_overrides_catalog_owner(project: Path) -> None:
    (project / "CONTROL_OWNERS").write_text("AUTH-* @acme/identity\nAUTH-10 @acme/edge\n", encoding="utf-8")
    report = run_preflight(project, only=["AUTH-10", "DATA-07"])
    owners = {c["id"]: c["owner"] for c in json.loads(RENDERERS["json"](report))["controls"]}
    assert owners["AUTH-10"] == "@acme/edge"
    assert owners["DATA-07"] not in {"@acme/edge", "@acme/identity"}


def test_scanner_checks_overlap_and_decide_as_a_sequential_run_would(project: Path) -> None:
    """Two 'scanners' that each wait for the other to start can only finish if they run at once.

    The barrier proves the overlap (a sequential runner would time out on it and report both
    UNKNOWN); a scanner whose prerequisite fails is still SKIPPED, and a crashing one UNKNOWN.
    """
    checks = CheckRegistry()
    both_running = threading.Barrier(2, timeout=10)

    def scanner(name: str):
        def scan(_project) -> Outcome:
            both_running.wait()
            return passed(f"{name} found nothing")

        return scan

    checks.register("test.scanner_one", controls=("AUTH-10",), runs_tool=True)(scanner("one"))
    checks.register("test.scanner_two", controls=("DATA-07",), runs_tool=True)(scanner("two"))
    checks.register("test.missing", controls=("AUTH-11",))(lambda project: failed(Finding("no config", "add it")))
    checks.register("test.blocked", controls=("AUTH-11",), requires=("test.missing",), runs_tool=True)(
        lambda project: passed("never runs")
    )

    def crash(_project) -> Outcome:
        raise RuntimeError("scanner died")

    checks.register("test.crashing", controls=("DEPLOY-05",), runs_tool=True)(crash)
    report = run_preflight(project, only=["AUTH-10", "DATA-07", "AUTH-11", "DEPLOY-05"], checks=checks)
    assert {result.control_id: result.status for result in report.results} == {
        "AUTH-10": Status.PASSED,
        "DATA-07": Status.PASSED,
        "AUTH-11": Status.FAILED,
        "DEPLOY-05": Status.UNKNOWN,
    }
    blocked = {result.check: result.outcome for result in _control(report, "AUTH-11").checks}["test.blocked"]
    assert blocked.status is Status.SKIPPED
    assert "prerequisite test.missing did not pass" in blocked.summary
