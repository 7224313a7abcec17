"""The whole answer matrix renders into clean projects (DESIGN section 7).

Every combination of the offered choices is rendered once per session with
plain copier (see `_render.py` for how it stays fast); the checks then read
the rendered trees. Content shared by many projects is checked once per
distinct content (hash), which is what keeps 1,000+ projects cheap.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import copier
import pytest
import yaml

from _render import RenderedMatrix
from secure_scaffold.matrix import compliance_subsets
from secure_scaffold.options import CHOICE_QUESTIONS, available_ids

# One xdist worker renders the matrix once; the other runs generated suites meanwhile.
pytestmark = pytest.mark.xdist_group("matrix")

# `{{`, `{%`, `{#` or their closers left behind by a missed `.jinja` suffix.
# GitHub Actions' `${{ ... }}` is legitimate output, so `{{` preceded by `$` is allowed.
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|%\}|\{#|#\}")
RUFF = str(Path(sys.executable).with_name("ruff"))


def test_matrix_is_the_full_cartesian_product(matrix: RenderedMatrix) -> None:
    expected = math.prod(len(available_ids(q)) for q in CHOICE_QUESTIONS) * 2  # x ai_features
    assert len(matrix.rows) == expected
    seen = {question: {answers[question] for answers, _ in matrix.rows} for question in CHOICE_QUESTIONS}
    assert seen == {question: set(available_ids(question)) for question in CHOICE_QUESTIONS}
    subsets = {tuple(answers["compliance"]) for answers, _ in matrix.rows}
    assert subsets == {tuple(subset) for subset in compliance_subsets()}


def _tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_the_fast_renderer_writes_exactly_what_plain_copier_writes(
    matrix: RenderedMatrix, template_snapshot: Path, tmp_path: Path
) -> None:
    """`_render.py`'s shortcuts (compile cache, one context per project) change nothing copier writes."""
    for index, (answers, project) in enumerate(matrix.rows[:: len(matrix.rows) // 6]):
        plain = tmp_path / f"plain{index}"
        copier.run_copy(str(template_snapshot), plain, data=answers, defaults=True, quiet=True, unsafe=False)
        fast, expected = _tree(project), _tree(plain)
        assert fast.keys() == expected.keys(), sorted(fast.keys() ^ expected.keys())
        assert [name for name in expected if fast[name] != expected[name]] == [], project.name


def test_every_project_records_its_answers(matrix: RenderedMatrix) -> None:
    for answers, project in matrix.rows:
        recorded = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
        assert {key: recorded[key] for key in answers} == answers, project


def test_no_unrendered_jinja_in_names_or_content(matrix: RenderedMatrix) -> None:
    problems = []
    for paths in matrix.files_by_hash.values():
        path = paths[0]
        if LEFTOVER_JINJA.search(path.name) or path.name.endswith(".jinja"):
            problems.append(f"{path}: unrendered file name")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if LEFTOVER_JINJA.search(line):
                problems.append(f"{path}:{number}: {line.strip()[:80]}")
    assert problems == []


def test_no_empty_files_or_directories(matrix: RenderedMatrix) -> None:
    empty = []
    for _, project in matrix.rows:
        for path in project.rglob("*"):
            if (path.is_file() and path.stat().st_size == 0) or (path.is_dir() and not any(path.iterdir())):
                empty.append(str(path.relative_to(matrix.root)))
    assert empty == []


def test_every_python_file_compiles(matrix: RenderedMatrix) -> None:
    failures = []
    for path in matrix.unique((".py",)):
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except SyntaxError as error:
            failures.append(f"{path}:{error.lineno}: {error.msg}")
    assert failures == []


def test_structured_files_parse(matrix: RenderedMatrix) -> None:
    failures = []
    for path in matrix.unique((".yml", ".yaml", ".toml", ".json")):
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix in {".yml", ".yaml"}:
                list(yaml.safe_load_all(text))
            elif path.suffix == ".toml":
                tomllib.loads(text)
            else:
                json.loads(text)
        except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
            failures.append(f"{path}: {error}")
    assert failures == []


def _ruff_settings(project: Path) -> str:
    config = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return json.dumps(config["tool"]["ruff"], sort_keys=True)


@pytest.mark.parametrize("command", [["check", "--quiet"], ["format", "--check", "--quiet"]], ids=["check", "format"])
def test_ruff_is_clean_on_every_project(matrix: RenderedMatrix, command: list[str]) -> None:
    # Each project is checked with its own pyproject's ruff configuration. Projects whose every
    # Python file (same path, same content, same pyproject) was already linted elsewhere add nothing.
    projects = matrix.covering_projects(".py", _ruff_settings)
    assert 0 < len(projects) <= len(matrix.projects)
    result = subprocess.run(
        [RUFF, *command, "--no-cache", *map(str, projects)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
