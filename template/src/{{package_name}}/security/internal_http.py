"""The one rule for HTTP clients the app uses to reach its own dependencies.

OPA, the IdP (discovery, JWKS, token endpoint), the SIEM, Vault and the bot
challenge verifier all decide or receive something security-relevant, so a
third party must not be able to answer in their place. Three defaults of
httpx and requests let one do exactly that:

- `HTTP_PROXY` / `HTTPS_PROXY` / `ALL_PROXY` from the environment are
  trusted, even for a loopback OPA: whoever controls the proxy answers
  `{"result": true}` and a viewer may assign roles. Clients built here use
  `trust_env=False` (no proxy, no `.netrc`, no CA bundle from the environment).
- A redirect hands the request, with its bearer token or form secret, to
  whatever host the `Location` names. Clients built here never follow one;
  a 3xx is an answer like any other non-2xx (callers treat it as a failure).
- Plain `http` to a host that is not loopback can be answered by anyone on
  the path. `require_internal_url` refuses such a URL when the settings load,
  naming the setting, so a misconfiguration stops the process at start-up.

Framework-free and dependency-light on purpose: `config.py` imports it, and
preflight (`data.internal_clients`) checks that no HTTP client in the package
is built anywhere else.
"""

from __future__ import annotations

import importlib
import re
import ssl
from typing import Any, Final
from urllib.parse import urlsplit

import httpx2

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


class InsecureInternalUrlError(ValueError):
    """A dependency's URL a third party could answer for (plain http to a non-loopback host)."""


#: Backslashes, whitespace and control characters: parsed differently by urlsplit and by requests.
_AMBIGUOUS = re.compile(r"[\\\s\x00-\x1f\x7f]")


def is_internal_url(url: object, *, allow_loopback_http: bool = True) -> bool:
    """HTTPS with a host; plain `http` only to a loopback host, and only when allowed."""
    if not isinstance(url, str) or _AMBIGUOUS.search(url):
        return False  # clients' URL parsers disagree on these: requests sends `http://a\\@127.0.0.1` to `a`
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme == "https" and host:
        return True
    return allow_loopback_http and parts.scheme == "http" and host in LOOPBACK_HOSTS


def require_internal_url(url: str, *, setting: str, allow_loopback_http: bool = True) -> str:
    """`url` unchanged, or an InsecureInternalUrlError naming `setting` (e.g. "APP_OPA_URL")."""
    if is_internal_url(url, allow_loopback_http=allow_loopback_http):
        return url
    allowed = "http only on loopback outside production" if allow_loopback_http else "no plain http in production"
    raise InsecureInternalUrlError(f"{setting} must be https ({allowed}); a proxy or anyone on the path could answer")


def internal_client(*, timeout: float, verify: ssl.SSLContext | bool = True) -> httpx2.Client:
    """An httpx2 client that ignores proxy variables and never follows a redirect."""
    return httpx2.Client(**internal_client_options(timeout=timeout, verify=verify))


def internal_client_options(*, timeout: float, verify: ssl.SSLContext | bool = True) -> dict[str, object]:
    """The keyword arguments of `internal_client`, for httpx2.Client subclasses (authlib's OAuth2Client)."""
    return {"timeout": timeout, "verify": verify, "trust_env": False, "follow_redirects": False}


def internal_session(*, verify: str | bool = True) -> Any:
    """A `requests.Session` (hvac's transport) that ignores proxy variables and follows no redirect.

    `verify` is the CA bundle to trust (or True for the system store). It is set on the
    session itself: hvac's adapter takes the session's `verify` over its own argument, so a
    CA passed only to `hvac.Client(verify=...)` would be silently dropped.
    Imported here, not at the top: only projects with the Vault backend install requests.
    """
    session = importlib.import_module("requests").Session()
    session.trust_env = False
    session.max_redirects = 0
    session.verify = verify
    return session
