"""Load `catalog.yaml` strictly: every field checked, every mistake named with its control.

A catalog that loads is one a test, preflight and the docs can trust: unknown
or duplicate keys, duplicate or malformed ids, a checklist line that is not in
`checklist.md`, an `applies_when` outside the grammar, an `implemented` control
without the code and test that prove it -- each is a `CatalogError`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn, cast

import yaml

from ..errors import CatalogError
from ..options import COMPLIANCE
from ._checklist import Checklist, packaged_checklist_text, parse_checklist
from ._conditions import Condition, ConditionError, parse_condition
from ._model import PACKAGE_PLACEHOLDER, Catalog, Control, Severity, Status

FAMILIES: tuple[str, ...] = ("AUTH", "AUTHZ", "PAY", "DATA", "AI", "MON", "OPS", "DEPLOY", "GOV")
ID_PATTERN = re.compile(rf"^(?:{'|'.join(FAMILIES)})-\d{{2}}$")
SEVERITIES: tuple[str, ...] = ("blocking", "warning")
STATUSES: tuple[str, ...] = ("planned", "implemented")
#: Team roles a control can be owned by; a closed list so a typo is not a new team.
OWNERS: tuple[str, ...] = ("security", "platform", "billing", "data", "ai", "sre", "compliance")
CATALOG_VERSION = 1
TOP_LEVEL_KEYS: tuple[str, ...] = ("version", "retired", "controls")
CONTROL_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "section",
    "checklist",
    "severity",
    "owner",
    "applies_when",
    "compliance",
    "status",
    "implemented_in",
    "proven_by",
    "preflight",
)
MAX_TITLE_LENGTH = 80

#: The shape of a reference in each compliance regime (ids from `options.COMPLIANCE`).
REFERENCE_PATTERNS: dict[str, re.Pattern[str]] = {
    "soc2": re.compile(r"^(?:CC[1-9]\.[1-9]|A1\.[1-3]|C1\.[12]|PI1\.[1-5]|P[1-8]\.[1-6])$"),
    "pci_saq_a": re.compile(r"^\d{1,2}(?:\.\d{1,2}){1,3}$"),
    "gdpr": re.compile(r"^Art\. \d{1,2}(?:\(\d\))?(?:\([a-z]\))?$"),
    "hipaa": re.compile(r"^164\.3(?:08|10|12|14|16)\([a-z]\)(?:\(\d\))?(?:\((?:i|ii|iii|iv|v|vi)\))?(?:\([A-Z]\))?$"),
}
REFERENCE_EXAMPLES = {"soc2": "CC6.1", "pci_saq_a": "12.8.2", "gdpr": "Art. 32(1)(a)", "hipaa": "164.312(d)"}
PROVEN_BY_PATTERN = re.compile(r"^tests/(?:[A-Za-z0-9_]+/)*test_[A-Za-z0-9_]+\.py::[A-Za-z_]\w*(?:::[A-Za-z_]\w*)?$")
PREFLIGHT_PATTERN = re.compile(r"^[a-z]+(?:\.[a-z0-9_]+)+$")  # preflight check names: family.name

if set(REFERENCE_PATTERNS) != {choice.id for choice in COMPLIANCE}:  # pragma: no cover - import-time guard
    raise RuntimeError("REFERENCE_PATTERNS must cover exactly the compliance choices of options.COMPLIANCE")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise CatalogError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


class _ControlReader:
    """Reads one control mapping; every error names the file and the control."""

    def __init__(self, source: str, index: int, raw: object, checklist: Checklist) -> None:
        self.source = source
        self.where = f"control #{index + 1}"
        self.checklist = checklist
        if not isinstance(raw, dict):
            self.fail(f"must be a mapping of {', '.join(CONTROL_KEYS)}")
        self.raw: dict[str, Any] = raw

    def fail(self, problem: str) -> NoReturn:
        raise CatalogError(f"{self.source}: {self.where}: {problem}")

    def text(self, key: str) -> str:
        value = self.raw[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key} must be a non-empty string, not {value!r}")
        return value

    def one_of(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in allowed:
            self.fail(f"unknown {key} {value!r}; expected one of {list(allowed)}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw[key]
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            self.fail(f"{key} must be a list of non-empty strings, not {value!r}")
        if len(set(value)) != len(value):
            self.fail(f"{key} lists an entry twice")
        return tuple(value)

    def read(self) -> Control:
        control_id = self._id()
        if unknown := [key for key in self.raw if key not in CONTROL_KEYS]:
            self.fail(f"unknown key {unknown[0]!r}; allowed keys: {', '.join(CONTROL_KEYS)}")
        if missing := [key for key in CONTROL_KEYS if key not in self.raw]:
            self.fail(f"missing key {missing[0]!r} (every control states all of: {', '.join(CONTROL_KEYS)})")
        checklist_text, section = self._checklist_and_section()
        status = cast(Status, self.one_of("status", STATUSES))
        implemented_in, proven_by = self._evidence(status)
        return Control(
            id=control_id,
            title=self._title(),
            section=section,
            checklist=checklist_text,
            severity=cast(Severity, self.one_of("severity", SEVERITIES)),
            owner=self.one_of("owner", OWNERS),
            applies_when=(applies_when := self.text("applies_when")),
            compliance=self._compliance(),
            status=status,
            implemented_in=implemented_in,
            proven_by=proven_by,
            preflight=self._preflight(),
            condition=self._condition(applies_when),
        )

    def _id(self) -> str:
        if "id" not in self.raw:
            self.fail("missing key 'id'")
        control_id = self.text("id")
        if not ID_PATTERN.match(control_id):
            self.fail(f"bad id {control_id!r}; expected FAMILY-NN with FAMILY one of {list(FAMILIES)}, e.g. AUTH-01")
        self.where = f"control {control_id}"
        return control_id

    def _title(self) -> str:
        title = self.text("title")
        if len(title) > MAX_TITLE_LENGTH or title.endswith(".") or title != title.strip():
            self.fail(f"title {title!r} must be a short imperative: at most {MAX_TITLE_LENGTH} characters, no period")
        return title

    def _checklist_and_section(self) -> tuple[str, str]:
        section = self.text("section")
        if section not in self.checklist.sections:
            self.fail(f"unknown section {section!r}; expected one of {list(self.checklist.sections)}")
        text = self.text("checklist")
        line_section = self.checklist.section_of(text)
        if line_section is None:
            self.fail(
                f"checklist text {text[:60]!r}... is not a line of checklist.md "
                "(copy the line verbatim, without its leading '- ')"
            )
        if line_section != section:
            self.fail(f"section {section!r} does not match its checklist line's section {line_section!r}")
        return text, section

    def _condition(self, source: str) -> Condition:
        try:
            return parse_condition(source)
        except ConditionError as error:
            self.fail(f"cannot parse applies_when {source!r}: {error}")

    def _compliance(self) -> Mapping[str, tuple[str, ...]]:
        value = self.raw["compliance"]
        if not isinstance(value, dict):
            self.fail(f"compliance must be a mapping of regime -> references, not {value!r}")
        mapping: dict[str, tuple[str, ...]] = {}
        for regime, references in value.items():
            if regime not in REFERENCE_PATTERNS:
                self.fail(f"unknown compliance regime {regime!r}; expected one of {list(REFERENCE_PATTERNS)}")
            if not isinstance(references, list) or not references:
                self.fail(f"compliance.{regime} must be a non-empty list of references (omit the regime instead)")
            for reference in references:
                if not isinstance(reference, str) or not REFERENCE_PATTERNS[regime].match(reference):
                    self.fail(
                        f"compliance.{regime} reference {reference!r} is malformed; "
                        f"write it like {REFERENCE_EXAMPLES[regime]!r}"
                    )
            if len(set(references)) != len(references):
                self.fail(f"compliance.{regime} lists a reference twice")
            mapping[regime] = tuple(references)
        return mapping

    def _evidence(self, status: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        implemented_in = self.strings("implemented_in")
        proven_by = self.strings("proven_by")
        for path in implemented_in:
            self._check_path(path)
        for test_id in proven_by:
            if not PROVEN_BY_PATTERN.match(test_id):
                self.fail(f"proven_by {test_id!r} must be a test id like tests/test_x.py::test_name")
        if status == "implemented" and not (implemented_in and proven_by):
            self.fail("an implemented control needs implemented_in and proven_by (the code and the test proving it)")
        if status == "planned" and (implemented_in or proven_by):
            self.fail("a planned control has empty implemented_in and proven_by; mark it implemented or empty them")
        return implemented_in, proven_by

    def _check_path(self, path: str) -> None:
        pure = PurePosixPath(path)
        placeholders = set(re.findall(r"\{[^}]*\}", path))
        if pure.is_absolute() or ".." in pure.parts or "\\" in path or str(pure) != path:
            self.fail(f"implemented_in {path!r} must be a normalised path relative to the project root")
        if placeholders - {PACKAGE_PLACEHOLDER}:
            self.fail(f"implemented_in {path!r} may only use the {PACKAGE_PLACEHOLDER} placeholder")

    def _preflight(self) -> str | None:
        value = self.raw["preflight"]
        if value is not None and not (isinstance(value, str) and PREFLIGHT_PATTERN.match(value)):
            self.fail(f"preflight must be null or a check id like 'secrets.no_env_files', not {value!r}")
        return value


def _read_yaml(text: str, source: str) -> Mapping[str, Any]:
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except CatalogError as error:
        raise CatalogError(f"{source}: {error}") from None
    except yaml.YAMLError as error:
        raise CatalogError(f"{source}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise CatalogError(f"{source}: must be a mapping with keys {', '.join(TOP_LEVEL_KEYS)}")
    if unknown := [key for key in document if key not in TOP_LEVEL_KEYS]:
        raise CatalogError(f"{source}: unknown top-level key {unknown[0]!r}; allowed keys: {', '.join(TOP_LEVEL_KEYS)}")
    if document.get("version") != CATALOG_VERSION:
        raise CatalogError(f"{source}: version must be {CATALOG_VERSION}, not {document.get('version')!r}")
    if not isinstance(document.get("controls"), list) or not document["controls"]:
        raise CatalogError(f"{source}: controls must be a non-empty list")
    return document


def _retired(document: Mapping[str, Any], source: str) -> frozenset[str]:
    retired = document.get("retired", [])
    if not isinstance(retired, list) or not all(isinstance(item, str) and ID_PATTERN.match(item) for item in retired):
        raise CatalogError(f"{source}: retired must be a list of control ids such as AUTH-07")
    return frozenset(retired)


def build_catalog(text: str, *, source: str, checklist: Checklist) -> Catalog:
    """Validate catalog YAML text against a checklist and build the Catalog."""
    document = _read_yaml(text, source)
    retired = _retired(document, source)
    controls: list[Control] = []
    seen: set[str] = set()
    for index, raw in enumerate(document["controls"]):
        control = _ControlReader(source, index, raw, checklist).read()
        if control.id in seen:
            raise CatalogError(f"{source}: control #{index + 1}: duplicate id {control.id!r}")
        if control.id in retired:
            raise CatalogError(
                f"{source}: control {control.id}: id {control.id!r} is retired and never reused; take the next number"
            )
        seen.add(control.id)
        controls.append(control)
    return Catalog(controls=tuple(controls), checklist=checklist, retired=retired)


def load_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """Load and validate the packaged catalog, or the catalog file at `path`.

    Either way its `checklist` fields are checked against the packaged
    `checklist.md`. Raises CatalogError naming the file, the control and the problem.
    """
    checklist = parse_checklist(packaged_checklist_text())
    if path is None:
        resource = files(__package__) / "catalog.yaml"
        return build_catalog(resource.read_text(encoding="utf-8"), source="catalog.yaml", checklist=checklist)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogError(f"cannot read the controls catalog {path}: {error.strerror}") from None
    return build_catalog(text, source=str(path), checklist=checklist)
