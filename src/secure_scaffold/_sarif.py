"""A preflight report as SARIF 2.1.0 that GitHub code scanning accepts.

What code scanning needs, and how each need is met:
- every result has a physical location: the file the finding names, else the
  first file the catalog says implements the control, else a project-level
  file (`.copier-answers.yml`, `CONTROL_OWNERS`, ...);
- results are problems only: a passed control has none, and neither has a
  control an operator skipped or accepted as unchecked (those reasons live in
  the JSON report and the evidence bundle);
- `level` comes from the control's severity (blocking -> error, warning ->
  warning), and rules carry `security-severity` so alerts sort by it;
- rules have help text (the check's hint, how to fix it);
- `partialFingerprints` are stable across runs for the same problem (the
  control, the check, the file, the line and the message with its numbers
  masked), so an alert is matched, not re-opened, when a count in its message
  changes; two findings that would still share one (the same masked message at
  the same place) get an occurrence index, as `primaryLocationLineHash`'s
  `:n`, so distinct findings never share a fingerprint;
- the run's properties carry the verdict and, for a restricted run (`--only`),
  the selection and what it left unchecked: a PARTIAL run is never a clean one;
- GitHub's hard limits (25,000 results and 1,000 locations per result, 20
  tags per rule) are far above what one project's catalog can produce; the
  results are capped at the display limit all the same.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from . import __version__
from .controls import load_catalog
from .preflight import ControlResult, Report, Status

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL_BY_SEVERITY = {"blocking": "error", "warning": "warning"}
#: GitHub maps security-severity to critical (9.0+), high (7.0+), medium (4.0+) and low.
SECURITY_SEVERITY = {"blocking": "8.0", "warning": "4.0"}
#: Code scanning shows the top 5,000 results of a run; more would be silently dropped.
MAX_RESULTS = 5000
#: Project-level files a finding is pinned to when it names none and the control's own files are absent.
PROJECT_FILES = (".copier-answers.yml", "CONTROL_OWNERS", "README.md", "pyproject.toml")
FINGERPRINT_KEY = "secureScaffoldFinding/v2"
_NUMBERS = re.compile(r"\d+")


def _relative(path: str) -> str:
    """A repository-relative URI with forward slashes (what code scanning matches files by)."""
    posix = Path(path).as_posix()
    return posix[2:] if posix.startswith("./") else posix


def _fallback_location(root: Path, control_id: str, package: str | None) -> str:
    control = next((found for found in load_catalog() if found.id == control_id), None)
    candidates = list(control.paths_for(package) if control is not None and package else ())
    candidates += PROJECT_FILES
    for candidate in candidates:
        if (root / candidate).exists():
            return candidate
    return PROJECT_FILES[0]


def _fingerprint(control_id: str, check: str, uri: str, line: int | None, message: str) -> str:
    """Digits in the message are masked (a count changing is the same problem); the line is not (another place is)."""
    stable = "\x1f".join((control_id, check, uri, str(line or 0), _NUMBERS.sub("N", message)))
    return hashlib.sha256(stable.encode()).hexdigest()


def _occurrences(results: list[dict[str, Any]]) -> None:
    """Suffix `:n` (1-based, in report order) to fingerprints that collide, so each result's is unique."""
    seen: dict[str, int] = {}
    for result in results:
        fingerprint = result["partialFingerprints"][FINGERPRINT_KEY]
        seen[fingerprint] = seen.get(fingerprint, 0) + 1
        result["partialFingerprints"][FINGERPRINT_KEY] = f"{fingerprint}:{seen[fingerprint]}"


def _rule(result: ControlResult, hints: list[str]) -> dict[str, Any]:
    help_text = " ".join(dict.fromkeys(hint for hint in hints if hint)) or result.title
    return {
        "id": result.control_id,
        "name": result.control_id.replace("-", ""),
        "shortDescription": {"text": result.title},
        "fullDescription": {"text": f"{result.title} ({result.severity} control, owner {result.owner})."},
        "help": {"text": help_text, "markdown": f"**{result.title}**\n\n{help_text}"},
        "defaultConfiguration": {"level": LEVEL_BY_SEVERITY[result.severity]},
        "properties": {
            "tags": ["security", result.control_id.rsplit("-", 1)[0].lower()],
            "security-severity": SECURITY_SEVERITY[result.severity],
            "precision": "high",
        },
    }


def _reportable(result: ControlResult) -> bool:
    """Failed and (unaccepted) unknown controls are problems; passes, skips and accepted unknowns are not."""
    if result.status is Status.FAILED:
        return True
    return result.status is Status.UNKNOWN and result.accepted_reason is None


def render_sarif(report: Report) -> str:
    root = Path(report.project)
    package = report.answers.get("package_name") if report.generated else None
    rules: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for control in report.results:
        if not _reportable(control):
            continue
        hints = []
        for check in control.checks:
            if check.outcome.status not in (Status.FAILED, Status.UNKNOWN):
                continue
            for finding in check.outcome.findings:
                hints.append(finding.hint)
                uri = _relative(finding.path) if finding.path else _fallback_location(root, control.control_id, package)
                prefix = "" if check.outcome.status is Status.FAILED else "could not be checked: "
                physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
                if finding.path and finding.line:
                    physical["region"] = {"startLine": finding.line}
                results.append(
                    {
                        "ruleId": control.control_id,
                        "ruleIndex": len(rules),
                        "level": LEVEL_BY_SEVERITY[control.severity],
                        "message": {"text": f"{prefix}{finding.message}. {finding.hint}".strip()},
                        "locations": [{"physicalLocation": physical}],
                        "partialFingerprints": {
                            FINGERPRINT_KEY: _fingerprint(
                                control.control_id,
                                check.check,
                                uri,
                                finding.line if finding.path else None,
                                finding.message,
                            )
                        },
                        "properties": {"check": check.check, "status": check.outcome.status.value},
                    }
                )
        rules.append(_rule(control, hints))
    _occurrences(results)
    sarif = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "secure-scaffold",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://github.com/secure-scaffold/secure-scaffold",
                        "rules": rules,
                    }
                },
                "results": results[:MAX_RESULTS],
                "properties": {
                    "verdict": report.verdict.value,
                    "restricted": report.restricted,
                    "selected": list(report.selected),
                    "notSelected": list(report.not_selected),
                    "answersInconsistentWithTree": list(report.contradictions),
                    "tools": {name: dict(tool) for name, tool in report.tools.items()},
                },
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"
