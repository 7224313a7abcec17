"""Your own routes. This file is yours: `copier update` never rewrites it (`_skip_if_exists`).

Every route declares what it needs, like the template's own routes do; a
route without a declaration fails `tests/test_route_declarations.py` and
preflight's AUTHZ-04 check. Permissions come from policy/roles.yaml:

    from typing import Annotated

    from ...security.principal import Principal
    from ..authz import require

    @router.get("/api/reports")
    def reports(principal: Annotated[Principal, require("projects:read")]) -> dict[str, list[str]]:
        return {"reports": []}
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["local"])
