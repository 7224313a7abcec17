"""Typed refusals of the AI gateway; messages are safe to show, never echo model output."""

from __future__ import annotations

from ..errors import AppError, ConfigurationError


class ModelNotPinnedError(ConfigurationError):
    """A model id without a fixed version (or `latest`) would change behaviour under us."""

    code = "model_not_pinned"


class AiRefusedError(AppError):
    """The gateway refused the exchange; `reason` says which guard rail fired (for logs and alerts).

    `alert` says whether this refusal raises an alert (every guard rail does;
    a spent budget only on its first refusal of the window).
    """

    code = "ai_refused"
    alert = True

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
    """A model call would carry more than `APP_LLM_MAX_PROMPT_CHARS` characters, all messages counted."""

    code = "ai_prompt_too_large"


class AiBudgetExceededError(AiRefusedError):
    """The tenant spent its model budget (requests, tokens or cost) for this window; retry after it ends.

    `first_in_window` is true for the first refusal of the window only, so the
    alert fires once per tenant and window, not on every refused question.
    """

    code = "ai_budget_exhausted"

    def __init__(self, exhausted: str, *, retry_after: int, first_in_window: bool = True) -> None:
        super().__init__(
            f"budget_{exhausted}_exhausted",
            f"this tenant's assistant budget ({exhausted}) is spent; retry after {retry_after} seconds",
        )
        self.exhausted = exhausted
        self.retry_after = retry_after
        self.alert = first_in_window


class AiUnavailableError(AppError):
    """Something the assistant depends on (the budget store, the vector store) did not answer in time."""

    code = "ai_unavailable"

    def __init__(
        self, reason: str, *, retry_after: int = 5, detail: str = "the assistant is temporarily unavailable"
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.retry_after = retry_after


class VectorQueryTimeoutError(AiUnavailableError):
    """A similarity query ran past `APP_VECTOR_STATEMENT_TIMEOUT_MS` and the server cancelled it."""

    code = "vector_query_timeout"

    def __init__(self) -> None:
        super().__init__("vector_query_timeout", retry_after=1, detail="the document search took too long; retry")


class ChunkTooLargeError(AppError, ValueError):
    """A chunk offered to the vector store is longer than `APP_VECTOR_MAX_CHUNK_CHARS`; split it first."""

    code = "ai_chunk_too_large"
