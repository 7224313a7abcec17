"""Preflight: prove, from a project's own files and tools, that its controls hold.

`run_preflight(path)` returns a `Report`; `secure_scaffold.report` renders it.
Checks live in `preflight/checks/`, one module per family, each registered
with `@register(name, controls=...)`.
"""

from ._model import (
    CheckResult,
    ControlResult,
    Finding,
    Outcome,
    Report,
    Status,
    Verdict,
    failed,
    passed,
    skipped,
    unknown,
)
from ._project import Project
from ._registry import Check, CheckRegistry, register, registry
from ._runner import run_preflight

__all__ = [
    "Check",
    "CheckRegistry",
    "CheckResult",
    "ControlResult",
    "Finding",
    "Outcome",
    "Project",
    "Report",
    "Status",
    "Verdict",
    "failed",
    "passed",
    "register",
    "registry",
    "run_preflight",
    "skipped",
    "unknown",
]
