"""Internal HTTP clients cannot be steered by a proxy or a redirect (DATA-11; the OPA client: AUTHZ-11).

A generated project talks to OPA, the IdP, the SIEM, Vault and the bot
challenge verifier. httpx and requests trust `HTTP_PROXY`/`ALL_PROXY` from the
environment by default, even for a loopback OPA, so whoever runs the proxy
can answer `{"result": true}`; a followed redirect hands a token to another
host. The project builds every such client in `security/internal_http.py`.
This check proves that module keeps the rule (`trust_env=False`, no
redirects, https-or-loopback URLs), that no other module builds an HTTP
client itself, and that the OPA URL is checked when the settings load.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._python import calls, dotted, function, keyword, named, parse
from ._source import location, missing, source
from .data import REQUIRES

RULE_FILE = "security/internal_http.py"
#: Calls that build an HTTP client (or send a request without one); only RULE_FILE may make them.
CLIENT_BUILDERS = (
    "httpx2.Client",
    "httpx2.AsyncClient",
    "httpx.Client",
    "httpx.AsyncClient",
    "requests.Session",
    "urlopen",
    *(f"{library}.{verb}" for library in ("httpx", "httpx2", "requests") for verb in ("get", "post", "request")),
)
HINT = f"build the client with {RULE_FILE} (internal_client / internal_client_options / internal_session)"


def _constant_keyword(node: ast.AST | None, name: str) -> object:
    """The literal `name` maps to in a dict display or a call, or None when it is absent or not literal."""
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == name and isinstance(value, ast.Constant):
                return value.value
    if isinstance(node, ast.Call):
        value = keyword(node, name)
        return value.value if isinstance(value, ast.Constant) else None
    return None


def _returned(builder: ast.AST | None) -> ast.AST | None:
    return next((node.value for node in ast.walk(builder) if isinstance(node, ast.Return)), None) if builder else None


def _rule_findings(project: Project, tree: ast.Module) -> list[Finding]:
    """The options ignore the environment and redirects; the session does too; URLs are checked."""
    where = location(project, RULE_FILE)
    options = _returned(function(tree, "internal_client_options"))
    session = function(tree, "internal_session")
    session_settings = {
        target.attr: statement.value.value
        for statement in ast.walk(session or ast.Module(body=[], type_ignores=[]))
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
        for target in statement.targets
        if isinstance(target, ast.Attribute)
    }
    problems = {
        "internal_client_options() does not set trust_env=False (proxy variables would steer the client)":
            _constant_keyword(options, "trust_env") is False,
        "internal_client_options() does not set follow_redirects=False":
            _constant_keyword(options, "follow_redirects") is False,
        "internal_session() does not set trust_env = False": session_settings.get("trust_env") is False,
        "internal_session() does not set max_redirects = 0": session_settings.get("max_redirects") == 0,
        "defines no require_internal_url() to refuse a plain-http, non-loopback URL":
            function(tree, "require_internal_url") is not None,
    }  # fmt: skip
    return [
        Finding(problem, "ignore proxy variables, follow no redirect, accept https or loopback http only", where)
        for problem, holds in problems.items()
        if not holds
    ]


def _client_findings(project: Project, path: Path, tree: ast.Module) -> list[Finding]:
    findings = []
    for name, call in calls(tree):
        problem = None
        if named(name, CLIENT_BUILDERS):
            problem = f"builds an HTTP client itself ({name})"
        elif named(name, ("OAuth2Client",)) and not any(
            item.arg is None and dotted(getattr(item.value, "func", item.value)).endswith("internal_client_options")
            for item in call.keywords
        ):
            problem = "builds an OAuth2Client without **internal_client_options(...)"
        elif named(name, ("hvac.Client",)):
            session = keyword(call, "session")
            redirects = keyword(call, "allow_redirects")
            uses_rule = isinstance(session, ast.Call) and dotted(session.func).endswith("internal_session")
            if not uses_rule or not (isinstance(redirects, ast.Constant) and redirects.value is False):
                problem = "builds an hvac.Client without session=internal_session() and allow_redirects=False"
        if problem:
            findings.append(Finding(f"an internal client {problem}", HINT, project.relative(path), call.lineno))
    return findings


def _opa_url_findings(project: Project) -> list[Finding]:
    """With OPA, Settings refuse an APP_OPA_URL that is neither https nor loopback when they load."""
    if project.answers.get("policy_engine") != "opa":
        return []
    config = parse(source(project, "config.py") or "") or ast.Module(body=[], type_ignores=[])
    checked = any(
        named(name, ("require_internal_url",)) and dotted(call.args[0]).endswith("opa_url")
        for name, call in calls(config)
        if call.args
    )
    if checked:
        return []
    return [
        Finding(
            "Settings accept any APP_OPA_URL (a plain-http OPA elsewhere than loopback could be answered by anyone)",
            'call require_internal_url(self.opa_url, setting="APP_OPA_URL") in a Settings validator',
            location(project, "config.py"),
        )
    ]


@register("data.internal_clients", controls=("DATA-11", "AUTHZ-11"), requires=REQUIRES)
def internal_clients(project: Project) -> Outcome:
    """Every internal HTTP client comes from one module that ignores proxies and redirects."""
    text = source(project, RULE_FILE)
    tree = parse(text) if text is not None else None
    if tree is None:
        return missing(project, RULE_FILE, "build internal HTTP clients in one module (trust_env=False, no redirects)")
    assert project.package_dir is not None
    rule_path = project.package_dir / RULE_FILE
    findings = [*_rule_findings(project, tree), *_opa_url_findings(project)]
    for path in sorted(project.python_files(project.package_dir)):
        module = parse(path.read_text(encoding="utf-8")) if path != rule_path else None
        if module is not None:
            findings.extend(_client_findings(project, path, module))
    if findings:
        return failed(*findings)
    return passed("internal HTTP clients ignore proxy variables and redirects, and need https or loopback URLs")
