"""Where the copier template lives: inside the wheel, or in the source checkout."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path

from copier.errors import MissingFileWarning

from .errors import TemplateNotFoundError


def _is_template_root(path: Path) -> bool:
    return (path / "copier.yml").is_file() and (path / "template").is_dir()


def template_root() -> Path:
    """The directory holding copier.yml and template/.

    An installed wheel carries a copy under `secure_scaffold/_template`; an
    editable install or a checkout uses the repository itself (a git
    repository, so `copier update` can later find versions by tag).
    """
    with as_file(files(__package__) / "_template") as packaged:
        if _is_template_root(packaged):
            return packaged
    checkout = Path(__file__).resolve().parents[2]
    if _is_template_root(checkout):
        return checkout
    raise TemplateNotFoundError(
        "the secure-scaffold template was not found: this installation has neither "
        f"{Path(__file__).parent / '_template'} nor a source checkout around it; "
        "reinstall secure-scaffold or pass --template PATH_OR_URL"
    )


@contextmanager
def expected_copier_warnings() -> Iterator[None]:
    """Silence the one warning copier gives by design here, and nothing else.

    copier.yml reads the project's recorded answers (`_external_data.recorded`)
    to refuse dropping its org profile; on a first copy there are none yet, and
    copier warns "File not found; returning empty dict: .copier-answers.yml".
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"File not found; returning empty dict", category=MissingFileWarning)
        yield


#: Where the template is published: what a generated project records, so teammates,
#: CI and Renovate can run `copier update` from it. An organisation's mirror overrides it
#: (the org profile's `template_url` fact, or SECURE_SCAFFOLD_TEMPLATE_URL).
CANONICAL_TEMPLATE_URL = "https://github.com/secure-scaffold/secure-scaffold.git"
TEMPLATE_URL_VARIABLE = "SECURE_SCAFFOLD_TEMPLATE_URL"


def release_tag() -> str:
    """The template's git tag for this package's version: what an installed release generates from."""
    from . import __version__

    return f"v{__version__}"


def published_template_url(profile_facts: Mapping[str, object] | None = None) -> str:
    """The reachable git URL a project records: the environment's, else the org profile's, else the canonical one."""
    configured = os.environ.get(TEMPLATE_URL_VARIABLE) or (profile_facts or {}).get("template_url")
    return str(configured) if configured else CANONICAL_TEMPLATE_URL


def is_git_checkout(path: Path) -> bool:
    return (path / ".git").exists()


def record_release_source(project: Path, url: str, tag: str) -> None:
    """Point the project's answers at the published template and its release tag.

    An installed package renders from the copy inside its wheel, which copier
    records as a local, version-less path. That copy *is* the tagged release, so
    the project records where that release is published instead, and
    `copier update` works for everyone who clones the project.
    """
    path = project / ".copier-answers.yml"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("_commit:")]
    rewritten = []
    for line in lines:
        if line.startswith("_src_path:"):
            rewritten += [f"_commit: {tag}", f"_src_path: {url}"]
        else:
            rewritten.append(line)
    path.write_text("\n".join(rewritten) + "\n", encoding="utf-8")
