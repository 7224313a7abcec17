"""Where the copier template lives: inside the wheel, or in the source checkout."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

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
