"""The template's own answer validators, run outside copier on single values.

`profile validate` must refuse a profile that cannot generate a project: a
locked `org_name: "{{ evil }}"`, a default `domain: App.Example.com`. The
rules for those live once, in copier.yml's `validator` templates; this module
renders them with copier's Jinja setup (a sandboxed environment with the
Ansible core filters copier loads by default, and the template's includes),
so a profile is judged by exactly what `copier copy` would say.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment


class QuestionValidators:
    """copier.yml's validators, by question name."""

    def __init__(self, template: Path) -> None:
        self.template = template
        self.config: dict[str, Any] = yaml.safe_load((template / "copier.yml").read_text(encoding="utf-8"))

    @cached_property
    def _environment(self) -> SandboxedEnvironment:
        return SandboxedEnvironment(
            loader=FileSystemLoader(str(self.template)),
            extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
            keep_trailing_newline=True,
        )

    @cached_property
    def _constants(self) -> dict[str, Any]:
        """Derived lists validators read (e.g. reserved_package_names), as copier computes them."""
        spec = self.config.get("reserved_package_names") or {}
        return {"reserved_package_names": yaml.safe_load(spec.get("default", "[]"))}

    def error(self, name: str, value: Any, profile: Mapping[str, Any]) -> str | None:
        """The validator's message for `name: value` under `profile`, or None when it passes."""
        spec = self.config.get(name)
        if not isinstance(spec, dict) or not spec.get("validator"):
            return None
        context = {
            **self._constants,
            name: value,
            "profile": dict(profile),
            "_copier_conf": {"data": {}},
            "_external_data": {"recorded": {}},
        }
        message = self._environment.from_string(spec["validator"]).render(**context).strip()
        return " ".join(message.split()) or None
