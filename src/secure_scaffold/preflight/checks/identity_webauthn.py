"""WebAuthn step-up (AUTH-06): admin and finance need a fresh, user-verified WebAuthn assertion.

Proves every permission of admin or finance that changes roles or moves money
is flagged `requires_step_up`; that both WebAuthn ceremonies demand user
verification (a stolen key alone is not enough); that a session is marked
stepped-up only after a verified assertion; and that challenges are
single-use. A phished password or a SIM-swapped OTP cannot stand in for it.
"""

from __future__ import annotations

import ast
from typing import Any

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._python import calls, dotted, first_call, keyword, named, parse
from ._source import location, missing, missing_call, source
from .authz import ROLES_FILE, action_flags, granted, roles_document
from .identity import REQUIRES, STEP_UP

WEBAUTHN = "security/webauthn.py"
#: The roles the control names, plus the vendor's finance operators, who approve money leaving the vendor.
WEBAUTHN_ROLES = ("admin", "finance", "operator_finance")
#: Permissions that change who may do what or move money: they need step-up whatever their flags say.
HIGH_RISK_PERMISSIONS = frozenset({"users:assign_roles", "credits:approve", "payouts:edit"})
#: WebAuthn library calls -> the argument that must demand user verification (PIN or biometric).
USER_VERIFICATION = {
    "verify_registration_response": "require_user_verification",
    "verify_authentication_response": "require_user_verification",
    "AuthenticatorSelectionCriteria": "user_verification",
    "generate_authentication_options": "user_verification",
}
REQUIRED_VALUE = {"require_user_verification": "True", "user_verification": "UserVerificationRequirement.REQUIRED"}


@register("identity.webauthn_step_up", controls=("AUTH-06",), requires=REQUIRES)
def webauthn_step_up(project: Project) -> Outcome:
    """Admin and finance actions that change roles or move money need a fresh WebAuthn step-up.

    The matrix flags them `requires_step_up`, and the step-up is a real,
    user-verified, single-use WebAuthn assertion: a SIM-swapped OTP cannot
    stand in for it.
    """
    text = source(project, WEBAUTHN)
    if text is None:
        return missing(project, WEBAUTHN, "verify WebAuthn assertions for the step-up of admin and finance")
    findings = [*_step_up_grants(project), *_user_verification(project, text), *_assertion_before_step_up(project)]
    single_use = missing_call(
        project,
        "security/webauthn_store.py",
        "ChallengeStore.consume",
        ("getdel",),
        "WebAuthn challenges are not single-use: ChallengeStore.consume does not GETDEL them",
        "take the pending challenge with one atomic GETDEL so a replayed assertion finds none",
    )
    findings += [single_use] if single_use else []
    if findings:
        return failed(*findings)
    return passed("role changes and money movements of admin and finance need a user-verified WebAuthn step-up")


def _maker_step(permission: str, flags: dict[str, dict[str, Any]]) -> bool:
    """`x:request` of a maker-checker pair moves nothing until `x:approve`, which must step up instead."""
    resource, _, action = permission.partition(":")
    return action == "request" and flags.get(f"{resource}:approve", {}).get("requires_step_up") is True


def _yaml_line(text: str, resource: str, action: str) -> int | None:
    """The line declaring `action` under `resource:` in roles.yaml (for the finding's location)."""
    lines = text.splitlines()
    start = next((index for index, line in enumerate(lines) if line.strip() == f"{resource}:"), None)
    if start is None:
        return None
    return next(
        (index + 1 for index in range(start + 1, len(lines)) if lines[index].strip().startswith(f"{action}:")), None
    )


def _step_up_grants(project: Project) -> list[Finding]:
    document = roles_document(project)
    if document is None or not isinstance(document.get("resources"), dict):
        return [Finding(f"{ROLES_FILE} is missing or unreadable", "restore the role-permission matrix", ROLES_FILE)]
    flags = action_flags(document)
    grants = {role: set(permissions) for role, permissions in granted(project, document).items()}
    text = project.read(ROLES_FILE) or ""
    findings = []
    for permission in sorted(set().union(*(grants.get(role, set()) for role in WEBAUTHN_ROLES))):
        spec = flags.get(permission, {})
        risky = permission in HIGH_RISK_PERMISSIONS or spec.get("admin_action") is True
        if not risky or spec.get("requires_step_up") is True or _maker_step(permission, flags):
            continue
        holders = " and ".join(role for role in WEBAUTHN_ROLES if permission in grants.get(role, set()))
        findings.append(
            Finding(
                f"{permission}, granted to {holders}, needs no WebAuthn step-up",
                "flag it requires_step_up: true in policy/roles.yaml (role changes and money movements)",
                path=ROLES_FILE,
                line=_yaml_line(text, *permission.split(":", 1)),
            )
        )
    return findings


def _demands_verification(value: ast.expr | None) -> bool:
    if isinstance(value, ast.Constant):
        return value.value is True or value.value == "required"
    return value is not None and dotted(value).endswith(".REQUIRED")


def _user_verification(project: Project, text: str) -> list[Finding]:
    """Both ceremonies ask for and verify user verification, so a stolen key alone is not enough."""
    tree = parse(text)
    found = list(calls(tree)) if tree is not None else []
    findings = []
    for callee, argument in USER_VERIFICATION.items():
        made = [call for name, call in found if named(name, (callee,))]
        bad = [call for call in made if not _demands_verification(keyword(call, argument))]
        if not made or bad:
            findings.append(
                Finding(
                    f"{callee} does not require user verification",
                    f"pass {argument}={REQUIRED_VALUE[argument]}",
                    path=location(project, WEBAUTHN),
                    line=bad[0].lineno if bad else None,
                )
            )
    return findings


def _assertion_before_step_up(project: Project) -> list[Finding]:
    """`step_up_at` is set only after a verified assertion, in a route that has one."""
    tree = parse(source(project, STEP_UP) or "")
    nodes = ast.walk(tree) if tree is not None else ()
    routes = [node for node in nodes if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    verified_routes = 0
    for route in routes:
        stamps = [
            node.lineno
            for node in ast.walk(route)
            if isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Attribute) and target.attr == "step_up_at" for target in node.targets)
        ]
        verify = first_call(route, ("verify_authentication",))
        if stamps and (verify is None or min(stamps) < verify.lineno):
            return [_unverified_step_up(project, min(stamps))]
        verified_routes += bool(stamps)
    return [] if verified_routes else [_unverified_step_up(project, None)]


def _unverified_step_up(project: Project, line: int | None) -> Finding:
    return Finding(
        "no step-up route verifies a WebAuthn assertion before marking the session stepped-up",
        "set session.step_up_at only from the result of ceremonies.verify_authentication",
        path=location(project, STEP_UP),
        line=line,
    )
