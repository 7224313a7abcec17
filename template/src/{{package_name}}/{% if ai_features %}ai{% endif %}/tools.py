"""The tool allow-list: what a model may call, and as whom.

A model never receives a database handle, a service object or an admin API.
It can only name a registered `Tool`; the registry then

1. refuses any name that is not registered (`ToolNotAllowedError`),
2. refuses arguments the tool does not declare, or of the wrong type --
   a model cannot smuggle in `tenant`, `user` or `role`,
3. asks the decision point whether the CALLING USER holds the tool's
   permission (`ToolPermissionError` otherwise), and
4. runs the handler with that user's `Principal`, so the data scope applies
   the user's tenant and nothing else.

Tools whose permission is an admin action or needs a step-up are refused at
registration: those must never be reachable through a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConfigurationError
from ..security.policy import DecisionPoint
from ..security.principal import Principal
from .errors import ToolNotAllowedError, ToolPermissionError
from .provider import ToolCall, ToolSpec

ToolHandler = Callable[[Principal, Mapping[str, Any]], Any]
_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
_TYPES: Final[dict[type, str]] = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class Tool:
    """A function the model may ask for.

    Attributes:
        name / description: what the model is told.
        permission: the roles.yaml permission the calling user must hold.
        parameters: argument name -> type (str, int, float, bool); all required.
        handler: `handler(principal, arguments)`; runs as the calling user.
    """

    name: str
    description: str
    permission: str
    parameters: Mapping[str, type]
    handler: ToolHandler


class ToolRegistry:
    """The allow-list; deny by default."""

    def __init__(self, decision_point: DecisionPoint, tools: Sequence[Tool] = ()) -> None:
        self._point = decision_point
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if not _NAME.fullmatch(tool.name) or tool.name in self._tools:
            raise ConfigurationError(f"tool name {tool.name!r} is invalid or already registered")
        spec = self._point.matrix.permissions.get(tool.permission)
        if spec is None:
            raise ConfigurationError(f"tool {tool.name!r} needs unknown permission {tool.permission!r}")
        if spec.admin_action or spec.requires_step_up:
            raise ConfigurationError(
                f"tool {tool.name!r} would expose the privileged permission {tool.permission!r} to a model"
            )
        if any(kind not in _TYPES for kind in tool.parameters.values()):
            raise ConfigurationError(f"tool {tool.name!r} may take only str, int, float and bool arguments")
        self._tools[tool.name] = tool

    def names(self) -> frozenset[str]:
        return frozenset(self._tools)

    def specs_for(self, principal: Principal) -> list[ToolSpec]:
        """Only the tools this caller could use are even described to the model."""
        return [
            ToolSpec(tool.name, tool.description, {name: _TYPES[kind] for name, kind in tool.parameters.items()})
            for tool in self._tools.values()
            if self._point.decide(principal, tool.permission).allowed
        ]

    def invoke(self, principal: Principal, call: ToolCall) -> Any:
        tool = self._tools.get(call.name)
        if tool is None:
            raise ToolNotAllowedError("tool_not_registered")
        arguments = dict(call.arguments)
        if set(arguments) != set(tool.parameters):
            raise ToolNotAllowedError("tool_arguments_not_declared")
        for name, kind in tool.parameters.items():
            value = arguments[name]
            if type(value) is not kind:  # exact: a bool is not an int here
                raise ToolNotAllowedError("tool_argument_type")
        if not self._point.decide(principal, tool.permission).allowed:
            raise ToolPermissionError("tool_permission_denied")
        return tool.handler(principal, arguments)
