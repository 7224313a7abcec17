"""CSRF defence for cookie sessions: a per-session token plus origin checks.

SameSite=Strict already keeps the cookie off cross-site requests in current
browsers; this is the second, browser-independent layer. Every unsafe method
must echo the session's token in `X-CSRF-Token` (constant-time compare), and
when the browser says where the request comes from (`Origin`,
`Sec-Fetch-Site`) it must be this app's own origin. Bearer-token clients are
not subject to it: a browser never attaches their Authorization header on its own.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from .auth_errors import CsrfError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
_SAME_ORIGIN_FETCH_SITES = frozenset({"same-origin", "none"})


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, as browsers serialise it in `Origin`."""
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{host}{port}"


def check_csrf(
    *,
    method: str,
    expected_token: str,
    presented_token: str | None,
    origin: str | None,
    sec_fetch_site: str | None,
    allowed_origin: str,
) -> None:
    """Raise CsrfError unless an unsafe request provably comes from this app's pages."""
    if method.upper() not in UNSAFE_METHODS:
        return
    if sec_fetch_site is not None and sec_fetch_site.lower() not in _SAME_ORIGIN_FETCH_SITES:
        raise CsrfError("cross-site requests cannot change state")
    if origin is not None and origin != allowed_origin:
        raise CsrfError("the request's Origin is not this application")
    if not presented_token:
        raise CsrfError(f"the {CSRF_HEADER} header is required for this request")
    if not hmac.compare_digest(presented_token.encode(), expected_token.encode()):
        raise CsrfError(f"the {CSRF_HEADER} header does not match this session")
