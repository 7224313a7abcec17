"""Short-lived, single-use records that tie an IdP callback to the login that started it.

`/auth/login` stores `state -> {nonce, PKCE verifier, next, browser binding}`
in Redis for `LOGIN_TTL_SECONDS`; the callback takes it with GETDEL, so a
state (and the code that came with it) works once. The browser binding is a
random value held in a SameSite=Lax cookie that the top-level redirect back
from the IdP still carries: a callback URL replayed from another browser
(login CSRF, session swapping) matches no binding and is refused. Keys hold a
hash of the state, never the state itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass

from redis import Redis

from .auth_errors import LoginStateError
from .clock import Clock
from .pkce import new_code_verifier

LOGIN_TTL_SECONDS = 600


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoginAttempt:
    """One login in flight.

    Attributes:
        state: the OAuth `state` sent to the IdP (only its hash is a Redis key).
        nonce: must come back inside the ID token.
        code_verifier: the PKCE secret; only its S256 challenge leaves the server.
        next_path: the already-sanitised same-origin path to land on.
        binding_hash: sha256 of the browser-binding cookie value.
        created_at: clock time of `/auth/login`.
    """

    state: str
    nonce: str
    code_verifier: str
    next_path: str
    binding_hash: str
    created_at: float


class LoginAttemptStore:
    """Redis-backed pre-auth records; shared by every replica."""

    def __init__(self, redis: Redis, *, prefix: str, clock: Clock) -> None:
        self.redis = redis
        self.prefix = prefix
        self.clock = clock

    def _key(self, state: str) -> str:
        return f"{self.prefix}:oidc:login:{_digest(state)}"

    def start(self, next_path: str) -> tuple[LoginAttempt, str]:
        """Create an attempt; returns it and the browser-binding value for the cookie."""
        binding = secrets.token_urlsafe(32)
        attempt = LoginAttempt(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=new_code_verifier(),
            next_path=next_path,
            binding_hash=_digest(binding),
            created_at=self.clock.now(),
        )
        self.redis.set(self._key(attempt.state), json.dumps(asdict(attempt)), ex=LOGIN_TTL_SECONDS)
        return attempt, binding

    def is_pending(self, state: str, binding: str | None) -> bool:
        """Whether `state` is a login in flight started by this browser; consumes nothing (for login guards)."""
        raw = self.redis.get(self._key(state))
        if raw is None or binding is None:
            return False
        return hmac.compare_digest(json.loads(raw)["binding_hash"], _digest(binding))

    def take(self, state: str, binding: str | None) -> LoginAttempt:
        """Consume the attempt for `state`; refuse unknown, replayed, expired or foreign ones."""
        raw = self.redis.getdel(self._key(state))
        if raw is None:
            raise LoginStateError("this login is unknown, expired or was already used; start again")
        attempt = LoginAttempt(**json.loads(raw))
        if binding is None or not hmac.compare_digest(attempt.binding_hash, _digest(binding)):
            raise LoginStateError("this login was started in another browser; start again")
        if self.clock.now() - attempt.created_at > LOGIN_TTL_SECONDS:
            raise LoginStateError("this login took too long; start again")
        return attempt
