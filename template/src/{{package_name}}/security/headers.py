"""Response headers every reply carries, whatever the route or status.

The API serves JSON, so the Content-Security-Policy forbids everything
(no `unsafe-inline`, no framing); HSTS pins HTTPS for two years. The one
HTML page that runs a script, the bot challenge, sends `CHALLENGE_PAGE_CSP`
instead: the same policy plus our own same-origin script, still no inline
code. A route's own Content-Security-Policy replaces the default one; no
other header can be replaced.
"""

from __future__ import annotations

from typing import Final

SECURITY_HEADERS: Final[tuple[tuple[str, str], ...]] = (
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("strict-transport-security", "max-age=63072000; includeSubDomains; preload"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("cache-control", "no-store"),
)

#: The bot-challenge page (web/challenge_page.py): the default policy plus `script-src 'self'` for
#: /auth/challenge.js; nothing inline, nothing from another origin.
CHALLENGE_PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
#: Headers a route may set itself; the middleware then leaves them alone.
ROUTE_OVERRIDABLE: Final = frozenset({"content-security-policy"})
