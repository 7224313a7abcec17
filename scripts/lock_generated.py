"""Write the generated projects' hash-locked requirement files (needs uv and PyPI).

A generated project installs with `pip install --require-hashes -r requirements.lock`,
but its dependency set depends on the answers (casbin or OPA, Vault or the cloud's
secret manager, ...), and copier renders offline, so hashes cannot be computed at
generation time. This script computes them here, once, for the union of every
pin in `template/pyproject.toml.jinja`, and writes lock *templates*: each package's
block is guarded by the same Jinja condition as the pins that pull it in, so a
rendered lock holds exactly the closure of that project's pins.

    .venv-tools/bin/python scripts/lock_generated.py          # rewrite the locks
    .venv-tools/bin/python scripts/lock_generated.py --check  # exit 1 if stale

Outputs (all under template/):
- requirements.lock.jinja          runtime + dev (CI, `make install`)
- requirements-runtime.lock.jinja  runtime only (the container image)
- requirements-build.lock          hatchling + build (wheel builds without isolation)
- <.github>/tools/*.lock           the CI tools, one lock per isolated tool venv

tests/test_workflows.py checks the rendered locks against the rendered pyproject.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "template"
PYPROJECT = TEMPLATE / "pyproject.toml.jinja"
GITHUB_TOOLS = TEMPLATE / "{% if ci == 'github' %}.github{% endif %}" / "tools"
#: The oldest Python a generated project supports; the lock is universal from there up.
APP_PYTHON = "3.11"
#: The Python the generated CI and container image run.
TOOLS_PYTHON = "3.12"

PIN = re.compile(r'^\s*"(?P<name>[A-Za-z0-9_.-]+)(?P<extras>\[[^\]]+\])?==(?P<version>[^"\s;]+)",?\s*$')
IF = re.compile(r"^\s*\{%-?\s*if\s+(?P<cond>.+?)\s*-?%\}\s*$")
ELIF = re.compile(r"^\s*\{%-?\s*elif\s+(?P<cond>.+?)\s*-?%\}\s*$")
ELSE = re.compile(r"^\s*\{%-?\s*else\s*-?%\}\s*$")
ENDIF = re.compile(r"^\s*\{%-?\s*endif\s*-?%\}\s*$")
SECTION = re.compile(r"^\s*(?P<key>dependencies|dev)\s*=\s*\[\s*$")
LOCK_HEAD = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>[^\s;\\]+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$")


class LockError(Exception):
    """The template's pins cannot be turned into a lock (unsupported syntax, resolver failure)."""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    """One `name==version` line of pyproject.toml.jinja and the Jinja condition around it (None: always)."""

    name: str
    extras: str
    version: str
    group: str  # "runtime" or "dev"
    condition: str | None


@dataclass
class Locked:
    """One package of the union lock."""

    name: str
    version: str
    marker: str | None
    hashes: list[str]
    via: set[str] = field(default_factory=set)


def read_pins(text: str) -> list[Pin]:
    """The pins of `dependencies` and the `dev` extra, with the conjunction of their enclosing conditions."""
    pins: list[Pin] = []
    group: str | None = None
    stack: list[list[str]] = []  # per open `if`: the conditions of its branches so far, current one last
    for number, line in enumerate(text.splitlines(), 1):
        if group is None:
            match = SECTION.match(line)
            if match:
                group = "runtime" if match["key"] == "dependencies" else "dev"
            continue
        stripped = line.strip()
        if stripped == "]":
            if stack:
                raise LockError(f"pyproject.toml.jinja:{number}: an {{% if %}} is still open at the end of the list")
            group = None
        elif match := IF.match(line):
            stack.append([f"({match['cond']})"])
        elif match := ELIF.match(line):
            branches = stack[-1]
            stack[-1] = [*branches, f"({match['cond']})"]
        elif ELSE.match(line):
            stack[-1] = [*stack[-1], "else"]
        elif ENDIF.match(line):
            stack.pop()
        elif match := PIN.match(line):
            pins.append(
                Pin(normalize(match["name"]), match["extras"] or "", match["version"], group, _condition(stack))
            )
        elif stripped.startswith("#") or not stripped:
            continue
        else:
            raise LockError(f'pyproject.toml.jinja:{number}: cannot read {stripped!r} (expected "name==version",)')
    return pins


def _condition(stack: list[list[str]]) -> str | None:
    parts = []
    for branches in stack:
        *earlier, current = branches
        negated = [f"not {condition}" for condition in earlier]
        if current != "else":
            negated.append(current)
        parts.extend(negated)
    return " and ".join(parts) if parts else None


def parse_lock(text: str) -> list[Locked]:
    """uv's `--annotation-style split` output: `name==ver [; marker] \\`, hash lines, `# via` lines.

    A universal resolution may lock one package twice, at two versions under
    complementary markers (e.g. `python_full_version < '3.12'`): both are kept.
    """
    packages: list[Locked] = []
    current: Locked | None = None
    in_via = False
    for line in text.splitlines():
        stripped = line.strip()
        if match := LOCK_HEAD.match(line):
            current = Locked(normalize(match["name"]), match["version"], match["marker"], [])
            packages.append(current)
            in_via = False
        elif stripped.startswith("--hash=") and current is not None:
            current.hashes.append(stripped.removesuffix("\\").strip())
        elif stripped.startswith("# via") and current is not None:
            in_via = True
            rest = stripped.removeprefix("# via").strip()
            if rest:
                current.via.add(rest)
        elif stripped.startswith("#") and in_via and current is not None:
            current.via.add(stripped.lstrip("#").strip())
    for package in packages:
        package.via = {normalize(item) if not item.startswith("-r") else "<pin>" for item in package.via}
    return packages


def compile_lock(requirements: list[str], *, python: str, universal: bool) -> list[Locked]:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise LockError("uv is not installed: run `make tools` (it installs uv into .venv-tools)")
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "requirements.in"
        source.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        command = [uv, "pip", "compile", "--quiet", "--generate-hashes", "--no-header", "--annotation-style", "split"]
        command += ["--python-version", python, *(["--universal"] if universal else []), str(source)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise LockError(f"uv could not resolve {requirements}:\n{result.stderr}")
        return parse_lock(result.stdout)


def reach(pins: list[Pin], lock: list[Locked]) -> dict[str, set[str | None]]:
    """For each locked package: the conditions of the given pins whose dependency closure contains it."""
    children: dict[str, set[str]] = {}
    for package in lock:
        for parent in package.via:
            children.setdefault(parent, set()).add(package.name)
    reached: dict[str, set[str | None]] = {package.name: set() for package in lock}
    for pin in pins:
        if pin.name not in reached:
            raise LockError(f"{pin.name} is pinned but missing from the resolved lock")
        todo, seen = [pin.name], set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                reached[name].add(pin.condition)
                todo.extend(children.get(name, ()))
    return reached


def block(package: Locked, conditions: set[str | None], source: str = "pyproject.toml") -> str:
    head = f"{package.name}=={package.version}"
    if package.marker:
        head += f" ; {package.marker}"
    lines = [head + " \\"]
    lines += [f"    {digest} \\" for digest in package.hashes]
    lines[-1] = lines[-1].removesuffix(" \\")
    parents = sorted(package.via - {"<pin>"})
    lines.append("    # via " + ", ".join(([source] if "<pin>" in package.via else []) + parents))
    text = "\n".join(lines)
    if None in conditions:
        return text
    condition = " or ".join(sorted(conditions))  # type: ignore[arg-type]
    return f"{{%- if {condition} %}}\n{text}\n{{%- endif %}}"


HEADER = """\
# {title}
# Every package with its SHA-256 hashes; install with
#     pip install --require-hashes -r {name}
# Generated by secure-scaffold from the pins in pyproject.toml (do not edit by
# hand: change the pin, then regenerate the lock with hashes, e.g.
# `uv pip compile --universal --generate-hashes`). Dependabot proposes updates.
"""


def render_app_locks(pins: list[Pin], lock: list[Locked]) -> dict[str, str]:
    orphans = sorted(name for name, conditions in reach(pins, lock).items() if not conditions)
    if orphans:
        raise LockError(f"locked but reached from no pin: {orphans}")
    outputs = {}
    for name, title, groups in (
        ("requirements.lock", "Runtime and development dependencies (CI, make install).", {"runtime", "dev"}),
        ("requirements-runtime.lock", "Runtime dependencies only (the container image).", {"runtime"}),
    ):
        reached = reach([pin for pin in pins if pin.group in groups], lock)
        blocks = [
            block(package, reached[package.name])
            for package in sorted(lock, key=lambda item: (item.name, item.version))
            if reached[package.name]
        ]
        outputs[name + ".jinja"] = HEADER.format(title=title, name=name) + "\n".join(blocks) + "\n"
    return outputs


def render_plain_lock(requirements: list[str], title: str, name: str, *, python: str) -> str:
    lock = compile_lock(requirements, python=python, universal=True)
    source = name.rsplit("/", 1)[-1].replace(".lock", ".in")
    blocks = [block(package, {None}, source) for package in sorted(lock, key=lambda item: (item.name, item.version))]
    return (
        HEADER.format(title=title, name=name).replace("pyproject.toml", name.replace(".lock", ".in"))
        + "\n".join(blocks)
        + "\n"
    )


def read_in(path: Path) -> list[str]:
    return [
        line.split("#", 1)[0].strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.split("#", 1)[0].strip()
    ]


def all_outputs() -> dict[Path, str]:
    pins = read_pins(PYPROJECT.read_text(encoding="utf-8"))
    requirements = sorted({f"{pin.name}{pin.extras}=={pin.version}" for pin in pins})
    union = compile_lock(requirements, python=APP_PYTHON, universal=True)
    outputs = {TEMPLATE / name: text for name, text in render_app_locks(pins, union).items()}
    build_in = TEMPLATE / "requirements-build.in"
    outputs[TEMPLATE / "requirements-build.lock"] = render_plain_lock(
        read_in(build_in),
        "Build tools (wheel builds without network isolation).",
        "requirements-build.lock",
        python=APP_PYTHON,
    )
    for source in sorted(GITHUB_TOOLS.glob("*.in")):
        name = source.with_suffix(".lock").name
        outputs[source.with_suffix(".lock")] = render_plain_lock(
            read_in(source), f"CI tool venv: {source.stem}.", f".github/tools/{name}", python=TOOLS_PYTHON
        )
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a lock would change")
    args = parser.parse_args(argv)
    try:
        outputs = all_outputs()
    except LockError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stale = [path for path, text in outputs.items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(REPO)}")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(outputs[path], encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
