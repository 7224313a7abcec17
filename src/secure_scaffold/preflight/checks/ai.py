"""AI guard rails (AI-*, AUTH-12): pinned models, allow-listed tools, redacted prompts, canaries, prompt budgets,
tenant vectors.

Every control proven here applies only with `ai_features`, so the runner
never calls these checks for a project generated without them. `ai.package`
is their common prerequisite: SKIPPED when the answers turn AI off, and the
one finding for a repository that has no `ai/` package.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from .._model import Finding, Outcome, failed, passed, skipped
from .._project import Project
from .._registry import register
from . import tenancy
from ._python import (
    calls,
    dotted,
    first_call,
    function,
    keyword,
    method,
    module_assignment,
    named,
    parse,
    string_literals,
)
from ._source import (
    NOT_LITERAL,
    ProjectTest,
    bounded_default,
    location,
    missing,
    project_tests,
    settings_default,
    source,
)

PACKAGE = "ai.package"
REQUIRES = (PACKAGE,)
#: Model references that let the vendor swap the model under us.
FLOATING = re.compile(r"latest|current|stable|default|preview|\*", re.IGNORECASE)
_DEPLOYED_MODEL = re.compile(r"""\bAPP_LLM_MODEL(?:_VERSION)?\b["']?\s*[:=]\s*["']?([^\s"'#,}]*)""")


def _tree(project: Project, relative: str) -> ast.Module | None:
    return parse(source(project, relative) or "")


@register(
    PACKAGE,
    controls=("AI-01", "AI-02", "AI-03", "AI-04", "AI-05", "AI-06", "AUTH-12"),
    requires=("layout.application_package",),
)
def package(project: Project) -> Outcome:
    """The AI package (gateway, tools, pinning, vector store) exists for the other AI checks to read."""
    if project.answers.get("ai_features") is False:
        return skipped("ai_features is off: the project talks to no model")
    if source(project, "ai/__init__.py") is None:
        return missing(project, "ai/__init__.py", "route every model call through src/<package>/ai/ (the LLM gateway)")
    return passed("AI package present")


# ------------------------------------------------------------------ AI-03 pinned models


def _settings_pin_findings(project: Project) -> list[Finding]:
    config = source(project, "config.py") or ""
    path = location(project, "config.py")
    findings = []
    for field in ("llm_model", "llm_model_version"):
        default = settings_default(config, field)
        if default is None:
            findings.append(Finding(f"no {field} setting", "declare the pinned model id and version", path))
            continue
        value, line = default
        if value is NOT_LITERAL or value is None:
            continue
        if not isinstance(value, str) or not value or FLOATING.search(value):
            findings.append(
                Finding(
                    f"{field} defaults to {value!r}, a floating model reference",
                    "pin an exact model id and dated version (e.g. vendor-model-large / 2025-01-15)",
                    path,
                    line,
                )
            )
    tree = parse(config)
    if tree is None or function(tree, "_model_pinned") is None:
        findings.append(
            Finding(
                "the settings accept an unpinned model (no _model_pinned validator)",
                "refuse a model without a version, or with latest",
                path,
            )
        )
    return findings


def _code_pin_findings(project: Project) -> list[Finding]:
    findings = []
    pinning = _tree(project, "ai/pinning.py")
    floating = module_assignment(pinning, "_FLOATING") if pinning else None
    if floating is None or "latest" not in ast.unparse(floating):
        findings.append(
            Finding(
                "ModelPin does not refuse floating aliases such as latest",
                "keep _FLOATING (latest|current|stable|...) in ai/pinning.py and check it in ModelPin",
                path=location(project, "ai/pinning.py"),
            )
        )
    gateway = _tree(project, "ai/gateway.py")
    init = function(gateway, "__init__") if gateway else None
    if init is None or "isinstance(pin, ModelPin)" not in ast.unparse(init):
        findings.append(
            Finding(
                "the LLM gateway accepts a model that is not a ModelPin",
                "refuse anything but a ModelPin in LlmGateway.__init__",
                path=location(project, "ai/gateway.py"),
            )
        )
    return findings


def _deployed_pin_findings(project: Project) -> list[Finding]:
    """APP_LLM_MODEL[_VERSION] values set in deployment files (not tests or docs)."""
    findings = []
    for path in project.files:
        relative = project.relative(path)
        if relative.startswith(("tests/", "docs/", "src/")) or path.suffix in (".md", ".py", ".pyc"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if "APP_LLM_MODEL" not in text:
            continue
        for number, row in enumerate(text.splitlines(), 1):
            for match in _DEPLOYED_MODEL.finditer(row):
                value = match.group(1)
                if value and not value.startswith("$") and FLOATING.search(value):
                    findings.append(
                        Finding(
                            f"the deployment sets a floating model reference {value!r}",
                            "pin APP_LLM_MODEL and APP_LLM_MODEL_VERSION to an exact snapshot",
                            path=relative,
                            line=number,
                        )
                    )
    return findings


@register("ai.model_pinned", controls=("AI-03",), requires=REQUIRES)
def model_pinned(project: Project) -> Outcome:
    """The model is pinned by id AND version: never latest or another alias, in code, settings or deployment."""
    findings = [*_code_pin_findings(project), *_settings_pin_findings(project), *_deployed_pin_findings(project)]
    if findings:
        return failed(*findings)
    return passed("model pinned by id and version; floating aliases refused in code, settings and deployment files")


# ------------------------------------------------------------------ AI-02 / AUTH-12 tool allow-list


def _permissions(project: Project) -> dict[str, dict[str, Any]] | None:
    """`resource:action` -> its flags, from policy/roles.yaml."""
    text = project.read("policy/roles.yaml")
    if text is None:
        return None
    document = yaml.safe_load(text) or {}
    permissions = {}
    for resource, spec in (document.get("resources") or {}).items():
        for action, flags in ((spec or {}).get("actions") or {}).items():
            permissions[f"{resource}:{action}"] = flags or {}
    return permissions


def _tool_permissions(tree: ast.Module) -> list[tuple[str | None, int]]:
    """(permission, line) of every `Tool(...)` built in the module; None when it is not a literal."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Tool":
            argument = next((keyword.value for keyword in node.keywords if keyword.arg == "permission"), None)
            if argument is None and len(node.args) >= 3:
                argument = node.args[2]
            value = argument.value if isinstance(argument, ast.Constant) else None
            found.append((value if isinstance(value, str) else None, node.lineno))
    return found


def _registry_findings(project: Project) -> list[Finding]:
    tools = _tree(project, "ai/tools.py")
    path = location(project, "ai/tools.py")
    register_ = function(tools, "register") if tools else None
    invoke = function(tools, "invoke") if tools else None
    findings = []
    if register_ is None or not {"admin_action", "requires_step_up"} <= {
        node.attr for node in ast.walk(register_) if isinstance(node, ast.Attribute)
    }:
        findings.append(
            Finding(
                "the tool registry does not refuse admin and step-up permissions",
                "refuse tools whose permission is admin_action or requires_step_up at registration",
                path,
            )
        )
    if invoke is None or first_call(invoke, ("decide",)) is None:
        findings.append(
            Finding("tools run without asking the decision point about the calling user", "decide() first", path)
        )
    gateway = _tree(project, "ai/gateway.py")
    call = first_call(gateway, ("tools.invoke",)) if gateway else None
    if call is None or not (call.args and isinstance(call.args[0], ast.Name) and call.args[0].id == "principal"):
        findings.append(
            Finding(
                "model tool calls do not run through the allow-list as the calling principal",
                "self.tools.invoke(principal, call)",
                path=location(project, "ai/gateway.py"),
            )
        )
    return findings


def _assistant_findings(project: Project) -> list[Finding]:
    assistant = _tree(project, "ai/assistant.py")
    permissions = _permissions(project)
    if assistant is None or permissions is None:
        return []
    path = location(project, "ai/assistant.py")
    findings = []
    for permission, line in _tool_permissions(assistant):
        flags = permissions.get(permission or "")
        if flags is None:
            findings.append(Finding(f"a tool needs {permission!r}, not a permission of roles.yaml", "", path, line))
        elif flags.get("admin_action") or flags.get("requires_step_up"):
            findings.append(
                Finding(
                    f"a model tool needs the privileged permission {permission!r}",
                    "tools get the least permission that covers them; never admin or step-up actions",
                    path,
                    line,
                )
            )
    return findings


@register("ai.tool_allowlist", controls=("AI-02", "AUTH-12"), requires=REQUIRES)
def tool_allowlist(project: Project) -> Outcome:
    """The model calls only registered tools, as the calling user, and no tool holds a privileged permission."""
    findings = [*_registry_findings(project), *_assistant_findings(project)]
    if findings:
        return failed(*findings)
    return passed("tools are allow-listed, run as the caller, and none holds an admin or step-up permission")


# ------------------------------------------------------------------ AI-01 redaction, AI-06 canaries


def _messages(tree: ast.AST, role: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Message"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == role
    ]


def _structured_redaction_findings(project: Project, gateway: ast.Module) -> list[Finding]:
    """Tool results that are data lose credential-named keys before they are serialised."""
    as_text = function(gateway, "_as_text")
    serialise = first_call(as_text, ("json.dumps", "dumps")) if as_text else None
    structured = first_call(as_text, ("redact_structured",)) if as_text else None
    if serialise is None or (structured is not None and structured.lineno <= serialise.lineno):
        return []
    return [
        Finding(
            "tool results are serialised before their credential-named keys are withheld",
            "json.dumps(redact_structured(result, ...)) in LlmGateway._as_text",
            path=location(project, "ai/gateway.py"),
            line=serialise.lineno,
        )
    ]


@register("ai.prompt_redaction", controls=("AI-01",), requires=REQUIRES)
def prompt_redaction(project: Project) -> Outcome:
    """User text and tool results pass redact_prompt before they are sent to the model; data is redacted by key."""
    gateway = _tree(project, "ai/gateway.py")
    if gateway is None:
        return missing(project, "ai/gateway.py", "send every prompt through the gateway")
    findings = []
    for role in ("user", "tool"):
        messages = _messages(gateway, role)
        unredacted = [
            message
            for message in messages
            if not (
                len(message.args) > 1
                and isinstance(message.args[1], ast.Call)
                and getattr(message.args[1].func, "id", "") == "redact_prompt"
            )
        ]
        if not messages or unredacted:
            findings.append(
                Finding(
                    f"{role} messages reach the model without redact_prompt",
                    "wrap the content: Message(role, redact_prompt(text))",
                    path=location(project, "ai/gateway.py"),
                    line=unredacted[0].lineno if unredacted else None,
                )
            )
    findings.extend(_structured_redaction_findings(project, gateway))
    if findings:
        return failed(*findings)
    return passed("user text and tool results are redacted (data by key first) before they reach the model")


@register("ai.canary", controls=("AI-06",), requires=REQUIRES)
def canary(project: Project) -> Outcome:
    """Every system prompt carries a canary; replies are checked for it and a leak raises an alert."""
    gateway = _tree(project, "ai/gateway.py")
    if gateway is None:
        return missing(project, "ai/gateway.py", "plant a canary in the system prompt")
    path = location(project, "ai/gateway.py")
    findings = []
    if not any(first_call(message, ("instruction",)) for message in _messages(gateway, "system")):
        findings.append(Finding("the system prompt carries no canary", "add Canary.new().instruction()", path))
    exchange = function(gateway, "_exchange")
    if exchange is None or first_call(exchange, ("_check_for_leaks", "leaked_in")) is None:
        findings.append(
            Finding("model replies are not checked for the canary", "refuse a reply that contains it", path)
        )
    ask = function(gateway, "ask")
    if ask is None or first_call(ask, ("_on_alert",)) is None:
        findings.append(Finding("a refused exchange raises no alert", "call the alert sink on every refusal", path))
    if findings:
        return failed(*findings)
    return passed("a fresh canary in every system prompt; a leak is refused and alerted")


# ------------------------------------------------------------------ AI-02 prompt budget

#: Settings that bound what one call and one tenant may send to a model: (name, largest safe default, unit).
BUDGET_SETTINGS = (
    ("llm_max_prompt_chars", 500_000, "characters"),
    ("llm_max_tool_result_chars", 400_000, "characters"),
    ("llm_tenant_requests_per_window", 10_000_000, "model calls"),
    ("llm_tenant_tokens_per_window", 10_000_000_000, "tokens"),
    ("llm_tenant_cost_micros_per_window", 10_000_000_000_000, "micro-units"),
)
#: Keyword arguments build_assistant must pass to LlmGateway: the configured caps and the tenant budget.
GATEWAY_LIMITS = ("budget", "max_prompt_chars", "max_tool_result_chars")


def _guarded(function_node: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call) -> tuple[bool, bool]:
    """(capped, paid): before `call`, the function measures every message and refuses, and reserves the budget."""
    before = [(name, node) for name, node in calls(function_node) if node.lineno < call.lineno]
    measured = any(named(name, ("prompt_chars",)) for name, _ in before)
    refused = any(
        isinstance(node, ast.Raise)
        and node.exc is not None
        and named(dotted(node.exc.func if isinstance(node.exc, ast.Call) else node.exc), ("PromptTooLargeError",))
        and node.lineno < call.lineno
        for node in ast.walk(function_node)
    )
    paid = any(named(name, ("reserve",)) for name, _ in before)
    return measured and refused, paid


def _model_call_findings(project: Project) -> list[Finding]:
    """Every provider call of the ai package is preceded by the prompt cap and a budget reservation."""
    assert project.package_dir is not None  # ai.package passed
    findings = []
    model_calls = 0
    for path in sorted((project.package_dir / "ai").glob("*.py")):
        relative = f"ai/{path.name}"
        tree = _tree(project, relative)
        for node in ast.walk(tree or ast.Module(body=[], type_ignores=[])):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for name, call in calls(node):
                if not named(name, ("complete",)) or not name.count("."):
                    continue
                model_calls += 1
                capped, paid = _guarded(node, call)
                where = {"path": location(project, relative), "line": call.lineno}
                if not capped:
                    findings.append(
                        Finding(
                            f"{node.name} calls the model without capping the whole prompt first",
                            "measure every message (prompt_chars) and raise PromptTooLargeError above the cap, "
                            "before EACH call",
                            **where,
                        )
                    )
                if not paid:
                    findings.append(
                        Finding(
                            f"{node.name} calls the model without reserving the tenant's budget",
                            "self.budget.reserve(tenant, size) before the call, settle(...) after it",
                            **where,
                        )
                    )
    if model_calls == 0:
        findings.append(
            Finding("the gateway never calls the model provider", "", path=location(project, "ai/gateway.py"))
        )
    return findings


def _gateway_findings(project: Project) -> list[Finding]:
    """The gateway cannot be built without a budget, and it cuts every tool result."""
    gateway = _tree(project, "ai/gateway.py")
    path = location(project, "ai/gateway.py")
    init = method(gateway, "LlmGateway", "__init__") if gateway else None
    findings = []
    keywords = zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True) if init else ()
    required = {argument.arg for argument, default in keywords if default is None}
    if "budget" not in required:
        findings.append(
            Finding(
                "the LLM gateway can be built without a tenant budget",
                "make `budget: TenantBudget` a required keyword of LlmGateway.__init__",
                path,
                init.lineno if init else None,
            )
        )
    tool_messages = _messages(gateway, "tool") if gateway else []
    uncut = [
        message
        for message in tool_messages
        if not (len(message.args) > 1 and isinstance(message.args[1], ast.Call))
        or keyword(message.args[1], "max_chars") is None
    ]
    if not tool_messages or uncut:
        findings.append(
            Finding(
                "tool results reach the model without a size cap",
                "redact_prompt(text, max_chars=self.max_tool_result_chars)",
                path,
                uncut[0].lineno if uncut else None,
            )
        )
    return findings


def _wiring_findings(project: Project) -> list[Finding]:
    """build_assistant passes the configured caps and the tenant budget to the gateway."""
    assistant = _tree(project, "ai/assistant.py")
    build = function(assistant, "build_assistant") if assistant else None
    construction = first_call(build, ("LlmGateway",)) if build else None
    passed_ = {item.arg for item in construction.keywords} if construction else set()
    absent = [name for name in GATEWAY_LIMITS if name not in passed_]
    if not absent:
        return []
    return [
        Finding(
            f"build_assistant builds the gateway without {', '.join(absent)}",
            "pass budget=build_budget(services) and the llm_max_* settings to LlmGateway",
            path=location(project, "ai/assistant.py"),
            line=(construction or build).lineno if (construction or build) else None,
        )
    ]


@register("ai.prompt_budget", controls=("AI-02",), requires=REQUIRES)
def prompt_budget(project: Project) -> Outcome:
    """Every model call is capped in size and paid from its tenant's budget; the caps and budgets are configured."""
    config = source(project, "config.py") or ""
    settings = [
        bounded_default(project, config, name, ceiling, unit=unit, why=f"declare {name} (AI prompt budget)")
        for name, ceiling, unit in BUDGET_SETTINGS
    ]
    findings = [
        *_model_call_findings(project),
        *_gateway_findings(project),
        *_wiring_findings(project),
        *(finding for finding in settings if finding is not None),
    ]
    if findings:
        return failed(*findings)
    return passed("every model call is capped and reserved from the tenant's budget; caps and budgets are configured")


# ------------------------------------------------------------------ AI-04 tenant vectors with hard limits


@register("ai.vector_store_limits", controls=("AI-04",), requires=REQUIRES)
def vector_store_limits(project: Project) -> Outcome:
    """Similarity queries filter by tenant, are LIMIT-capped and run under a transaction-local statement timeout."""
    text = source(project, "ai/vector_store.py")
    if text is None:
        return missing(project, "ai/vector_store.py", "keep embeddings in a tenant-isolated store")
    tree = parse(text)
    path = location(project, "ai/vector_store.py")
    search = function(tree, "search") if tree else None
    if tree is None or search is None:
        return failed(Finding("the vector store has no search()", "", path))
    findings = []
    if not re.search(r"tenant_id\s*=\s*:tenant", text) or not re.search(r"\bLIMIT\s+:\w+", text):
        findings.append(Finding("the similarity query is not filtered by tenant and bounded by LIMIT", "", path))
    if first_call(search, ("min",)) is None:
        findings.append(
            Finding("the caller's limit reaches SQL unclamped", "min(limit, self.limit_cap)", path, search.lineno)
        )
    timeout = re.search(r"set_config\('statement_timeout',[^)]*,\s*true\)|SET\s+LOCAL\s+statement_timeout", text)
    if timeout is None or not _times_out(search):
        findings.append(
            Finding(
                "similarity queries run without a transaction-local statement_timeout",
                "SELECT set_config('statement_timeout', '2000ms', true) before the query",
                path,
                search.lineno,
            )
        )
    findings.extend(_configured_store_findings(project, tree))
    decision, decrypted = first_call(search, ("may_read",)), first_call(search, ("decrypt_text",))
    if decision is None or (decrypted is not None and decrypted.lineno < decision.lineno):
        findings.append(
            Finding(
                "matches are returned without a per-document access decision before they are decrypted",
                "ask may_read(Record(owner, sensitivity)) for every candidate, then decrypt the ones allowed",
                path,
                (decrypted or search).lineno,
            )
        )
    if project.answers.get("tenancy", "pooled") == "pooled":
        analysis = tenancy.analyse(project)
        problems = analysis.problems("embeddings") if analysis and "embeddings" in analysis.tenant_tables else []
        findings.extend(Finding(f"embeddings: {problem}", "", path) for problem in problems)
    if findings:
        return failed(*findings)
    return passed(
        "tenant-filtered similarity queries with the configured LIMIT cap and transaction-local statement timeout, "
        "decided per document"
    )


#: Settings the vector store must be built from (documented as APP_VECTOR_*).
VECTOR_SETTINGS = ("vector_query_limit", "vector_statement_timeout_ms")


def _configured_store_findings(project: Project, tree: ast.Module) -> list[Finding]:
    """The store the assistant uses is built from APP_VECTOR_QUERY_LIMIT and APP_VECTOR_STATEMENT_TIMEOUT_MS."""
    builder = method(tree, "VectorStore", "from_settings")
    read = {node.attr for node in ast.walk(builder) if isinstance(node, ast.Attribute)} if builder else set()
    unread = [name for name in VECTOR_SETTINGS if name not in read]
    findings = []
    if unread:
        findings.append(
            Finding(
                f"the vector store never reads {', '.join(unread)}",
                "VectorStore.from_settings(settings, keyring) passes them as limit_cap and statement_timeout_ms",
                location(project, "ai/vector_store.py"),
                builder.lineno if builder else None,
            )
        )
    assistant = _tree(project, "ai/assistant.py")
    if assistant is None or first_call(assistant, ("VectorStore.from_settings",)) is None:
        findings.append(
            Finding(
                "the assistant's vector store is not built from the settings",
                "build it with VectorStore.from_settings(services.settings, services.keyring)",
                location(project, "ai/assistant.py"),
            )
        )
    return findings


def _times_out(search: ast.AST) -> bool:
    """The timeout is set in search() before its first query."""
    timeout = first_call(search, ("apply_timeout",))
    query = first_call(search, ("connection.execute",))
    return timeout is not None and (query is None or timeout.lineno < query.lineno)


# ------------------------------------------------------------------ AI-05 red-team tests

#: What the gateway raises when it refuses an exchange (ai/errors.py).
REFUSALS = frozenset({"AiRefusedError", "ToolNotAllowedError", "ToolPermissionError", "CanaryLeakedError"})
#: Tool-call arguments by which an injected model would act as someone else.
IDENTITY_ARGUMENTS = frozenset(
    {"tenant", "tenant_id", "user", "user_id", "subject", "principal", "actor", "role", "roles", "account", "org"}
)
#: Words of a payment action an injection would ask for.
PAYMENT_WORDS = re.compile(r"credit|refund|payout|payment|checkout|charge|invoice|billing|coupon|discount", re.I)


@dataclass(frozen=True)
class RedTeamCase:
    """A test that plays an injection against the real gateway and expects it refused."""

    test: ProjectTest
    refusals: frozenset[str]


@dataclass(frozen=True)
class Surface:
    """What the red-team corpus must attack, and how to recognise a test that does."""

    label: str
    hint: str
    covered: Callable[[RedTeamCase, frozenset[str]], bool]


def _expected(with_: ast.With | ast.AsyncWith) -> set[str]:
    """The refusals `with pytest.raises(...)` expects of an `.ask(...)` in its body; empty otherwise."""
    if not any(first_call(statement, ("ask",)) for statement in with_.body):
        return set()
    expected = set()
    for item in with_.items:
        call = item.context_expr
        if isinstance(call, ast.Call) and named(dotted(call.func), ("raises",)) and call.args:
            kinds = call.args[0].elts if isinstance(call.args[0], ast.Tuple) else [call.args[0]]
            expected |= {dotted(kind).rsplit(".", 1)[-1] for kind in kinds} & REFUSALS
    return expected


def _drives_real_gateway(module: ast.Module, package: str) -> bool:
    """The module imports LlmGateway and ToolRegistry from the project's ai package and defines neither."""
    imported = {
        alias.name
        for node in module.body
        if isinstance(node, ast.ImportFrom) and node.module in (f"{package}.ai.gateway", f"{package}.ai.tools")
        for alias in node.names
    }
    defined = {node.name for node in module.body if isinstance(node, ast.ClassDef | ast.FunctionDef)}
    return {"LlmGateway", "ToolRegistry"} <= imported and not {"LlmGateway", "ToolRegistry"} & defined


def _red_team(project: Project) -> list[RedTeamCase]:
    assert project.package_dir is not None  # ai.package passed
    cases = []
    for test in project_tests(project):
        if not _drives_real_gateway(test.module, project.package_dir.name):
            continue
        refusals = set()
        for node in ast.walk(test.function):
            if isinstance(node, ast.With | ast.AsyncWith):
                refusals |= _expected(node)
        if refusals:
            cases.append(RedTeamCase(test, frozenset(refusals)))
    return cases


def _tool_calls(test: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.Call]:
    return [node for node in ast.walk(test) if isinstance(node, ast.Call) and named(dotted(node.func), ("ToolCall",))]


def _parametrized(test: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, list[Any]]:
    """`@pytest.mark.parametrize("name", [literals])`: name -> its values (single-name form only)."""
    values: dict[str, list[Any]] = {}
    for decorator in test.decorator_list:
        if isinstance(decorator, ast.Call) and named(dotted(decorator.func), ("parametrize",)):
            arguments = decorator.args
            if len(arguments) >= 2 and isinstance(arguments[0], ast.Constant) and isinstance(arguments[1], ast.List):
                values[str(arguments[0].value)] = [getattr(item, "value", None) for item in arguments[1].elts]
    return values


def _called_tools(test: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The tool names the scripted model calls: literals, or the values of a parametrized name."""
    parameters = _parametrized(test)
    names: set[str] = set()
    for call in _tool_calls(test):
        first = call.args[0] if call.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
        elif isinstance(first, ast.Name):
            names |= {value for value in parameters.get(first.id, []) if isinstance(value, str)}
    return names


def _smuggles_identity(case: RedTeamCase, _registered: frozenset[str]) -> bool:
    for call in _tool_calls(case.test.function):
        arguments = call.args[1] if len(call.args) > 1 else keyword(call, "arguments")
        if isinstance(arguments, ast.Dict) and any(
            isinstance(key, ast.Constant) and key.value in IDENTITY_ARGUMENTS for key in arguments.keys
        ):
            return True
    return False


SURFACES = (
    Surface(
        "auth: a model smuggling another tenant, user or role into a tool call",
        "script a ToolCall with a tenant/user/role argument and expect ToolNotAllowedError",
        _smuggles_identity,
    ),
    Surface(
        "RBAC: a tool the caller's role does not grant",
        "ask as a role without the tool's permission and expect ToolPermissionError",
        lambda case, _registered: "ToolPermissionError" in case.refusals,
    ),
    Surface(
        "payments: an injection asking for a credit, refund or payout",
        "script the model calling a payment action (e.g. approve_credit) and expect a refusal",
        lambda case, _registered: any(PAYMENT_WORDS.search(text) for text in string_literals(case.test.function)),
    ),
    Surface(
        "the tool allow-list: a tool that is not registered",
        "script a ToolCall of an unregistered tool and expect ToolNotAllowedError",
        lambda case, registered: (
            "ToolNotAllowedError" in case.refusals and bool(_called_tools(case.test.function) - registered)
        ),
    ),
    Surface(
        "the canary: a model reciting its system prompt",
        "script the model repeating messages[0] and expect CanaryLeakedError",
        lambda case, _registered: "CanaryLeakedError" in case.refusals,
    ),
)


def _registered_tools(project: Project) -> frozenset[str]:
    """The tool names ai/assistant.py registers (`Tool("name", ...)`)."""
    tree = _tree(project, "ai/assistant.py")
    names = set()
    for node in ast.walk(tree or ast.Module(body=[], type_ignores=[])):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Tool":
            name = node.args[0] if node.args else keyword(node, "name")
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                names.add(name.value)
    return frozenset(names)


@register("ai.red_team_tests", controls=("AI-05",), requires=REQUIRES)
def red_team_tests(project: Project) -> Outcome:
    """The project's tests play injections against auth, RBAC and payments through the real gateway, refused."""
    cases = _red_team(project)
    if not cases:
        return failed(
            Finding(
                "no red-team test drives the project's LlmGateway with an injection it must refuse",
                "drive the ai package's own LlmGateway and ToolRegistry: with pytest.raises(<refusal>): gateway.ask()",
                path="tests",
            )
        )
    registered = _registered_tools(project)
    findings = [
        Finding(f"no red-team test covers {surface.label}", surface.hint, path="tests")
        for surface in SURFACES
        if not any(surface.covered(case, registered) for case in cases)
    ]
    if findings:
        return failed(*findings)
    files = sorted({case.test.path for case in cases})
    return passed(
        f"{len(cases)} red-team tests refuse auth, RBAC, payment, allow-list and canary attacks", tests=", ".join(files)
    )
