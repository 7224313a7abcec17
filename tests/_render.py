"""Render many projects fast, in one process per core, with plain copier.

Three things make copier slow when it renders a thousand projects, and none
changes what it writes:
- it compiles every template string afresh (Jinja's `from_string` has no
  cache), so identical sources are compiled once here and reused;
- it asks git about the destination for every file it writes, so the worker
  processes run with a PATH that has no git (copier needs none for a local,
  non-git template directory), and the answer "no git" is looked up once;
- it rebuilds the whole Jinja context (every answer, merged anew) for every
  path segment and file it renders, although the answers are final by then;
  while one project's files are rendered, the context is built once and each
  render gets its own copy.
Everything else is copier's own code path (`copier.run_copy`);
tests/test_matrix.py checks that these shortcuts write exactly what plain
copier writes.
"""

from __future__ import annotations

import copy
import hashlib
import multiprocessing
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class RenderedMatrix:
    """The rendered projects and an index of their files by content."""

    def __init__(self, root: Path, rows: list[tuple[dict[str, Any], Path]], seconds: float) -> None:
        self.root = root
        self.rows = rows
        self.seconds = seconds
        self.files_by_hash: dict[str, list[Path]] = {}
        self.files_by_project: dict[Path, dict[str, str]] = {}  # project -> relative path -> digest
        for _, project in rows:
            files = self.files_by_project[project] = {}
            for path in project.rglob("*"):
                if path.is_file():
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                    self.files_by_hash.setdefault(digest, []).append(path)
                    files[path.relative_to(project).as_posix()] = digest

    def unique(self, suffixes: tuple[str, ...]) -> list[Path]:
        """One path per distinct content among files with these suffixes."""
        return [paths[0] for paths in self.files_by_hash.values() if paths[0].name.endswith(suffixes)]

    @property
    def projects(self) -> list[Path]:
        return [project for _, project in self.rows]

    def covering_projects(self, suffix: str, settings_of: Callable[[Path], str]) -> list[Path]:
        """The fewest whole projects (greedily) that hold every distinct file with `suffix`.

        A file counts as distinct per (path in the project, content, the project's
        settings for the tool as `settings_of` reads them), so a tool run on these
        projects alone sees every file in every context it meets across the matrix.
        """
        seen: set[tuple[str, str, str]] = set()
        chosen = []
        for project in self.projects:
            settings = settings_of(project)
            keys = {
                (name, digest, settings)
                for name, digest in self.files_by_project[project].items()
                if name.endswith(suffix)
            }
            if not keys <= seen:
                seen |= keys
                chosen.append(project)
        return chosen


def snapshot_template(destination: Path) -> Path:
    """Copy copier.yml, includes/ and template/ into a plain directory (no git, no cloning per render)."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "copier.yml", destination / "copier.yml")
    shutil.copytree(REPO / "includes", destination / "includes", dirs_exist_ok=True)
    shutil.copytree(REPO / "template", destination / "template", dirs_exist_ok=True)
    return destination


def _install_compile_cache() -> None:
    from jinja2 import Environment

    original = Environment.compile
    cache: dict[tuple[Any, ...], Any] = {}

    def compile_once(self, source, name=None, filename=None, raw=False, defer_init=False):  # type: ignore[no-untyped-def]
        key = (type(self), tuple(sorted(self.extensions)), source, name, filename, raw, defer_init)
        try:
            return cache[key]
        except KeyError:
            cache[key] = result = original(self, source, name, filename, raw, defer_init)
            return result
        except TypeError:  # unhashable source (a Jinja AST): never cached
            return original(self, source, name, filename, raw, defer_init)

    Environment.compile = compile_once  # type: ignore[method-assign]


def _install_render_context_cache() -> None:
    from copier import _main, _vcs

    _vcs.is_git_available = _main.is_git_available = lambda: False  # the workers' PATH has no git
    worker = _main.Worker
    build_context = worker._render_context
    render_template = worker._render_template

    def render_context(self):  # type: ignore[no-untyped-def]
        cached = getattr(self, "_matrix_context", None)
        if cached is None:
            return build_context(self)
        context = dict(cached)
        # copier edits `_copier_conf` in place (answers_relpath blanks `answers_file`): copy it too.
        conf = copy.copy(cached["_copier_conf"])
        conf._pending, conf._done = dict(conf._pending), dict(conf._done)
        context["_copier_conf"] = conf
        return context

    def render_files(self):  # type: ignore[no-untyped-def]
        self._matrix_context = build_context(self)  # the answers are final once files are rendered
        try:
            return render_template(self)
        finally:
            self._matrix_context = None

    worker._render_context = render_context
    worker._render_template = render_files


def _git_free_path() -> str:
    return os.pathsep.join(
        entry for entry in os.environ.get("PATH", "").split(os.pathsep) if not (Path(entry) / "git").exists()
    )


def _worker_init() -> None:
    _install_compile_cache()
    _install_render_context_cache()


def _render(job: tuple[str, str, dict[str, Any]]) -> str:
    import copier

    template, destination, answers = job
    copier.run_copy(template, destination, data=answers, defaults=True, quiet=True, unsafe=False)
    return destination


def render_many(template: Path, jobs: Iterable[tuple[Path, dict[str, Any]]], *, workers: int = 2) -> list[Path]:
    """Render each (destination, answers) job; returns the destinations in order.

    Workers are spawned (not forked) with a git-free PATH, so plumbum in each
    worker reads that PATH on import; the caller's PATH is restored after.
    """
    work = [(str(template), str(destination), answers) for destination, answers in jobs]
    saved_path = os.environ.get("PATH", "")
    os.environ["PATH"] = _git_free_path()
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init) as pool:
            return [Path(done) for done in pool.map(_render, work, chunksize=8)]
    finally:
        os.environ["PATH"] = saved_path


if __name__ == "__main__":  # pragma: no cover - used by bench/ to time a single render
    print(render_many(Path(sys.argv[1]), [(Path(sys.argv[2]), {})], workers=1))
