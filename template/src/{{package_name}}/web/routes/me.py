"""`GET /api/me`: who the caller is, and the CSRF token a cookie session must echo."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from ...security.principal import Principal
from ..authz import require_login
from ..deps import CurrentSession

router = APIRouter(tags=["identity"])


@router.get("/api/me")
def me(principal: Annotated[Principal, require_login()], session: CurrentSession) -> dict[str, object]:
    """`csrf_token` is null for bearer-token clients: they are not subject to CSRF.

    `roles` are the effective roles: the token's plus those assigned in the app.
    """
    return {
        "sub": principal.subject,
        "email": principal.email,
        "tenant": principal.tenant,
        "roles": sorted(principal.roles),
        "mfa": principal.mfa,
        "csrf_token": session.csrf_token if session is not None else None,
    }
