"""Every generated project installs preflight's scanners itself, pinned as its CI pins them.

Preflight's hints for a missing scanner say `make tools` (not the generator's
own `make tools`, nor an unpinned `pip install`), so the project's Makefile must
install what CI installs: the same hash-locked files (secure-scaffold's own
included), the same actionlint module version.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

WORKFLOWS = (".github/workflows/ci.yml", ".github/workflows/deploy.yml")


def _dry_run(project: Path, target: str) -> str:
    """`make -n target` as a user at a shell runs it, not as a sub-make of the generator's `make test`.

    Under `make test`, MAKELEVEL and MAKEFLAGS are inherited: make would then print
    "Entering directory" lines and take the outer make's flags.
    """
    env = {key: value for key, value in os.environ.items() if key not in {"MAKELEVEL", "MAKEFLAGS", "MFLAGS"}}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_tools_installs_what_ci_installs(pristine: Path) -> None:
    commands = _dry_run(pristine, "tools")
    for workflow in WORKFLOWS:
        text = (pristine / workflow).read_text(encoding="utf-8")
        for lock in set(re.findall(r"--require-hashes -r (\.github/tools/[\w.-]+\.lock)", text)) & {
            ".github/tools/python-tools.lock",
            ".github/tools/checkov.lock",
        }:
            assert f"--require-hashes -r {lock}" in commands, (workflow, lock)
        for module in re.findall(r"go install (github\.com/rhysd/actionlint/cmd/actionlint@v[\d.]+)", text):
            assert f"go install {module}" in commands, workflow
        assert "--require-hashes --no-deps -r .github/tools/secure-scaffold.lock" in text, workflow
    assert "--require-hashes --no-deps -r .github/tools/secure-scaffold.lock" in commands
    installs = [line for line in commands.splitlines() if "pip install" in line]
    unchecked = [line for line in installs if "--require-hashes" not in line]
    assert installs
    assert unchecked == [], "every scanner is installed from a hash-locked file"


def test_make_preflight_runs_the_pinned_secure_scaffold(pristine: Path) -> None:
    assert _dry_run(pristine, "preflight").strip() == ".venv-tools/bin/secure-scaffold preflight ."


def test_the_scanner_venvs_are_ignored_by_git_and_by_preflight(pristine: Path) -> None:
    ignored = (pristine / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {".venv-tools/", ".venv-checkov/"} <= set(ignored)
