"""The built-in bot challenge: a signed proof of work any browser solves in about a second.

A human passes it without doing anything but wait; a bot pays for every
attempt with CPU time, so a challenge taxes a flood without locking anyone
out (a challenge nobody can solve would lock out everyone behind the same
address). Self-hosted: no third party sees the user, no script from
elsewhere runs on the page.

Challenge: `v1.<nonce>.<difficulty>.<expires_at>.<signature>`, where the
signature is HMAC-SHA256 over the first four fields *and the client's
bucket* (its address, or the IPv6 /64 it holds, as the rate limits see it).
The bucket is signed, not sent: a challenge solved by one client verifies
for no other, and the token reveals nothing. Issuing stores nothing, so
asking for challenges costs the server one HMAC.

Answer: `<challenge>.<counter>`, a decimal counter such that SHA-256 of the
whole answer (ASCII) starts with `difficulty` zero bits: 2**difficulty
hashes on average. `/auth/challenge.js` finds it in the browser.

Verification, cheapest first: shape, version, the difficulty is at least the
configured one, not expired, the signature for *this* client (constant
time), the work; then single use, by `SET NX` on the nonce until the
challenge expires. Only a fully valid answer reaches Redis, so junk cannot
fill it, and a replayed answer is refused by every replica.

Key: HMAC-derived from `oidc_client_secret` with a fixed label, so no new
secret has to be provisioned; anyone holding that secret could already act
as the app towards the IdP. Rotating it only invalidates the challenges in
flight (they live minutes): the browser is handed a fresh one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Final

import structlog
from redis import Redis

from .clock import SYSTEM_CLOCK, Clock
from .ratelimit import address_bucket

log = structlog.get_logger("security.proof_of_work")

VERSION: Final = "v1"
ALGORITHM: Final = "sha-256"
#: Seconds a challenge stays solvable: long enough for a slow phone, short enough to be single-use cheaply.
TTL_SECONDS: Final = 300
#: Difficulty bounds, in leading zero bits. Each bit doubles the work; 15 (the default) is about a second on a
#: mid-range phone, 16 about two (docs/step-up-and-abuse.md): more would tax people, fewer would not tax bots.
MIN_DIFFICULTY: Final = 10
MAX_DIFFICULTY: Final = 16
KEY_LABEL: Final = b"bot-challenge/proof-of-work/v1"
#: The secret the signing key is derived from (required by every project, see secrets/).
KEY_SOURCE: Final = "oidc_client_secret"
_ANSWER: Final = re.compile(
    r"(?P<challenge>v1\.(?P<nonce>[A-Za-z0-9_-]{22})\.(?P<difficulty>\d{1,2})\.(?P<expires>\d{10})"
    r"\.(?P<signature>[A-Za-z0-9_-]{43}))\.(?P<counter>0|[1-9]\d{0,11})"
)
MAX_ANSWER_LENGTH: Final = 128
#: Replicas read their own clocks; a challenge issued by one a little ahead is still accepted by another.
CLOCK_SKEW_SECONDS: Final = 30


def derive_key(secret: str) -> bytes:
    """The challenge-signing key: a PRF of an existing secret under a label of its own."""
    return hmac.new(secret.encode("utf-8"), KEY_LABEL, hashlib.sha256).digest()


def leading_zero_bits(digest: bytes) -> int:
    return len(digest) * 8 - int.from_bytes(digest, "big").bit_length()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class ProofOfWork:
    """Issues and verifies proof-of-work challenges (a `bot_challenge.ChallengeVerifier`)."""

    def __init__(
        self,
        redis: Redis,
        key: Callable[[], bytes],
        *,
        key_prefix: str,
        difficulty: int,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY:
            raise ValueError(f"difficulty must be {MIN_DIFFICULTY} to {MAX_DIFFICULTY} bits, not {difficulty}")
        self._redis = redis
        self._key = key
        self._prefix = key_prefix
        self.difficulty = difficulty
        self._clock = clock

    def _signature(self, unsigned: str, remote_ip: str | None) -> str:
        message = f"{unsigned}|{address_bucket(remote_ip or 'unknown')}".encode("ascii", "replace")
        return _b64(hmac.new(self._key(), message, hashlib.sha256).digest())

    def describe(self, remote_ip: str | None) -> dict[str, object]:
        """A fresh challenge for this client, as the JSON 403 and the challenge page carry it."""
        expires_at = int(self._clock.now()) + TTL_SECONDS
        unsigned = f"{VERSION}.{_b64(secrets.token_bytes(16))}.{self.difficulty}.{expires_at}"
        return {
            "kind": "proof_of_work",
            "algorithm": ALGORITHM,
            "challenge": f"{unsigned}.{self._signature(unsigned, remote_ip)}",
            "difficulty": self.difficulty,
            "expires_at": expires_at,
        }

    def verify(self, token: str, remote_ip: str | None) -> bool:
        """True once for an answer that solves a challenge issued to this client and still valid."""
        match = _ANSWER.fullmatch(token) if len(token) <= MAX_ANSWER_LENGTH else None
        if match is None:
            return False
        difficulty, expires_at = int(match["difficulty"]), int(match["expires"])
        now = self._clock.now()
        if not self.difficulty <= difficulty <= MAX_DIFFICULTY:
            return False
        if not now < expires_at <= now + TTL_SECONDS + CLOCK_SKEW_SECONDS:
            return False
        unsigned = match["challenge"].rpartition(".")[0]
        if not hmac.compare_digest(match["signature"], self._signature(unsigned, remote_ip)):
            return False
        if leading_zero_bits(hashlib.sha256(token.encode("ascii")).digest()) < difficulty:
            return False
        ttl = expires_at - int(now) + 1
        used = self._redis.set(f"{self._prefix}:pow:used:{match['nonce']}", "1", nx=True, ex=ttl)
        if not used:
            log.warning("proof_of_work_replayed")
        return bool(used)
