"""AI guard rails, framework-free: a pinned-model gateway, allow-listed tools, canaries, budgets, a vector store.

- `gateway.LlmGateway`: the only way the app talks to a model. The model is
  pinned by id AND version (`pinning.ModelPin`; `latest` is refused); text
  sent to it passes `security.redaction.redact_prompt`; every call is capped
  in size and paid from the tenant's budget; its output is checked for the
  system prompt's canary (`canary.Canary`) before anyone sees it.
- `budget.TenantBudget`: requests, tokens and cost per tenant and window, in
  Redis, shared by every replica.
- `tools.ToolRegistry`: the model can call only registered functions, each
  declaring the permission it needs; they run AS the calling user (the
  decision point checks the caller, the data scope applies the caller's
  tenant), never with privileged handles.
- `vector_store.VectorStore`: embeddings per tenant, with a hard LIMIT cap,
  a statement timeout on every similarity query, a chunk size cap, and a
  per-document access decision (owner, sensitivity) on every match.

docs/ai-guardrails.md explains the threat model and how to add a provider.
"""

from __future__ import annotations

from .budget import BudgetLimits, TenantBudget
from .gateway import Answer, LlmGateway
from .pinning import ModelPin
from .provider import Message, ModelProvider, ModelReply, ToolCall, Usage
from .tools import Tool, ToolRegistry

__all__ = [
    "Answer",
    "BudgetLimits",
    "LlmGateway",
    "Message",
    "ModelPin",
    "ModelProvider",
    "ModelReply",
    "TenantBudget",
    "Tool",
    "ToolCall",
    "ToolRegistry",
    "Usage",
]
