"""`/healthz` (the process is alive) and `/readyz` (its dependencies answer)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ...readiness import check_readiness, database_probe, redis_probe, secrets_probe

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    services = request.app.state.services
    readiness = check_readiness(
        {
            "database": database_probe(services.engine),
            "redis": redis_probe(services.redis),
            "secrets": secrets_probe(services.secrets),
        }
    )
    status = "ready" if readiness.ready else "unavailable"
    return JSONResponse(
        {"status": status, "checks": dict(readiness.checks)},
        status_code=200 if readiness.ready else 503,
    )
