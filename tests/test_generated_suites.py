"""Generated projects pass their own test suites against real PostgreSQL and Redis.

A pairwise-covering set of answer combinations (every pair of answer values
appears in at least one project) is rendered and each project's own suite
runs in this venv, which holds the union of the generated projects'
dependencies (`requirements/generated-projects.txt`) so installs do not
dominate. `test_union_requirements_cover_every_pin` keeps that file honest.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest

from secure_scaffold.matrix import combination_id, full_matrix, pairwise_matrix

REPO = Path(__file__).resolve().parents[1]
UNION = REPO / "requirements" / "generated-projects.txt"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;]+)")

PAIRWISE = pairwise_matrix()


def _pins(pyproject: Path) -> dict[str, str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    pins = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, f"{pyproject}: {requirement!r} is not pinned with =="
        pins[match.group(1).lower()] = match.group(3)
    return pins


def _union_pins() -> dict[str, str]:
    pins = {}
    for line in UNION.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = PIN.match(line)
            assert match, f"{UNION}: {line!r} is not pinned with =="
            pins[match.group(1).lower()] = match.group(3)
    return pins


@pytest.mark.xdist_group("matrix")
def test_union_requirements_cover_every_pin(matrix) -> None:
    """Every exact pin of every generated pyproject is in the union file, at the same version."""
    union = _union_pins()
    seen: dict[str, str] = {}
    for pyproject in matrix.unique(("pyproject.toml",)):
        seen.update(_pins(pyproject))
    mismatched = {name: (pin, union.get(name)) for name, pin in seen.items() if union.get(name) != pin}
    assert mismatched == {}, "update requirements/generated-projects.txt"


def test_union_requirements_are_installed_here() -> None:
    wrong = {}
    for name, pinned in _union_pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong[name] = (pinned, installed)
    assert wrong == {}, "run `make install` to install requirements/generated-projects.txt"


def test_pairwise_set_covers_every_pair() -> None:
    names = [name for name in PAIRWISE[0] if name != "compliance"]
    values = {name: {row[name] for row in full_matrix()} for name in names}
    for first_index, first in enumerate(names):
        for second in names[first_index + 1 :]:
            if len(values[first]) < 2 or len(values[second]) < 2:
                continue
            pairs = {(row[first], row[second]) for row in PAIRWISE}
            assert pairs == {(a, b) for a in values[first] for b in values[second]}, (first, second)


def _run_suite(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.generated
@pytest.mark.parametrize("answers", PAIRWISE, ids=combination_id)
def test_generated_suite_passes(render, answers: dict[str, Any]) -> None:
    project = render("project", **answers)
    result = _run_suite(project)
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    assert re.search(r"\d+ passed", result.stdout), tail
    assert " failed" not in result.stdout.splitlines()[-1], tail
