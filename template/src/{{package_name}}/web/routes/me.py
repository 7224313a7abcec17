"""`GET /api/me`: who the caller is, and the CSRF token a cookie session must echo."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import CurrentPrincipal, CurrentSession

router = APIRouter(tags=["identity"])


@router.get("/api/me")
def me(principal: CurrentPrincipal, session: CurrentSession) -> dict[str, object]:
    """`csrf_token` is null for bearer-token clients: they are not subject to CSRF."""
    return {
        "sub": principal.subject,
        "email": principal.email,
        "tenant": principal.tenant,
        "roles": sorted(principal.roles),
        "mfa": principal.mfa,
        "csrf_token": session.csrf_token if session is not None else None,
    }
