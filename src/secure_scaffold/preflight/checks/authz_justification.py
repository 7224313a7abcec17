"""Justified admin actions (AUTHZ-09): an admin action needs a reason, and the audit trail keeps it.

Proves the matrix flags role changes (at least) `admin_action`; that the
audit log refuses a flagged action with an empty justification before writing
anything, hashes the justification into the chain and stores it in
audit_events; and that every route performing an admin action passes the
request's justification on. Without it, reviewers see what an administrator
did but never why.
"""

from __future__ import annotations

import ast

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from . import _migrations
from ._python import calls, function, method, named, parse
from ._source import constant, finding_at, location, missing, source
from .authz import (
    REQUIRES,
    ROLES_FILE,
    flagged_actions,
    roles_document,
    route_handlers,
    unreadable_matrix,
)

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
    findings = []
    require = function(tree, "require_justification")
    if require is None or not _refuses_empty(require):
        findings.append(
            finding_at(
                project,
                AUDIT_FILE,
                require,
                f"{AUDIT_FILE} accepts an admin action without a justification",
                "in require_justification, raise JustificationRequiredError (422) when the permission is an "
                "admin_action and the stripped justification is empty",
            )
        )
    append = method(tree, "AuditLog", "append")
    if append is None or not _checks_before_writing(append):
        findings.append(
            finding_at(
                project,
                AUDIT_FILE,
                append,
                "AuditLog.append writes events without checking the justification first",
                "call require_justification before the first connection.execute of append",
            )
        )
    document = method(tree, "AuditEvent", "document")
    if document is None or "justification" not in _dict_keys(document):
        findings.append(
            finding_at(
                project,
                AUDIT_FILE,
                document,
                "the audit event's hashed document leaves out the justification",
                "include `justification` in AuditEvent.document(): it is hashed into the chain and sent to the SIEM",
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
    document = roles_document(project)
    if document is None:
        return unreadable_matrix()
    text = source(project, AUDIT_FILE)
    tree = parse(text) if text is not None else None
    if tree is None:
        return missing(project, AUDIT_FILE, "restore the audit log that refuses admin actions without a justification")
    admin_actions = flagged_actions(document, "admin_action")
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
