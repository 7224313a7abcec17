"""Tenant and ABAC attributes come from sources only administrators write (AUTHZ-05).

The app trusts the `tenant`, `department` and `region` claims of its tokens:
row-level security, per-tenant keys and every `same_region` condition hang
on them. A user who can edit the IdP attribute behind a claim can move
themselves into another tenant or region. So the IdP registration in
`infra/terraform/modules/idp/main.tf` must make each of them admin-only, the
way that IdP can: Cognito without self sign-up and without those attributes
in the app client's `write_attributes`; Keycloak's user profile with
`edit = ["admin"]`; Okta profile attributes `READ_ONLY` for the user; Auth0
claims from `app_metadata` in a post-login Action, never `user_metadata`;
Entra's directory-assigned `tid` and admin-assigned app roles, personal
accounts excluded. Google's `hd` is the Workspace domain, which no user sets.
A project on `generic_oidc` registers no IdP in Terraform: the check is
skipped and docs/identity.md lists what the provider must enforce.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .._model import Finding, Outcome, failed, passed, skipped, unknown
from .._project import Project
from .._registry import register
from . import _hcl

IDP_MODULE = "infra/terraform/modules/idp/main.tf"
#: The claims the app takes tenancy and ABAC decisions on (docs/identity.md, "Where attributes come from").
ATTRIBUTES = ("tenant", "department", "region")
COGNITO_ATTRIBUTES = tuple(f"custom:{name}" for name in ATTRIBUTES)
#: Entra sign-in audiences that let personal Microsoft accounts in: they all share one `tid`.
PERSONAL_ACCOUNTS = "PersonalMicrosoftAccount"


def _resources(body: _hcl.Block, kind: str) -> Iterator[_hcl.Block]:
    for block in body.blocks:
        if block.type == "resource" and block.labels and block.labels[0] == kind:
            yield block


def _child(block: _hcl.Block, kind: str) -> _hcl.Block | None:
    return next((child for child in block.blocks if child.type == kind), None)


def _names(value: Any) -> list[str]:
    """The literal strings of `["a", "b"]`, `toset([...])` or `"a"`; nothing for an expression."""
    if isinstance(value, _hcl.Call) and value.name == "toset" and value.args:
        value = value.args[0]
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _finding(message: str, hint: str, block: _hcl.Block | None = None) -> Finding:
    return Finding(message, hint, path=IDP_MODULE, line=block.line if block is not None else None)


# ------------------------------------------------------------------ per IdP


def _cognito(body: _hcl.Block) -> list[Finding]:
    findings = []
    for pool in _resources(body, "aws_cognito_user_pool"):
        config = _child(pool, "admin_create_user_config")
        if config is None or config.attributes.get("allow_admin_create_user_only") is not True:
            findings.append(
                _finding(
                    "Cognito self sign-up is on: anyone can create an account and choose custom:tenant",
                    "set admin_create_user_config { allow_admin_create_user_only = true } on the user pool",
                    pool,
                )
            )
    clients = list(_resources(body, "aws_cognito_user_pool_client"))
    for client in clients:
        if "write_attributes" not in client.attributes:
            findings.append(
                _finding(
                    "the Cognito app client sets no write_attributes, so users may write every attribute, "
                    "custom:tenant included",
                    "list the attributes users may change (e.g. email, name) in write_attributes",
                    client,
                )
            )
            continue
        writable = [name for name in COGNITO_ATTRIBUTES if name in _names(client.attributes["write_attributes"])]
        if writable:
            findings.append(
                _finding(
                    f"the Cognito app client lets users write {', '.join(writable)}",
                    "remove them from write_attributes: only administrators (AdminUpdateUserAttributes) set them",
                    client,
                )
            )
    if not clients:
        findings.append(_finding("no Cognito app client is registered", "declare aws_cognito_user_pool_client"))
    return findings


def _keycloak_edits(profile: _hcl.Block) -> dict[str, list[str]]:
    """attribute name -> who may edit it, from static and `dynamic "attribute"` blocks."""
    edits: dict[str, list[str]] = {}
    for child in profile.blocks:
        if child.type == "attribute":
            names, content = _names(child.attributes.get("name")), child
        elif child.type == "dynamic" and child.labels == ("attribute",):
            names, content = _names(child.attributes.get("for_each")), _child(child, "content")
        else:
            continue
        permissions = _child(content, "permissions") if content is not None else None
        for name in names:
            edits[name] = _names(permissions.attributes.get("edit")) if permissions is not None else ["user"]
    return edits


def _keycloak(body: _hcl.Block) -> list[Finding]:
    profiles = list(_resources(body, "keycloak_realm_user_profile"))
    if not profiles:
        return [
            _finding(
                "no keycloak_realm_user_profile declares who may edit tenant, department and region",
                'declare the realm user profile with permissions { edit = ["admin"] } on those attributes',
            )
        ]
    edits = _keycloak_edits(profiles[0])
    findings = []
    for name in ATTRIBUTES:
        if name not in edits:
            findings.append(
                _finding(
                    f"the Keycloak user profile does not declare {name}",
                    'declare it with permissions { view = ["admin", "user"], edit = ["admin"] }',
                    profiles[0],
                )
            )
        elif set(edits[name]) - {"admin"}:
            findings.append(
                _finding(
                    f"Keycloak users may edit their own {name}",
                    'set permissions { edit = ["admin"] } on it in keycloak_realm_user_profile',
                    profiles[0],
                )
            )
    return findings


def _okta(body: _hcl.Block) -> list[Finding]:
    permissions: dict[str, tuple[Any, _hcl.Block]] = {}
    for kind in ("okta_user_schema_property", "okta_user_base_schema_property"):
        for block in _resources(body, kind):
            for name in _names(block.attributes.get("for_each")) or _names(block.attributes.get("index")):
                permissions[name] = (block.attributes.get("permissions"), block)
    findings = []
    for name in ATTRIBUTES:
        if name not in permissions:
            findings.append(
                _finding(
                    f"no Okta profile attribute {name} is declared read-only for users",
                    "declare it (okta_user_schema_property, or okta_user_base_schema_property for department) "
                    'with permissions = "READ_ONLY"',
                )
            )
        elif permissions[name][0] != "READ_ONLY":
            findings.append(
                _finding(
                    f"Okta users may edit their own {name}",
                    'set permissions = "READ_ONLY" on the profile attribute',
                    permissions[name][1],
                )
            )
    return findings


def _auth0(body: _hcl.Block) -> list[Finding]:
    actions = list(_resources(body, "auth0_action"))
    findings = [
        _finding(
            "the Auth0 Action reads user_metadata, which users edit themselves",
            "take tenant, department and region from event.user.app_metadata only",
            action,
        )
        for action in actions
        if "user_metadata" in str(action.attributes.get("code", ""))
    ]
    sets_claims = any("app_metadata" in str(action.attributes.get("code", "")) for action in actions)
    triggered = any(
        block.attributes.get("trigger") == "post-login" for block in _resources(body, "auth0_trigger_actions")
    )
    if not (sets_claims and triggered):
        findings.append(
            _finding(
                "no Auth0 post-login Action takes the tenant from app_metadata",
                "declare an auth0_action that sets the namespaced claims from app_metadata, "
                'bound with auth0_trigger_actions { trigger = "post-login" }',
            )
        )
    return findings


def _entra(body: _hcl.Block) -> list[Finding]:
    findings = []
    for application in _resources(body, "azuread_application"):
        if PERSONAL_ACCOUNTS in str(application.attributes.get("sign_in_audience", "")):
            findings.append(
                _finding(
                    "personal Microsoft accounts can sign in, and they all share one tid (the tenant)",
                    'set sign_in_audience = "AzureADMyOrg" (or AzureADMultipleOrgs for one tenant per directory)',
                    application,
                )
            )
    principals = list(_resources(body, "azuread_service_principal"))
    if not any(block.attributes.get("app_role_assignment_required") is True for block in principals):
        findings.append(
            _finding(
                "any user of the directory can sign in: no admin-assigned app role is required",
                "set app_role_assignment_required = true on the app's azuread_service_principal",
                principals[0] if principals else None,
            )
        )
    return findings


IDP_RULES: dict[str, Callable[[_hcl.Block], list[Finding]]] = {
    "cognito": _cognito,
    "keycloak": _keycloak,
    "okta": _okta,
    "auth0": _auth0,
    "entra": _entra,
}


@register("identity.attribute_sources", controls=("AUTHZ-05",))
def attribute_sources(project: Project) -> Outcome:
    """The IdP registration makes tenant, department and region writable by administrators only."""
    idp = project.answers.get("idp")
    if idp == "google":
        return passed("tenant from Google's hd claim (the Workspace domain), which no user sets")
    if idp == "generic_oidc":
        return skipped("no IdP is registered in this repository (generic_oidc): docs/identity.md lists what to enforce")
    if idp not in IDP_RULES:
        return unknown(
            "the project records no known IdP preset, so the IdP registration cannot be judged",
            "generate the project with secure-scaffold, or review that tenant and ABAC attributes are admin-only",
        )
    text = project.read(IDP_MODULE)
    if text is None:
        return failed(
            _finding(
                f"{IDP_MODULE} is missing: nothing enforces who may set tenant, department and region",
                "restore the IdP module generated for this preset",
            )
        )
    try:
        body = _hcl.parse(text)
    except _hcl.HclError as error:
        return unknown(f"{IDP_MODULE} could not be parsed ({error})", "fix the HCL syntax; terraform fmt shows where")
    findings = IDP_RULES[idp](body)
    if findings:
        return failed(*findings)
    return passed(f"{idp}: tenant, department and region are set by administrators only")
