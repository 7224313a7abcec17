"""JWT validation for ID tokens (login) and access tokens (API clients).

The algorithm comes from an allow-list (RS256, ES256), never from the token:
`none`, every HS* (including HS256 "signed" with the IdP's public key as the
secret) and every other algorithm is refused before any key is looked up.
Registered claims are checked with joserfc's registry and a small clock-skew
leeway; the OpenID-specific rules (nonce, azp, at_hash, token age) follow.

A bearer token must be an *access token for this API*, recognised by a
positive marker its IdP documents (`AccessTokenPolicy`), never merely by
lacking a `nonce`: an ID token issued without one is still an ID token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

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
#: The RFC 9068 media type of JWT access tokens, with and without its `application/` prefix.
RFC_9068_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})

AccessTokenRule = Literal["rfc9068", "audience", "keycloak", "cognito", "none"]


@dataclass(frozen=True)
class AccessTokenPolicy:
    """How this deployment tells an access token for its API from any other token of the IdP.

    Attributes:
        rule: `rfc9068`: the header says `typ: at+jwt` and `aud` names `audience`;
            `audience`: `aud` names `audience`, an API audience distinct from the login
            client's id (Auth0 API identifier, Okta `api://default`, Entra's API app);
            `keycloak`: the `typ` claim is `Bearer` (Keycloak's ID tokens say `ID`) and
            `aud` names `audience` (an audience mapper adds it);
            `cognito`: `token_use` is `access` and `client_id` is `audience` (Cognito
            access tokens carry no `aud`); `none`: the IdP issues no JWT access tokens for
            this API (Google), so every bearer token is refused.
        audience: the audience (or Cognito app client) access tokens must name; None
            refuses every bearer token (an API audience that was never configured).
    """

    rule: AccessTokenRule
    audience: str | None


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


def _check_registered_claims(
    claims: Mapping[str, Any], *, issuer: str, audience: str | None, clock: Clock, check_azp: bool = True
) -> None:
    """iss, sub, exp, iat (and aud when `audience` is given); for ID tokens also azp."""
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    if audience is not None:
        options["aud"] = {"essential": True, "value": audience}
    registry = JWTClaimsRegistry(now=lambda: int(clock.now()), leeway=CLOCK_SKEW_SECONDS, **options)
    try:
        registry.validate(dict(claims))
    except ExpiredTokenError as error:
        raise InvalidTokenError("the token has expired") from error
    except MissingClaimError as error:
        raise InvalidTokenError(f"the token lacks required claims: {error.claim}") from error
    except JoseError as error:
        claim = getattr(error, "claim", "a claim")
        raise InvalidTokenError(f"the token's {claim!r} claim is not acceptable") from error
    if audience is None or not check_azp:
        return
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


def _refuse_id_tokens(header: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
    """Whatever the rule: anything typed or shaped as an ID token is not a bearer credential."""
    token_type = header.get("typ")
    if token_type is not None and str(token_type).lower() not in ACCESS_TOKEN_TYPES:
        raise InvalidTokenError("the bearer token is not an access token")
    if "nonce" in claims or str(claims.get("typ", "")).lower() == "id" or claims.get("token_use") == "id":
        raise InvalidTokenError("an ID token cannot be used as a bearer access token")


def _require_marker(policy: AccessTokenPolicy, header: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
    """The positive sign, per IdP, that this is an access token for this API."""
    if policy.rule == "rfc9068" and str(header.get("typ", "")).lower() not in RFC_9068_TYPES:
        raise InvalidTokenError("the bearer token is not an RFC 9068 access token (typ: at+jwt)")
    if policy.rule == "keycloak" and claims.get("typ") != "Bearer":
        raise InvalidTokenError("the bearer token is not a Keycloak access token (typ claim 'Bearer')")
    if policy.rule == "cognito" and (claims.get("token_use") != "access" or claims.get("client_id") != policy.audience):
        raise InvalidTokenError("the bearer token is not a Cognito access token of this app client")


def verify_access_token(
    token: str, *, keys: JwksCache, issuer: str, policy: AccessTokenPolicy, clock: Clock
) -> dict[str, Any]:
    """Validate a JWT access token presented as `Authorization: Bearer`.

    Signature, issuer and lifetime as for ID tokens; then the token must not
    look like an ID token at all (a `nonce`, `typ` id, `token_use` id) and
    must carry the policy's positive access-token marker and audience.
    """
    if policy.rule == "none":
        raise InvalidTokenError("this identity provider issues no access tokens for this API; sign in instead")
    if policy.audience is None:
        raise InvalidTokenError("no API audience is configured (APP_OIDC_API_AUDIENCE): bearer tokens are refused")
    header, claims = _verified_claims(token, keys)
    _refuse_id_tokens(header, claims)
    _require_marker(policy, header, claims)
    audience = None if policy.rule == "cognito" else policy.audience  # Cognito names its client in client_id
    _check_registered_claims(claims, issuer=issuer, audience=audience, clock=clock, check_azp=False)
    return claims
