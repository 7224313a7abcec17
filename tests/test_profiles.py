"""Org profiles: defaults apply, locks cannot be overridden (CLI or plain copier), drift fails preflight."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml

from _suites import assert_suite_passed, run_generated_tests
from secure_scaffold.errors import ProfileError
from secure_scaffold.preflight import Status, run_preflight
from secure_scaffold.profiles import init_profile, load_profile, parse_profile

PROFILE = """\
profile:
  name: acme-platform
  version: 3
  defaults:
    idp: okta
    tenancy: silo
  locked:
    secrets_backend: vault
    compliance: [soc2, gdpr]
  allowed:
    payment_provider: [stripe, none]
  facts:
    vault_addr: https://vault.acme.example:8200
    aws_account_ids: {staging: "111111111111", production: "222222222222"}
    approver_team: "@acme/platform-approvers"
"""
SCRIPT = str(Path(sys.executable).with_name("secure-scaffold"))


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme.profile.yml"
    path.write_text(PROFILE, encoding="utf-8")
    return path


def _answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))


def _new(destination: Path, template: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, "new", str(destination), "--defaults", "-q", "--template", str(template), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_profile_defaults_and_locks_apply_and_are_recorded(profile_file, template_snapshot, tmp_path) -> None:
    project = tmp_path / "app"
    result = _new(project, template_snapshot, "--profile", str(profile_file))
    assert result.returncode == 0, result.stderr
    answers = _answers(project)
    assert (answers["idp"], answers["tenancy"], answers["secrets_backend"]) == ("okta", "silo", "vault")
    assert answers["compliance"] == ["soc2", "gdpr"]
    assert answers["profile"]["name"] == "acme-platform"
    assert answers["profile"]["facts"]["approver_team"] == "@acme/platform-approvers"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("secrets_backend=cloud", "secrets_backend is locked to 'vault'"),
        ("payment_provider=adyen", "payment_provider adyen is not allowed"),
        ("compliance=[soc2]", "compliance is locked"),
    ],
)
def test_locked_or_disallowed_answer_via_data_is_refused(profile_file, template_snapshot, tmp_path, override, message):
    project = tmp_path / "app"
    result = _new(project, template_snapshot, "--profile", str(profile_file), "-d", override)
    assert result.returncode == 2
    assert message in result.stderr
    assert "nothing was written" in result.stderr
    assert not project.exists()


def test_plain_copier_enforces_the_profile_too(profile_file, template_snapshot, tmp_path) -> None:
    data = yaml.safe_load(profile_file.read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match='locked to "vault" by the "acme-platform" profile'):
        copier.run_copy(
            str(template_snapshot), tmp_path / "a", data={**data, "secrets_backend": "cloud"}, defaults=True
        )
    with pytest.raises(ValueError, match="paddle is not allowed"):
        copier.run_copy(
            str(template_snapshot), tmp_path / "b", data={**data, "payment_provider": "paddle"}, defaults=True
        )
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()
    copier.run_copy(str(template_snapshot), tmp_path / "c", data=data, defaults=True, quiet=True)
    assert _answers(tmp_path / "c")["secrets_backend"] == "vault"


def test_drift_from_a_lock_fails_preflight(profile_file, template_snapshot, tmp_path) -> None:
    project = tmp_path / "app"
    assert _new(project, template_snapshot, "--profile", str(profile_file)).returncode == 0
    report = run_preflight(project, only=["GOV-05"])
    assert report.results[0].status is Status.PASSED
    answers_file = project / ".copier-answers.yml"
    original = answers_file.read_text()
    answers_file.write_text(re.sub(r"^secrets_backend: vault$", "secrets_backend: cloud", original, flags=re.M))
    report = run_preflight(project, only=["GOV-05"])
    result = report.results[0]
    assert result.status is Status.FAILED
    expected = "secrets_backend is 'cloud', but the 'acme-platform' profile locks it to 'vault'"
    assert [finding.message for finding in result.findings] == [expected]
    assert not report.ok


def test_one_preflight_step_with_the_org_profile_does_not_vouch_for_another(
    profile_file, template_snapshot, tmp_path
) -> None:
    project = tmp_path / "app"
    assert _new(project, template_snapshot, "--profile", str(profile_file)).returncode == 0
    ci = project / ".github" / "workflows" / "ci.yml"
    step = "      - name: Keep the evidence bundle\n"
    assert ci.read_text().count(step) == 1
    second = "      - name: A second preflight\n        run: secure-scaffold preflight . --format json\n"
    ci.write_text(ci.read_text().replace(step, second + step))
    result = run_preflight(project, only=["GOV-05"]).results[0]
    assert result.status is Status.FAILED
    assert [(finding.message, finding.path) for finding in result.findings] == [
        ("ci.yml runs preflight without the organisation's profile", ".github/workflows/ci.yml")
    ]


def test_the_projects_own_lock_test_fails_on_drift(profile_file, template_snapshot, tmp_path) -> None:
    """GOV-05's generated test: passes on the answers the profile locks, fails once one drifts."""
    project = tmp_path / "app"
    assert _new(project, template_snapshot, "--profile", str(profile_file)).returncode == 0
    lock_test = "tests/test_governance.py::test_the_answers_keep_every_lock_of_the_recorded_profile"
    assert_suite_passed(run_generated_tests(project, lock_test))
    answers_file = project / ".copier-answers.yml"
    answers_file.write_text(
        re.sub(r"^secrets_backend: vault$", "secrets_backend: cloud", answers_file.read_text(), flags=re.M)
    )
    drifted = run_generated_tests(project, lock_test)
    assert drifted.returncode == 1
    assert "secrets_backend is 'cloud', locked to 'vault'" in drifted.stdout


def test_editing_the_recorded_profile_does_not_fool_preflight_given_the_org_profile(
    profile_file, template_snapshot, tmp_path
) -> None:
    project = tmp_path / "app"
    assert _new(project, template_snapshot, "--profile", str(profile_file)).returncode == 0
    answers_file = project / ".copier-answers.yml"
    # The team relaxes the lock in the recorded copy of the profile *and* the answer.
    answers_file.write_text(answers_file.read_text().replace("secrets_backend: vault", "secrets_backend: cloud"))
    assert run_preflight(project, only=["GOV-05"]).results[0].status is Status.PASSED  # the recorded copy agrees
    report = run_preflight(project, only=["GOV-05"], profile=load_profile(profile_file))
    messages = [finding.message for finding in report.results[0].findings]
    assert "secrets_backend is 'cloud', but the 'acme-platform' profile locks it to 'vault'" in messages
    assert "the recorded profile differs from the organisation's" in messages


def test_a_deploy_gate_without_the_org_profile_fails_preflight(profile_file, template_snapshot, tmp_path) -> None:
    """Without `--profile`, the gate would trust the recorded copy, which the team can edit."""
    project = tmp_path / "app"
    assert _new(project, template_snapshot, "--profile", str(profile_file)).returncode == 0
    deploy = project / ".github" / "workflows" / "deploy.yml"
    text = deploy.read_text(encoding="utf-8")
    assert 'preflight . "${profile[@]}" --format' in text
    deploy.write_text(
        text.replace('preflight . "${profile[@]}" --format', "preflight . --format").replace(
            'profile=(--profile "${SECURE_SCAFFOLD_PROFILE}")', "profile=()"
        ),
        encoding="utf-8",
    )
    result = run_preflight(project, only=["GOV-05"]).results[0]
    assert result.status is Status.FAILED
    assert [(finding.message, finding.path) for finding in result.findings] == [
        ("deploy.yml runs preflight without the organisation's profile", ".github/workflows/deploy.yml")
    ]


def test_a_commented_profile_or_a_skipped_gov_05_does_not_fool_preflight(
    profile_file, template_snapshot, tmp_path
) -> None:
    """Red-team 14: `# --profile` satisfied a substring test; `--skip GOV-05` waived the locks in CI."""
    project = tmp_path / "app"
    assert _new(project, template_snapshot, "--profile", str(profile_file)).returncode == 0
    ci = project / ".github" / "workflows" / "ci.yml"
    text = ci.read_text(encoding="utf-8")
    ci.write_text(
        text.replace('preflight . "${profile[@]}" --format', "preflight . --skip GOV-05 --reason later --format")
        .replace('profile=(--profile "${SECURE_SCAFFOLD_PROFILE}")', "profile=()")
        .replace(
            "--evidence preflight-evidence || status=$?", "--evidence preflight-evidence || status=$? # --profile"
        ),
        encoding="utf-8",
    )
    result = run_preflight(project, only=["GOV-05"]).results[0]
    assert result.status is Status.FAILED
    assert sorted(finding.message for finding in result.findings) == [
        "ci.yml runs preflight with GOV-05 skipped or its unknown accepted",
        "ci.yml runs preflight without the organisation's profile",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("profile:\n  name: acme\n  locked:\n    idp: saml\n", ":4: locked.idp: 'saml' is not a choice"),
        ("profile:\n  name: acme\n  colour: blue\n", ":3: profile.colour: unknown section"),
        (
            "profile:\n  name: acme\n  facts:\n    vault_addr: http://vault\n",
            ":4: facts.vault_addr: expected an https URL",
        ),
        ("profile:\n  name: acme\n  facts:\n    pager: x\n", ":4: facts.pager: unknown fact"),
        ("profile:\n  name: Acme Corp\n", ":2: profile.name: expected a lowercase slug"),
        ("profile:\n  name: acme\n  allowed:\n    tenancy: []\n", ":4: allowed.tenancy: expected a non-empty list"),
        ("profile:\n  name: acme\n  defaults:\n    project_name: X\n", ":4: defaults.project_name: not a question"),
        ("name: acme\n", ":1: a profile file has one top-level key, `profile:`"),
        ("profile:\n  name: acme\n  locked: [\n", ":4: not valid YAML"),
        (
            "profile:\n  name: acme\n  facts:\n    aws_account_ids: {prod: 12345}\n",
            ":4: facts.aws_account_ids: expected environment",
        ),
    ],
)
def test_invalid_profile_gives_a_line_numbered_error(text: str, expected: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "org.yml")
    assert f"org.yml{expected}" in str(caught.value)


def test_self_contradicting_profile_is_rejected() -> None:
    text = "profile:\n  name: acme\n  locked: {tenancy: single}\n  allowed: {tenancy: [pooled, silo]}\n"
    with pytest.raises(ProfileError, match=re.escape("org.yml:3: locked.tenancy: tenancy single is not allowed")):
        parse_profile(text, "org.yml")


def test_init_writes_a_valid_profile_and_never_overwrites(tmp_path: Path) -> None:
    path = init_profile(tmp_path / "org.yml", "acme")
    assert load_profile(path).name == "acme"
    with pytest.raises(ProfileError, match="already exists"):
        init_profile(path, "acme")


def test_profile_cli_validate_and_show(profile_file: Path, tmp_path: Path) -> None:
    valid = subprocess.run([SCRIPT, "profile", "validate", str(profile_file)], capture_output=True, text=True)
    assert valid.returncode == 0
    assert "valid profile 'acme-platform' (version 3)" in valid.stdout
    shown = subprocess.run([SCRIPT, "profile", "show", str(profile_file)], capture_output=True, text=True)
    assert yaml.safe_load(shown.stdout)["profile"]["locked"]["secrets_backend"] == "vault"
    broken = tmp_path / "broken.yml"
    broken.write_text("profile:\n  name: acme\n  locked:\n    ci: jenkins\n", encoding="utf-8")
    invalid = subprocess.run([SCRIPT, "profile", "validate", str(broken)], capture_output=True, text=True)
    assert invalid.returncode == 2
    assert f"{broken}:4: locked.ci: 'jenkins' is not a choice" in invalid.stderr


def test_profile_over_plain_http_is_refused() -> None:
    with pytest.raises(ProfileError, match="https only"):
        load_profile("http://profiles.example/acme.yml")
