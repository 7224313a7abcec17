"""SBOM policy: a CycloneDX SBOM must describe exactly the hash-locked Python dependencies.

    python3 scripts/sbom_policy.py image.cdx.json --lock requirements-runtime.lock

Used twice: the release checks the SBOM it just generated, and the deploy
checks the SBOM it took from the image's *signed* attestation, so an image
carrying an unreviewed package (or a locked package at another version) is not
deployed. Rules:

1. a CycloneDX 1.4+ JSON document with components, each with a name and a version;
2. every locked package (whose environment marker applies) is present at the locked version;
3. no Python package is present at a version other than the locked one, and none
   is present that the lock does not name, except the installer packages of the
   base image (ALWAYS_ALLOWED) and the application itself (the SBOM's main component).

Standard library only (the deploy job runs it with the runner's python3);
environment markers are evaluated with `packaging` when it is importable and
otherwise treated as "may be absent".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path
from urllib.parse import unquote

SPEC_VERSIONS = {"1.4", "1.5", "1.6", "1.7"}
#: Installers the python base image and every venv carry; they are not application dependencies.
ALWAYS_ALLOWED = frozenset({"pip", "setuptools", "wheel"})
LOCK_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>[^\s;\\]+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _marker_applies(marker: str | None) -> bool | None:
    """True/False when the marker can be evaluated here, None when it cannot (no `packaging`)."""
    if not marker:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:
        return None
    return Marker(marker).evaluate()


def read_lock(text: str) -> dict[str, dict[str, bool | None]]:
    """name -> {version: whether it must be installed here}; two versions when the lock forks on a marker."""
    locked: dict[str, dict[str, bool | None]] = {}
    for line in text.splitlines():
        match = LOCK_LINE.match(line.strip())
        if match:
            locked.setdefault(normalize(match["name"]), {})[match["version"]] = _marker_applies(match["marker"])
    return locked


def _python_components(sbom: dict) -> list[tuple[str, str]]:
    found = []
    for component in sbom.get("components", []):
        purl = str(component.get("purl", ""))
        if purl.startswith("pkg:pypi/"):
            name_and_version = unquote(purl.removeprefix("pkg:pypi/").split("?", 1)[0].split("#", 1)[0])
            name, _, version = name_and_version.partition("@")
            found.append((normalize(name), version or str(component.get("version", ""))))
    return found


def violations(sbom: object, locked: dict[str, dict[str, bool | None]], app: str = "") -> list[str]:
    """Every way the SBOM breaks the policy; empty when it complies. `app`: the application's own name."""
    if not isinstance(sbom, dict) or sbom.get("bomFormat") != "CycloneDX":
        return ["not a CycloneDX JSON document"]
    problems = []
    if str(sbom.get("specVersion")) not in SPEC_VERSIONS:
        problems.append(f"CycloneDX {sbom.get('specVersion')} is older than 1.4")
    components = sbom.get("components")
    if not isinstance(components, list) or not components:
        return [*problems, "the SBOM lists no components"]
    for component in components:
        if not component.get("name") or not component.get("version"):
            problems.append(f"component without a name or version: {component.get('bom-ref', component)}")
    main = normalize(str(sbom.get("metadata", {}).get("component", {}).get("name", "")))
    present: dict[str, set[str]] = {}
    for name, version in _python_components(sbom):
        present.setdefault(name, set()).add(version)
    for name, versions_locked in sorted(locked.items()):
        versions = present.get(name, set())
        for version, required in versions_locked.items():
            if required and version not in versions:
                problems.append(f"locked {name}=={version} is missing (found {sorted(versions) or 'nothing'})")
        other = versions - set(versions_locked)
        if other:
            problems.append(f"{name} is present at {sorted(other)}, but the lock says {' or '.join(versions_locked)}")
    for name in sorted(set(present) - set(locked) - ALWAYS_ALLOWED - {main, normalize(app)}):
        problems.append(f"{name} {sorted(present[name])} is in the SBOM but not in the lock")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sbom_policy.py", description=__doc__.split("\n", 1)[0])
    parser.add_argument("sbom", type=Path, help="CycloneDX JSON")
    parser.add_argument("--lock", type=Path, required=True, help="the hash-locked requirements the SBOM must match")
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"), help="names the application itself")
    args = parser.parse_args(argv)
    try:
        sbom = json.loads(args.sbom.read_text(encoding="utf-8"))
        locked = read_lock(args.lock.read_text(encoding="utf-8"))
        app = tomllib.loads(args.pyproject.read_text(encoding="utf-8"))["project"]["name"]
    except (OSError, KeyError, json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        print(f"error: cannot read the inputs: {error}", file=sys.stderr)
        return 2
    problems = violations(sbom, locked, app)
    for problem in problems:
        print(f"POLICY VIOLATION: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"SBOM policy OK: {len(locked)} locked packages, each at its locked version")
    return 0


if __name__ == "__main__":
    sys.exit(main())
