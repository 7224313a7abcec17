"""External tools preflight calls (checkov, zizmor, actionlint, detect-secrets, bandit).

A tool is looked up in `SECURE_SCAFFOLD_<TOOL>` (an executable path), then
where a generated project's `make tools` installs it (the pinned,
hash-checked versions its CI uses, in `.venv-tools` and `.venv-checkov`),
then next to the running Python, then on PATH. A missing tool makes its
check UNKNOWN with `install_hint` as the way out, never PASSED.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Where `make tools` of a generated project puts each tool, relative to the project.
PROJECT_TOOL_PATHS = {
    "checkov": ".venv-checkov/bin/checkov",
    "zizmor": ".venv-tools/bin/zizmor",
    "actionlint": ".venv-tools/bin/actionlint",
    "detect-secrets": ".venv-tools/bin/detect-secrets",
    "bandit": ".venv-tools/bin/bandit",
}


def _variable(name: str) -> str:
    return "SECURE_SCAFFOLD_" + name.upper().replace("-", "_")


def install_hint(name: str) -> str:
    """How to make a missing tool's check decidable, in the project's own terms."""
    return (
        f"run `make tools` in the project: it installs the pinned, hash-checked {name} its CI uses into "
        f"{PROJECT_TOOL_PATHS[name].rsplit('/bin/', 1)[0]}, where preflight finds it "
        f"(or set {_variable(name)} to a {name} executable)"
    )


@dataclass(frozen=True)
class ToolRun:
    """The result of running a tool: its exit code and output, kept as evidence."""

    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def find_tool(name: str, project: Path | None = None) -> str | None:
    override = os.environ.get(_variable(name))
    if override:
        return override if Path(override).is_file() else None
    if project is not None and (installed := project / PROJECT_TOOL_PATHS[name]).is_file():
        return str(installed)
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
