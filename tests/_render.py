"""Render many projects fast, in one process per core, with plain copier.

Two things make copier slow when it renders a thousand projects, and neither
changes what it writes:
- it compiles every template string afresh (Jinja's `from_string` has no
  cache), so identical sources are compiled once here and reused;
- it asks git about the destination for every file it writes, so the worker
  processes run with a PATH that has no git (copier needs none for a local,
  non-git template directory).
Everything else is copier's own code path (`copier.run_copy`).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import sys
from collections.abc import Iterable
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
        for _, project in rows:
            for path in project.rglob("*"):
                if path.is_file():
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                    self.files_by_hash.setdefault(digest, []).append(path)

    def unique(self, suffixes: tuple[str, ...]) -> list[Path]:
        """One path per distinct content among files with these suffixes."""
        return [paths[0] for paths in self.files_by_hash.values() if paths[0].name.endswith(suffixes)]

    @property
    def projects(self) -> list[Path]:
        return [project for _, project in self.rows]


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


def _git_free_path() -> str:
    return os.pathsep.join(
        entry for entry in os.environ.get("PATH", "").split(os.pathsep) if not (Path(entry) / "git").exists()
    )


def _worker_init() -> None:
    _install_compile_cache()


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
