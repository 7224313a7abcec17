"""Render a project, copy it, break it in exactly one place: the shape of every preflight negative test.

A check proves a control only if it fails when the control is broken, so each
preflight test renders a pristine project once per module, gives every test a
private copy, and edits one anchor in it. The anchor must still be in the file:
a template change that moves it fails the test loudly instead of testing nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import copier

from secure_scaffold.preflight import Outcome, Report, run_preflight


def render(template: Path, destination: Path, **answers: object) -> Path:
    copier.run_copy(str(template), destination, data=answers, defaults=True, quiet=True, unsafe=False)
    return destination


def private_copy(project: Path, tmp_path: Path) -> Path:
    """A copy of `project` to break in one way (without bytecode caches)."""
    return Path(shutil.copytree(project, tmp_path / "project", ignore=shutil.ignore_patterns("__pycache__")))


def edit(project: Path, relative: str, old: str, new: str, *, count: int = -1) -> None:
    """Replace `old` with `new` in one file of `project`; `old` must be there."""
    path = project / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{relative} no longer contains {old!r}; update this test"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def check_outcome(project: Path, control: str, check: str) -> tuple[Outcome, Report]:
    """What check `check` concluded about `control` in a preflight run of that control alone."""
    report = run_preflight(project, only=[control])
    (result,) = [result for result in report.results if result.control_id == control]
    (outcome,) = [found.outcome for found in result.checks if found.check == check]
    return outcome, report
