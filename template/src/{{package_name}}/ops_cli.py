"""Operations commands: `python -m <package> restore-drill`.

The drill needs a role that can create databases and read every row (the
database owner with CREATEDB, or an administrator); it never uses the
least-privileged runtime role. See docs/runbooks/restore-drill.md.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .errors import ConfigurationError
from .restore_drill import POSTGRES_RTO_SECONDS, run_restore_drill


def _restore_drill(args: argparse.Namespace) -> int:
    source = (
        args.source_url
        or os.environ.get("APP_RESTORE_DRILL_DATABASE_URL")
        or os.environ.get("APP_MIGRATION_DATABASE_URL")
    )
    if not source:
        raise ConfigurationError(
            "restore-drill needs --source-url, APP_RESTORE_DRILL_DATABASE_URL or APP_MIGRATION_DATABASE_URL"
        )
    report = run_restore_drill(source, rto_seconds=args.rto_seconds, keep=args.keep)
    print(report.to_json() if args.json else report.to_text())
    return 0 if report.passed else 1


def register_ops_commands(commands: Any) -> None:
    drill = commands.add_parser(
        "restore-drill",
        help="back up Postgres, restore into a fresh database, verify checksums, time it against the RTO",
    )
    drill.add_argument("--source-url", help="database to back up (default: APP_RESTORE_DRILL_DATABASE_URL)")
    drill.add_argument("--rto-seconds", type=int, default=POSTGRES_RTO_SECONDS)
    drill.add_argument("--keep", action="store_true", help="keep the restored database for inspection")
    drill.add_argument("--json", action="store_true", help="print the report as JSON")
    drill.set_defaults(run=_restore_drill)
