"""Shared fixtures of the generator tests."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import copier
import pytest

import _breakable
from _render import RenderedMatrix, render_many, snapshot_template
from secure_scaffold.matrix import full_matrix

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def template_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """copier.yml + template/ copied once into a plain directory (no git clone per render)."""
    return snapshot_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def render(template_snapshot: Path, tmp_path: Path) -> Callable[..., Path]:
    """Render one project with plain copier; keyword arguments are answers."""

    def do_render(name: str = "project", **answers: Any) -> Path:
        destination = tmp_path / name
        copier.run_copy(str(template_snapshot), destination, data=answers, defaults=True, quiet=True, unsafe=False)
        return destination

    return do_render


@pytest.fixture(scope="session")
def pristine(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default answers, rendered once per worker. Read it; break a `_breakable.private_copy` of it."""
    return _breakable.render(template_snapshot, tmp_path_factory.mktemp("defaults") / "project")


@pytest.fixture(scope="session")
def full(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Billing (Stripe), pooled tenancy and the AI features, rendered once per worker; read-only like `pristine`."""
    destination = tmp_path_factory.mktemp("full") / "project"
    return _breakable.render(
        template_snapshot, destination, payment_provider="stripe", tenancy="pooled", ai_features=True
    )


@pytest.fixture(scope="session")
def matrix(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> RenderedMatrix:
    root = tmp_path_factory.mktemp("matrix")
    combos = list(full_matrix())
    jobs = [(root / f"p{index:04d}", answers) for index, answers in enumerate(combos)]
    started = time.perf_counter()
    render_many(template_snapshot, jobs, workers=2)
    seconds = time.perf_counter() - started
    print(f"\nrendered {len(jobs)} projects in {seconds:.1f}s ({seconds / len(jobs) * 1000:.0f} ms each)")
    yield RenderedMatrix(root, [(answers, destination) for destination, answers in jobs], seconds)
    shutil.rmtree(root, ignore_errors=True)
