"""PKCE (RFC 7636) with the S256 method only; `plain` is never produced.

The verifier has 64 random bytes (86 base64url characters, inside the RFC's
43-128 window); the challenge is authlib's S256 transform of it.
"""

from __future__ import annotations

import secrets
from typing import Final

from authlib.oauth2.rfc7636 import create_s256_code_challenge

CHALLENGE_METHOD: Final = "S256"


def new_code_verifier() -> str:
    return secrets.token_urlsafe(64)


def code_challenge(verifier: str) -> str:
    return create_s256_code_challenge(verifier)
