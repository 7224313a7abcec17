"""The port to a language model; adapters (one per vendor) live outside the core.

An adapter turns `messages` + `tools` into the vendor's API call for exactly
`pin` (model and version) and returns a `ModelReply`, with the token usage
the vendor reports (the tenant budget is settled with it). It must use
`security.tls.client_context()` for HTTPS. Tests use a deterministic fake
that lives only in tests/; no test talks to a network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .pinning import ModelPin

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asks for; nothing runs until the registry allows it."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """What the model is told about a tool: name, purpose, argument names and types."""

    name: str
    description: str
    parameters: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Usage:
    """The tokens a call used, as the vendor reports (and bills) them."""

    input_tokens: int
    output_tokens: int

    def __post_init__(self) -> None:
        if self.input_tokens < 0 or self.output_tokens < 0:
            raise ValueError("token counts cannot be negative")


@dataclass(frozen=True, slots=True)
class ModelReply:
    """The model's answer; `usage` is what the vendor reported (None: the budget keeps its estimate)."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None


class ModelProvider(Protocol):
    def complete(self, pin: ModelPin, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelReply: ...


class Embedder(Protocol):
    """Turns text into a vector (same model for documents and queries)."""

    def embed(self, text: str) -> list[float]: ...
