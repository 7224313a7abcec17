"""FastAPI dependencies: translate core results into HTTP, nothing more.

`current_principal` is the single way a route learns who is calling. The
authentication layer (cookie session or bearer token) resolves the caller
before any route runs and leaves it on `request.state.principal`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ..security.auth_errors import AuthError
from ..security.principal import Principal
from ..security.sessions import Session


def current_principal(request: Request) -> Principal:
    """The authenticated caller, or a JSON 401."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        error = getattr(request.state, "auth_error", None)
        if isinstance(error, AuthError):
            raise error  # a rejected bearer token: 401 invalid_token, or 403 mfa_required
        raise HTTPException(status_code=401, detail="authentication required")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def current_session(request: Request) -> Session | None:
    """The caller's server-side session; None for bearer-token clients and anonymous callers.

    Modules that update a session (step-up, device binding) change the object
    and persist it with `request.app.state.identity.sessions.save(session)`.
    """
    session = getattr(request.state, "session", None)
    return session if isinstance(session, Session) else None


CurrentSession = Annotated[Session | None, Depends(current_session)]
