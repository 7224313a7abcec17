"""Data controls on the runtime path: server-side query limits and log redaction (DATA-09, DATA-06).

`data.query_limits` proves every runtime connection carries server-side
statement and idle-transaction timeouts, so one runaway query cannot hold the
database; `data.log_redaction` proves every log line passes the redaction
processor before it is rendered, so personal data and secrets never reach the
logs. The other DATA-* checks live in `data_classification` (DATA-01/02),
`data_keys` (DATA-03) and `data_tls` (DATA-05); they share `REQUIRES`.
"""

from __future__ import annotations

import ast

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._source import bounded_default, location, missing, source

REQUIRES = ("layout.application_package",)
#: Setting -> the most a deployment may allow by default (milliseconds).
LIMIT_SETTINGS = {"database_statement_timeout_ms": 60_000, "database_idle_in_transaction_timeout_ms": 300_000}
LIMIT_WHY = "bound every runtime statement server-side"


@register("data.query_limits", controls=("DATA-09",), requires=REQUIRES)
def query_limits(project: Project) -> Outcome:
    """Runtime connections carry server-side statement and idle-transaction timeouts with sane defaults."""
    config = source(project, "config.py")
    if config is None:
        return missing(project, "config.py", "declare the settings, including the database query limits")
    findings = [
        finding
        for name, ceiling in LIMIT_SETTINGS.items()
        if (finding := bounded_default(project, config, name, ceiling, unit="ms", why=LIMIT_WHY)) is not None
    ]
    bootstrap = source(project, "bootstrap.py") or ""
    engine = source(project, "db/engine.py") or ""
    if "limits=runtime_query_limits(settings)" not in bootstrap or "statement_timeout" not in engine:
        findings.append(
            Finding(
                "the runtime engine is built without the query limits",
                "pass limits=runtime_query_limits(settings) to build_engine in bootstrap.py",
                path=location(project, "bootstrap.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("runtime connections time out statements and idle transactions server-side")


def _redacting_names(tree: ast.AST) -> set[str]:
    """Names bound to `default_redactor()` (or any `*redactor()` factory) anywhere in the module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called.endswith("redactor"):
                names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


def _renderer_pipelines(tree: ast.AST) -> list[tuple[int, list[ast.expr]]]:
    """Every processors list that ends in a renderer: the elements before the renderer, with the line."""
    pipelines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.List):
            continue
        for index, element in enumerate(node.elts):
            func = element.func if isinstance(element, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr.endswith("Renderer"):
                pipelines.append((node.lineno, node.elts[:index]))
    return pipelines


@register("data.log_redaction", controls=("DATA-06",), requires=REQUIRES)
def log_redaction(project: Project) -> Outcome:
    """Every log renderer is preceded by the redaction processor, and the entry point configures logging."""
    text = source(project, "log.py")
    if text is None:
        return missing(project, "log.py", "configure structlog with the redaction processor before the renderer")
    tree = ast.parse(text)
    redactors = _redacting_names(tree)
    pipelines = _renderer_pipelines(tree)
    findings = [
        Finding(
            "a log renderer runs without the redaction processor before it",
            "put the redactor (security/redaction.py default_redactor()) before every renderer",
            path=location(project, "log.py"),
            line=line,
        )
        for line, before in pipelines
        if not any(isinstance(element, ast.Name) and element.id in redactors for element in before)
    ]
    if not pipelines:
        findings.append(
            Finding("log.py renders no log lines", "render JSON logs through structlog", location(project, "log.py"))
        )
    entry = source(project, "__main__.py") or ""
    if "configure_logging(" not in entry:
        findings.append(
            Finding(
                "the entry point never configures logging, so the redaction processor is not installed",
                "call configure_logging() in __main__.py before serving",
                path=location(project, "__main__.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed(f"{len(pipelines)} log pipelines redact before they render")
