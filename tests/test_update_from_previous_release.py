"""Updating real projects from the previous release to this one, for the pairwise answer set.

For every pairwise combination: generate at the previous release (rebuilt
from git history), make the edits a team makes in its first weeks, commit,
run `secure-scaffold update`'s update, and require that

- nothing conflicts (no markers, no `.rej`);
- the project now equals a fresh render of this release with the same edits
  made to it: every template change arrived, every edit survived, nothing the
  new release no longer renders is left behind (copier removes such files; a
  leftover would show here), and the user-owned files were not touched;
- the project's own route-declaration, policy, configuration and lock tests
  pass with the edits in place.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from _suites import assert_suite_passed, run_generated_tests
from _template_history import NEXT_RELEASE_TAG, PREVIOUS_RELEASE, build_history, git
from secure_scaffold import generate_project
from secure_scaffold._update import update_project
from secure_scaffold.matrix import combination_id, pairwise_matrix

PACKAGE = "secure_app"  # the default package_name; every row keeps it
USER_OWNED = (f"src/{PACKAGE}/web/routes/local.py",)  # copier.yml `_skip_if_exists`


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: the edit's anchor {old!r} is not there exactly once"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_a_route(project: Path) -> None:
    """The team's first endpoint, in the routes module the project owns."""
    local = project / "src" / PACKAGE / "web" / "routes" / "local.py"
    replace_once(
        local,
        "from fastapi import APIRouter\n",
        "from typing import Annotated\n\nfrom fastapi import APIRouter\n\n"
        "from ...security.principal import Principal\nfrom ..authz import require\n",
    )
    with local.open("a", encoding="utf-8") as handle:
        handle.write(
            '\n\n@router.get("/api/reports")\n'
            'def reports(principal: Annotated[Principal, require("projects:read")]) -> dict[str, list[str]]:\n'
            '    return {"reports": []}\n'
        )


#: The reviewed approval of the new grant (what `drift --write` records, without a database's assignments).
APPROVE_THE_MATRIX = f"""
from pathlib import Path
from {PACKAGE}.security.drift import dump, snapshot
from {PACKAGE}.security.policy import load_matrix
Path("policy/approved-grants.json").write_text(dump(snapshot(load_matrix(), {{}})), encoding="utf-8")
"""


def grant_a_permission(project: Path) -> None:
    """A policy line (auditors may read projects); the derived files regenerated and the grant approved."""
    replace_once(
        project / "policy" / "roles.yaml",
        "      users:read: []\n      invoices:read: []\n  finance:",
        "      users:read: []\n      invoices:read: []\n      projects:read: []\n  finance:",
    )
    env = {"PYTHONPATH": str(project / "src"), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, "-m", PACKAGE, "policy", "render"], cwd=project, env=env, check=True)
    subprocess.run([sys.executable, "-c", APPROVE_THE_MATRIX], cwd=project, env=env, check=True)


def add_a_dependency(project: Path) -> None:
    """A direct dependency the lock already holds at that version (no network needed to re-lock)."""
    replace_once(
        project / "pyproject.toml",
        "dependencies = [\n",
        'dependencies = [\n    # Our date parsing.\n    "python-dateutil==2.9.0.post0",\n',
    )


def change_a_setting(project: Path) -> None:
    replace_once(
        project / "src" / PACKAGE / "config.py",
        "secrets_cache_ttl_seconds: int = Field(default=300,",
        "secrets_cache_ttl_seconds: int = Field(default=120,",
    )


@dataclass(frozen=True)
class UserEdit:
    name: str
    apply: Callable[[Path], None]


USER_EDITS = (
    UserEdit("a new route", add_a_route),
    UserEdit("a policy line", grant_a_permission),
    UserEdit("a dependency", add_a_dependency),
    UserEdit("a changed setting", change_a_setting),
)


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts and "__pycache__" not in path.parts
    }


def describe_differences(actual: dict[str, bytes], expected: dict[str, bytes]) -> str:
    lines = [f"left behind: {name}" for name in sorted(actual.keys() - expected.keys())]
    lines += [f"missing: {name}" for name in sorted(expected.keys() - actual.keys())]
    for name in sorted(actual.keys() & expected.keys()):
        if actual[name] != expected[name]:
            diff = difflib.unified_diff(
                expected[name].decode(errors="replace").splitlines(),
                actual[name].decode(errors="replace").splitlines(),
                f"expected/{name}",
                f"updated/{name}",
                lineterm="",
                n=1,
            )
            lines += [f"differs: {name}", *list(diff)[:40]]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def template_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_history(tmp_path_factory.mktemp("history") / "template")


def generate(destination: Path, answers: dict[str, object], template: Path, tag: str) -> Path:
    return generate_project(destination, data=answers, defaults=True, template=str(template), vcs_ref=tag, quiet=True)


ROWS = pairwise_matrix()


def test_the_release_under_test_is_newer_than_the_previous_one() -> None:
    from packaging.version import Version

    assert Version(NEXT_RELEASE_TAG) > Version(PREVIOUS_RELEASE.tag), "bump secure_scaffold.__version__"


@pytest.mark.parametrize("answers", ROWS, ids=[combination_id(row) for row in ROWS])
def test_an_edited_project_updates_cleanly_from_the_previous_release(
    answers: dict[str, object], template_history: Path, tmp_path: Path
) -> None:
    project = generate(tmp_path / "project", answers, template_history, PREVIOUS_RELEASE.tag)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", f"generated from {PREVIOUS_RELEASE.tag}")
    for edit in USER_EDITS:
        edit.apply(project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "our first weeks: " + ", ".join(edit.name for edit in USER_EDITS))
    user_owned_before = {name: (project / name).read_bytes() for name in USER_OWNED}

    update_project(project, quiet=True)  # raises, naming the files, on any conflict or .rej

    expected_project = generate(tmp_path / "expected", answers, template_history, NEXT_RELEASE_TAG)
    for edit in USER_EDITS:
        edit.apply(expected_project)
    expected = tree(expected_project)
    expected.update(user_owned_before)  # the project's own files stay as the team left them
    actual = tree(project)
    assert actual == expected, describe_differences(actual, expected)
    assert f"_commit: {NEXT_RELEASE_TAG}" in (project / ".copier-answers.yml").read_text(encoding="utf-8")

    assert_suite_passed(
        run_generated_tests(
            project,
            "tests/test_route_declarations.py",
            "tests/test_policy_negative_matrix.py",
            "tests/test_http_negative_matrix.py",
            "tests/test_policy_matrix.py",
            "tests/test_drift.py::test_the_shipped_snapshot_approves_the_shipped_matrix",
            "tests/test_config.py",
            "tests/test_supply_chain.py::test_every_pin_is_locked_at_its_version_with_hashes",
        )
    )
