"""The IdP's discovery document, fetched over HTTPS and checked before use.

The issuer in the document must equal the configured issuer exactly (OpenID
Connect Discovery 4.3: a look-alike document cannot redirect the flow), and
every endpoint must be HTTPS; plain `http` is accepted only on loopback
outside production, like the issuer itself.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import httpx2

from .auth_errors import IdentityProviderError
from .internal_http import internal_client, is_internal_url

HTTP_TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 512 * 1024


@cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building it (loading the trust store) is the slow part."""
    return httpx2.create_ssl_context()


def acceptable_url(url: object, *, allow_loopback_http: bool) -> bool:
    """HTTPS with a host; `http` only to a loopback host and only when allowed."""
    return is_internal_url(url, allow_loopback_http=allow_loopback_http)


def fetch_json(url: str, *, what: str) -> Mapping[str, object]:
    """GET a JSON object; any failure is an IdentityProviderError naming `what`, not the cause."""
    try:
        with internal_client(timeout=HTTP_TIMEOUT_SECONDS, verify=tls_context()) as http:
            response = http.get(url, headers={"accept": "application/json"})
    except httpx2.HTTPError as error:
        raise IdentityProviderError(f"the identity provider's {what} could not be fetched") from error
    if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
        raise IdentityProviderError(f"the identity provider's {what} answered HTTP {response.status_code}")
    try:
        document = response.json()
    except ValueError as error:
        raise IdentityProviderError(f"the identity provider's {what} is not JSON") from error
    if not isinstance(document, dict):
        raise IdentityProviderError(f"the identity provider's {what} is not a JSON object")
    return document


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document the login flow relies on.

    Attributes:
        issuer: equal to the configured issuer, character for character.
        authorization_endpoint / token_endpoint / jwks_uri: checked URLs.
        iss_parameter_supported: the IdP adds `iss` to the authorization
            response (RFC 9207); the callback then requires and checks it.
    """

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    iss_parameter_supported: bool = False

    @classmethod
    def from_document(
        cls, document: Mapping[str, object], *, expected_issuer: str, allow_loopback_http: bool
    ) -> ProviderMetadata:
        if document.get("issuer") != expected_issuer:
            raise IdentityProviderError("the discovery document names a different issuer than APP_OIDC_ISSUER")
        endpoints = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            url = document.get(name)
            if not acceptable_url(url, allow_loopback_http=allow_loopback_http):
                raise IdentityProviderError(f"the discovery document's {name} is missing or not https")
            endpoints[name] = str(url)
        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise IdentityProviderError("the identity provider does not support PKCE with S256")
        return cls(
            issuer=expected_issuer,
            iss_parameter_supported=document.get("authorization_response_iss_parameter_supported") is True,
            **endpoints,
        )


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def fetch_metadata(issuer: str, *, allow_loopback_http: bool) -> ProviderMetadata:
    document = fetch_json(discovery_url(issuer), what="discovery document")
    return ProviderMetadata.from_document(document, expected_issuer=issuer, allow_loopback_http=allow_loopback_http)
