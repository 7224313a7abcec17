"""Generated projects pass their own test suites against real PostgreSQL and Redis.

Two tiers, so the whole run fits a CI budget (a full generated suite is
~1,000 tests, two to three minutes):

- every project of the *each-choice* set (every value of every question
  appears at least once, plus the default answers `make demo` uses) runs its
  FULL suite, end-to-end login against a real OpenID provider and the
  real-browser test included;
- every project of the *pairwise* set (every pair of answer values appears
  together at least once) runs the part of its suite whose outcome depends
  on how the answers combine: migrations and runtime-role grants, the app
  wiring, route declarations, tenant isolation, secrets and billing webhooks
  (`COMBINATION_TESTS`).

Both run in this venv, which holds the union of the generated projects'
dependencies (`requirements/generated-projects.txt`) so installs do not
dominate; `test_union_requirements_cover_every_pin` keeps that file honest.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest

from _suites import assert_suite_passed, run_generated_tests
from secure_scaffold.matrix import combination_id, each_choice_matrix, full_matrix, pairwise_matrix

REPO = Path(__file__).resolve().parents[1]
UNION = REPO / "requirements" / "generated-projects.txt"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;]+)")

PAIRWISE = pairwise_matrix()
DEFAULTS: dict[str, Any] = {}  # `make demo`'s project: every default answer
EACH_CHOICE = [DEFAULTS, *each_choice_matrix()]

#: Test files whose result depends on how answers combine; the pairwise tier runs the ones a project has.
COMBINATION_TESTS = (
    "tests/test_database_roles.py",
    "tests/test_health.py",
    "tests/test_layering.py",
    "tests/test_errors_and_headers.py",
    "tests/test_route_declarations.py",
    "tests/test_policy_matrix.py",
    "tests/test_row_level_security.py",
    "tests/test_tenant_isolation.py",
    "tests/test_projects_api.py",
    "tests/test_secrets_startup.py",
    "tests/billing/test_billing_webhooks.py",
)


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


def test_each_choice_set_covers_every_value() -> None:
    questions = [name for name in PAIRWISE[0] if name != "compliance"]
    for question in questions:
        assert {row[question] for row in EACH_CHOICE[1:]} == {row[question] for row in full_matrix()}, question


@pytest.mark.generated
@pytest.mark.parametrize("answers", EACH_CHOICE, ids=lambda answers: combination_id(answers) if answers else "defaults")
def test_generated_full_suite_passes(render, answers: dict[str, Any]) -> None:
    project = render("project", **answers)
    assert_suite_passed(run_generated_tests(project))


@pytest.mark.generated
@pytest.mark.parametrize("answers", PAIRWISE, ids=combination_id)
def test_generated_combination_tests_pass(render, answers: dict[str, Any]) -> None:
    project = render("project", **answers)
    present = [name for name in COMBINATION_TESTS if (project / name).is_file()]
    assert "tests/test_database_roles.py" in present
    assert_suite_passed(run_generated_tests(project, *present))
