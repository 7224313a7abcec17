"""A software WebAuthn authenticator (plus the browser's part) for tests.

Written from the WebAuthn Level 2 spec, independently of py_webauthn, so the
server's verification is checked against bytes it did not produce itself:
- clientDataJSON: `{"type", "challenge" (base64url), "origin", "crossOrigin"}`;
- authenticatorData: SHA-256(rpId) | flags (UP=0x01, UV=0x04, AT=0x40) |
  signCount (u32 big-endian) [| AAGUID | credIdLen (u16) | credId | COSE key];
- registration: attestation object `{"fmt": "none", "attStmt": {}, "authData"}` in CBOR;
- assertion: ES256 (ECDSA P-256, SHA-256, DER) over authenticatorData | SHA-256(clientDataJSON).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40
COSE_ES256 = {"kty": 1, "alg": 3, "crv": -1, "x": -2, "y": -3}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()


@dataclass
class SoftwareAuthenticator:
    """One credential on one ES256 key; `sign_count` advances with each assertion."""

    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sign_count: int = 0
    aaguid: bytes = bytes(16)

    def cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        key = {
            COSE_ES256["kty"]: 2,  # EC2
            COSE_ES256["alg"]: -7,  # ES256
            COSE_ES256["crv"]: 1,  # P-256
            COSE_ES256["x"]: numbers.x.to_bytes(32, "big"),
            COSE_ES256["y"]: numbers.y.to_bytes(32, "big"),
        }
        return cbor2.dumps(key)

    def _authenticator_data(self, rp_id: str, flags: int, counter: int, *, attested: bool) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + counter.to_bytes(4, "big")
        if attested:
            cred = self.credential_id
            data += self.aaguid + len(cred).to_bytes(2, "big") + cred + self.cose_public_key()
        return data

    def create(
        self, options: dict[str, Any], *, origin: str, rp_id: str | None = None, user_verified: bool = True
    ) -> dict[str, Any]:
        """navigator.credentials.create(): a registration response in the JSON form browsers send."""
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        flags = FLAG_UP | FLAG_AT | (FLAG_UV if user_verified else 0)
        auth_data = self._authenticator_data(rp_id or options["rp"]["id"], flags, self.sign_count, attested=True)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["usb", "nfc"],
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        sign_count: int | None = None,
        user_verified: bool = True,
    ) -> dict[str, Any]:
        """navigator.credentials.get(): an assertion signed with this credential's key."""
        self.sign_count = self.sign_count + 1 if sign_count is None else sign_count
        client_data = _client_data("webauthn.get", options["challenge"], origin)
        flags = FLAG_UP | (FLAG_UV if user_verified else 0)
        auth_data = self._authenticator_data(rp_id or options["rpId"], flags, self.sign_count, attested=False)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
            },
            "clientExtensionResults": {},
        }
