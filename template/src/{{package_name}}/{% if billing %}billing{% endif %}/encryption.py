"""Envelope encryption for stored documents: a fresh AES-256-GCM data key per object, wrapped per tenant.

`TenantKeys` is the port: it wraps and unwraps data keys with the tenant's
key-encryption key (KEK). The app uses `security/keyring.py::InvoiceKeys`
(the project's KEK in Vault transit or KMS, the tenant bound into every
wrap); `LocalTenantKeys` derives per-tenant KEKs from a root secret with HKDF
and serves the unit tests of the envelope only. Blobs carry the wrapped data
key, so the port can change without touching stored invoices' format.

Blob layout: b"SSE1" | len(wrapped key) (2 bytes) | wrapped key | nonce (12) | ciphertext+tag.
The tenant and a caller-supplied context (e.g. the invoice id) are bound as
associated data, so a blob moved to another tenant or object fails to decrypt.
"""

from __future__ import annotations

import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import ConfigurationError

MAGIC = b"SSE1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """The blob is malformed, was altered, or belongs to another tenant or context."""


class TenantKeys(Protocol):
    def wrap(self, tenant: str, data_key: bytes) -> bytes: ...

    def unwrap(self, tenant: str, wrapped: bytes) -> bytes:
        """Raise DecryptionError when `wrapped` was not produced by `wrap` for this tenant."""
        ...


class LocalTenantKeys:
    """Dev/test KEKs: HKDF-SHA256(root secret, info = tenant). Not a substitute for KMS in production."""

    def __init__(self, root_secret: str) -> None:
        if len(root_secret) < 32:
            raise ConfigurationError("the root secret must be at least 32 characters of random data")
        self._root = root_secret.encode()

    def _kek(self, tenant: str) -> AESGCM:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"secure-scaffold/tenant-kek/v1", info=tenant.encode())
        return AESGCM(hkdf.derive(self._root))

    def wrap(self, tenant: str, data_key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._kek(tenant).encrypt(nonce, data_key, b"dek:" + tenant.encode())

    def unwrap(self, tenant: str, wrapped: bytes) -> bytes:
        try:
            return self._kek(tenant).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], b"dek:" + tenant.encode())
        except (InvalidTag, ValueError):
            raise DecryptionError from None


class EnvelopeEncryptor:
    def __init__(self, keys: TenantKeys) -> None:
        self._keys = keys

    def encrypt(self, tenant: str, plaintext: bytes, *, context: bytes) -> bytes:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, self._aad(tenant, context))
        wrapped = self._keys.wrap(tenant, data_key)
        return MAGIC + len(wrapped).to_bytes(2, "big") + wrapped + nonce + ciphertext

    def decrypt(self, tenant: str, blob: bytes, *, context: bytes) -> bytes:
        if len(blob) < len(MAGIC) + 2 or not blob.startswith(MAGIC):
            raise DecryptionError
        offset = len(MAGIC) + 2
        wrapped_length = int.from_bytes(blob[len(MAGIC) : offset], "big")
        wrapped = blob[offset : offset + wrapped_length]
        nonce = blob[offset + wrapped_length : offset + wrapped_length + NONCE_BYTES]
        ciphertext = blob[offset + wrapped_length + NONCE_BYTES :]
        if len(wrapped) != wrapped_length or len(nonce) != NONCE_BYTES:
            raise DecryptionError
        data_key = self._keys.unwrap(tenant, wrapped)
        try:
            return AESGCM(data_key).decrypt(nonce, ciphertext, self._aad(tenant, context))
        except (InvalidTag, ValueError):
            raise DecryptionError from None

    @staticmethod
    def _aad(tenant: str, context: bytes) -> bytes:
        return len(tenant.encode()).to_bytes(2, "big") + tenant.encode() + context
