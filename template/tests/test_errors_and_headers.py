"""Errors are JSON and never leak internals; every response carries the security headers."""

from __future__ import annotations

from dataclasses import replace

from fastapi import FastAPI
from fastapi.testclient import TestClient

from support import app_client, create_app

EXPECTED_HEADERS = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "strict-transport-security": "max-age=63072000; includeSubDomains; preload",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _add_failing_route(app: FastAPI) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("SELECT secret_column FROM internal_table -- password=hunter2")


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found"}


def test_wrong_method_is_a_json_405(client: TestClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_unexpected_error_is_a_json_500_without_internals(make_settings, migrated: str) -> None:
    with app_client(make_settings(), customize=_add_failing_route) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "detail": "An internal error occurred."}
    for leak in ("SELECT", "hunter2", "Traceback", "RuntimeError"):
        assert leak not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


def test_security_headers_on_success_and_error(client: TestClient) -> None:
    for path, status in (("/healthz", 200), ("/missing", 404)):
        response = client.get(path)
        assert response.status_code == status
        for name, value in EXPECTED_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        assert "server" not in response.headers
        assert len(response.headers["x-request-id"]) == 16


def test_interactive_docs_exist_outside_production_only(client: TestClient, services) -> None:
    assert client.get("/docs").status_code == 200
    production = services.settings.model_copy(update={"env": "production"})
    app = create_app(replace(services, settings=production))
    assert app.docs_url is None
    assert app.openapi_url is None
