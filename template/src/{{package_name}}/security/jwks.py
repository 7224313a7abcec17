"""The IdP's signing keys, cached per process and refetched when a new `kid` appears.

Key rotation at the IdP needs no restart: a token signed with a key id the
cache does not know triggers one refetch. Refetches forced that way are
limited to one per `min_refetch_interval`, so a flood of tokens with made-up
key ids cannot turn the app into a JWKS-fetching amplifier. Only public
signing keys of the allowed types are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey, import_key

from .auth_errors import InvalidTokenError
from .clock import Clock

KEY_TYPE_FOR_ALGORITHM: Mapping[str, tuple[type[Key], str | None]] = {
    "RS256": (RSAKey, None),
    "ES256": (ECKey, "P-256"),
}


def _usable_keys(document: Mapping[str, object]) -> list[tuple[dict[str, object], Key]]:
    raw = document.get("keys")
    keys = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or item.get("use", "sig") != "sig":
            continue
        try:
            key = import_key(item)
        except (JoseError, ValueError, TypeError, KeyError):
            continue  # a key type we cannot use (or a malformed one) is skipped, not fatal
        if key.is_private:
            continue
        keys.append((item, key))
    return keys


def _matches(jwk: Mapping[str, object], key: Key, algorithm: str) -> bool:
    key_type, curve = KEY_TYPE_FOR_ALGORITHM[algorithm]
    if not isinstance(key, key_type) or jwk.get("alg", algorithm) != algorithm:
        return False
    return curve is None or jwk.get("crv") == curve


class JwksCache:
    """Signing keys of one issuer.

    Attributes:
        load: fetches the JWKS document (the IdP's `jwks_uri`).
        max_age: seconds after which the keys are refetched anyway.
        min_refetch_interval: at most one unknown-kid refetch per this many seconds.
    """

    def __init__(
        self,
        load: Callable[[], Mapping[str, object]],
        clock: Clock,
        *,
        max_age: float = 3600,
        min_refetch_interval: float = 30,
    ) -> None:
        self.load = load
        self.clock = clock
        self.max_age = max_age
        self.min_refetch_interval = min_refetch_interval
        self._keys: list[tuple[dict[str, object], Key]] | None = None
        self._fetched_at = 0.0
        self._last_forced_refetch: float | None = None
        self._lock = threading.Lock()

    @property
    def kids(self) -> tuple[str, ...]:
        """Key ids currently cached (for operators and tests; empty before the first token)."""
        return tuple(str(jwk.get("kid")) for jwk, _ in self._keys or [])

    def _refresh(self) -> None:
        self._keys = _usable_keys(self.load())
        self._fetched_at = self.clock.now()

    def _find(self, kid: str | None, algorithm: str) -> Key | None:
        candidates = [
            key
            for jwk, key in self._keys or []
            if _matches(jwk, key, algorithm) and (kid is None or jwk.get("kid") == kid)
        ]
        # Without a kid the choice must be unambiguous.
        return candidates[0] if len(candidates) == 1 or (kid is not None and candidates) else None

    def key_for(self, kid: str | None, algorithm: str) -> Key:
        """The verification key for a token header, refetching once for a new kid."""
        with self._lock:
            now = self.clock.now()
            if self._keys is None or now - self._fetched_at > self.max_age:
                self._refresh()
            key = self._find(kid, algorithm)
            if key is not None:
                return key
            last = self._last_forced_refetch
            if last is None or now - last >= self.min_refetch_interval:
                self._last_forced_refetch = now
                self._refresh()
                key = self._find(kid, algorithm)
                if key is not None:
                    return key
        raise InvalidTokenError("the token is signed with a key the identity provider does not publish")
