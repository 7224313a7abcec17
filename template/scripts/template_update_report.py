"""Summarize `copier check-update --output-format json` for the nightly workflow.

template_update_report.py update.json              # Markdown for the run summary / the issue body
template_update_report.py update.json --available  # exit 0 when a newer template version exists
template_update_report.py update.json --title      # "<current> -> <latest>"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="template_update_report.py", description=__doc__.split("\n", 1)[0])
    parser.add_argument("report", type=Path)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--available", action="store_true", help="exit 0 if an update is available, else 1")
    mode.add_argument("--title", action="store_true", help="print '<current> -> <latest>'")
    args = parser.parse_args(argv)
    data = json.loads(args.report.read_text(encoding="utf-8"))
    available = bool(data.get("update_available"))
    current, latest = data.get("current_version") or "unknown", data.get("latest_version") or "unknown"
    if args.available:
        return 0 if available else 1
    if args.title:
        print(f"{current} -> {latest}")
        return 0
    if not available:
        print(f"## Template\n\nUp to date with secure-scaffold {current}.")
        return 0
    print(
        f"## Template update available\n\nThis project was generated from secure-scaffold {current}; "
        f"{latest} is released.\n\nUpdate on a branch and review the diff like any change:\n\n"
        f"```sh\ncopier update --vcs-ref {latest}\n```\n\n"
        "Then re-run `make test` and open a pull request; CI runs every check again."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
