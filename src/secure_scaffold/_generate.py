"""Generate a project: copier with our checks around it.

Copier already validates every answer before it writes a file; this module
adds what copier leaves to the caller: refusing a non-empty destination,
rejecting unknown or derived answer names (a typo would otherwise be
silently ignored), and turning copier's errors into typed ones.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import yaml
from copier.errors import CopierError

from ._template import (
    expected_copier_warnings,
    is_git_checkout,
    published_template_url,
    record_release_source,
    release_tag,
    template_root,
)
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


def check_answer_names(data: Mapping[str, Any], template: Path) -> None:
    asked, derived = question_names(template)
    for name in sorted(data):
        if name in derived:
            raise InvalidAnswerError(f"{name!r} is derived from other answers and cannot be set")
        if name not in asked:
            listed = ", ".join(sorted(asked - {"profile"}))  # the profile arrives with --profile, not as an answer
            raise InvalidAnswerError(f"unknown question {name!r}; questions are: {listed}")


@dataclass(frozen=True)
class TemplateSource:
    """What copier renders from, and what the project should record as its source.

    Attributes:
        path: the template copier reads (a directory or a git URL).
        vcs_ref: the git ref to render, or None for copier's choice.
        record_as: (url, tag) written into the answers afterwards, when the
            rendered copy is a published release that copier cannot name itself.
        warning: why `copier update` will not work for teammates, if it will not.
    """

    path: str
    vcs_ref: str | None
    record_as: tuple[str, str] | None = None
    warning: str | None = None


def resolve_source(
    template: Path | str | None, vcs_ref: str | None, profile_facts: Mapping[str, Any] | None = None
) -> TemplateSource:
    """Where to render from, so the project records a source its team can update from."""
    if template is not None:
        local = Path(str(template))
        if local.is_dir() and not is_git_checkout(local):
            return TemplateSource(
                str(template),
                vcs_ref,
                warning=f"{template} is not a git repository: the project records this path and no version, "
                "so `copier update` cannot find the version it came from; publish the template in git "
                "and pass its URL",
            )
        return TemplateSource(str(template), vcs_ref)
    root, tag = template_root(), release_tag()
    url = published_template_url(profile_facts)
    if not is_git_checkout(root):  # an installed release: its packaged copy is the tagged template
        if vcs_ref not in (None, tag):
            raise SecureScaffoldError(
                f"this secure-scaffold generates its own release, {tag}; for {vcs_ref} pass --template {url}"
            )
        return TemplateSource(str(root), None, record_as=(url, tag))
    if vcs_ref in (None, tag) and tag in _tags(root):
        return TemplateSource(str(root), tag, record_as=(url, tag))
    return TemplateSource(
        str(root),
        vcs_ref,
        warning=f"generated from the development checkout {root} (not the release tag {tag}): the project "
        "records this local path, which teammates, CI and Renovate cannot reach; generate from a released "
        "secure-scaffold, or pass --template <git URL>",
    )


def _tags(checkout: Path) -> set[str]:
    result = subprocess.run(
        ["git", "tag", "--list"],  # noqa: S607 - git from PATH, as copier itself runs it
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return set(result.stdout.split()) if result.returncode == 0 else set()


def generate_project(
    destination: Path | str,
    *,
    data: Mapping[str, Any] | None = None,
    defaults: bool = False,
    template: Path | str | None = None,
    vcs_ref: str | None = None,
    quiet: bool = False,
    profile_facts: Mapping[str, Any] | None = None,
) -> Path:
    """Render the template into `destination` and return its path.

    Nothing is written when an answer is invalid: copier validates every
    answer before rendering, and removes a destination it created if
    rendering fails. A warning about the recorded source (see `resolve_source`)
    goes to stderr.
    """
    destination = Path(destination)
    source = resolve_source(template, vcs_ref, profile_facts)
    _check_destination(destination)
    answers = dict(data or {})
    if (Path(source.path) / "copier.yml").is_file():  # a git URL is checked by copier alone
        check_answer_names(answers, Path(source.path))
    if not defaults and not sys.stdin.isatty():
        raise InvalidAnswerError("no terminal to ask the questions on; pass --defaults and/or --data NAME=VALUE")
    try:
        with expected_copier_warnings():
            copier.run_copy(
                source.path,
                destination,
                data=answers,
                defaults=defaults,
                vcs_ref=source.vcs_ref,
                quiet=quiet,
                unsafe=False,
                cleanup_on_error=True,
            )
    except CopierError as error:
        raise SecureScaffoldError(str(error)) from error
    except (ValueError, TypeError) as error:  # a failed validator or choice; TypeError: a mistyped answer
        raise InvalidAnswerError(str(error)) from error
    if source.record_as is not None:
        record_release_source(destination, *source.record_as)
    if source.warning:
        print(f"warning: {source.warning}", file=sys.stderr)
    return destination
