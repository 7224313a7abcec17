"""Exit 0 when PostgreSQL and Redis answer on 127.0.0.1; otherwise say exactly what to start.

Used by `make demo` and `make test`: the generated projects' tests run
against the real services, so a missing one is a clear message, not a wall
of connection errors.
"""

from __future__ import annotations

import socket
import sys

SERVICES = {
    "PostgreSQL": (
        5432,
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start   "
        "(or: sudo systemctl start postgresql); the tests connect as role postgres with trust auth",
    ),
    "Redis": (
        6379,
        'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no   '
        "(or: sudo systemctl start redis)",
    ),
}


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    missing = {name: hint for name, (port, hint) in SERVICES.items() if not reachable(port)}
    for name, hint in missing.items():
        print(f"{name} is not reachable on 127.0.0.1:{SERVICES[name][0]}. Start it with:\n    {hint}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
