"""Runtime safety of the application code: database role, headers, error responses.

These read the generated modules statically (no import, no execution), so
they also work on a checkout whose dependencies are not installed.
"""

from __future__ import annotations

import ast
import re

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._source import missing, source

MIN_HSTS_SECONDS = 31_536_000  # one year, the HSTS preload list's minimum


@register("runtime.database_role_guard", controls=("DEPLOY-08",), requires=("layout.application_package",))
def database_role_guard(project: Project) -> Outcome:
    """`serve` refuses a superuser/owner/BYPASSRLS role, and runtime grants are declared per table."""
    main = source(project, "__main__.py")
    if main is None or "assert_runtime_role_is_safe" not in main:
        return failed(
            Finding(
                "serve does not check its database role before starting",
                "call db.runtime_role.assert_runtime_role_is_safe() on startup (refuse superuser, owner, BYPASSRLS)",
                path="src/<package>/__main__.py",
            )
        )
    privileges = source(project, "db/privileges.py")
    if privileges is None:
        return missing(project, "db/privileges.py", "declare RUNTIME_GRANTS: table -> the privileges the app needs")
    broad = [
        Finding(
            f"runtime role granted {word}",
            "grant only SELECT/INSERT/UPDATE/DELETE the table needs",
            path=project.relative(project.package_dir / "db/privileges.py"),
            line=number,
        )
        for number, line in enumerate(privileges.splitlines(), 1)
        for word in ("ALL", "TRUNCATE", "REFERENCES", "TRIGGER")
        if re.search(rf'"{word}"', line)
    ]
    if broad:
        return failed(*broad)
    return passed("serve checks its role; runtime grants are declared per table")


def _header_values(source: str) -> dict[str, str]:
    """The (name, value) pairs of SECURITY_HEADERS, read from the module's AST."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "SECURITY_HEADERS" for t in targets) and node.value:
                value = ast.literal_eval(node.value)
                return {str(name).lower(): str(text) for name, text in value}
    return {}


def _installs_middleware(source: str, name: str) -> bool:
    """Whether the module calls `<app>.add_middleware(<name>, ...)` (not merely imports it)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_middleware"
        and node.args
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == name
        for node in ast.walk(tree)
    )


@register("runtime.security_headers", controls=("AUTH-10", "DATA-04"), requires=("layout.application_package",))
def security_headers(project: Project) -> Outcome:
    """Every response carries CSP (no unsafe-inline, no framing), HSTS >= 1 year and nosniff."""
    text = source(project, "security/headers.py")
    if text is None:
        return missing(project, "security/headers.py", "declare SECURITY_HEADERS and add them in a middleware")
    headers = _header_values(text)
    location = project.relative(project.package_dir / "security/headers.py")  # type: ignore[operator]
    problems = []
    csp = headers.get("content-security-policy", "")
    if not csp:
        problems.append(Finding("no Content-Security-Policy", "set a restrictive CSP", path=location))
    elif "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append(Finding("CSP allows unsafe-inline/unsafe-eval", "use nonces or hashes instead", path=location))
    elif "frame-ancestors 'none'" not in csp and "frame-ancestors 'self'" not in csp:
        problems.append(Finding("CSP does not restrict framing", "add frame-ancestors 'none'", path=location))
    hsts = re.search(r"max-age=(\d+)", headers.get("strict-transport-security", ""))
    if not hsts or int(hsts.group(1)) < MIN_HSTS_SECONDS:
        problems.append(
            Finding("HSTS missing or shorter than a year", "max-age=63072000; includeSubDomains", path=location)
        )
    if headers.get("x-content-type-options") != "nosniff":
        problems.append(
            Finding("X-Content-Type-Options is not nosniff", "add x-content-type-options: nosniff", path=location)
        )
    if not _installs_middleware(source(project, "web/app.py") or "", "SecurityHeadersMiddleware"):
        problems.append(
            Finding(
                "the header middleware is not installed",
                "app.add_middleware(SecurityHeadersMiddleware)",
                path="src/<package>/web/app.py",
            )
        )
    if problems:
        return failed(*problems)
    return passed("CSP, HSTS and nosniff are set on every response by the app's middleware")


@register("runtime.json_errors", controls=("DATA-07",), requires=("layout.application_package",))
def json_errors(project: Project) -> Outcome:
    """Errors are JSON and an unexpected exception becomes a generic 500 without internals."""
    errors = source(project, "web/errors.py") or ""
    middleware = source(project, "web/middleware.py") or ""
    problems = []
    if "install_error_handlers" not in errors or "RequestValidationError" not in errors:
        problems.append(
            Finding(
                "HTTP and validation errors are not mapped to JSON",
                "install JSON exception handlers",
                path="src/<package>/web/errors.py",
            )
        )
    if "INTERNAL_ERROR_BODY" not in middleware or "except Exception" not in middleware:
        problems.append(
            Finding(
                "no last-resort handler turns exceptions into a generic JSON 500",
                "catch exceptions in the outermost middleware and answer without details",
                path="src/<package>/web/middleware.py",
            )
        )
    if problems:
        return failed(*problems)
    return passed("HTTP, validation and unexpected errors are answered as JSON without internals")
