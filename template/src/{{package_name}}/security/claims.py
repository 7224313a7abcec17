"""From validated token claims to a `Principal`, following the IdP preset.

Presets name claims in two styles: dotted paths into nested objects
(Keycloak's `realm_access.roles`) and flat names that contain dots themselves
(Auth0's namespaced `https://app.example.com/roles`, Cognito's
`cognito:groups`). A claim is looked up by its whole name first, then as a
dotted path, so both work with the same setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .auth_errors import InvalidTokenError, MfaRequiredError
from .principal import KNOWN_ROLES, Principal

#: Roles that always need a second factor, whatever the configuration says.
PRIVILEGED_ROLES: frozenset[str] = frozenset({"admin", "finance", "auditor", "operator_finance"})
#: The only roles a deployment may exempt from MFA (`APP_MFA_OPTIONAL_ROLES`).
MFA_RELAXABLE_ROLES: frozenset[str] = KNOWN_ROLES - PRIVILEGED_ROLES

_MISSING = object()


def claim_value(claims: Mapping[str, object], name: str) -> object | None:
    """The claim `name`, read as a flat name first and as a dotted path second."""
    if name in claims:
        return claims[name]
    node: object = claims
    for part in name.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return None
    return node


def _strings(value: object) -> list[str]:
    """A list claim, tolerating a single string (some IdPs collapse one-element lists)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, Sequence):
        return [item for item in value if isinstance(item, str)]
    return []


@dataclass(frozen=True)
class ClaimsMapping:
    """Where this deployment's IdP puts roles, tenant and MFA evidence.

    Attributes:
        roles_claim: name or dotted path of the roles list.
        tenant_claim: name or dotted path of the tenant id.
        mfa_claim: the claim holding authentication methods (`amr`) or context (`acr`).
        mfa_values: any of these in `mfa_claim` proves a second factor.
        tenant_required: multi-tenant deployments refuse tokens without a tenant.
        attribute_claims: ABAC attribute name -> claim holding it (`region` -> `region`).
            Only string values are taken; a missing or non-string claim leaves the
            attribute unset, and the policy's `same` conditions then refuse (fail closed).
    """

    roles_claim: str
    tenant_claim: str
    mfa_claim: str
    mfa_values: frozenset[str]
    tenant_required: bool = False
    attribute_claims: Mapping[str, str] = field(default_factory=dict)

    def roles(self, claims: Mapping[str, object]) -> frozenset[str]:
        """The caller's roles, restricted to the roles the app knows."""
        return frozenset(_strings(claim_value(claims, self.roles_claim))) & KNOWN_ROLES

    def tenant(self, claims: Mapping[str, object]) -> str:
        value = claim_value(claims, self.tenant_claim)
        tenant = value if isinstance(value, str) else ""
        if self.tenant_required and not tenant:
            raise InvalidTokenError(
                f"the token carries no tenant in claim {self.tenant_claim!r}", code="tenant_missing"
            )
        return tenant

    def mfa(self, claims: Mapping[str, object]) -> bool:
        return bool(set(_strings(claim_value(claims, self.mfa_claim))) & self.mfa_values)

    def attributes(self, claims: Mapping[str, object]) -> dict[str, str]:
        """The caller's ABAC attributes, as far as the token carries them."""
        found = {name: claim_value(claims, claim) for name, claim in self.attribute_claims.items()}
        return {name: value for name, value in found.items() if isinstance(value, str) and value}

    def principal(self, claims: Mapping[str, object], *, session_id: str | None = None) -> Principal:
        """Build the Principal; `sub` must be a non-empty string (checked by token validation)."""
        email = claims.get("email")
        return Principal(
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else "",
            tenant=self.tenant(claims),
            roles=self.roles(claims),
            mfa=self.mfa(claims),
            attributes=self.attributes(claims),
            session_id=session_id,
        )


def require_mfa(principal: Principal, optional_for: frozenset[str] = frozenset()) -> None:
    """Refuse a caller without MFA unless it has roles and every one of them is exempt.

    `optional_for` may only hold non-privileged roles (Settings enforces it,
    and this function ignores privileged ones regardless), so admin, finance
    and auditor always need a second factor.
    """
    if principal.mfa:
        return
    exempt = optional_for & MFA_RELAXABLE_ROLES
    # A caller with no recognised role is not exempt: a misplaced roles claim must fail closed.
    if exempt and principal.roles and principal.roles <= exempt:
        return
    raise MfaRequiredError(
        "this account must sign in with multi-factor authentication; "
        "enrol a second factor at your identity provider and sign in again"
    )
