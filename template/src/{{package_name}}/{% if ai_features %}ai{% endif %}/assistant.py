"""The sample assistant: the allow-listed tools and the gateway, wired from the app's services.

Both tools read only the caller's tenant, as the caller: they open
`data.begin(principal)` like any route, and need `projects:read`.
Add a tool by appending a `Tool` here -- with the least permission that
covers it; the registry refuses admin and step-up permissions outright.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..db.scope import DataScope
from ..projects import ProjectRepository
from ..security.policy import DecisionPoint
from ..security.principal import Principal
from .gateway import LlmGateway
from .pinning import ModelPin
from .provider import Embedder, ModelProvider
from .tools import Tool, ToolRegistry
from .vector_store import VectorStore


def assistant_tools(data: DataScope, store: VectorStore, embedder: Embedder) -> list[Tool]:
    def list_projects(principal: Principal, _: Mapping[str, Any]) -> list[str]:
        with data.begin(principal) as tx:
            return [project.name for project in ProjectRepository(tx).list()]

    def search_documents(principal: Principal, arguments: Mapping[str, Any]) -> list[dict[str, str]]:
        with data.begin(principal) as tx:
            matches = store.search(tx, embedder.embed(arguments["query"]))
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


def build_assistant(
    settings, data: DataScope, store: VectorStore, point: DecisionPoint, provider: ModelProvider, embedder: Embedder
) -> LlmGateway:
    """A gateway for the pinned model of `APP_LLM_MODEL` / `APP_LLM_MODEL_VERSION`."""
    return LlmGateway(
        provider,
        ModelPin.from_settings(settings),
        ToolRegistry(point, assistant_tools(data, store, embedder)),
        max_prompt_chars=settings.llm_max_prompt_chars,
        max_tool_calls=settings.llm_max_tool_calls,
    )
