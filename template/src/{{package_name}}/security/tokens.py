"""JWT validation for ID tokens (login) and access tokens (API clients).

The algorithm comes from an allow-list (RS256, ES256), never from the token:
`none`, every HS* (including HS256 "signed" with the IdP's public key as the
secret) and every other algorithm is refused before any key is looked up.
Registered claims are checked with joserfc's registry and a small clock-skew
leeway; the OpenID-specific rules (nonce, azp, at_hash, token age) follow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwt import JWTClaimsRegistry

from .auth_errors import InvalidTokenError
from .clock import Clock
from .jwks import KEY_TYPE_FOR_ALGORITHM, JwksCache

ALLOWED_ALGORITHMS: Final = frozenset(KEY_TYPE_FOR_ALGORITHM)
CLOCK_SKEW_SECONDS: Final = 60
#: An ID token older than this is refused even if unexpired: it belongs to
#: a login that began longer ago than a pre-auth record lives.
MAX_ID_TOKEN_AGE_SECONDS: Final = 600
MAX_TOKEN_LENGTH: Final = 16 * 1024
#: `typ` header values an access token may carry (RFC 9068 and common IdP practice).
ACCESS_TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt", "jwt"})


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, read only to choose the algorithm and key."""
    parts = token.split(".")
    if len(token) > MAX_TOKEN_LENGTH or len(parts) != 3:
        raise InvalidTokenError("the token is not a compact signed JWT")
    try:
        header = json.loads(_b64decode(parts[0]))
    except ValueError as error:
        raise InvalidTokenError("the token header is not valid JSON") from error
    if not isinstance(header, dict):
        raise InvalidTokenError("the token header is not a JSON object")
    return header


def _verified_claims(token: str, keys: JwksCache) -> tuple[dict[str, Any], dict[str, Any]]:
    header = unverified_header(token)
    algorithm = header.get("alg")
    if algorithm not in ALLOWED_ALGORITHMS:
        raise InvalidTokenError(f"token algorithm {algorithm!r} is not allowed (RS256 or ES256 only)")
    kid = header.get("kid")
    key = keys.key_for(kid if isinstance(kid, str) else None, algorithm)
    try:
        decoded = jwt.decode(token, key, algorithms=[algorithm])
    except BadSignatureError as error:
        raise InvalidTokenError("the token signature is invalid") from error
    except (JoseError, ValueError) as error:
        raise InvalidTokenError("the token could not be decoded") from error
    return decoded.header, decoded.claims


def _check_registered_claims(claims: Mapping[str, Any], *, issuer: str, audience: str, clock: Clock) -> None:
    registry = JWTClaimsRegistry(
        now=lambda: int(clock.now()),
        leeway=CLOCK_SKEW_SECONDS,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(dict(claims))
    except ExpiredTokenError as error:
        raise InvalidTokenError("the token has expired") from error
    except MissingClaimError as error:
        raise InvalidTokenError(f"the token lacks required claims: {error.claim}") from error
    except JoseError as error:
        claim = getattr(error, "claim", "a claim")
        raise InvalidTokenError(f"the token's {claim!r} claim is not acceptable") from error
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    # OpenID Connect Core 3.1.3.7: with several audiences, azp must name this client.
    if (len(audiences) > 1 or azp is not None) and azp != audience:
        raise InvalidTokenError("the token's authorized party (azp) is not this client")


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()  # RS256 and ES256 both use SHA-256
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def verify_id_token(
    token: str,
    *,
    keys: JwksCache,
    issuer: str,
    client_id: str,
    nonce: str,
    clock: Clock,
    access_token: str | None = None,
) -> dict[str, Any]:
    """Validate an ID token from the token endpoint and return its claims."""
    _, claims = _verified_claims(token, keys)
    _check_registered_claims(claims, issuer=issuer, audience=client_id, clock=clock)
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce.encode(), nonce.encode()):
        raise InvalidTokenError("the ID token's nonce does not match this login")
    if clock.now() - claims["iat"] > MAX_ID_TOKEN_AGE_SECONDS + CLOCK_SKEW_SECONDS:
        raise InvalidTokenError("the ID token was issued too long ago")
    at_hash = claims.get("at_hash")
    if (
        access_token is not None
        and at_hash is not None
        and not hmac.compare_digest(str(at_hash), _at_hash(access_token))
    ):
        raise InvalidTokenError("the ID token's at_hash does not match the access token")
    return claims


def verify_access_token(token: str, *, keys: JwksCache, issuer: str, audience: str, clock: Clock) -> dict[str, Any]:
    """Validate a JWT access token presented as `Authorization: Bearer`.

    An ID token is not an access token: tokens carrying a `nonce` (every ID
    token this app receives does) or typed as ID tokens are refused, so a
    leaked ID token cannot be replayed against the API.
    """
    header, claims = _verified_claims(token, keys)
    token_type = header.get("typ")
    if token_type is not None and str(token_type).lower() not in ACCESS_TOKEN_TYPES:
        raise InvalidTokenError("the bearer token is not an access token")
    if "nonce" in claims or str(claims.get("typ", "")).lower() == "id":
        raise InvalidTokenError("an ID token cannot be used as a bearer access token")
    _check_registered_claims(claims, issuer=issuer, audience=audience, clock=clock)
    return claims
