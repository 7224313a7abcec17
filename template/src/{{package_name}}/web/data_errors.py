"""HTTP answers for the data layer's errors: tenant problems are 403, missing records 404.

A record of another tenant raises the same `NotFoundError` as a record that
does not exist, so the answer never reveals that it exists elsewhere.
Key-management failures are not mapped: they are internal errors (a 500
with no detail), and their reason goes to the log, redacted.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..errors import NotFoundError, TenantError
from .errors import error_response


def install_data_error_handlers(app: FastAPI) -> None:
    async def tenant_refused(_: Request, exc: Exception) -> JSONResponse:
        return error_response(403, str(exc), code=getattr(exc, "code", "forbidden"))

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return error_response(404, str(exc) or "not found", code="not_found")

    app.add_exception_handler(TenantError, tenant_refused)
    app.add_exception_handler(NotFoundError, not_found)
