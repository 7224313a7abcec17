"""Control outcomes over time (checklist governance: "measure outcomes").

    python scripts/control_outcomes.py record preflight.json > outcome.json
    python scripts/control_outcomes.py trend outcome-*.json

`record` reduces one `secure-scaffold preflight --format json` report to an
outcome record: when, which commit, how many controls passed/failed/unknown,
and each control's status. `trend` reads records (any order), sorts them by
time and prints, as Markdown, the pass rate per run and every control whose
status got worse since the previous run (a regression) or better (a fix).
The quarterly control review keeps one record per run as an artifact.
Exit code of `trend`: 1 when the latest run regressed, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Worst first: a move to a lower rank is a regression.
RANK = {"failed": 0, "unknown": 1, "skipped": 2, "passed": 3}


def record(report: dict[str, Any], *, when: str, commit: str) -> dict[str, Any]:
    controls = {control["id"]: control["status"] for control in report["controls"]}
    unknown_statuses = sorted(set(controls.values()) - set(RANK))
    if unknown_statuses:
        raise ValueError(f"unexpected control statuses {unknown_statuses}: is this a preflight JSON report?")
    return {"when": when, "commit": commit, "summary": report["summary"], "controls": controls}


def _rate(outcome: dict[str, Any]) -> float:
    statuses = [status for status in outcome["controls"].values() if status != "skipped"]
    return 100.0 * statuses.count("passed") / len(statuses) if statuses else 100.0


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(regressions, fixes) between two outcomes, as `ID: old -> new`."""
    regressions, fixes = [], []
    for control, status in sorted(after["controls"].items()):
        old = before["controls"].get(control)
        if old is None or old == status:
            continue
        line = f"{control}: {old} -> {status}"
        (regressions if RANK[status] < RANK[old] else fixes).append(line)
    return regressions, fixes


def trend(outcomes: list[dict[str, Any]]) -> tuple[str, bool]:
    """The Markdown trend and whether the latest run regressed."""
    ordered = sorted(outcomes, key=lambda outcome: outcome["when"])
    lines = ["| run | commit | passed | failed | unknown | pass rate |", "|---|---|---|---|---|---|"]
    for outcome in ordered:
        summary = outcome["summary"]
        lines.append(
            f"| {outcome['when']} | {outcome['commit'][:12]} | {summary['passed']} | {summary['failed']} "
            f"| {summary['unknown']} | {_rate(outcome):.1f}% |"
        )
    regressed = False
    if len(ordered) >= 2:
        regressions, fixes = changes(ordered[-2], ordered[-1])
        regressed = bool(regressions)
        lines += ["", "Since the previous run:"]
        lines += [f"- regressed {line}" for line in regressions] + [f"- fixed {line}" for line in fixes]
        if not regressions and not fixes:
            lines.append("- no control changed status")
    return "\n".join(lines) + "\n", regressed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    record_command = commands.add_parser("record", help="one preflight JSON report -> one outcome record")
    record_command.add_argument("report", type=Path)
    trend_command = commands.add_parser("trend", help="outcome records -> Markdown trend")
    trend_command.add_argument("records", type=Path, nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            report = json.loads(args.report.read_text(encoding="utf-8"))
            when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            print(json.dumps(record(report, when=when, commit=os.environ.get("GITHUB_SHA", "local")), indent=2))
            return 0
        outcomes = [json.loads(path.read_text(encoding="utf-8")) for path in args.records]
        text, regressed = trend(outcomes)
        print(text, end="")
        return 1 if regressed else 0
    except (OSError, ValueError, KeyError) as error:
        print(f"control_outcomes: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
