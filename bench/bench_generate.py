"""`make bench`: how long generation takes. Figures to report, not pass/fail.

- median wall time of `secure-scaffold new --defaults` for the full-featured
  project (every capability on), through the console script, as a user runs it;
- wall time of rendering the whole answer matrix (the way the tests do);
- the file count of the full-featured project;
- wall time of `secure-scaffold preflight` on the full-featured project, all
  checks (the external scanners are timed too when `make tools` installed them).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _render import render_many, snapshot_template  # noqa: E402
from secure_scaffold.matrix import full_matrix  # noqa: E402

FULL_FEATURED = [
    "-d", "ai_features=true", "-d", "payment_provider=stripe", "-d", "tenancy=pooled",
    "-d", "compliance=[soc2, pci_saq_a, gdpr, hipaa]",
]  # fmt: skip
RUNS = 5


def time_new(workdir: Path, template: Path) -> tuple[float, int]:
    script = shutil.which("secure-scaffold", path=str(Path(sys.executable).parent))
    durations, files = [], 0
    for run in range(RUNS):
        destination = workdir / f"new{run}"
        started = time.perf_counter()
        subprocess.run(
            [script, "new", str(destination), "--defaults", "-q", "--template", str(template), *FULL_FEATURED],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        durations.append(time.perf_counter() - started)
        files = sum(1 for path in destination.rglob("*") if path.is_file())
    return statistics.median(durations), files


def time_preflight(project: Path) -> tuple[float, str]:
    script = shutil.which("secure-scaffold", path=str(Path(sys.executable).parent))
    durations, summary = [], ""
    for _ in range(3):
        started = time.perf_counter()
        result = subprocess.run([script, "preflight", str(project)], capture_output=True, text=True, check=False)
        durations.append(time.perf_counter() - started)
        summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr.strip()[-200:]
    return statistics.median(durations), summary


def time_matrix(workdir: Path, template: Path) -> tuple[float, int]:
    jobs = [(workdir / "matrix" / f"p{index:04d}", answers) for index, answers in enumerate(full_matrix())]
    started = time.perf_counter()
    render_many(template, jobs, workers=2)
    return time.perf_counter() - started, len(jobs)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    try:
        template = snapshot_template(workdir / "template")
        median, files = time_new(workdir, template)
        print(f"secure-scaffold new --defaults (full-featured): median {median:.2f}s over {RUNS} runs, {files} files")
        preflight, summary = time_preflight(workdir / "new0")
        print(f"secure-scaffold preflight (full-featured project): median {preflight:.2f}s over 3 runs; {summary}")
        seconds, count = time_matrix(workdir, template)
        print(
            f"whole answer matrix: {count} projects in {seconds:.1f}s ({seconds / count * 1000:.0f} ms each, 2 workers)"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
