"""/healthz and /readyz against the real PostgreSQL and Redis."""

from __future__ import annotations

from fastapi.testclient import TestClient

from support import app_client


def test_healthz_is_ok_without_auth(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_every_dependency(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "ok", "secrets": "ok"},
    }


def test_readyz_is_503_when_redis_is_down_and_hides_the_error(make_settings, migrated: str) -> None:
    with app_client(make_settings(redis_url="redis://127.0.0.1:1/0")) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["redis"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert "127.0.0.1:1" not in response.text
    assert "Error" not in response.text


def test_readyz_is_503_when_the_database_is_unreachable(make_settings, test_database) -> None:
    unreachable = test_database.runtime.replace("127.0.0.1:5432", "127.0.0.1:1")
    with app_client(make_settings(database_url=unreachable)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"
