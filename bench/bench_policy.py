"""`make bench`: decision latency of a generated project, Casbin Enforcer vs the compiled matrix.

    python bench/bench_policy.py /path/to/rendered-project [--repeat N --number N]

Renders nothing: it runs the benchmark the generated project ships
(`bench/bench_policy.py`, present when `policy_engine=casbin`) against that
project's own `src/` and `policy/`, so the generator measures exactly the
code its users get. Exit code 1 when the compiled p50 misses its 2 µs target.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    project = Path(argv[0]).resolve()
    script = project / "bench" / "bench_policy.py"
    if not script.is_file():
        print(f"{script} not found: render the project with policy_engine=casbin", file=sys.stderr)
        return 2
    sys.argv = [str(script), *argv[1:]]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as done:
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
