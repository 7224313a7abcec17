"""Key wrapping for envelope encryption: the port, and the value it hands out.

A data key encrypts data locally; the backend's key-encryption key (Vault
transit, AWS KMS) wraps the data key and never leaves the backend. The
`context` (e.g. `{"tenant": "t-42"}`) is bound into every wrap: a wrapped
key presented with another tenant's context does not unwrap. Building the
envelope itself (AES-GCM over the data) is the caller's job (tenancy/).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class DataKey:
    """A fresh 256-bit data key: use `plaintext` in memory only, store `wrapped`."""

    plaintext: bytes = field(repr=False)
    wrapped: bytes


class KeyWrapper(Protocol):
    """Wraps and unwraps data keys with a named key-encryption key held by the backend."""

    name: str

    def wrap(self, key: str, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        """Encrypt `plaintext` (a data key) under `key`, bound to `context`."""
        ...

    def unwrap(self, key: str, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        """Decrypt a wrapped data key; the same `context` must be given."""
        ...

    def generate_data_key(self, key: str, context: Mapping[str, str]) -> DataKey:
        """A new data key, already wrapped under `key`."""
        ...


def canonical_context(context: Mapping[str, str]) -> bytes:
    """One byte string per context, whatever the key order (Vault transit takes bytes)."""
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode("utf-8")
