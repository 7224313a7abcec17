"""`secure-scaffold update`: user edits survive, template changes arrive, conflicts fail loudly.

A throw-away template repository is built from this one with two tagged
versions (v1.0.0 = the current template, v1.1.0 = a change to it), so the
tests exercise copier's real three-way update between versions, one kind of
template change at a time. The update from the previous real release, for the
pairwise answer set, is tests/test_update_from_previous_release.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from secure_scaffold import generate_project
from secure_scaffold._update import unmerged_files, update_project
from secure_scaffold.errors import UpdateConflictError, UpdateRefusedError

REPO = Path(__file__).resolve().parents[1]
SCRIPT = str(Path(sys.executable).with_name("secure-scaffold"))


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    """The template at v1.0.0; `release(change)` makes v1.1.0."""
    repo = tmp_path / "template-repo"
    repo.mkdir()
    shutil.copy2(REPO / "copier.yml", repo / "copier.yml")
    shutil.copytree(REPO / "includes", repo / "includes")
    shutil.copytree(REPO / "template", repo / "template")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1.0.0")
    git(repo, "tag", "v1.0.0")
    return repo


def release(repo: Path, edits: dict[str, str | None], version: str = "v1.1.0") -> None:
    """Commit and tag a template version; `None` removes the file from the template."""
    for relative, text in edits.items():
        path = repo / "template" / relative
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", version)
    git(repo, "tag", version)


@pytest.fixture
def project(template_repo: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Default answers, or the answers a test passes with `indirect` parametrization."""
    destination = tmp_path / "project"
    answers = getattr(request, "param", {})
    generate_project(
        destination, data=answers, defaults=True, template=str(template_repo), vcs_ref="v1.0.0", quiet=True
    )
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-qm", "generated")
    return destination


def user_edits(project: Path) -> None:
    """Edits typical of a real project: a new route, a dependency, a changed setting, a deleted file."""
    routes = project / "src" / "secure_app" / "web" / "routes"
    (routes / "reports.py").write_text('"""The team\'s own reports route."""\n', encoding="utf-8")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('    "alembic==', '    "humanize==4.12.0",\n    "alembic=='))
    config = project / "src" / "secure_app" / "config.py"
    config.write_text(
        config.read_text().replace('login_rate_limit: str = "10/minute"', 'login_rate_limit: str = "5/minute"')
    )
    (project / "tests" / "test_layering.py").unlink()
    git(project, "add", "-A")
    git(project, "commit", "-qm", "our changes")


def test_user_edits_survive_and_template_changes_arrive(template_repo: Path, project: Path) -> None:
    user_edits(project)
    readme = (template_repo / "template" / "README.md.jinja").read_text()
    release(
        template_repo,
        {
            "README.md.jinja": readme + "\n## Support\n\nAsk the platform team.\n",
            "docs/SECURITY.md": "# Reporting a vulnerability\n\nEmail the security team.\n",
        },
    )
    changed = update_project(project, quiet=True)
    assert "README.md" in changed
    assert (project / "docs" / "SECURITY.md").read_text().startswith("# Reporting a vulnerability")
    assert "Ask the platform team." in (project / "README.md").read_text()
    assert (project / "src" / "secure_app" / "web" / "routes" / "reports.py").is_file()
    assert '"humanize==4.12.0"' in (project / "pyproject.toml").read_text()
    assert 'login_rate_limit: str = "5/minute"' in (project / "src" / "secure_app" / "config.py").read_text()
    assert not (project / "tests" / "test_layering.py").exists(), "a file the user deleted came back"
    assert unmerged_files(project) == []
    assert list(project.rglob("*.rej")) == []
    assert "_commit: v1.1.0" in (project / ".copier-answers.yml").read_text()


def test_conflict_exits_non_zero_and_names_the_file(template_repo: Path, project: Path) -> None:
    readme = project / "README.md"
    first_line = readme.read_text().splitlines()[0]
    readme.write_text(readme.read_text().replace(first_line, first_line + " (our fork)", 1))
    git(project, "commit", "-qam", "rename")
    template_readme = template_repo / "template" / "README.md.jinja"
    release(
        template_repo,
        {
            "README.md.jinja": template_readme.read_text().replace(
                "# {{ project_name }}", "# {{ project_name }} service", 1
            )
        },
    )
    result = subprocess.run([SCRIPT, "update", str(project), "-q"], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "did not merge cleanly" in result.stderr
    assert "README.md" in result.stderr
    with pytest.raises(UpdateRefusedError):  # the conflict is now uncommitted work
        update_project(project)


def test_dirty_tree_is_refused_and_left_alone(template_repo: Path, project: Path) -> None:
    (project / "notes.txt").write_text("work in progress", encoding="utf-8")
    release(template_repo, {"docs/SECURITY.md": "# Security\n"})
    result = subprocess.run([SCRIPT, "update", str(project)], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "uncommitted changes" in result.stderr
    assert "notes.txt" in result.stderr
    assert not (project / "docs" / "SECURITY.md").exists()


def test_check_reports_an_available_update(template_repo: Path, project: Path) -> None:
    current = subprocess.run([SCRIPT, "update", str(project), "--check"], capture_output=True, text=True, check=False)
    assert (current.returncode, current.stdout.strip()) == (0, "up to date (1.0.0)")
    release(template_repo, {"docs/SECURITY.md": "# Security\n"})
    newer = subprocess.run([SCRIPT, "update", str(project), "--check"], capture_output=True, text=True, check=False)
    assert newer.returncode == 1
    assert newer.stdout.strip() == "update available: 1.0.0 -> 1.1.0"


def test_unmerged_files_detects_markers_and_rej(project: Path) -> None:
    (project / "a.py").write_text("x = 1\n<<<<<<< before updating\ny = 2\n=======\ny = 3\n>>>>>>> after updating\n")
    (project / "b.txt.rej").write_text("@@ rejected hunk\n")
    (project / "c.md").write_text("ordinary ======= text\n")
    assert unmerged_files(project) == ["a.py", "b.txt.rej"]
    with pytest.raises(UpdateConflictError):
        raise UpdateConflictError("x", files=["a.py"])


def test_a_file_the_template_removed_is_removed_when_the_team_never_changed_it(
    template_repo: Path, project: Path
) -> None:
    assert (project / "docs" / "step-up-and-abuse.md").is_file()
    release(template_repo, {"docs/step-up-and-abuse.md": None})
    update_project(project, quiet=True)
    assert not (project / "docs" / "step-up-and-abuse.md").exists()


def test_a_removed_file_the_team_had_edited_fails_the_update_and_names_it(template_repo: Path, project: Path) -> None:
    """Copier deletes it silently; `secure-scaffold update` exits 1 and the team's version stays in git."""
    abuse_doc = project / "docs" / "step-up-and-abuse.md"
    abuse_doc.write_text(abuse_doc.read_text() + "\n## Our payment partner's webhook relay\n")
    git(project, "commit", "-qam", "our threat: the webhook relay")
    release(template_repo, {"docs/step-up-and-abuse.md": None})
    result = subprocess.run([SCRIPT, "update", str(project), "-q"], capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    assert "no longer has these files, which you had changed" in result.stderr
    assert "docs/step-up-and-abuse.md" in result.stderr
    assert "webhook relay" in git(project, "show", "HEAD:docs/step-up-and-abuse.md")
