"""The sample assistant: the allow-listed tools and the gateway, wired from the app's services and settings.

Both tools read only the caller's tenant, as the caller: they open
`data.begin(principal)` like any route, and need `projects:read`.
`search_documents` also asks the decision point about every matching
document -- its owner and sensitivity -- exactly as a route asks about a
record, so a viewer never reads a restricted document of someone else.
Add a tool by appending a `Tool` here -- with the least permission that
covers it; the registry refuses admin and step-up permissions outright.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..db.scope import DataScope
from ..projects import ProjectRepository
from ..security.policy import DecisionPoint, Record
from ..security.principal import Principal
from .budget import BudgetLimits, TenantBudget
from .gateway import GuardrailAlert, LlmGateway, log_alert
from .pinning import ModelPin
from .provider import Embedder, ModelProvider
from .tools import Tool, ToolRegistry
from .vector_store import VectorStore

if TYPE_CHECKING:
    from ..bootstrap import Services

#: What the document tools need, and what each matching document is decided against.
DOCUMENTS_PERMISSION: Final = "projects:read"


def assistant_tools(data: DataScope, store: VectorStore, embedder: Embedder, point: DecisionPoint) -> list[Tool]:
    def list_projects(principal: Principal, _: Mapping[str, Any]) -> list[str]:
        with data.begin(principal) as tx:
            return [project.name for project in ProjectRepository(tx).list()]

    def search_documents(principal: Principal, arguments: Mapping[str, Any]) -> list[dict[str, str]]:
        def may_read(record: Record) -> bool:
            return point.decide(principal, DOCUMENTS_PERMISSION, record).allowed

        with data.begin(principal) as tx:
            matches = store.search(tx, embedder.embed(arguments["query"]), may_read=may_read)
        return [{"document": match.document_id, "text": match.text} for match in matches]

    return [
        Tool("list_projects", "Names of the caller's projects.", "projects:read", {}, list_projects),
        Tool(
            "search_documents",
            "Passages of the caller's documents most similar to the query.",
            "projects:read",
            {"query": str},
            search_documents,
        ),
    ]


def build_vector_store(services: Services) -> VectorStore:
    """The vector store with the configured hard limits (`APP_VECTOR_*`)."""
    return VectorStore.from_settings(services.settings, services.keyring)


def build_budget(services: Services) -> TenantBudget:
    """Each tenant's model budget (`APP_LLM_TENANT_*`, prices), shared by every replica through Redis."""
    settings = services.settings
    return TenantBudget(services.redis, BudgetLimits.from_settings(settings), key_prefix=settings.redis_key_prefix)


def build_assistant(
    services: Services,
    point: DecisionPoint,
    provider: ModelProvider,
    embedder: Embedder,
    *,
    on_alert: Callable[[GuardrailAlert], None] = log_alert,
) -> LlmGateway:
    """A gateway for the pinned model of `APP_LLM_MODEL` / `APP_LLM_MODEL_VERSION`, with every configured limit."""
    settings = services.settings
    return LlmGateway(
        provider,
        ModelPin.from_settings(settings),
        ToolRegistry(point, assistant_tools(services.data, build_vector_store(services), embedder, point)),
        budget=build_budget(services),
        max_prompt_chars=settings.llm_max_prompt_chars,
        max_tool_result_chars=settings.llm_max_tool_result_chars,
        max_tool_calls=settings.llm_max_tool_calls,
        on_alert=on_alert,
    )
