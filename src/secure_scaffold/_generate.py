"""Generate a project: copier with our checks around it.

Copier already validates every answer before it writes a file; this module
adds what copier leaves to the caller: refusing a non-empty destination,
rejecting unknown or derived answer names (a typo would otherwise be
silently ignored), and turning copier's errors into typed ones.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import copier
import yaml
from copier.errors import CopierError

from ._template import template_root
from .errors import DataFileError, DestinationNotEmptyError, InvalidAnswerError, SecureScaffoldError


def question_names(template: Path) -> tuple[set[str], set[str]]:
    """(asked questions, derived values) declared in the template's copier.yml."""
    config = yaml.safe_load((template / "copier.yml").read_text(encoding="utf-8"))
    asked, derived = set(), set()
    for name, spec in config.items():
        if name.startswith("_"):
            continue
        (derived if isinstance(spec, dict) and spec.get("when") is False else asked).add(name)
    return asked, derived


def read_data_file(path: Path) -> dict[str, Any]:
    """Answers from a YAML file, as `copier copy --data-file` reads them."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DataFileError(f"cannot read data file {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise DataFileError(f"data file {path} is not valid YAML{where}") from error
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise DataFileError(f"data file {path} must be a mapping of question: answer")
    return loaded


def _check_destination(destination: Path) -> None:
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise DestinationNotEmptyError(
            f"destination {destination} exists and is not empty; choose a new directory "
            "(use `copier update` inside it to update an existing project)"
        )


def _check_answer_names(data: Mapping[str, Any], template: Path) -> None:
    asked, derived = question_names(template)
    for name in sorted(data):
        if name in derived:
            raise InvalidAnswerError(f"{name!r} is derived from other answers and cannot be set")
        if name not in asked:
            raise InvalidAnswerError(f"unknown question {name!r}; questions are: {', '.join(sorted(asked))}")


def generate_project(
    destination: Path | str,
    *,
    data: Mapping[str, Any] | None = None,
    defaults: bool = False,
    template: Path | str | None = None,
    vcs_ref: str | None = None,
    quiet: bool = False,
) -> Path:
    """Render the template into `destination` and return its path.

    Nothing is written when an answer is invalid: copier validates every
    answer before rendering, and removes a destination it created if
    rendering fails.
    """
    destination = Path(destination)
    src_path = str(template) if template is not None else str(template_root())
    _check_destination(destination)
    answers = dict(data or {})
    if (Path(src_path) / "copier.yml").is_file():  # a git URL is checked by copier alone
        _check_answer_names(answers, Path(src_path))
    if not defaults and not sys.stdin.isatty():
        raise InvalidAnswerError("no terminal to ask the questions on; pass --defaults and/or --data NAME=VALUE")
    try:
        copier.run_copy(
            src_path,
            destination,
            data=answers,
            defaults=defaults,
            vcs_ref=vcs_ref,
            quiet=quiet,
            unsafe=False,
            cleanup_on_error=True,
        )
    except CopierError as error:
        raise SecureScaffoldError(str(error)) from error
    except ValueError as error:  # copier raises ValueError for a failed validator or choice
        raise InvalidAnswerError(str(error)) from error
    return destination
