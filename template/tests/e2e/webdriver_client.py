"""A minimal W3C WebDriver client over httpx2: just what the browser login test needs.

chromedriver speaks the W3C protocol on a loopback port; the endpoints used
are session, url, element, click, execute/sync and cookie.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx2

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
T = TypeVar("T")


class WebDriverError(AssertionError):
    """chromedriver answered with an error (or not at all)."""


def find_browser() -> tuple[str, str] | None:
    """Paths of chromium and chromedriver, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def wait_for(condition: Callable[[], T | None], *, timeout: float = 20, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise WebDriverError(f"timed out waiting for {what}")
        time.sleep(0.1)


class ChromeSession:
    """One headless Chromium driven through chromedriver."""

    def __init__(self, browser: str, driver: str, port: int, profile: Path) -> None:
        self.process = subprocess.Popen(
            [driver, f"--port={port}", "--allowed-ips=127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.http = httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, trust_env=False)
        try:
            wait_for(self._driver_ready, what="chromedriver")
            capabilities = {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": browser, "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]},
            }
            self.session_id = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})[
                "sessionId"
            ]
        except BaseException:
            self.close()
            raise

    def _driver_ready(self) -> bool:
        try:
            return bool(self.http.get("/status").json()["value"]["ready"])
        except (httpx2.HTTPError, ValueError, KeyError):
            return False

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        payload = response.json()
        if response.status_code != 200:
            raise WebDriverError(f"{method} {path}: {payload.get('value', payload)}")
        return payload["value"]

    def _session(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, f"/session/{self.session_id}{path}", body)

    def open(self, url: str) -> None:
        self._session("POST", "/url", {"url": url})

    @property
    def url(self) -> str:
        return self._session("GET", "/url")

    def click(self, css: str) -> None:
        element = wait_for(lambda: self._find(css), what=f"element {css}")
        self._session("POST", f"/element/{element}/click", {})

    def _find(self, css: str) -> str | None:
        try:
            return self._session("POST", "/element", {"using": "css selector", "value": css})[ELEMENT_KEY]
        except WebDriverError:
            return None

    def text(self) -> str:
        return self._session("POST", "/execute/sync", {"script": "return document.body.innerText", "args": []})

    def cookies(self) -> list[dict[str, Any]]:
        return self._session("GET", "/cookie")

    def close(self) -> None:
        try:
            if getattr(self, "session_id", None):
                self._session("DELETE", "")
        finally:
            self.http.close()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
