"""A local key-encryption key for development and tests; it refuses to exist in production.

It implements the same `KeyWrapper` port as Vault transit and AWS KMS
(`secrets/keywrap.py`) so the envelope code paths are identical everywhere.
The KEK of version N is derived (HKDF-SHA256) from the dev secret
`dev_key_encryption_key`; raising `APP_DEV_KEK_VERSION` and running
`keys rotate` exercises rotation exactly as a transit key rotation would.
Wrapped keys look like `local:v<N>:` + nonce + AES-GCM ciphertext, with the
context as associated data, so a key wrapped for one tenant does not unwrap
for another.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..config import Settings
from ..errors import ConfigurationError, DecryptionError
from ..secrets.keywrap import DataKey, canonical_context

DEV_KEK_SECRET: Final = "dev_key_encryption_key"  # noqa: S105 - the secret's name, not a value
_WRAPPED: Final = re.compile(rb"local:v(\d{1,6}):")
_NONCE_BYTES: Final = 12
_DATA_KEY_BYTES: Final = 32


class DevKeyWrapper:
    """`KeyWrapper` backed by a secret from the dev secrets file."""

    name = "local-dev"

    def __init__(self, material: str, *, version: int = 1, env: str = "development") -> None:
        if env == "production":
            raise ConfigurationError("the local dev key wrapper refuses to run when APP_ENV=production")
        if len(material) < 32:
            raise ConfigurationError(f"dev secret {DEV_KEK_SECRET!r} must be at least 32 characters")
        if version < 1:
            raise ConfigurationError("APP_DEV_KEK_VERSION must be 1 or more")
        self._material = material.encode("utf-8")
        self.version = version

    @classmethod
    def from_settings(cls, settings: Settings, material: str) -> DevKeyWrapper:
        return cls(material, version=settings.dev_kek_version, env=settings.env)

    def _kek(self, version: int) -> AESGCM:
        info = f"dev key-encryption key v{version}".encode()
        return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._material))

    def wrap(self, key: str, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._kek(self.version).encrypt(nonce, plaintext, _aad(key, context))
        return b"local:v%d:" % self.version + nonce + sealed

    def unwrap(self, key: str, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        match = _WRAPPED.match(wrapped)
        if match is None:
            raise DecryptionError("the wrapped key is not a local dev key")
        body = wrapped[match.end() :]
        try:
            return self._kek(int(match.group(1))).decrypt(body[:_NONCE_BYTES], body[_NONCE_BYTES:], _aad(key, context))
        except InvalidTag:
            raise DecryptionError("the wrapped key does not unwrap for this tenant") from None

    def generate_data_key(self, key: str, context: Mapping[str, str]) -> DataKey:
        plaintext = AESGCM.generate_key(bit_length=_DATA_KEY_BYTES * 8)
        return DataKey(plaintext=plaintext, wrapped=self.wrap(key, plaintext, context))


def _aad(key: str, context: Mapping[str, str]) -> bytes:
    return key.encode("utf-8") + b"\0" + canonical_context(context)
