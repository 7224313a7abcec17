"""Test doubles *around* the identity code, never of it: a clock, a token issuer, cookie parsing.

`TokenIssuer` is a small but real OpenID issuer on a loopback HTTP server
(pytest-httpserver): discovery document, JWKS and a token endpoint that
checks HTTP Basic client authentication and the PKCE verifier. Tests use it
to hand the app tokens no well-behaved IdP would issue (wrong audience,
`alg=none`, HS256 keyed with the public key, ...). The end-to-end tests in
`e2e/` use a real OpenID provider instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

CLIENT_ID = "app-client"


class ManualClock:
    """A clock tests move by hand (no sleeps)."""

    def __init__(self, start: float | None = None) -> None:
        self.current = time.time() if start is None else start

    def now(self) -> float:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += seconds


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class SetCookie:
    """One Set-Cookie header: the value and the attribute names/values as sent."""

    name: str
    value: str
    attributes: dict[str, str]
    raw: str


def set_cookies(response: Any) -> dict[str, SetCookie]:
    """Every cookie a response sets, by name (headers read directly: no cookie jar in between)."""
    found = {}
    for raw in response.headers.get_list("set-cookie"):
        name_value, *attribute_parts = (part.strip() for part in raw.split(";"))
        name, _, value = name_value.partition("=")
        attributes = {}
        for part in attribute_parts:
            key, _, attribute_value = part.partition("=")
            attributes[key] = attribute_value
        found[name] = SetCookie(name=name, value=value, attributes=attributes, raw=raw)
    return found


def cookie_header(cookies: Mapping[str, str]) -> dict[str, str]:
    """A `Cookie` request header, sent explicitly (the test client's jar would drop Secure cookies on http)."""
    return {"cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


@dataclass
class PendingCode:
    challenge: str
    response: dict[str, Any]


@dataclass
class TokenIssuer:
    """A minimal OpenID issuer served by pytest-httpserver; see the module docstring."""

    server: HTTPServer
    client_secret: str
    rsa: RSAKey
    ec: ECKey
    published: list[Key] = field(default_factory=list)
    codes: dict[str, PendingCode] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    jwks_fetches: int = 0
    discovery_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.published = [self.rsa, self.ec]
        self.server.expect_request("/.well-known/openid-configuration").respond_with_handler(self._discovery)
        self.server.expect_request("/jwks").respond_with_handler(self._jwks)
        self.server.expect_request("/token", method="POST").respond_with_handler(self._token)

    @property
    def issuer(self) -> str:
        return self.server.url_for("/").rstrip("/")

    # ---------------------------------------------------------------- server
    def _discovery(self, _: Request) -> Response:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            **self.discovery_overrides,
        }
        return Response(json.dumps(document), content_type="application/json")

    def _jwks(self, _: Request) -> Response:
        self.jwks_fetches += 1
        keys = [key.as_dict(private=False) for key in self.published]
        return Response(json.dumps({"keys": keys}), content_type="application/json")

    def _token(self, request: Request) -> Response:
        form = request.form.to_dict()
        self.token_requests.append({"form": form, "authorization": request.headers.get("Authorization", "")})
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{self.client_secret}".encode()).decode()
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return self._error(401, "invalid_client")
        pending = self.codes.pop(form.get("code", ""), None)  # codes are single use
        if pending is None or form.get("grant_type") != "authorization_code":
            return self._error(400, "invalid_grant")
        if s256(form.get("code_verifier", "")) != pending.challenge:
            return self._error(400, "invalid_grant")
        return Response(json.dumps(pending.response), content_type="application/json")

    @staticmethod
    def _error(status: int, error: str) -> Response:
        return Response(json.dumps({"error": error}), status=status, content_type="application/json")

    # ----------------------------------------------------------------- tokens
    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "user-123",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
            "email": "ada@example.com",
            "roles": ["member"],
            "tenant": "acme",
            "amr": ["pwd", "mfa"],
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(
        self, claims: Mapping[str, Any], *, key: Key | None = None, header: Mapping[str, Any] | None = None
    ) -> str:
        key = key or self.rsa
        algorithm = "ES256" if isinstance(key, ECKey) else "RS256"
        return jwt.encode({"alg": algorithm, "kid": key.kid, **(header or {})}, dict(claims), key)

    def rotate(self) -> RSAKey:
        """Publish a new RSA key with a new kid (the old one stays published)."""
        new = RSAKey.generate_key(2048, parameters={"kid": f"rsa-{len(self.published) + 1}", "use": "sig"})
        self.published.insert(0, new)
        return new

    def expect_code(self, code: str, *, challenge: str, id_token: str, **extra: Any) -> None:
        """The token endpoint will exchange `code` once, if the verifier matches `challenge`."""
        response = {"access_token": "opaque-access-token", "token_type": "Bearer", "expires_in": 300, **extra}
        response["id_token"] = id_token
        self.codes[code] = PendingCode(challenge=challenge, response=response)


def unsigned_token(claims: Mapping[str, Any], header: Mapping[str, Any]) -> str:
    """A JWT with whatever header it is given and no (or an empty) signature."""
    return f"{b64url(json.dumps(dict(header)).encode())}.{b64url(json.dumps(dict(claims)).encode())}."


def hs256_token(claims: Mapping[str, Any], secret: bytes, kid: str) -> str:
    """The classic key-confusion forgery: HS256 keyed with the RSA public key's PEM."""
    signing_input = (
        f"{b64url(json.dumps({'alg': 'HS256', 'kid': kid}).encode())}.{b64url(json.dumps(dict(claims)).encode())}"
    )
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"
