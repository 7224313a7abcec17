"""Helpers for the end-to-end login tests (fixtures are in conftest.py)."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from samesite_browser import Browser

CLIENT_ID = "e2e-app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningIdp:
    """A running provider; `rotate()` and `authorization_requests()` call its test-only endpoints."""

    issuer: str
    process: subprocess.Popen[str]
    log: Path

    def rotate(self) -> list[str]:
        return httpx2.post(f"{self.issuer}/__test/rotate", timeout=10, trust_env=False).json()["kids"]

    def authorization_requests(self) -> list[dict[str, str]]:
        return httpx2.get(f"{self.issuer}/__test/requests", timeout=10, trust_env=False).json()


@dataclass
class RunningApp:
    base_url: str
    app: Any
    settings: Any


def claims_at(path: str, value: object) -> dict[str, object]:
    """Place `value` where a preset's claim name points: flat for names like
    `https://x/roles` or `cognito:groups`, nested for paths like `realm_access.roles`."""
    if "://" in path or "." not in path:
        return {path: value}
    head, _, rest = path.partition(".")
    return {head: claims_at(rest, value)}


def sign_in(browser: Browser, app: RunningApp, idp: RunningIdp, account: str, next_path: str = "/api/me"):
    """Click "log in" on the app, sign in and consent at the IdP; returns where the browser lands."""
    page = f"{app.base_url}/"
    response = browser.navigate(f"{app.base_url}/auth/login?next={next_path}", initiator=page)
    for _ in range(4):
        if not str(response.url).startswith(f"{idp.issuer}/interaction/"):
            return response
        interaction = response.json()
        action = "login" if interaction["prompt"] == "login" else "confirm"
        response = browser.navigate(
            f"{idp.issuer}/interaction/{interaction['uid']}/{action}",
            method="POST",
            data={"login": account},
            initiator=str(response.url),
        )
    raise AssertionError(f"the IdP kept asking: {response.text}")
