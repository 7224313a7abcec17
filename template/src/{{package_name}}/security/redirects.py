"""Where a browser may be sent after login: same-origin relative paths only.

Anything else (absolute URLs, scheme-relative `//host`, backslash tricks that
browsers normalise to `//`, encoded variants, control characters, quotes that
could break out of the landing page) collapses to the default `/`. The check
is an allow-list of characters, so new tricks fail closed.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

DEFAULT_NEXT = "/"
MAX_NEXT_LENGTH = 1024

# RFC 3986 path/query/fragment characters minus the quote characters ' and `
# (they would end an HTML attribute) and minus "\" and space.
_ALLOWED = re.compile(r"/[A-Za-z0-9\-._~!$&()*+,;=:@%/?#]*")


def _looks_scheme_relative(path: str) -> bool:
    return path.startswith("//") or path.startswith("/\\")


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """Return `value` when it is a same-origin relative path, else `default`."""
    if not value or len(value) > MAX_NEXT_LENGTH or not _ALLOWED.fullmatch(value):
        return default
    if _looks_scheme_relative(value):
        return default
    decoded = unquote(value)
    if _looks_scheme_relative(decoded) or "\\" in decoded or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        return default
    return value
