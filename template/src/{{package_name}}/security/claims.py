"""From validated token claims to a `Principal`, following the IdP preset; the MFA rule.

Presets name claims in two styles: dotted paths into nested objects
(Keycloak's `realm_access.roles`) and flat names that contain dots themselves
(Auth0's namespaced `https://app.example.com/roles`, Cognito's
`cognito:groups`). A claim is looked up by its whole name first, then as a
dotted path, so both work with the same setting.

MFA is one rule for every preset (`mfa_evidence`): the token proves it with
`mfa` in `amr`, with two distinct *kinds* of factor in `amr` (RFC 8176
methods: something you know, have or are; `["otp"]`, `["hwk"]` or
`["pwd", "pwd"]` are one factor), or with an `acr` value the IdP documents as
"two factors" (the preset's `mfa_acr_values`). A second factor that was an SMS
or a phone call is MFA for unprivileged roles only: it never satisfies
`PRIVILEGED_ROLES`, even when the IdP adds `mfa` or a two-factor `acr` for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from .auth_errors import InvalidTokenError, MfaRequiredError
from .principal import KNOWN_ROLES, Principal

#: Roles that always need a second factor, whatever the configuration says.
PRIVILEGED_ROLES: frozenset[str] = frozenset({"admin", "finance", "auditor", "operator_finance"})
#: The only roles a deployment may exempt from MFA (`APP_MFA_OPTIONAL_ROLES`).
MFA_RELAXABLE_ROLES: frozenset[str] = KNOWN_ROLES - PRIVILEGED_ROLES

#: RFC 8176 `amr` values by the kind of factor they prove. Values that name no factor
#: (`user`: presence, `geo`, `rba`: risk signals, `mca`, `wia`) and unregistered ones count for nothing.
FACTOR_KINDS: Final[Mapping[str, str]] = {
    **dict.fromkeys(("pwd", "pin", "kba"), "knowledge"),
    **dict.fromkeys(("otp", "hwk", "swk", "sc", "pop", "sms", "tel"), "possession"),
    **dict.fromkeys(("fpt", "face", "iris", "retina", "vbm"), "inherence"),
}
#: Factors a SIM swap or a ported number defeats: never a second factor for privileged roles.
PHONE_METHODS: Final = frozenset({"sms", "tel"})
#: The `amr` value with which an IdP asserts MFA itself (RFC 8176 section 2).
MFA_METHOD: Final = "mfa"


@dataclass(frozen=True)
class MfaEvidence:
    """What a token says about the second factor.

    Attributes:
        proven: MFA by the rule in the module docstring.
        by_phone: ...but only thanks to SMS or a phone call, so it does not count for privileged roles.
    """

    proven: bool
    by_phone: bool = False

    def satisfies(self, roles: Iterable[str]) -> bool:
        """Enough for someone holding `roles`: phone-based MFA never is for a privileged role."""
        return self.proven and not (self.by_phone and not PRIVILEGED_ROLES.isdisjoint(roles))


def factor_kinds(methods: Iterable[str]) -> frozenset[str]:
    """The distinct kinds of factor (knowledge, possession, inherence) `amr` methods prove."""
    return frozenset(FACTOR_KINDS[method] for method in methods if method in FACTOR_KINDS)


def mfa_evidence(methods: Iterable[str], acr: str | None, documented_acr: frozenset[str]) -> MfaEvidence:
    """Judge `amr` methods and the `acr` value against the MFA rule (module docstring)."""
    used = frozenset(methods)
    claimed = MFA_METHOD in used or (acr is not None and acr in documented_acr) or len(factor_kinds(used)) >= 2
    if not claimed:
        return MfaEvidence(proven=False)
    # When the token names a phone factor, only two kinds of factor besides it make the MFA phone-free.
    by_phone = bool(used & PHONE_METHODS) and len(factor_kinds(used - PHONE_METHODS)) < 2
    return MfaEvidence(proven=True, by_phone=by_phone)


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
        mfa_claim: the claim holding authentication methods (`amr`, RFC 8176 values).
        mfa_acr_values: `acr` values the IdP documents as "two factors were used".
        tenant_required: multi-tenant deployments refuse tokens without a tenant.
        attribute_claims: ABAC attribute name -> claim holding it (`region` -> `region`).
            Only string values are taken; a missing or non-string claim leaves the
            attribute unset, and the policy's `same` conditions then refuse (fail closed).
    """

    roles_claim: str
    tenant_claim: str
    mfa_claim: str
    mfa_acr_values: frozenset[str] = frozenset()
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

    def mfa(self, claims: Mapping[str, object]) -> MfaEvidence:
        """The token's MFA evidence by the rule of this module."""
        acr = claims.get("acr")
        return mfa_evidence(
            _strings(claim_value(claims, self.mfa_claim)), acr if isinstance(acr, str) else None, self.mfa_acr_values
        )

    def attributes(self, claims: Mapping[str, object]) -> dict[str, str]:
        """The caller's ABAC attributes, as far as the token carries them."""
        found = {name: claim_value(claims, claim) for name, claim in self.attribute_claims.items()}
        return {name: value for name, value in found.items() if isinstance(value, str) and value}

    def principal(self, claims: Mapping[str, object], *, session_id: str | None = None) -> Principal:
        """Build the Principal; `sub` must be a non-empty string (checked by token validation)."""
        email = claims.get("email")
        roles, evidence = self.roles(claims), self.mfa(claims)
        return Principal(
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else "",
            tenant=self.tenant(claims),
            roles=roles,
            mfa=evidence.satisfies(roles),
            mfa_by_phone=evidence.by_phone,
            attributes=self.attributes(claims),
            session_id=session_id,
        )


def mfa_satisfied(principal: Principal, optional_for: frozenset[str] = frozenset()) -> bool:
    """The caller proved MFA, or has roles and every one of them is exempt from it.

    `optional_for` may only hold non-privileged roles (Settings enforces it,
    and this function ignores privileged ones regardless), so admin, finance
    and auditor always need a second factor.
    """
    if principal.mfa:
        return True
    exempt = optional_for & MFA_RELAXABLE_ROLES
    # A caller with no recognised role is not exempt: a misplaced roles claim must fail closed.
    return bool(exempt and principal.roles and principal.roles <= exempt)


def require_mfa(principal: Principal, optional_for: frozenset[str] = frozenset()) -> None:
    """Raise MfaRequiredError unless `mfa_satisfied`."""
    if not mfa_satisfied(principal, optional_for):
        raise MfaRequiredError(
            "this account must sign in with multi-factor authentication (not one factor, and not SMS for "
            "privileged roles); enrol a second factor and sign in again"
        )
