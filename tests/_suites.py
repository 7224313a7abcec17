"""Running a generated project's own test suite from the generator's tests.

In this venv (it holds the union of the generated projects' pins), with the
project's `src/` on the path and `-x`, so a failure ends the run early.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def run_generated_tests(project: Path, *selection: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *selection],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_suite_passed(result: subprocess.CompletedProcess[str]) -> None:
    """Exit 0 and a summary line with passes and no failure or error (an empty selection is not a pass)."""
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), tail
    assert "failed" not in summary, tail
    assert "error" not in summary, tail
