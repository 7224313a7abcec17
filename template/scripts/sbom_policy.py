"""SBOM policy: a CycloneDX SBOM must describe exactly the hash-locked Python dependencies.

    python3 scripts/sbom_policy.py image.cdx.json --lock requirements-runtime.lock

Used twice: the release checks the SBOM it just generated, and the deploy
checks the SBOM it took from the image's *signed* attestation (with this
script and its policy file checked out from `main`, never from the tag being
deployed), so an image carrying an unreviewed package (or a locked package at
another version) is not deployed. Rules:

1. a CycloneDX 1.4+ JSON document with components, each with a name and a version
   (`file` components, the files syft saw, are not packages and are not judged);
2. every locked package (whose environment marker applies) is present at the locked version;
3. no Python package is present at a version other than the locked one, and none
   is present that the lock does not name, except the installer packages of the
   base image (ALWAYS_ALLOWED) and the application itself (the SBOM's main component).
   Package URLs are read as the purl specification says: the scheme and the type are
   case-insensitive (`pkg:PyPI/...` is a Python package) and PyPI names are normalized;
4. a component without a purl, or with a `pkg:generic` one (what a scanner reports when it
   cannot tell the ecosystem), is refused unless sbom_policy.toml allows it by name; so is a
   package of an ecosystem the policy does not know (an npm package in a Python image);
5. an OS package (deb, apk, rpm) named in sbom_policy.toml's `[os-floors]` (by its own
   name or its source package, the purl's `upstream` qualifier) must be at least the floor
   version, compared in dpkg's order: an image on a known-vulnerable OpenSSL is refused.

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote

SPEC_VERSIONS = {"1.4", "1.5", "1.6", "1.7"}
#: Installers the python base image and every venv carry; they are not application dependencies.
ALWAYS_ALLOWED = frozenset({"pip", "setuptools", "wheel"})
#: purl types whose packages the policy judges; anything else is an unexpected ecosystem.
OS_TYPES = frozenset({"deb", "apk", "rpm"})
KNOWN_TYPES = OS_TYPES | {"pypi", "generic"}
DEFAULT_POLICY = Path(__file__).with_name("sbom_policy.toml")
LOCK_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>[^\s;\\]+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ------------------------------------------------------------------ package URLs


@dataclass(frozen=True)
class Purl:
    """The parts of a package URL the policy reads (https://github.com/package-url/purl-spec)."""

    type: str
    namespace: str
    name: str
    version: str
    qualifiers: dict[str, str]


def parse_purl(value: str) -> Purl | None:
    """A purl, or None when `value` is not one. Scheme and type are case-insensitive; `pkg://` is `pkg:`."""
    scheme, colon, rest = value.partition(":")
    if not colon or scheme.lower() != "pkg":
        return None
    rest = rest.lstrip("/").split("#", 1)[0]
    rest, _, query = rest.partition("?")
    kind, slash, path = rest.partition("/")
    if not slash or not kind or not path:
        return None
    path, at, version = path.rpartition("@") if "@" in path else (path, "", "")
    namespace, _, name = path.rpartition("/")
    kind = kind.lower()
    name = unquote(name)
    if kind == "pypi":
        name = normalize(name)
    qualifiers = {key.lower(): unquote(item) for key, item in parse_qsl(query, keep_blank_values=True)}
    return Purl(kind, unquote(namespace), name, unquote(version) if at else "", qualifiers)


# ------------------------------------------------------------------ dpkg version order


def _order(character: str) -> int:
    """dpkg's weight of one character of a non-digit run: ~ sorts before everything, letters before symbols."""
    if character == "~":
        return -1
    if character.isalpha():
        return ord(character)
    return ord(character) + 256


def _compare_part(left: str, right: str) -> int:
    """dpkg's verrevcmp: alternate non-digit runs (by _order) and digit runs (numerically)."""
    i = j = 0
    while i < len(left) or j < len(right):
        difference = 0
        while (i < len(left) and not left[i].isdigit()) or (j < len(right) and not right[j].isdigit()):
            a = _order(left[i]) if i < len(left) and not left[i].isdigit() else 0
            b = _order(right[j]) if j < len(right) and not right[j].isdigit() else 0
            if a != b:
                return -1 if a < b else 1
            i, j = i + 1, j + 1
        while i < len(left) and left[i] == "0":
            i += 1
        while j < len(right) and right[j] == "0":
            j += 1
        while i < len(left) and left[i].isdigit() and j < len(right) and right[j].isdigit():
            if not difference:
                difference = (left[i] > right[j]) - (left[i] < right[j])
            i, j = i + 1, j + 1
        if i < len(left) and left[i].isdigit():
            return 1
        if j < len(right) and right[j].isdigit():
            return -1
        if difference:
            return difference
    return 0


def compare_versions(left: str, right: str) -> int:
    """-1, 0 or 1 as `left` sorts before, with or after `right` in Debian's order ([epoch:]upstream[-revision])."""

    def split(version: str) -> tuple[int, str, str]:
        epoch, colon, rest = version.partition(":")
        if not colon:
            epoch, rest = "0", version
        upstream, dash, revision = rest.rpartition("-")
        if not dash:
            upstream, revision = rest, ""
        return int(epoch) if epoch.isdigit() else 0, upstream, revision

    (left_epoch, left_upstream, left_revision), (right_epoch, right_upstream, right_revision) = (
        split(left),
        split(right),
    )
    if left_epoch != right_epoch:
        return -1 if left_epoch < right_epoch else 1
    return _compare_part(left_upstream, right_upstream) or _compare_part(left_revision, right_revision)


# ------------------------------------------------------------------ the policy file


@dataclass(frozen=True)
class Policy:
    """What sbom_policy.toml allows besides the lock: names without purl, pkg:generic names, OS floors."""

    without_purl: frozenset[str]
    generic: frozenset[str]
    os_floors: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> Policy:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        allow = data.get("allow", {})
        return cls(
            without_purl=frozenset(name.lower() for name in allow.get("without-purl", {})),
            generic=frozenset(name.lower() for name in allow.get("generic", {})),
            os_floors={name.lower(): str(floor) for name, floor in data.get("os-floors", {}).items()},
        )


# ------------------------------------------------------------------ the rules


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


def _components(components: object) -> Iterator[dict]:
    """Every component, nested ones included (CycloneDX allows components inside components)."""
    for component in components if isinstance(components, list) else []:
        if isinstance(component, dict):
            yield component
            yield from _components(component.get("components"))


def _packages(sbom: dict) -> Iterator[tuple[dict, Purl | None]]:
    for component in _components(sbom.get("components")):
        if component.get("type") != "file":
            purl = component.get("purl")
            yield component, parse_purl(str(purl)) if purl else None


def _python_findings(sbom: dict, locked: dict[str, dict[str, bool | None]], app: str) -> list[str]:
    main = normalize(str(sbom.get("metadata", {}).get("component", {}).get("name", "")))
    present: dict[str, set[str]] = {}
    for component, purl in _packages(sbom):
        if purl is not None and purl.type == "pypi":
            present.setdefault(purl.name, set()).add(purl.version or str(component.get("version", "")))
    problems = []
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


def _identity_findings(sbom: dict, policy: Policy) -> list[str]:
    """Rule 4: every package says what it is, in an ecosystem the policy knows."""
    problems = []
    for component, purl in _packages(sbom):
        name, version = str(component.get("name", "")), str(component.get("version", ""))
        if purl is None:
            if name.lower() not in policy.without_purl:
                problems.append(f"{name} {version} has no package URL (purl); allow it in sbom_policy.toml or fix it")
        elif purl.type == "generic":
            if purl.name.lower() not in policy.generic:
                problems.append(f"{name} {version} is pkg:generic (unknown ecosystem); allow it in sbom_policy.toml")
        elif purl.type not in KNOWN_TYPES:
            problems.append(f"{name} {version} is a pkg:{purl.type} package, an ecosystem this image should not hold")
    return problems


def _os_floor_findings(sbom: dict, policy: Policy) -> list[str]:
    """Rule 5: OS packages named in [os-floors] are at least at their floor."""
    problems = []
    for component, purl in _packages(sbom):
        if purl is None or purl.type not in OS_TYPES:
            continue
        source = purl.qualifiers.get("upstream", "").split("@", 1)[0].split(" ", 1)[0].lower()
        floor_name = next((key for key in (purl.name.lower(), source) if key in policy.os_floors), None)
        if floor_name is None:
            continue
        version = purl.version or str(component.get("version", ""))
        floor = policy.os_floors[floor_name]
        if not version or compare_versions(version, floor) < 0:
            problems.append(
                f"{purl.type} package {purl.name} {version or '(no version)'} ({floor_name}) is older than "
                f"the floor {floor}: rebuild on a patched base image"
            )
    return problems


def violations(
    sbom: object, locked: dict[str, dict[str, bool | None]], app: str = "", policy: Policy | None = None
) -> list[str]:
    """Every way the SBOM breaks the policy; empty when it complies. `app`: the application's own name."""
    if not isinstance(sbom, dict) or sbom.get("bomFormat") != "CycloneDX":
        return ["not a CycloneDX JSON document"]
    policy = policy or Policy.load(DEFAULT_POLICY)
    problems = []
    if str(sbom.get("specVersion")) not in SPEC_VERSIONS:
        problems.append(f"CycloneDX {sbom.get('specVersion')} is older than 1.4")
    if not any(True for _ in _packages(sbom)):
        return [*problems, "the SBOM lists no components"]
    for component, _ in _packages(sbom):
        if not component.get("name") or not component.get("version"):
            problems.append(f"component without a name or version: {component.get('bom-ref', component)}")
    return (
        problems
        + _python_findings(sbom, locked, app)
        + _identity_findings(sbom, policy)
        + _os_floor_findings(sbom, policy)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sbom_policy.py", description=__doc__.split("\n", 1)[0])
    parser.add_argument("sbom", type=Path, help="CycloneDX JSON")
    parser.add_argument("--lock", type=Path, required=True, help="the hash-locked requirements the SBOM must match")
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"), help="names the application itself")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="allow-lists and OS floors (TOML)")
    args = parser.parse_args(argv)
    try:
        sbom = json.loads(args.sbom.read_text(encoding="utf-8"))
        locked = read_lock(args.lock.read_text(encoding="utf-8"))
        app = tomllib.loads(args.pyproject.read_text(encoding="utf-8"))["project"]["name"]
        policy = Policy.load(args.policy)
    except (OSError, KeyError, AttributeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        print(f"error: cannot read the inputs: {error}", file=sys.stderr)
        return 2
    problems = violations(sbom, locked, app, policy)
    for problem in problems:
        print(f"POLICY VIOLATION: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"SBOM policy OK: {len(locked)} locked packages, each at its locked version; OS floors hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
