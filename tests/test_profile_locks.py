"""An organisation's locks cannot be dropped on update, drift can be repaired, and a profile is judged by the template.

The review found: `update -d 'profile={}' -d idp=auth0` exited 0 "updated
cleanly" and removed the lock; preflight's repair hint for a drifted answer
(`copier update --data idp=okta`) failed, because copier re-renders the old,
drifted answers first; and `profile validate` accepted locks no project could
be generated with. Each is tested here through the CLI and, where the rule
lives in the template, through plain copier too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml

from _template_history import git
from secure_scaffold.errors import ProfileError
from secure_scaffold.preflight import Status, run_preflight
from secure_scaffold.profiles import parse_profile

REPO = Path(__file__).resolve().parents[1]
PROFILE = """\
profile:
  name: acme-platform
  version: 3
  locked:
    idp: okta
    secrets_backend: vault
  allowed:
    payment_provider: [stripe, none]
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secure_scaffold.cli", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=600,
    )


def _answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("template") / "repo"
    repo.mkdir()
    shutil.copy2(REPO / "copier.yml", repo / "copier.yml")
    shutil.copytree(REPO / "includes", repo / "includes")
    shutil.copytree(REPO / "template", repo / "template", ignore=shutil.ignore_patterns("__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1.0.0")
    git(repo, "tag", "v1.0.0")
    return repo


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme.yml"
    path.write_text(PROFILE, encoding="utf-8")
    return path


@pytest.fixture
def project(template_repo: Path, profile_file: Path, tmp_path: Path) -> Path:
    destination = tmp_path / "app"
    result = _cli("new", str(destination), "--defaults", "-q", "--template", str(template_repo),
                  "--vcs-ref", "v1.0.0", "--profile", str(profile_file))  # fmt: skip
    assert result.returncode == 0, result.stderr
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-qm", "generated")
    return destination


def _commit_all(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)


def _gov_05(project: Path):
    (result,) = run_preflight(project, only=["GOV-05"]).results
    return result


# ------------------------------------------------------------------ locks cannot be dropped


def test_update_refuses_to_drop_the_profile_and_changes_nothing(project: Path) -> None:
    before = _answers(project)
    result = _cli("update", str(project), "-d", "profile={}", "-d", "idp=auth0")
    assert result.returncode == 2
    assert "not an answer to set with -d; move to a new version with --profile FILE" in result.stderr
    assert _answers(project) == before
    assert git(project, "status", "--porcelain") == ""


def test_update_refuses_a_locked_answer(project: Path) -> None:
    result = _cli("update", str(project), "-d", "idp=auth0")
    assert result.returncode == 2
    assert 'idp is locked to "okta" by the "acme-platform" profile' in result.stderr
    assert _answers(project)["idp"] == "okta"


def test_plain_copier_update_refuses_to_drop_or_swap_the_profile(project: Path) -> None:
    for data, message in (
        ({"profile": {}}, 'records the "acme-platform" profile; an update cannot drop it'),
        ({"profile": {"name": "lenient", "version": 9}}, 'cannot replace it with "lenient"'),
        ({"profile": {**_answers(project)["profile"], "version": 2}}, "cannot go back to version 2"),
    ):
        with pytest.raises(ValueError, match=message):
            copier.run_update(project, data=data, defaults=True, overwrite=True, quiet=True, unsafe=False)
        assert _answers(project)["profile"]["name"] == "acme-platform"


def test_a_newer_version_of_the_profile_is_an_explicit_validated_move(project: Path, tmp_path: Path) -> None:
    older = tmp_path / "older.yml"
    older.write_text(PROFILE.replace("version: 3", "version: 2"), encoding="utf-8")
    assert "the older version 2" in _cli("update", str(project), "--profile", str(older)).stderr
    other = tmp_path / "other.yml"
    other.write_text(PROFILE.replace("acme-platform", "lenient"), encoding="utf-8")
    assert (
        "ask the platform team for a new version of it" in _cli("update", str(project), "--profile", str(other)).stderr
    )
    stricter = tmp_path / "v4.yml"
    stricter.write_text(PROFILE.replace("version: 3", "version: 4").replace("[stripe, none]", "[adyen]"))
    refused = _cli("update", str(project), "--profile", str(stricter))
    assert refused.returncode == 2
    assert "version 4 of the 'acme-platform' profile refuses this project's answers" in refused.stderr
    newer = tmp_path / "v4ok.yml"
    newer.write_text(PROFILE.replace("version: 3", "version: 4").replace("    secrets_backend: vault\n", ""))
    moved = _cli("update", str(project), "--profile", str(newer))
    assert moved.returncode == 0, moved.stderr
    assert _answers(project)["profile"]["version"] == 4
    assert "secrets_backend" not in _answers(project)["profile"]["locked"]


# ------------------------------------------------------------------ drift, the hint, the repair


def test_drift_fails_preflight_with_a_hint_that_repairs_it(project: Path) -> None:
    answers = project / ".copier-answers.yml"
    answers.write_text(re.sub(r"^idp: okta$", "idp: auth0", answers.read_text(), flags=re.M), encoding="utf-8")
    _commit_all(project, "someone edited the answers file")
    drifted = _gov_05(project)
    assert drifted.status is Status.FAILED
    (finding,) = drifted.findings
    assert finding.message == "idp is 'auth0', but the 'acme-platform' profile locks it to 'okta'"
    assert "secure-scaffold update --restore-locks" in finding.hint
    repaired = _cli("update", str(project), "--restore-locks")
    assert repaired.returncode == 0, repaired.stderr
    assert "restored idp: 'auth0' -> 'okta' (locked by the 'acme-platform' profile)" in repaired.stderr
    assert _answers(project)["idp"] == "okta"
    assert _gov_05(project).status is Status.PASSED
    assert git(project, "log", "--format=%s", "-1").strip() == "someone edited the answers file"


def test_a_dropped_profile_fails_preflight_and_restore_locks_re_renders_what_it_decides(
    project: Path, template_repo: Path, tmp_path: Path
) -> None:
    """What an older secure-scaffold allowed: the profile dropped, a locked answer changed, files re-rendered."""
    elsewhere = tmp_path / "auth0"
    copier.run_copy(str(template_repo), elsewhere, data={"idp": "auth0"}, defaults=True, vcs_ref="v1.0.0", quiet=True)
    for path in elsewhere.rglob("*"):
        if path.is_file():
            target = project / path.relative_to(elsewhere)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    local = project / "src" / "secure_app" / "web" / "routes" / "local.py"
    local.write_text(local.read_text() + "# the team's own line\n", encoding="utf-8")
    _commit_all(project, "dropped the profile")
    assert _answers(project)["profile"] == {}
    dropped = _gov_05(project)
    assert dropped.status is Status.FAILED
    assert "the 'acme-platform' profile this project recorded has been dropped" in dropped.findings[0].message
    assert "--restore-locks" in dropped.findings[0].hint
    identity_doc = (project / "docs" / "identity.md").read_text()
    repaired = _cli("update", str(project), "--restore-locks")
    assert repaired.returncode == 0, repaired.stderr
    assert (_answers(project)["idp"], _answers(project)["profile"]["name"]) == ("okta", "acme-platform")
    assert (project / "docs" / "identity.md").read_text() != identity_doc, "the okta files are rendered back"
    assert local.read_text().endswith("# the team's own line\n")
    assert _gov_05(project).status is Status.PASSED


def test_restore_locks_on_a_project_without_a_profile_is_a_clear_error(template_repo: Path, tmp_path: Path) -> None:
    destination = tmp_path / "plain"
    copier.run_copy(str(template_repo), destination, defaults=True, vcs_ref="v1.0.0", quiet=True)
    git(destination, "init", "-q", "-b", "main")
    _commit_all(destination, "generated")
    result = _cli("update", str(destination), "--restore-locks")
    assert result.returncode == 2
    assert "has never recorded an organisation profile; pass the organisation's with --profile FILE" in result.stderr


# ------------------------------------------------------------------ a profile is judged by the template's validators


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('  locked:\n    org_name: "{{ evil }}"\n', ":5: locked.org_name: The organisation name may contain letters"),
        ("  defaults:\n    domain: App.Example.com\n", ":5: defaults.domain: The domain must be a lowercase DNS name"),
        ("  defaults:\n    idp: auth0\n  locked:\n    idp: okta\n", ':5: defaults.idp: idp is locked to "okta"'),
        (
            "  defaults:\n    tenancy: silo\n  allowed:\n    tenancy: [pooled]\n",
            ":5: defaults.tenancy: tenancy silo is not",
        ),
        (
            "  locked:\n    tenancy: silo\n  allowed:\n    tenancy: [pooled]\n",
            ":5: locked.tenancy: tenancy silo is not",
        ),
    ],
)
def test_profile_validate_refuses_what_no_project_could_be_generated_with(body: str, expected: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(f"profile:\n  name: acme\n  version: 1\n{body}", "org.yml")
    assert f"org.yml{expected}" in str(caught.value)


# ------------------------------------------------------------------ a hollowed or loosened profile (red-team 14)


def test_plain_copier_cannot_hollow_the_profile_under_its_version(project: Path) -> None:
    """Same name, same version, no locks: the content changed without a published version."""
    hollow = {**_answers(project)["profile"], "locked": {}}
    with pytest.raises(ValueError, match="changes its content without a new version"):
        copier.run_update(project, data={"profile": hollow, "idp": "auth0"}, defaults=True, overwrite=True,
                          quiet=True, unsafe=False)  # fmt: skip
    assert _answers(project)["profile"]["locked"]["idp"] == "okta"
    assert git(project, "status", "--porcelain") == ""


def test_a_profile_hollowed_by_hand_fails_preflight(project: Path) -> None:
    answers = _answers(project)
    answers["profile"]["locked"] = {}
    answers["idp"] = "auth0"
    (project / ".copier-answers.yml").write_text(yaml.safe_dump(answers, sort_keys=False), encoding="utf-8")
    _commit_all(project, "hollowed the profile")
    result = _gov_05(project)
    assert result.status is Status.FAILED
    assert "no longer locks idp, secrets_backend as version 3" in result.findings[0].message


def test_a_newer_version_that_unlocks_answers_is_unknown_until_the_org_copy_confirms_it(
    project: Path, profile_file: Path
) -> None:
    """Plain copier accepts a self-made "version 4" without locks; preflight cannot call that a pass."""
    bumped = {**_answers(project)["profile"], "version": 4, "locked": {}, "allowed": {}}
    copier.run_update(project, data={"profile": bumped, "idp": "auth0"}, defaults=True, overwrite=True,
                      quiet=True, unsafe=False)  # fmt: skip
    _commit_all(project, "moved to a 'version 4' of the profile")
    alone = _gov_05(project)
    assert alone.status is Status.UNKNOWN
    assert "moved from version 3 to 4 of the 'acme-platform' profile, which unlocks idp, secrets_backend" in (
        alone.findings[0].message
    )
    from secure_scaffold.profiles import load_profile

    (with_org,) = run_preflight(project, only=["GOV-05"], profile=load_profile(profile_file)).results
    assert with_org.status is Status.FAILED
    assert "idp is 'auth0', but the 'acme-platform' profile locks it to 'okta'" in [
        f.message for f in with_org.findings
    ]


def test_a_shallow_clone_leaves_gov_05_unknown_without_the_org_copy(project: Path, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", project.as_uri(), str(clone))
    result = run_preflight(clone, only=["GOV-05"]).results[0]
    assert result.status is Status.UNKNOWN
    assert "fetch-depth: 0" in result.findings[0].hint


def test_update_refuses_an_edited_copy_of_the_recorded_version(project: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited.yml"
    edited.write_text(PROFILE.replace("    idp: okta\n", ""), encoding="utf-8")
    result = _cli("update", str(project), "--profile", str(edited), "-d", "idp=auth0")
    assert result.returncode == 2
    assert "recorded copy of version 3 of 'acme-platform' differs from the one --profile gave" in result.stderr
    assert _answers(project)["idp"] == "okta"


def test_update_and_new_refuse_what_they_cannot_use(project: Path, tmp_path: Path) -> None:
    spaced = _cli("update", str(project), "-d", "idp =auth0")
    assert spaced.returncode == 2
    assert "unknown question 'idp '" in spaced.stderr
    profile_as_data = _cli("new", str(tmp_path / "n"), "--defaults", "-d", 'profile={"name": "x"}')
    assert profile_as_data.returncode == 2
    assert "the profile is not an answer to set with -d; use --profile FILE" in profile_as_data.stderr
    assert "Traceback" not in profile_as_data.stderr
    assert not (tmp_path / "n").exists()
