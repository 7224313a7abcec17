"""Org profiles: a platform team's defaults, locked answers, allowed choices and org facts.

A profile file is also a valid copier data file — one top-level key,
`profile` — so the same file works with `secure-scaffold new --profile FILE`
and with plain `copier copy --data-file FILE`: copier.yml reads the `profile`
answer in every question's default and validator (includes/profile.jinja).
The answer is recorded in `.copier-answers.yml`, so `copier update` and
`secure-scaffold preflight` keep enforcing it.

This module validates a profile strictly and reports problems with the line
they are on, before copier is ever called.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .errors import ProfileError
from .options import CHOICE_QUESTIONS, COMPLIANCE, available_ids

SECTIONS = ("name", "version", "defaults", "locked", "allowed", "facts")
#: Answers a profile may set or lock: every asked question but the per-project names.
PROFILE_QUESTIONS = (*CHOICE_QUESTIONS, "ai_features", "compliance", "org_name", "domain")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
FACTS: dict[str, str] = {
    "vault_addr": "https URL of the organisation's Vault",
    "aws_account_ids": "mapping of environment name to 12-digit AWS account id",
    "siem_endpoint": "https URL the audit stream is shipped to",
    "approver_team": "team that approves production deploys and migrations, e.g. @acme/approvers",
    "registry": "container registry host/path for release images",
    "template_url": "git URL (https or ssh) of the organisation's mirror of the secure-scaffold template",
}
ACCOUNT_ID = re.compile(r"^\d{12}$")
MAX_PROFILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Profile:
    """A validated org profile."""

    name: str
    version: int
    defaults: Mapping[str, Any] = field(default_factory=dict)
    locked: Mapping[str, Any] = field(default_factory=dict)
    allowed: Mapping[str, list[Any]] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    def as_answer(self) -> dict[str, Any]:
        """The `profile` answer copier receives and records."""
        return {
            "name": self.name,
            "version": self.version,
            "defaults": dict(self.defaults),
            "locked": dict(self.locked),
            "allowed": {key: list(values) for key, values in self.allowed.items()},
            "facts": dict(self.facts),
        }

    def conflicts(self, answers: Mapping[str, Any]) -> list[str]:
        """Messages for answers that break a lock or leave an allowed list."""
        problems = []
        for name, value in answers.items():
            if name in self.locked and _normalise(name, value) != self.locked[name]:
                problems.append(f"{name} is locked to {self.locked[name]!r} by the {self.name!r} profile")
            elif name in self.allowed:
                values = _normalise(name, value)
                outside = [v for v in (values if isinstance(values, list) else [values]) if v not in self.allowed[name]]
                if outside:
                    problems.append(
                        f"{name} {', '.join(map(str, outside))} is not allowed by the {self.name!r} profile; "
                        f"allowed: {', '.join(map(str, self.allowed[name]))}"
                    )
        return problems


def _normalise(name: str, value: Any) -> Any:
    """CLI answers arrive as strings; compare them as copier will cast them."""
    if name == "ai_features" and isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1", "on"}
    if name == "compliance" and isinstance(value, str):
        loaded = yaml.safe_load(value)
        return loaded if isinstance(loaded, list) else [loaded]
    return value


def _choices(question: str) -> list[Any]:
    if question in CHOICE_QUESTIONS:
        return available_ids(question)
    if question == "compliance":
        return [choice.id for choice in COMPLIANCE]
    if question == "ai_features":
        return [True, False]
    return []


class _Validator:
    """Walks the YAML node tree so every error carries its line number."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[str] = []

    def error(self, node: yaml.Node | None, message: str) -> None:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        self.errors.append(f"{self.source}{line}: {message}")

    @staticmethod
    def pairs(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
        return list(node.value)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping")
            return None
        result: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in self.pairs(node):
            name = str(key.value)
            if name in result:
                self.error(key, f"{what}: {name!r} appears twice")
            result[name] = (key, value)
        return result

    def check_answer(self, section: str, key: yaml.Node, value: Any, node: yaml.Node) -> None:
        name = str(key.value)
        if name not in PROFILE_QUESTIONS:
            self.error(
                key, f"{section}.{name}: not a question a profile may set; one of {', '.join(PROFILE_QUESTIONS)}"
            )
            return
        choices = _choices(name)
        if name == "compliance":
            if not isinstance(value, list) or any(item not in choices for item in value):
                self.error(node, f"{section}.compliance: expected a list of {', '.join(choices)}")
        elif choices and value not in choices:
            self.error(
                node, f"{section}.{name}: {value!r} is not a choice; expected one of {', '.join(map(str, choices))}"
            )
        elif not choices and (not isinstance(value, str) or not value.strip()):
            self.error(node, f"{section}.{name}: expected a non-empty string")

    def check_fact(self, key: yaml.Node, value: Any, node: yaml.Node) -> None:
        name = str(key.value)
        if name not in FACTS:
            self.error(key, f"facts.{name}: unknown fact; known facts: {', '.join(FACTS)}")
        elif name in {"vault_addr", "siem_endpoint"} and (
            not isinstance(value, str) or urlsplit(value).scheme != "https"
        ):
            self.error(node, f"facts.{name}: expected an https URL")
        elif name == "aws_account_ids" and (
            not isinstance(value, dict) or not all(isinstance(v, str) and ACCOUNT_ID.match(v) for v in value.values())
        ):
            self.error(node, "facts.aws_account_ids: expected environment: '123456789012' (quoted 12-digit strings)")
        elif name == "template_url" and (
            not isinstance(value, str) or not (urlsplit(value).scheme in {"https", "ssh"} or value.startswith("git@"))
        ):
            self.error(node, "facts.template_url: expected a git URL over https or ssh")
        elif name in {"approver_team", "registry"} and (not isinstance(value, str) or not value.strip()):
            self.error(node, f"facts.{name}: expected a non-empty string")


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """Validate profile YAML; raise ProfileError listing every problem with its line."""
    validator = _Validator(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ProfileError(f"{source}{line}: not valid YAML ({getattr(error, 'problem', error)})") from error
    top = validator.mapping(root, "the profile file") if root is not None else None
    if top is None or set(top) != {"profile"}:
        raise ProfileError(
            f"{source}:1: a profile file has one top-level key, `profile:` (so it is also a copier --data-file)"
        )
    body = validator.mapping(top["profile"][1], "profile") or {}
    profile = data["profile"] or {}
    for name, (key, _) in body.items():
        if name not in SECTIONS:
            validator.error(key, f"profile.{name}: unknown section; sections are {', '.join(SECTIONS)}")
    name_node = body.get("name", (None, None))[1]
    if not isinstance(profile.get("name"), str) or not NAME.match(profile["name"]):
        validator.error(name_node or top["profile"][0], "profile.name: expected a lowercase slug such as acme-platform")
    if not isinstance(profile.get("version", 1), int):
        validator.error(body["version"][1], "profile.version: expected an integer")
    for section in ("defaults", "locked"):
        if section in body and (entries := validator.mapping(body[section][1], section)) is not None:
            for key, node in entries.values():
                validator.check_answer(section, key, profile[section][key.value], node)
    if "allowed" in body and (entries := validator.mapping(body["allowed"][1], "allowed")) is not None:
        for key, node in entries.values():
            values = profile["allowed"][key.value]
            if not isinstance(values, list) or not values:
                validator.error(node, f"allowed.{key.value}: expected a non-empty list of choices")
                continue
            for value in values:
                validator.check_answer("allowed", key, [value] if key.value == "compliance" else value, node)
    if "facts" in body and (entries := validator.mapping(body["facts"][1], "facts")) is not None:
        for key, node in entries.values():
            validator.check_fact(key, profile["facts"][key.value], node)
    if validator.errors:
        raise ProfileError("invalid profile:\n  " + "\n  ".join(validator.errors))
    result = Profile(
        name=profile["name"],
        version=profile.get("version", 1),
        defaults=profile.get("defaults") or {},
        locked=profile.get("locked") or {},
        allowed=profile.get("allowed") or {},
        facts=profile.get("facts") or {},
        source=source,
    )
    _check_against_the_template(validator, result, body)
    if validator.errors:
        raise ProfileError("invalid profile:\n  " + "\n  ".join(validator.errors))
    return result


def _check_against_the_template(validator: _Validator, profile: Profile, body: dict[str, tuple[Any, Any]]) -> None:
    """Every default, lock and allowed value passes its question's own validator, and none contradicts another.

    A default is judged under the profile itself, so one that differs from a lock
    or falls outside an allowed list is reported (the project would be generated
    with the lock, not the default); a lock must lie inside its allowed list.
    """
    from ._questions import QuestionValidators
    from ._template import template_root

    questions = QuestionValidators(template_root())
    answer = profile.as_answer()
    nodes = {
        section: (validator.mapping(body[section][1], section) or {}) if section in body else {}
        for section in ("defaults", "locked", "allowed")
    }
    for section in ("defaults", "locked"):
        for name, value in getattr(profile, section).items():
            node = nodes[section][name][1]
            if message := questions.error(name, value, answer if section == "defaults" else {}):
                validator.error(node, f"{section}.{name}: {message}")
    for name, value in profile.locked.items():
        for problem in Profile(profile.name, profile.version, allowed=profile.allowed).conflicts({name: value}):
            validator.error(nodes["locked"][name][1], f"locked.{name}: {problem}")


def load_profile(location: str | Path) -> Profile:
    """Read a profile from a file or an https URL."""
    text_location = str(location)
    if text_location.startswith(("https://", "http://")):
        if not text_location.startswith("https://"):
            raise ProfileError(f"{text_location}: profiles are fetched over https only")
        try:
            with urllib.request.urlopen(text_location, timeout=15) as response:  # noqa: S310 - https only, checked above
                text = response.read(MAX_PROFILE_BYTES + 1).decode("utf-8")
        except OSError as error:
            raise ProfileError(f"{text_location}: cannot fetch the profile ({error})") from error
    else:
        path = Path(location)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ProfileError(f"{path}: cannot read the profile ({error.strerror})") from error
    if len(text.encode()) > MAX_PROFILE_BYTES:
        raise ProfileError(f"{text_location}: a profile is at most {MAX_PROFILE_BYTES // 1024} KiB")
    return parse_profile(text, text_location)


PROFILE_TEMPLATE = """\
# An org profile for secure-scaffold. Publish it where teams can read it (a
# git repository, an https URL) and pin it by version.
#   secure-scaffold new my-app --profile {path}
#   copier copy --data-file {path} <template> my-app      # plain copier enforces it too
profile:
  name: {name}
  version: 1
  # Answers teams get unless they choose otherwise.
  defaults:
    idp: okta
    tenancy: pooled
  # Answers nobody can change, at generation or later (preflight fails on drift).
  locked:
    secrets_backend: vault
    ci: github
  # The only choices offered for these questions.
  allowed:
    payment_provider: [stripe, none]
    tenancy: [pooled, silo]
  # Organisation facts the generated projects are wired with.
  facts:
    vault_addr: https://vault.example.invalid:8200
    siem_endpoint: https://siem.example.invalid/ingest
    approver_team: "@example/platform-approvers"
"""


def init_profile(path: Path, name: str) -> Path:
    """Write a commented starting profile; refuses to overwrite."""
    if path.exists():
        raise ProfileError(f"{path} already exists; not overwriting it")
    if not NAME.match(name):
        raise ProfileError(f"profile name {name!r}: expected a lowercase slug such as acme-platform")
    path.write_text(PROFILE_TEMPLATE.format(path=path, name=name), encoding="utf-8")
    parse_profile(path.read_text(encoding="utf-8"), str(path))
    return path


def loosened_answers(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Answers `before` held that `after` holds less tightly: a lock gone or changed, an allowed list widened."""
    names = []
    after_locked = after.get("locked") or {}
    for name, value in sorted((before.get("locked") or {}).items()):
        if after_locked.get(name, object()) != value:
            names.append(name)
    after_allowed = after.get("allowed") or {}
    for name, values in sorted((before.get("allowed") or {}).items()):
        if name in after_locked:
            continue
        widened = name not in after_allowed or set(map(str, after_allowed[name])) - set(map(str, values))
        if widened and name not in names:
            names.append(name)
    return names
