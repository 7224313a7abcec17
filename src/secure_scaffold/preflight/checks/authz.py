"""Authorization and audit controls: routes declare permissions, the matrix is tested, audit is wired (AUTHZ-*).

Routes are found statically: a function decorated `@<router>.<verb>("/path")`
in `web/`, with the router's `prefix` and router-level `dependencies`. A
route is declared when a `require("resource:action")` or `require_login()`
call appears in its decorator, its parameters or its router; DESIGN section 5
makes only health, login/callback/logout and provider webhooks public, and
each by its exact path: a new `/auth/...` route is not public by accident.

ABAC conditions (AUTHZ-05) are proven in `authz_abac` and the justification
of admin actions (AUTHZ-09) in `authz_justification`; both read the matrix
with the helpers at the end of this module.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .._model import Finding, Outcome, failed, passed, unknown
from .._project import Project
from .._registry import register
from ._source import dict_entries, location, missing, source
from .workflows import workflows

REQUIRES = ("layout.application_package",)
VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "api_route"})
DECLARATIONS = frozenset({"require", "require_login"})
#: Reachable without a session by design (DESIGN section 5).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/auth/login", "/auth/callback", "/auth/logout"})
PUBLIC_PREFIXES = ("/webhooks/",)
ROLES_FILE = "policy/roles.yaml"
LOCAL_ROLES_FILE = "policy/roles.local.yaml"
NEGATIVE_TESTS = ("tests/test_policy_negative_matrix.py", "tests/test_http_negative_matrix.py")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    file: str
    line: int
    declared: bool
    permissions: tuple[str, ...]


def _calls(node: ast.AST) -> list[ast.Call]:
    return [child for child in ast.walk(node) if isinstance(child, ast.Call)]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _declarations(nodes: list[ast.AST]) -> tuple[bool, list[str]]:
    """Whether any node holds a require/require_login call, and the literal permissions required."""
    found, permissions = False, []
    for node in nodes:
        for call in _calls(node):
            if _name(call) in DECLARATIONS:
                found = True
                if _name(call) == "require" and call.args and isinstance(call.args[0], ast.Constant):
                    permissions.append(str(call.args[0].value))
    return found, permissions


def _routers(tree: ast.Module) -> dict[str, tuple[str, bool, list[str]]]:
    """Module-level `name = APIRouter(prefix=..., dependencies=[...])`: prefix and router-level declarations."""
    routers = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _name(node.value) == "APIRouter":
            keywords = {keyword.arg: keyword.value for keyword in node.value.keywords}
            prefix = keywords.get("prefix")
            prefix_text = prefix.value if isinstance(prefix, ast.Constant) and isinstance(prefix.value, str) else ""
            dependencies = keywords.get("dependencies")
            declared, permissions = _declarations([dependencies] if dependencies is not None else [])
            for target in node.targets:
                if isinstance(target, ast.Name):
                    routers[target.id] = (prefix_text, declared, permissions)
    return routers


def routes_of(project: Project) -> list[Route]:
    """Every route the `web/` package defines, with what it declares."""
    return [route for route, _ in route_handlers(project)]


def route_handlers(project: Project) -> list[tuple[Route, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every route of `web/` with the function that handles it (checks that read the handler's body)."""
    assert project.package_dir is not None
    routes = []
    for path in sorted(project.python_files(project.package_dir / "web")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        routers = _routers(tree)
        for handler in ast.walk(tree):
            if not isinstance(handler, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in handler.decorator_list:
                route = _route(project, path, handler, decorator, routers)
                if route is not None:
                    routes.append((route, handler))
    return routes


def _route(project: Project, path: Path, function: Any, decorator: ast.expr, routers: dict[str, Any]) -> Route | None:
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
        return None
    owner, verb = decorator.func.value, decorator.func.attr
    if verb not in VERBS or not isinstance(owner, ast.Name) or not decorator.args:
        return None
    first = decorator.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    prefix, router_declared, router_permissions = routers.get(owner.id, ("", False, []))
    declared, permissions = _declarations([*decorator.keywords, function.args])
    return Route(
        method=verb.upper(),
        path=prefix + first.value,
        file=project.relative(path),
        line=function.lineno,
        declared=declared or router_declared,
        permissions=tuple(router_permissions + permissions),
    )


def matrix_permissions(project: Project) -> set[str] | None:
    """`resource:action` for every action of policy/roles.yaml; None when the file is missing or unreadable."""
    text = project.read(ROLES_FILE)
    if text is None:
        return None
    try:
        document = yaml.safe_load(text)
        return {
            f"{resource}:{action}" for resource, spec in document["resources"].items() for action in spec["actions"]
        }
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        return None


@register("authz.routes_declared", controls=("AUTHZ-04", "AUTHZ-03"), requires=REQUIRES)
def routes_declared(project: Project) -> Outcome:
    """Every non-public route declares a permission of the matrix (deny by default)."""
    permissions = matrix_permissions(project)
    if permissions is None:
        return failed(
            Finding(f"{ROLES_FILE} is missing or unreadable", "restore the role-permission matrix", ROLES_FILE)
        )
    routes = routes_of(project)
    if not routes:
        return unknown("no routes found under web/", "declare routes with @router.<verb>('/path') in web/routes/")
    findings = []
    for route in routes:
        if not route.declared and route.path not in PUBLIC_PATHS and not route.path.startswith(PUBLIC_PREFIXES):
            findings.append(
                Finding(
                    f"{route.method} {route.path} declares no permission",
                    'add `require("resource:action")` (or `require_login()`) to the route; routes deny by default',
                    path=route.file,
                    line=route.line,
                )
            )
        for permission in route.permissions:
            if permission not in permissions:
                findings.append(
                    Finding(
                        f"{route.method} {route.path} requires {permission!r}, which {ROLES_FILE} does not define",
                        "fix the spelling or add the action to the matrix",
                        path=route.file,
                        line=route.line,
                    )
                )
    if findings:
        return failed(*findings)
    protected = sum(1 for route in routes if route.declared)
    return passed(f"{protected} of {len(routes)} routes declare a permission; the rest are public by design")


@register("authz.negative_tests", controls=("AUTHZ-02", "AUTHZ-01"), requires=REQUIRES)
def negative_tests(project: Project) -> Outcome:
    """The matrix exists, keeps PII from the lowest role, and the negative tests are generated from it."""
    text = project.read(ROLES_FILE)
    if text is None:
        return failed(Finding(f"{ROLES_FILE} is missing", "restore the role-permission matrix", ROLES_FILE))
    try:
        document = yaml.safe_load(text)
        roles = document["roles"]
        lowest = min(roles, key=lambda role: roles[role]["rank"])
        pii = {
            f"{resource}:{action}"
            for resource, spec in document["resources"].items()
            for action, flags in spec["actions"].items()
            if (flags or {}).get("pii")
        }
        leaked = sorted(set(roles[lowest].get("grants") or {}) & pii)
    except (yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as error:
        return failed(
            Finding(f"{ROLES_FILE} is not a readable matrix ({error})", "fix the file's structure", ROLES_FILE)
        )
    findings = []
    if leaked:
        findings.append(
            Finding(
                f"the lowest role, {lowest}, is granted personal data: {', '.join(leaked)}",
                "a viewer must not read or export PII; grant it to a higher role",
                path=ROLES_FILE,
            )
        )
    for relative in NEGATIVE_TESTS:
        test = project.read(relative)
        if test is None:
            findings.append(Finding(f"{relative} is missing", "restore the negative tests of the matrix", relative))
        elif "MATRIX" not in test or "def test_" not in test:
            findings.append(
                Finding(
                    f"{relative} does not derive its cases from the matrix",
                    "parametrize the denied pairs from policy/roles.yaml (MATRIX), never a hand-written list",
                    relative,
                )
            )
    if findings:
        return failed(*findings)
    return passed(f"{len(roles)} roles; denied pairs tested from the matrix in {len(NEGATIVE_TESTS)} suites")


APPEND_ONLY = ("SELECT", "INSERT")


@register("authz.audit_wired", controls=("AUTHZ-08", "MON-01"), requires=REQUIRES)
def audit_wired(project: Project) -> Outcome:
    """Audit events are hash-chained, append-only for the app's role, and written by role changes."""
    findings = []
    audit = source(project, "security/audit.py")
    if audit is None:
        return missing(project, "security/audit.py", "restore the hash-chained audit log")
    if "prev_hash" not in audit or "def verify_chain" not in audit:
        findings.append(
            Finding(
                "the audit log is not hash-chained or has no verifier",
                "link every event to the previous one's hash and keep verify_chain",
                path=location(project, "security/audit.py"),
            )
        )
    privileges = source(project, "db/privileges.py")
    grants = dict_entries(privileges, "RUNTIME_GRANTS") if privileges else None
    if grants is None:
        findings.append(
            Finding(
                "db/privileges.py declares no RUNTIME_GRANTS dict",
                "declare the runtime role's grants as a dict display (table -> privileges)",
                path=location(project, "db/privileges.py"),
            )
        )
    else:
        for table in ("audit_events", "siem_outbox"):
            granted = tuple(grants.get(table, ()))
            if set(granted) - set(APPEND_ONLY):
                findings.append(
                    Finding(
                        f"the runtime role may {', '.join(sorted(set(granted) - set(APPEND_ONLY)))} {table}",
                        f"grant {table} SELECT and INSERT only: the audit trail is append-only",
                        path=location(project, "db/privileges.py"),
                    )
                )
    migrations = project.package_dir / "db" / "migrations" if project.package_dir else None
    trigger = any(
        "BEFORE UPDATE OR DELETE ON audit_events" in path.read_text(encoding="utf-8")
        for path in (project.python_files(migrations) if migrations else [])
    )
    if not trigger:
        findings.append(
            Finding(
                "no migration refuses UPDATE and DELETE on audit_events",
                "add a BEFORE UPDATE OR DELETE trigger that raises, so even the owner cannot edit silently",
                path=location(project, "db/migrations"),
            )
        )
    role_admin = source(project, "security/role_admin.py") or ""
    if ".audit.append(" not in role_admin:
        findings.append(
            Finding(
                "role changes are not written to the audit log",
                "append an AuditEntry in the same transaction as the role change",
                path=location(project, "security/role_admin.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("hash-chained, append-only audit log written by role changes")


NIGHTLY = ".github/workflows/nightly.yml"
APPROVED_GRANTS = "policy/approved-grants.json"


#: The generated nightly job starts this task definition as it is defined (no command override).
DRIFT_TASK = "infra/terraform/modules/runtime/drift.tf"
DRIFT_TASK_COMMAND = f'command     = ["drift", "--approved", "{APPROVED_GRANTS}"]'


def _runs_drift(project: Project, runs: str) -> bool:
    """The scripts run drift themselves, or start the fixed-command drift task definition."""
    if f"drift --approved {APPROVED_GRANTS}" in runs:
        return True
    task = project.read(DRIFT_TASK)
    starts_the_task = "ecs_release.py run-task" in runs and "DRIFT_FAMILY" in runs
    return starts_the_task and task is not None and DRIFT_TASK_COMMAND in task


@register("authz.drift_scheduled", controls=("AUTHZ-06", "AUTHZ-07"), requires=REQUIRES)
def drift_scheduled(project: Project) -> Outcome:
    """An approved grant snapshot exists and a scheduled workflow diffs production against it."""
    findings = []
    if project.read(APPROVED_GRANTS) is None:
        findings.append(
            Finding(
                f"{APPROVED_GRANTS} is missing",
                "snapshot the approved grants (`python -m <package> drift --write`) and commit them",
                APPROVED_GRANTS,
            )
        )
    loaded = workflows(project)
    if not loaded:
        return unknown(
            "no CI workflows: no scheduled drift run could be found",
            f"run `drift --approved {APPROVED_GRANTS}` on a schedule in your CI",
        )
    if not any(workflow.crons and _runs_drift(project, workflow.runs) for workflow in loaded):
        findings.append(
            Finding(
                "no scheduled workflow runs the drift report against the approved snapshot",
                f"keep the nightly job that runs `drift --approved {APPROVED_GRANTS}` on a cron schedule",
                NIGHTLY,
            )
        )
    if findings:
        return failed(*findings)
    return passed("nightly drift report against the approved grant snapshot")


# ------------------------------------------------------------------ shared with authz_abac, authz_justification


def as_mapping(value: Any) -> dict[str, Any]:
    """`value` if it is a mapping, else empty: a malformed matrix section reads as absent."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else empty."""
    return value if isinstance(value, list) else []


def roles_document(project: Project) -> dict[str, Any] | None:
    """policy/roles.yaml as a mapping; None when it is missing, not YAML or not a mapping."""
    text = project.read(ROLES_FILE)
    if text is None:
        return None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return document if isinstance(document, dict) else None


def unreadable_matrix() -> Outcome:
    """The outcome of a check that cannot read policy/roles.yaml."""
    return failed(Finding(f"{ROLES_FILE} is missing or unreadable", "restore the role-permission matrix", ROLES_FILE))


def action_flags(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`resource:action` -> its flags (pii, admin_action, requires_mfa, requires_step_up, ...)."""
    return {
        f"{resource}:{action}": as_mapping(flags)
        for resource, spec in as_mapping(document.get("resources")).items()
        for action, flags in as_mapping(as_mapping(spec).get("actions")).items()
    }


def flagged_actions(document: dict[str, Any], flag: str) -> list[str]:
    """`resource:action` of every action of the matrix carrying `flag: true` (pii, admin_action)."""
    return sorted(permission for permission, flags in action_flags(document).items() if flags.get(flag) is True)


def granted(project: Project, document: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """role -> permission -> condition names, with what roles.local.yaml adds (the loader merges both)."""
    roles = as_mapping(document.get("roles"))
    grants = {role: dict(as_mapping(as_mapping(spec).get("grants"))) for role, spec in roles.items()}
    local = project.read(LOCAL_ROLES_FILE)
    if local:
        try:
            added = as_mapping(as_mapping(yaml.safe_load(local)).get("grants"))
        except yaml.YAMLError:
            added = {}  # the loader refuses the file at start-up; nothing is granted from it
        for role, extra in added.items():
            grants.setdefault(role, {}).update(as_mapping(extra))
    return {
        role: {permission: as_list(names) for permission, names in permissions.items()}
        for role, permissions in grants.items()
    }
