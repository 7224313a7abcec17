"""External tools preflight calls (checkov, zizmor, actionlint, detect-secrets, bandit).

A tool is looked up in `SECURE_SCAFFOLD_<TOOL>` (an executable path), then
where a generated project's `make tools` installs it (the pinned,
hash-checked versions its CI uses, in `.venv-tools` and `.venv-checkov`),
then next to the running Python, then on PATH. A missing tool makes its
check UNKNOWN with `install_hint` as the way out, never PASSED.

Whatever sits at those paths is trusted to be the scanner (a stub script there
would "pass"), so every run records each tool it ran: its path and what its
`--version` printed. The report and the evidence bundle carry that, so an
auditor can tell a real checkov 3.x from a two-line shell script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
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


#: Every executable `run_tool` ran in this process, in order, with its `--version` (filled in as it finishes).
_RAN: list[str] = []
_VERSIONS: dict[tuple[str, float, int], str] = {}
_LOCK = threading.Lock()
VERSION_TIMEOUT = 120


def _identity(executable: str) -> tuple[str, float, int]:
    """The executable by path and content stamp: a replaced binary is asked its version again."""
    try:
        stat = Path(executable).stat()
    except OSError:
        return (executable, 0.0, 0)
    return (executable, stat.st_mtime, stat.st_size)


def _ask_version(executable: str) -> str:
    """What `EXECUTABLE --version` printed (first line), or why it printed nothing usable."""
    try:
        completed = subprocess.run(  # noqa: S603 - a located tool, our argument
            (executable, "--version"), capture_output=True, text=True, timeout=VERSION_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"(no version: {type(error).__name__})"
    output = (completed.stdout.strip() or completed.stderr.strip()).splitlines()
    if completed.returncode != 0 or not output:
        return f"(no version: `--version` exited {completed.returncode} printing {len(output)} line(s))"
    return output[0].strip()


def _record_version(executable: str) -> None:
    key = _identity(executable)
    with _LOCK:
        _RAN.append(executable)
        if key in _VERSIONS:
            return
        _VERSIONS[key] = "(version still being asked)"
    version = _ask_version(executable)
    with _LOCK:
        _VERSIONS[key] = version


def tool_log_position() -> int:
    """A mark in the log of tools run; `tools_used(since=mark)` lists those run after it."""
    with _LOCK:
        return len(_RAN)


def tools_used(since: int = 0) -> dict[str, dict[str, str]]:
    """Each tool run since `since`: name -> {path, version} (the version its `--version` printed)."""
    with _LOCK:
        ran = list(dict.fromkeys(_RAN[since:]))
        return {
            Path(executable).name: {"path": executable, "version": _VERSIONS.get(_identity(executable), "(unknown)")}
            for executable in ran
        }


def run_tool(
    executable: str, *args: str, cwd: Path, timeout: float = 600, env: Mapping[str, str] | None = None
) -> ToolRun:
    """Run a located tool; `env` adds variables to this process's environment (e.g. offline switches).

    Its `--version` is asked at the same time (once per executable and process), so the
    report records what ran without adding the version call's time to the run.
    """
    command = (executable, *args)
    asking = threading.Thread(target=_record_version, args=(executable,), daemon=True)
    asking.start()
    try:
        completed = subprocess.run(  # noqa: S603 - the executable is a located tool, args are ours
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **env} if env else None,
        )
    finally:
        asking.join(VERSION_TIMEOUT)
    return ToolRun(command, completed.returncode, completed.stdout, completed.stderr)
