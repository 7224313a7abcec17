"""Repository hygiene: no env files, no secrets in the tree (DEPLOY-05)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from .._model import Finding, Outcome, failed, passed, unknown
from .._project import Project
from .._registry import register
from .._tools import find_tool, install_hint, run_tool


@register("hygiene.no_env_files", controls=("DEPLOY-05",))
def no_env_files(project: Project) -> Outcome:
    """No `.env` file is in the repository: secrets belong in the secrets backend."""
    offenders = [path for path in project.files if path.name == ".env" or path.name.startswith(".env.")]
    if offenders:
        return failed(
            *(
                Finding(
                    "environment file in the repository",
                    "delete it and put the values in Vault / the cloud secret manager; keep .env* in .gitignore",
                    path=project.relative(path),
                )
                for path in offenders
            )
        )
    return passed(f"no .env files among {len(project.files)} files")


def _inside_a_work_tree(root: Path) -> bool:
    result = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"],  # noqa: S607 - git from PATH
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and result.stdout.strip() == "true"


def _not_ignored(repository: Path, probes: tuple[str, ...]) -> list[str]:
    return [
        probe
        for probe in probes
        if subprocess.run(  # noqa: S603 - fixed arguments
            ["git", "check-ignore", "--quiet", "--no-index", probe],  # noqa: S607 - git from PATH
            cwd=repository,
            capture_output=True,
            check=False,
        ).returncode
        != 0
    ]


def _repository_with_gitignore(project: Project, scratch: Path) -> Path:
    """A fresh project (`secure-scaffold new` runs no `git init`) is judged by its own .gitignore."""
    subprocess.run(["git", "init", "-q", str(scratch)], capture_output=True, check=True)  # noqa: S603, S607
    gitignore = project.root / ".gitignore"
    if gitignore.is_file():
        shutil.copyfile(gitignore, scratch / ".gitignore")
    return scratch


@register("hygiene.env_files_ignored", controls=("DEPLOY-05",))
def env_files_ignored(project: Project) -> Outcome:
    """git ignores `.env` files, so nobody can commit one by accident."""
    probes = (".env", ".env.local", "config/.env.production")
    if _inside_a_work_tree(project.root):
        not_ignored = _not_ignored(project.root, probes)
    else:
        with tempfile.TemporaryDirectory(prefix="preflight-gitignore-") as scratch:
            not_ignored = _not_ignored(_repository_with_gitignore(project, Path(scratch)), probes)
    if not_ignored:
        return failed(
            Finding(
                f"git would not ignore {', '.join(not_ignored)}",
                "add `.env` and `.env.*` to .gitignore",
                path=".gitignore",
            )
        )
    return passed(".env files are ignored by git")


BASELINE = ".secrets.baseline"


def _audited_false_positives(project: Project) -> set[tuple[str, str]]:
    """(file, hashed secret) pairs a human audited as not secret in `.secrets.baseline`."""
    text = project.read(BASELINE)
    if not text:
        return set()
    results = json.loads(text).get("results", {})
    return {
        (path, item["hashed_secret"])
        for path, items in results.items()
        for item in items
        if item.get("is_secret") is False
    }


#: The baseline's regex filters and the `scan` flag that applies each one.
_REGEX_FILTERS = {
    "detect_secrets.filters.regex.should_exclude_secret": "--exclude-secrets",
    "detect_secrets.filters.regex.should_exclude_line": "--exclude-lines",
    "detect_secrets.filters.regex.should_exclude_file": "--exclude-files",
}


def _baseline_filters(project: Project) -> list[str]:
    """The project's own `.secrets.baseline` exclusions, as `scan` flags: the same rules as its pre-commit hook."""
    text = project.read(BASELINE)
    if not text:
        return []
    flags = []
    for item in json.loads(text).get("filters_used", []):
        flag = _REGEX_FILTERS.get(item.get("path", ""))
        if flag:
            for pattern in item.get("pattern", []):
                flags += [flag, pattern]
    return flags


@register("hygiene.secret_scan", controls=("DEPLOY-05",), runs_tool=True)
def secret_scan(project: Project) -> Outcome:
    """detect-secrets finds no secret in any file, except findings audited as false positives in the baseline."""
    executable = find_tool("detect-secrets", project.root)
    if executable is None:
        return unknown("detect-secrets is not installed", install_hint("detect-secrets"))
    names = [project.relative(path) for path in project.files if path.name != BASELINE]
    audited = _audited_false_positives(project)
    run = run_tool(executable, "scan", "--no-verify", *_baseline_filters(project), *names, cwd=project.root)
    if run.returncode != 0:
        return unknown(f"detect-secrets failed: {run.stderr.strip()[:200]}", "run it by hand to see why")
    results = json.loads(run.stdout).get("results", {})
    findings = [
        Finding(
            f"possible secret ({item['type']})",
            "remove it, rotate it, and load it from the secrets backend",
            path=path,
            line=item.get("line_number"),
        )
        for path, items in sorted(results.items())
        for item in items
        if (path, item["hashed_secret"]) not in audited
    ]
    if findings:
        return failed(*findings, detect_secrets=run.stdout)
    return passed(f"detect-secrets scanned {len(names)} files, found nothing", detect_secrets=run.stdout)
