"""Typed refusals of the AI gateway; messages are safe to show, never echo model output."""

from __future__ import annotations

from ..errors import AppError, ConfigurationError


class ModelNotPinnedError(ConfigurationError):
    """A model id without a fixed version (or `latest`) would change behaviour under us."""

    code = "model_not_pinned"


class AiRefusedError(AppError):
    """The gateway refused the exchange; `reason` says which guard rail fired (for logs and alerts)."""

    code = "ai_refused"

    def __init__(self, reason: str, detail: str = "the assistant cannot help with this request") -> None:
        super().__init__(detail)
        self.reason = reason


class ToolNotAllowedError(AiRefusedError):
    """The model asked for a function that is not on the allow-list, or with arguments it does not declare."""

    code = "ai_tool_not_allowed"


class ToolPermissionError(AiRefusedError):
    """The calling user may not use this tool; the model cannot lend them permissions."""

    code = "ai_tool_forbidden"


class CanaryLeakedError(AiRefusedError):
    """The model's output contains the system prompt's canary: a prompt-injection / exfiltration attempt."""

    code = "ai_canary_leaked"


class PromptTooLargeError(AiRefusedError):
    """The prompt exceeds the configured hard limit."""

    code = "ai_prompt_too_large"
