"""Who is calling: the one identity object every decision in the core is made about.

Built by `security/` from a validated ID token (cookie sessions) or access
token (API clients); the web adapter only carries it from the request to the
core. Tenant and roles come from the token, never from the request body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: The vendor's own staff roles (`vendor_only: true` in policy/roles.yaml): granted only by the
#: vendor's IdP group to principals of the operator tenant (security/operators.py), never in the app.
OPERATOR_ROLES: frozenset[str] = frozenset({"operator_finance"})
KNOWN_ROLES: frozenset[str] = frozenset({"viewer", "member", "finance", "admin", "auditor"}) | OPERATOR_ROLES


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Attributes:
        subject: the IdP's stable `sub`.
        email: for display and audit only; never an authorization key.
        tenant: the tenant id from the IdP preset's tenant claim ("" for single tenancy).
        roles: the caller's roles, filtered to `KNOWN_ROLES`.
        mfa: a second factor was proven, strong enough for the roles the caller had then
            (the token, by `claims.mfa_evidence`, or a WebAuthn assertion in this session).
        attributes: ABAC attributes (department, region, ...) from the token.
        session_id: the server-side session, when authenticated by cookie.
        mfa_by_phone: that second factor was an SMS or a phone call: enough for unprivileged
            roles, never for privileged ones (a role assigned in the app later does not count).
    """

    subject: str
    email: str
    tenant: str
    roles: frozenset[str]
    mfa: bool
    attributes: Mapping[str, str] = field(default_factory=dict)
    session_id: str | None = None
    mfa_by_phone: bool = False

    def has_role(self, role: str) -> bool:
        return role in self.roles
