"""Per-tenant envelope encryption: a data key per tenant, wrapped by a key-encryption key.

Each tenant has AES-256-GCM data keys (`tenant_keys`, one row per version).
Only their wrapped form is stored; the key-encryption key (KEK) that wraps
them stays in Vault transit or AWS KMS (`secrets/keywrap.py`), or -- outside
production only -- in the dev wrapper. Wrapping is bound to the tenant (the
KMS encryption context / Vault derived-key context), so a wrapped key copied
to another tenant's row does not unwrap.

A ciphertext is `0x01 | key version (4 bytes) | nonce (12) | AES-GCM output`,
and its associated data names the tenant, the column and the key version:
moved to another tenant or another column, it fails authentication. Storing
the key version with each ciphertext is what makes rotation safe without
downtime: `keys rotate` re-wraps every version under the current KEK and
makes a new version active for new writes; old ciphertexts keep naming (and
finding) the version that sealed them.

Keys are read through the caller's `TenantTransaction`, so tenant isolation
(row-level security, tenant schema, tenant database) guards them too.
Unwrapped keys are cached in memory for a few minutes, keyed by tenant,
version and wrapped bytes, to spare the KEK a call per request.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, text

from ..db.scope import TenantTransaction
from ..errors import DecryptionError, InvalidTenantError, KeyManagementError, MissingTenantError
from ..secrets.keywrap import KeyWrapper

FORMAT: Final = 1
_HEADER: Final = struct.Struct(">BI")
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
MIN_CIPHERTEXT_BYTES: Final = _HEADER.size + _NONCE_BYTES + _TAG_BYTES
#: A tenant id that may become part of a key name: the tenant allow-list (tenancy/context.py), ASCII only.
KEY_NAME_TENANT: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?", re.ASCII)


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One row of `tenant_keys`."""

    tenant: str
    version: int
    wrapped: bytes = field(repr=False)
    wrapper: str
    kek_version: str
    active: bool


@dataclass(frozen=True, slots=True)
class Rotation:
    """What `rotate` did for one tenant."""

    tenant: str
    rewrapped: int
    active_version: int


def kek_version_of(wrapped: bytes, default: str) -> str:
    """The KEK version a wrapped key names (`vault:v3:...`, `local:v2:...`), else `default` (KMS key id)."""
    prefix, _, rest = wrapped.partition(b":")
    version, _, _ = rest.partition(b":")
    if prefix in (b"vault", b"local") and version.startswith(b"v") and version[1:].isdigit():
        return version.decode("ascii")
    return default


def key_version_of(ciphertext: bytes) -> int:
    """The data key version a ciphertext was sealed with."""
    if len(ciphertext) < MIN_CIPHERTEXT_BYTES or ciphertext[0] != FORMAT:
        raise DecryptionError("not a ciphertext of this application")
    return _HEADER.unpack_from(ciphertext)[1]


def _associated_data(tenant: str, column: str, version: int) -> bytes:
    return json.dumps({"f": FORMAT, "tenant": tenant, "column": column, "key": version}, sort_keys=True).encode()


def kek_for(kek: str, tenant: str) -> str:
    """The KEK that wraps `tenant`'s data keys: `{tenant}` in the configured name becomes the tenant id.

    So a deployment can give every tenant a key of its own (one KMS key per tenant, alias
    `alias/<name>/tenant/{tenant}`, with schema and silo tenancy): deleting it crypto-shreds
    that tenant alone. Without the placeholder, one KEK wraps every tenant's keys, each bound
    to its tenant by the wrap context.

    The tenant comes from a token claim (billing passes it straight through), and the name
    ends up in a URL path (hvac does not escape it; the HTTP client resolves `..`) or a KMS
    alias: only an id of the tenant allow-list is put in, never a path, a dot segment,
    non-ASCII or anything longer than 64 characters (`InvalidTenantError`: 403 `tenant_invalid`).
    """
    if "{tenant}" not in kek:
        return kek
    if not tenant:
        raise MissingTenantError
    if not KEY_NAME_TENANT.fullmatch(tenant) or ".." in tenant:
        raise InvalidTenantError
    return kek.replace("{tenant}", tenant)


def _wrap_context(tenant: str, version: int) -> dict[str, str]:
    return {"tenant": tenant, "purpose": "tenant-data-key", "key_version": str(version)}


class KeyStore:
    """SQL on `tenant_keys`; every call runs on a tenant-scoped transaction."""

    _ACTIVE: Final = text(
        "SELECT tenant_id, version, wrapped_key, wrapper, kek_version, active FROM tenant_keys "
        "WHERE tenant_id = :tenant AND active"
    )
    _VERSION: Final = text(
        "SELECT tenant_id, version, wrapped_key, wrapper, kek_version, active FROM tenant_keys "
        "WHERE tenant_id = :tenant AND version = :version"
    )
    _ALL: Final = text(
        "SELECT tenant_id, version, wrapped_key, wrapper, kek_version, active FROM tenant_keys "
        "WHERE tenant_id = :tenant ORDER BY version FOR UPDATE"
    )
    _INSERT: Final = text(
        "INSERT INTO tenant_keys (tenant_id, version, wrapped_key, wrapper, kek_version, active) "
        "VALUES (:tenant, :version, :wrapped, :wrapper, :kek_version, true) ON CONFLICT DO NOTHING"
    )
    _REWRAP: Final = text(
        "UPDATE tenant_keys SET wrapped_key = :wrapped, wrapper = :wrapper, kek_version = :kek_version, "
        "rewrapped_at = now() WHERE tenant_id = :tenant AND version = :version"
    )
    _RETIRE: Final = text("UPDATE tenant_keys SET active = false WHERE tenant_id = :tenant AND active")

    @staticmethod
    def _key(row) -> StoredKey:
        return StoredKey(row[0], row[1], bytes(row[2]), row[3], row[4], row[5])

    def active(self, tx: TenantTransaction) -> StoredKey | None:
        row = tx.connection.execute(self._ACTIVE, {"tenant": tx.tenant}).first()
        return None if row is None else self._key(row)

    def version(self, tx: TenantTransaction, version: int) -> StoredKey | None:
        row = tx.connection.execute(self._VERSION, {"tenant": tx.tenant, "version": version}).first()
        return None if row is None else self._key(row)

    def all_for_update(self, tx: TenantTransaction) -> list[StoredKey]:
        return [self._key(row) for row in tx.connection.execute(self._ALL, {"tenant": tx.tenant})]

    def insert(self, tx: TenantTransaction, key: StoredKey) -> None:
        tx.connection.execute(
            self._INSERT,
            {
                "tenant": tx.tenant,
                "version": key.version,
                "wrapped": key.wrapped,
                "wrapper": key.wrapper,
                "kek_version": key.kek_version,
            },
        )

    def rewrap(self, tx: TenantTransaction, key: StoredKey) -> None:
        values = {"tenant": tx.tenant, "version": key.version, "wrapped": key.wrapped}
        tx.connection.execute(self._REWRAP, {**values, "wrapper": key.wrapper, "kek_version": key.kek_version})

    def retire_active(self, tx: TenantTransaction) -> None:
        tx.connection.execute(self._RETIRE, {"tenant": tx.tenant})


class TenantKeyring:
    """Encrypts and decrypts column values with the transaction's tenant's data keys.

    Attributes:
        wrapper: the KEK backend (Vault transit, AWS KMS, or the dev wrapper).
        kek: the KEK's name there (transit key name, KMS key id or alias).
        on_first_key: called with the connection and tenant when a tenant gets its
            first data key (pooled tenancy registers the tenant there).
    """

    def __init__(
        self,
        wrapper: KeyWrapper,
        kek: str,
        *,
        on_first_key: Callable[[Connection, str], None] | None = None,
        cache_seconds: float = 300.0,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wrapper = wrapper
        self.kek = kek
        self.store = KeyStore()
        self._on_first_key = on_first_key
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._clock = clock
        self._cache: OrderedDict[tuple[str, int, bytes], tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    # -- data ---------------------------------------------------------------
    def encrypt(self, tx: TenantTransaction, column: str, plaintext: bytes) -> bytes:
        stored = self.store.active(tx) or self._create_first_key(tx)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self._unwrap(stored)).encrypt(
            nonce, plaintext, _associated_data(tx.tenant, column, stored.version)
        )
        return _HEADER.pack(FORMAT, stored.version) + nonce + sealed

    def decrypt(self, tx: TenantTransaction, column: str, ciphertext: bytes) -> bytes:
        version = key_version_of(ciphertext)
        stored = self.store.version(tx, version)
        if stored is None:
            raise DecryptionError("the ciphertext names a data key this tenant does not have")
        body = ciphertext[_HEADER.size :]
        try:
            return AESGCM(self._unwrap(stored)).decrypt(
                body[:_NONCE_BYTES], body[_NONCE_BYTES:], _associated_data(tx.tenant, column, version)
            )
        except InvalidTag:
            raise DecryptionError("the ciphertext does not belong to this tenant and column, or was altered") from None

    def encrypt_text(self, tx: TenantTransaction, column: str, value: str) -> bytes:
        return self.encrypt(tx, column, value.encode("utf-8"))

    def decrypt_text(self, tx: TenantTransaction, column: str, ciphertext: bytes) -> str:
        return self.decrypt(tx, column, ciphertext).decode("utf-8")

    # -- keys ---------------------------------------------------------------
    def _create_first_key(self, tx: TenantTransaction) -> StoredKey:
        kek = kek_for(self.kek, tx.tenant)
        generated = self.wrapper.generate_data_key(kek, _wrap_context(tx.tenant, 1))
        candidate = StoredKey(
            tx.tenant, 1, generated.wrapped, self.wrapper.name, kek_version_of(generated.wrapped, kek), True
        )
        self.store.insert(tx, candidate)  # a concurrent replica may win the race; then use its key
        if self._on_first_key is not None:
            self._on_first_key(tx.connection, tx.tenant)
        stored = self.store.active(tx)
        if stored is None:
            raise KeyManagementError("the tenant's data key could not be created")
        return stored

    def _check_wrapper(self, stored: StoredKey) -> None:
        if stored.wrapper != self.wrapper.name:
            raise KeyManagementError(
                f"data key v{stored.version} was wrapped by {stored.wrapper!r}, but this process unwraps with "
                f"{self.wrapper.name!r}; configure the same key-encryption backend"
            )

    def _unwrap(self, stored: StoredKey) -> bytes:
        self._check_wrapper(stored)
        cache_key = (stored.tenant, stored.version, hashlib.sha256(stored.wrapped).digest())
        now = self._clock()
        with self._lock:
            hit = self._cache.get(cache_key)
            if hit is not None and hit[1] > now:
                self._cache.move_to_end(cache_key)
                return hit[0]
        kek = kek_for(self.kek, stored.tenant)
        plaintext = self.wrapper.unwrap(kek, stored.wrapped, _wrap_context(stored.tenant, stored.version))
        with self._lock:
            self._cache[cache_key] = (plaintext, now + self._cache_seconds)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return plaintext

    def rotate(self, tx: TenantTransaction, *, new_version: bool = True) -> Rotation:
        """Re-wrap every data key of the tenant under the current KEK; then add a new active version.

        Run as the schema owner (`keys rotate`): the runtime role may not update
        keys. Old versions stay, so every existing ciphertext stays readable.
        """
        keys = self.store.all_for_update(tx)
        kek = kek_for(self.kek, tx.tenant)
        for stored in keys:
            self._check_wrapper(stored)
            context = _wrap_context(tx.tenant, stored.version)
            plaintext = self.wrapper.unwrap(kek, stored.wrapped, context)
            wrapped = self.wrapper.wrap(kek, plaintext, context)
            self.store.rewrap(
                tx,
                StoredKey(tx.tenant, stored.version, wrapped, self.wrapper.name, kek_version_of(wrapped, kek), False),
            )
        active = max((k.version for k in keys if k.active), default=0)
        if new_version or not keys:
            version = max((k.version for k in keys), default=0) + 1
            generated = self.wrapper.generate_data_key(kek, _wrap_context(tx.tenant, version))
            self.store.retire_active(tx)
            self.store.insert(
                tx,
                StoredKey(
                    tx.tenant,
                    version,
                    generated.wrapped,
                    self.wrapper.name,
                    kek_version_of(generated.wrapped, kek),
                    True,
                ),
            )
            active = version
            if not keys and self._on_first_key is not None:
                self._on_first_key(tx.connection, tx.tenant)
        return Rotation(tenant=tx.tenant, rewrapped=len(keys), active_version=active)
