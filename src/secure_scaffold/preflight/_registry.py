"""The check registry: one function per check, registered by a decorator (as Django's system checks).

A check takes the inspected `Project` and returns an `Outcome`. It names the
controls it proves and the checks it depends on: when a prerequisite does not
pass, the dependent check is SKIPPED, so one root cause yields one finding.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ._model import Outcome
from ._project import Project

CheckFunction = Callable[[Project], Outcome]
CHECK_NAME = re.compile(r"^[a-z]+(\.[a-z0-9_]+)+$")


@dataclass(frozen=True)
class Check:
    """A registered check.

    Attributes:
        name: stable dotted id, e.g. `hygiene.no_env_files`; never reused.
        controls: catalog control ids this check proves.
        requires: checks that must pass first.
        function: the check itself.
        runs_tool: it spends its time in an external scanner's process (checkov, zizmor, ...),
            so the runner starts it early, beside the others, instead of waiting for it in turn.
    """

    name: str
    controls: tuple[str, ...]
    requires: tuple[str, ...]
    function: CheckFunction
    runs_tool: bool = False

    @property
    def description(self) -> str:
        return inspect.getdoc(self.function) or self.name

    def run(self, project: Project) -> Outcome:
        outcome = self.function(project)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"check {self.name} returned {type(outcome).__name__}, not Outcome")
        return outcome


class CheckRegistry:
    """Checks by name, in registration order."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def register(
        self, name: str, *, controls: tuple[str, ...], requires: tuple[str, ...] = (), runs_tool: bool = False
    ):
        """Decorator: `@register("family.name", controls=("AUTH-03",))`."""
        if not CHECK_NAME.match(name):
            raise ValueError(f"check name {name!r} must be dotted lowercase, e.g. 'identity.pkce_s256'")
        if not controls:
            raise ValueError(f"check {name} must prove at least one control")

        def decorate(function: CheckFunction) -> CheckFunction:
            if name in self._checks:
                raise ValueError(f"check {name} is registered twice")
            parameters = list(inspect.signature(function).parameters)
            if len(parameters) != 1:
                raise TypeError(f"check {name} must take exactly one argument (the project)")
            self._checks[name] = Check(name, tuple(controls), tuple(requires), function, runs_tool)
            return function

        return decorate

    def __iter__(self) -> Iterator[Check]:
        return iter(self._checks.values())

    def __contains__(self, name: object) -> bool:
        return name in self._checks

    def __getitem__(self, name: str) -> Check:
        return self._checks[name]

    def for_control(self, control_id: str) -> list[Check]:
        return [check for check in self._checks.values() if control_id in check.controls]


registry = CheckRegistry()
register = registry.register
