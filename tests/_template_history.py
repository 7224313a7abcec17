"""The template's release history, rebuilt in a throw-away git repository.

`copier update` moves a project from one tag of its template repository to
another. To test what users will actually run, the previous release is taken
from this repository's own git history (`PREVIOUS_RELEASE`), the working tree
becomes the next release, and both are tagged in a temporary repository.

Cutting a release (docs/releasing.md): bump `secure_scaffold.__version__`,
tag the commit `v<version>`, then point `PREVIOUS_RELEASE` at it so the next
release's update tests start from there.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from secure_scaffold import __version__

REPO = Path(__file__).resolve().parents[1]

#: What `copier copy` reads: everything else in the repository is the generator.
TEMPLATE_PATHS = ("copier.yml", "includes", "template")


@dataclass(frozen=True)
class Release:
    version: str
    commit: str

    @property
    def tag(self) -> str:
        return f"v{self.version}"


#: The last release: the commit that shipped secure-scaffold 0.1.0 (it passed CI as `main`).
PREVIOUS_RELEASE = Release("0.1.0", "e250066c218f11d5ed4018f34c7decb1daed3923")

#: The release under test: this working tree, at the package's own version.
NEXT_RELEASE_TAG = f"v{__version__}"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _template_at(commit: str) -> bytes:
    """The template files of `commit`, as a tar archive read from this repository's history."""
    result = subprocess.run(
        ["git", "archive", "--format=tar", commit, *TEMPLATE_PATHS],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"cannot read release {PREVIOUS_RELEASE.tag} ({commit}) from this repository's history: "
            f"{result.stderr.decode(errors='replace').strip()}. The update tests need the full history "
            "(a clone made without --depth, or `git fetch --unshallow`)."
        )
    return result.stdout


def _replace_template(repo: Path, source: Path | bytes) -> None:
    for name in TEMPLATE_PATHS:
        target = repo / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    if isinstance(source, bytes):
        with tarfile.open(fileobj=io.BytesIO(source)) as archive:
            archive.extractall(repo, filter="data")
        return
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copy2(source / "copier.yml", repo / "copier.yml")
    shutil.copytree(source / "includes", repo / "includes", ignore=ignore)
    shutil.copytree(source / "template", repo / "template", ignore=ignore)


def build_history(repo: Path) -> Path:
    """A template repository tagged with the previous release and, on top, this working tree."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    _replace_template(repo, _template_at(PREVIOUS_RELEASE.commit))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"secure-scaffold {PREVIOUS_RELEASE.version}")
    git(repo, "tag", PREVIOUS_RELEASE.tag)
    _replace_template(repo, REPO)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"secure-scaffold {__version__}", "--allow-empty")
    git(repo, "tag", NEXT_RELEASE_TAG)
    return repo
