"""FastAPI dependencies: translate core results into HTTP, nothing more.

`current_principal` is the single way a route learns who is calling. The
authentication layer (cookie session or bearer token) resolves the caller
before any route runs and leaves it on `request.state.principal`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ..security.principal import Principal


def current_principal(request: Request) -> Principal:
    """The authenticated caller, or a JSON 401."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise HTTPException(status_code=401, detail="authentication required")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
