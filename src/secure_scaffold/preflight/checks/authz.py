"""Authorization and audit controls: routes declare permissions, the matrix is tested, audit is wired (AUTHZ-*).

Routes are found statically: a function decorated `@<router>.<verb>("/path")`
in `web/`, with the router's `prefix` and router-level `dependencies`. A
route is declared when a `require("resource:action")` or `require_login()`
call appears in its decorator, its parameters or its router; DESIGN section 5
makes only health, login/callback/logout and provider webhooks public, and
each by its exact path: a new `/auth/...` route is not public by accident.
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
from . import _migrations
from ._python import calls, class_fields, function, named, names_used, parse
from ._source import NOT_LITERAL, constant, dict_entries, location, missing, source
from .workflows import workflows

REQUIRES = ("layout.application_package",)
VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "api_route"})
DECLARATIONS = frozenset({"require", "require_login"})
#: Reachable without a session by design (DESIGN section 5).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/auth/login", "/auth/callback", "/auth/logout"})
PUBLIC_PREFIXES = ("/webhooks/",)
ROLES_FILE = "policy/roles.yaml"
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
    if not any(workflow.crons and f"drift --approved {APPROVED_GRANTS}" in workflow.runs for workflow in loaded):
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


# ------------------------------------------------------------------ ABAC (AUTHZ-05)

#: What AUTHZ-05 names: the caller's department and region; the record's owner, department, region, sensitivity.
ABAC_ATTRIBUTES = {"principal": ("department", "region"), "record": ("owner", "department", "region", "sensitivity")}
LOCAL_ROLES_FILE = "policy/roles.local.yaml"
RECORD_FILE = "security/policy/decision.py"
COMPILED_FILE = "security/policy/compiled.py"
CLAIMS_SETTING = "oidc_attribute_claims"
CONDITION_HINT = "use `same: <attr>` (declared for principal and record), `owner: true` or `sensitivity_below: <level>`"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _roles_document(project: Project) -> dict[str, Any] | None:
    """policy/roles.yaml as a mapping; None when it is missing, not YAML or not a mapping."""
    text = project.read(ROLES_FILE)
    if text is None:
        return None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return document if isinstance(document, dict) else None


def _unreadable_matrix() -> Outcome:
    return failed(Finding(f"{ROLES_FILE} is missing or unreadable", "restore the role-permission matrix", ROLES_FILE))


def _flagged(document: dict[str, Any], flag: str) -> list[str]:
    """`resource:action` of every action of the matrix carrying `flag: true` (pii, admin_action)."""
    return sorted(
        f"{resource}:{action}"
        for resource, spec in _mapping(document.get("resources")).items()
        for action, flags in _mapping(_mapping(spec).get("actions")).items()
        if _mapping(flags).get(flag) is True
    )


def _grants(project: Project, document: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """role -> permission -> condition names, with what roles.local.yaml adds (the loader merges both)."""
    roles = _mapping(document.get("roles"))
    grants = {role: dict(_mapping(_mapping(spec).get("grants"))) for role, spec in roles.items()}
    local = project.read(LOCAL_ROLES_FILE)
    if local:
        try:
            added = _mapping(_mapping(yaml.safe_load(local)).get("grants"))
        except yaml.YAMLError:
            added = {}  # the loader refuses the file at start-up; nothing is granted from it
        for role, extra in added.items():
            grants.setdefault(role, {}).update(_mapping(extra))
    return {
        role: {permission: _list(names) for permission, names in granted.items()} for role, granted in grants.items()
    }


def _undeclared_attributes(document: dict[str, Any]) -> list[Finding]:
    """The four ABAC attributes must be declared, or no condition may read them."""
    declared = _mapping(document.get("attributes"))
    findings = [
        Finding(
            f"{ROLES_FILE} declares no {side} attribute {', '.join(absent)}",
            f"list {', '.join(names)} under attributes.{side}: the ABAC conditions decide on them",
            ROLES_FILE,
        )
        for side, names in ABAC_ATTRIBUTES.items()
        if (absent := [name for name in names if name not in _list(declared.get(side))])
    ]
    if not _list(_mapping(document.get("sensitivity")).get("levels")):
        findings.append(
            Finding(
                f"{ROLES_FILE} declares no sensitivity levels",
                "list the data classification under sensitivity.levels, least to most sensitive",
                ROLES_FILE,
            )
        )
    return findings


def _clause_problem(kind: str, value: Any, declared: dict[str, Any], levels: list[Any]) -> str | None:
    """What is wrong with one clause of a condition, in the loader's fixed vocabulary; None when it is sound."""
    principal, record = _list(declared.get("principal")), _list(declared.get("record"))
    if kind == "same":
        if value in principal and value in record:
            return None
        return f"compares {value!r}, which is not declared as both a principal and a record attribute"
    if kind == "owner":
        return None if value is True and "owner" in record else "checks the owner without `owner: true` on a record"
    if kind == "sensitivity_below":
        if "sensitivity" in record and value in levels[1:]:
            return None
        return f"compares sensitivity with {value!r}, which is not a declared level above the lowest"
    return f"uses the unknown clause {kind!r}"


def _condition_findings(document: dict[str, Any]) -> list[Finding]:
    """Every clause of every condition reads only declared attributes and levels."""
    declared = _mapping(document.get("attributes"))
    levels = _list(_mapping(document.get("sensitivity")).get("levels"))
    findings = []
    for name, spec in _mapping(document.get("conditions")).items():
        clauses = [*_list(_mapping(spec).get("all")), *_list(_mapping(spec).get("any"))]
        if not clauses:
            findings.append(Finding(f"condition {name!r} has no clauses", CONDITION_HINT, ROLES_FILE))
        for clause in clauses:
            for kind, value in _mapping(clause).items():
                problem = _clause_problem(str(kind), value, declared, levels)
                if problem:
                    findings.append(Finding(f"condition {name!r} {problem}", CONDITION_HINT, ROLES_FILE))
    return findings


def _grant_findings(document: dict[str, Any], grants: dict[str, dict[str, list[Any]]]) -> list[Finding]:
    conditions = _mapping(document.get("conditions"))
    return [
        Finding(
            f"role {role} is granted {permission} under the undefined condition {name!r}",
            "define the condition under `conditions:` or fix its name",
            ROLES_FILE,
        )
        for role, granted in sorted(grants.items())
        for permission, names in granted.items()
        for name in names
        if name not in conditions
    ]


def _pii_scope_findings(document: dict[str, Any], grants: dict[str, dict[str, list[Any]]]) -> list[Finding]:
    """A PII permission the matrix limits by conditions for some roles must not be open for another.

    The compiled decision point grants without conditions as soon as one of the
    caller's roles holds the permission unconditionally: that role reads every
    record of the tenant, whatever region, department, owner or sensitivity.
    """
    findings = []
    for permission in _flagged(document, "pii"):
        holders = {role: granted[permission] for role, granted in grants.items() if permission in granted}
        scoped = sorted(role for role, names in holders.items() if names)
        unconditional = sorted(role for role, names in holders.items() if not names)
        if scoped and unconditional:
            findings.append(
                Finding(
                    f"{permission} returns personal data and is limited by ABAC conditions for "
                    f"{', '.join(scoped)}, but granted unconditionally to {', '.join(unconditional)}",
                    "give that grant conditions too (e.g. [same_region]); unconditioned, the role reads every record",
                    ROLES_FILE,
                )
            )
    return findings


def _class(tree: ast.AST, name: str) -> ast.ClassDef | None:
    return next((node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name == name), None)


def _method(tree: ast.AST, owner: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    cls = _class(tree, owner)
    return function(cls, name) if cls is not None else None


def _record_findings(project: Project, document: dict[str, Any]) -> list[Finding]:
    """The record attributes exist on policy.Record, and the compiled decision point refuses on a failed condition."""
    tree = parse(source(project, RECORD_FILE) or "")
    record = _class(tree, "Record") if tree is not None else None
    if record is None:
        return [Finding(f"{RECORD_FILE} defines no Record", "keep the record attributes a decision reads", RECORD_FILE)]
    fields = class_fields(record)
    findings = [
        Finding(
            f"record attribute {name!r} is not a field of policy.Record, so no decision can read it",
            "add the field to Record and fill it where the routes build records",
            location(project, RECORD_FILE),
            record.lineno,
        )
        for name in _list(_mapping(document.get("attributes")).get("record"))
        if name not in fields
    ]
    decide = _method(
        parse(source(project, COMPILED_FILE) or "") or ast.Module(body=[], type_ignores=[]), "CompiledPolicy", "decide"
    )
    if decide is None or "CONDITION_FAILED" not in names_used(decide):
        findings.append(
            Finding(
                "the compiled decision point never refuses on a failed ABAC condition",
                "CompiledPolicy.decide must return CONDITION_FAILED when no alternative holds for the record",
                location(project, COMPILED_FILE),
                decide.lineno if decide is not None else None,
            )
        )
    return findings


def _settings_literal(config: str, field: str) -> tuple[Any, int] | None:
    """The literal default of a Settings field, with its line; None when the field is absent.

    Unlike `settings_default`, reads `Field(default_factory=lambda: {...})`: the
    attribute claims are a mapping, written that way. NOT_LITERAL when unreadable.
    """
    settings = _class(parse(config) or ast.Module(body=[], type_ignores=[]), "Settings")
    for statement in settings.body if settings is not None else []:
        target = statement.target if isinstance(statement, ast.AnnAssign) else None
        if isinstance(target, ast.Name) and target.id == field and statement.value is not None:
            return _literal_default(statement.value), statement.lineno
    return None


def _literal_default(value: ast.expr) -> Any:
    """`{...}`, `Field(default={...})` or `Field(default_factory=lambda: {...})`; NOT_LITERAL otherwise."""
    if isinstance(value, ast.Call):
        keywords = {keyword.arg: keyword.value for keyword in value.keywords}
        factory = keywords.get("default_factory")
        value = factory.body if isinstance(factory, ast.Lambda) else keywords.get("default", value)
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError):
        return NOT_LITERAL


def _claims_findings(project: Project, document: dict[str, Any]) -> list[Finding]:
    """The caller's attributes come from the token: configured claims, wired into the claims mapping."""
    findings = []
    config = source(project, "config.py") or ""
    default = _settings_literal(config, CLAIMS_SETTING)
    principal = _list(_mapping(document.get("attributes")).get("principal"))
    if default is None:
        findings.append(
            Finding(
                f"config.py has no {CLAIMS_SETTING} setting, so callers carry no ABAC attributes",
                "map each principal attribute of the matrix to its token claim (department=department,region=region)",
                location(project, "config.py"),
            )
        )
    elif isinstance(default[0], dict) and (absent := [name for name in principal if name not in default[0]]):
        findings.append(
            Finding(
                f"{CLAIMS_SETTING} reads no token claim for {', '.join(absent)}, so conditions on it never hold",
                "add attribute=claim pairs for every principal attribute of policy/roles.yaml",
                location(project, "config.py"),
                default[1],
            )
        )
    wiring = {
        "security/identity.py": "attribute_claims=",
        "security/claims.py": "attributes=self.attributes(",
    }
    for relative, needle in wiring.items():
        if needle not in (source(project, relative) or ""):
            findings.append(
                Finding(
                    f"{relative} does not pass the token's ABAC attributes on to the principal",
                    f"keep `{needle}...` so Principal.attributes carries the configured claims",
                    location(project, relative),
                )
            )
    return findings


@register("authz.abac_attributes", controls=("AUTHZ-05",), requires=REQUIRES)
def abac_attributes(project: Project) -> Outcome:
    """ABAC decides on department, region, sensitivity and owner: declared, read soundly, supplied and enforced."""
    document = _roles_document(project)
    if document is None:
        return _unreadable_matrix()
    grants = _grants(project, document)
    findings = [
        *_undeclared_attributes(document),
        *_condition_findings(document),
        *_grant_findings(document, grants),
        *_pii_scope_findings(document, grants),
        *_record_findings(project, document),
        *_claims_findings(project, document),
    ]
    if findings:
        return failed(*findings)
    conditions = _mapping(document.get("conditions"))
    return passed(
        f"{len(conditions)} ABAC conditions over department, region, sensitivity and owner; "
        "personal data is never scoped for one role and open for another"
    )


# ------------------------------------------------------------------ justification of admin actions (AUTHZ-09)

AUDIT_FILE = "security/audit.py"
ROLE_ADMIN_FILE = "security/role_admin.py"
#: Body fields a route may carry the justification in (`reason` of a credit request is its justification).
JUSTIFICATION_FIELDS = frozenset({"justification", "reason"})


def _flag_findings(project: Project, admin_actions: list[str]) -> list[Finding]:
    """Role changes, at least, are flagged admin actions: the flag is what makes the justification mandatory."""
    permission = constant(source(project, ROLE_ADMIN_FILE) or "", "PERMISSION")
    if isinstance(permission, str) and permission not in admin_actions:
        return [
            Finding(
                f"{permission} (role changes) is not flagged admin_action in {ROLES_FILE}",
                "flag it `admin_action: true`: an empty justification is then refused with 422",
                ROLES_FILE,
            )
        ]
    if not admin_actions:
        return [
            Finding(
                f"{ROLES_FILE} flags no action admin_action",
                "flag role changes, payout edits and credits `admin_action: true`",
                ROLES_FILE,
            )
        ]
    return []


def _refuses_empty(require: ast.AST) -> bool:
    """An `if` testing `admin_action` whose body raises: the empty justification is refused."""
    for node in ast.walk(require):
        if not isinstance(node, ast.If):
            continue
        flag = any(isinstance(part, ast.Attribute) and part.attr == "admin_action" for part in ast.walk(node.test))
        if flag and any(isinstance(child, ast.Raise) for statement in node.body for child in ast.walk(statement)):
            return True
    return False


def _checks_before_writing(append: ast.AST) -> bool:
    """`require_justification(...)` is called before the first `.execute(...)`: a refusal writes nothing."""
    for name, _ in calls(append):
        if named(name, ("require_justification",)):
            return True
        if name.endswith(".execute"):
            return False
    return False


def _dict_keys(node: ast.AST) -> set[str]:
    return {
        key.value
        for display in ast.walk(node)
        if isinstance(display, ast.Dict)
        for key in display.keys
        if isinstance(key, ast.Constant) and isinstance(key.value, str)
    }


def _audit_findings(project: Project, tree: ast.Module) -> list[Finding]:
    """The audit log refuses an admin action without a justification and records the one it gets."""
    where = location(project, AUDIT_FILE)
    findings = []
    require = function(tree, "require_justification")
    if require is None or not _refuses_empty(require):
        findings.append(
            Finding(
                f"{AUDIT_FILE} accepts an admin action without a justification",
                "in require_justification, raise JustificationRequiredError (422) when the permission is an "
                "admin_action and the stripped justification is empty",
                where,
                require.lineno if require is not None else None,
            )
        )
    append = _method(tree, "AuditLog", "append")
    if append is None or not _checks_before_writing(append):
        findings.append(
            Finding(
                "AuditLog.append writes events without checking the justification first",
                "call require_justification before the first connection.execute of append",
                where,
                append.lineno if append is not None else None,
            )
        )
    document = _method(tree, "AuditEvent", "document")
    if document is None or "justification" not in _dict_keys(document):
        findings.append(
            Finding(
                "the audit event's hashed document leaves out the justification",
                "include `justification` in AuditEvent.document(): it is hashed into the chain and sent to the SIEM",
                where,
                document.lineno if document is not None else None,
            )
        )
    return findings


def _stored_justification(project: Project) -> list[Finding]:
    table = _migrations.tables(_migrations.load(project) or []).get("audit_events")
    if table is not None and "justification" in table.columns:
        return []
    return [
        Finding(
            "no migration stores a justification with audit events",
            "give audit_events a NOT NULL justification column",
            path=table.path if table is not None else location(project, _migrations.VERSIONS_DIR),
            line=table.line if table is not None else None,
        )
    ]


def _reads_justification(handler: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """The handler's body reads a `justification`/`reason` (a body field or a parameter)."""
    for statement in handler.body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Attribute) and node.attr in JUSTIFICATION_FIELDS:
                return True
            if isinstance(node, ast.Name) and node.id in JUSTIFICATION_FIELDS and isinstance(node.ctx, ast.Load):
                return True
    return False


def _route_findings(project: Project, admin_actions: list[str]) -> list[Finding]:
    findings = []
    for route, handler in route_handlers(project):
        performed = sorted(set(route.permissions) & set(admin_actions))
        if performed and not _reads_justification(handler):
            findings.append(
                Finding(
                    f"{route.method} {route.path} performs the admin action {performed[0]} "
                    "without passing a justification on",
                    "read `justification` from the request body and hand it to the service that audits the action",
                    path=route.file,
                    line=route.line,
                )
            )
    return findings


@register("authz.admin_justification", controls=("AUTHZ-09",), requires=REQUIRES)
def admin_justification(project: Project) -> Outcome:
    """Admin actions need a justification: flagged in the matrix, passed on by routes, required and kept by audit."""
    document = _roles_document(project)
    if document is None:
        return _unreadable_matrix()
    text = source(project, AUDIT_FILE)
    tree = parse(text) if text is not None else None
    if tree is None:
        return missing(project, AUDIT_FILE, "restore the audit log that refuses admin actions without a justification")
    admin_actions = _flagged(document, "admin_action")
    findings = [
        *_flag_findings(project, admin_actions),
        *_audit_findings(project, tree),
        *_stored_justification(project),
        *_route_findings(project, admin_actions),
    ]
    if findings:
        return failed(*findings)
    return passed(
        f"{len(admin_actions)} admin actions need a justification; their routes pass it on and the audit log "
        "refuses an empty one and records it in the hash chain"
    )
