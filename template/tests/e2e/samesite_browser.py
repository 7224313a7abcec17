"""A small HTTP "browser" that stores and sends cookies the way Chromium does, SameSite included.

It exists to test what a plain HTTP client cannot: that a SameSite=Strict
session cookie set on the cross-site redirect back from the IdP is usable on
the very next same-site navigation. Rules modelled (RFC 6265bis as shipped):
- a navigation's hops are same-site only while every URL of the redirect
  chain is same-site with the page that started it; one cross-site hop
  taints the rest of the chain;
- Strict cookies go only on same-site requests; Lax ones also on top-level
  GET navigations; cookies without SameSite are treated as Lax;
- Secure cookies need https or a loopback host (potentially trustworthy);
  `__Host-` cookies must be Secure, Path=/ and without Domain;
- a 200 HTML page with `<meta http-equiv="refresh">` starts a new navigation
  whose initiator is that page.
Sites are port-agnostic, as in browsers: 127.0.0.1:1 and 127.0.0.1:2 are one site.
"""

from __future__ import annotations

import html
import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx2

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_META_REFRESH = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]*)"', re.IGNORECASE)


def site_of(url: str) -> tuple[str, str]:
    """(scheme, registrable domain); the last two labels are enough for test hosts."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        return parts.scheme, host
    except ValueError:
        labels = host.split(".")
        return parts.scheme, ".".join(labels[-2:])


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _trustworthy(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or parts.hostname in LOOPBACK_HOSTS


@dataclass
class Cookie:
    name: str
    value: str
    host: str
    path: str
    secure: bool
    http_only: bool
    same_site: str


@dataclass
class Exchange:
    """One request the browser sent: what it was and which cookies went with it."""

    method: str
    url: str
    sent_cookies: tuple[str, ...]
    same_site: bool
    status: int
    seen: str  # the response's headers and body, to prove what never reached the browser


@dataclass
class Browser:
    """Cookie jar + navigation; `log` records every request for assertions."""

    http: httpx2.Client = field(default_factory=lambda: httpx2.Client(timeout=15, trust_env=False))
    jar: dict[tuple[str, str, str], Cookie] = field(default_factory=dict)
    log: list[Exchange] = field(default_factory=list)

    def close(self) -> None:
        self.http.close()

    # --------------------------------------------------------------- cookies
    def _store(self, url: str, response: httpx2.Response) -> None:
        host = urlsplit(url).hostname or ""
        for raw in response.headers.get_list("set-cookie"):
            name_value, *parts = (part.strip() for part in raw.split(";"))
            name, _, value = name_value.partition("=")
            attributes = {}
            for part in parts:
                key, _, attribute_value = part.partition("=")
                attributes[key.lower()] = attribute_value
            secure = "secure" in attributes
            path = attributes.get("path") or "/"
            if secure and not _trustworthy(url):
                continue
            if name.startswith("__Host-") and (not secure or path != "/" or "domain" in attributes):
                continue
            key = (host, name, path)
            if attributes.get("max-age", "1").lstrip("-").isdigit() and int(attributes.get("max-age", "1")) <= 0:
                self.jar.pop(key, None)
                continue
            self.jar[key] = Cookie(
                name=name,
                value=value,
                host=host,
                path=path,
                secure=secure,
                http_only="httponly" in attributes,
                same_site=(attributes.get("samesite") or "lax").lower(),
            )

    def cookie(self, host: str, name: str) -> Cookie | None:
        return next((c for (h, n, _), c in self.jar.items() if h == host and n == name), None)

    def _cookies_for(self, url: str, *, same_site: bool, top_level_get: bool) -> list[Cookie]:
        parts = urlsplit(url)
        chosen = []
        for cookie in self.jar.values():
            if cookie.host != parts.hostname or not (parts.path or "/").startswith(cookie.path):
                continue
            if cookie.secure and not _trustworthy(url):
                continue
            if cookie.same_site == "strict" and not same_site:
                continue
            if cookie.same_site == "lax" and not (same_site or top_level_get):
                continue
            chosen.append(cookie)
        return chosen

    def _send(
        self,
        method: str,
        url: str,
        *,
        same_site: bool,
        top_level_get: bool,
        headers: dict[str, str],
        data: dict[str, str] | None,
    ) -> httpx2.Response:
        cookies = self._cookies_for(url, same_site=same_site, top_level_get=top_level_get)
        if cookies:
            headers = {**headers, "cookie": "; ".join(f"{c.name}={c.value}" for c in cookies)}
        response = self.http.request(method, url, headers=headers, data=data)
        seen = f"{response.headers}\n{response.text}"
        self.log.append(Exchange(method, url, tuple(c.name for c in cookies), same_site, response.status_code, seen))
        self._store(url, response)
        return response

    # ------------------------------------------------------------ navigation
    def navigate(
        self, url: str, *, initiator: str | None, method: str = "GET", data: dict[str, str] | None = None
    ) -> httpx2.Response:
        """A top-level navigation started by the page at `initiator` (None: typed by the user)."""
        initiator_site = site_of(initiator) if initiator else None
        tainted = False
        for _ in range(20):
            same_site = initiator_site is None or (site_of(url) == initiator_site and not tainted)
            tainted = tainted or not same_site
            headers = {"accept": "application/json", "sec-fetch-mode": "navigate"}
            if initiator is None:
                headers["sec-fetch-site"] = "none"
            elif same_site:
                headers["sec-fetch-site"] = "same-origin" if origin_of(initiator) == origin_of(url) else "same-site"
            else:
                headers["sec-fetch-site"] = "cross-site"
            if method == "POST" and initiator:
                headers["origin"] = origin_of(initiator)
            response = self._send(
                method, url, same_site=same_site, top_level_get=method == "GET", headers=headers, data=data
            )
            location = response.headers.get("location")
            if response.is_redirect and location:
                if response.status_code in (301, 302, 303):
                    method, data = "GET", None
                url = urljoin(url, location)
                continue
            refresh = (
                _META_REFRESH.search(response.text) if "html" in response.headers.get("content-type", "") else None
            )
            if response.status_code == 200 and refresh:
                return self.navigate(urljoin(url, html.unescape(refresh.group(1))), initiator=url)
            return response
        raise AssertionError(f"too many redirects ending at {url}")

    def fetch(
        self, url: str, *, page: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> httpx2.Response:
        """A script request (fetch/XHR) made by the page at `page`."""
        same_site = site_of(url) == site_of(page)
        sent = {"accept": "application/json", "sec-fetch-mode": "cors", **(headers or {})}
        sent["sec-fetch-site"] = (
            "same-origin" if origin_of(page) == origin_of(url) else ("same-site" if same_site else "cross-site")
        )
        if method != "GET":
            sent["origin"] = origin_of(page)
        return self._send(method, url, same_site=same_site, top_level_get=False, headers=sent, data=None)
