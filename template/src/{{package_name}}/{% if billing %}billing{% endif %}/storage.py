"""Immutable object stores for the canonical invoice copies: written once, never overwritten.

`S3ObjectLockStore` is the production store: the bucket (infra/) has Object
Lock enabled; every object is written with COMPLIANCE-mode retention (nobody,
not even the account root, can shorten or delete it) and `If-None-Match: *`,
so S3 itself refuses a second write of a key. `LocalWriteOnceStore` is the
development/test stand-in: `O_CREAT | O_EXCL` refuses an existing file and
files are created read-only. `APP_ENV=production` refuses it (config.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from .errors import ObjectExistsError, ObjectMissingError

_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")


def checked_key(key: str) -> str:
    if not _KEY.fullmatch(key) or ".." in key:
        raise ValueError(f"invalid object key {key!r}")
    return key


class ImmutableStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store `data` under a new key; raise ObjectExistsError if the key exists."""
        ...

    def get(self, key: str) -> bytes:
        """Return the stored bytes or raise ObjectMissingError."""
        ...


class LocalWriteOnceStore:
    """A directory of read-only files; refuses overwrite. Development and tests only."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        return self._root / checked_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        except FileExistsError:
            raise ObjectExistsError(key) from None
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissingError(key) from None


class S3ObjectLockStore:
    """An S3 bucket with Object Lock: COMPLIANCE retention, conditional create, SHA-256 checksums."""

    def __init__(self, client: Any, bucket: str, *, retention: timedelta, clock: Callable[[], datetime]) -> None:
        self._client = client
        self._bucket = bucket
        self._retention = retention
        self._clock = clock

    def put(self, key: str, data: bytes) -> None:
        from botocore.exceptions import ClientError

        now = self._clock()
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=checked_key(key),
                Body=data,
                IfNoneMatch="*",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=now + self._retention,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
                ContentType="application/octet-stream",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"PreconditionFailed", "ConditionalRequestConflict"}:
                raise ObjectExistsError(key) from None
            raise

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self._client.get_object(Bucket=self._bucket, Key=checked_key(key), ChecksumMode="ENABLED")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise ObjectMissingError(key) from None
            raise
        return response["Body"].read()
