"""Bot challenges (Turnstile, hCaptcha, ...) after repeated failures, failing closed.

The first attempts from a source or on an account need no challenge, so
people are not taxed for an attacker's existence. After
`after_failures` failures in the stuffing window (or once the source has been
flagged as a stuffing source), every further attempt must carry a freshly
solved challenge token, verified server-side. Verification fails closed:
a timeout, an HTTP error or an unreadable answer counts as "not solved".

Verifiers share one tiny protocol, `verify(token, remote_ip) -> bool`, so a
provider is one class. `SiteverifyVerifier` speaks the siteverify protocol
Cloudflare Turnstile and hCaptcha both implement (form POST of `secret`,
`response`, `remoteip`; JSON `{"success": bool, "hostname": ...}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

import httpx2
import structlog

from ..errors import ChallengeRequiredError
from .stuffing import StuffingMonitor

log = structlog.get_logger("security.bot_challenge")

TURNSTILE_SITEVERIFY_URL: Final = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
CREDENTIAL_NAME: Final = "bot_challenge_secret"
#: Turnstile documents 2048 characters as the longest valid token.
MAX_TOKEN_LENGTH: Final = 2048


class ChallengeVerifier(Protocol):
    """Checks a challenge token with its issuer; True only for a fresh, valid solve."""

    def verify(self, token: str, remote_ip: str | None) -> bool: ...


class DenyAllVerifier:
    """No challenge can be solved: after N failures the source or account waits out the window."""

    def verify(self, token: str, remote_ip: str | None) -> bool:
        return False


class SiteverifyVerifier:
    """A Turnstile/hCaptcha-compatible siteverify client.

    `expected_hostname`, when given, must equal the hostname the provider says
    the widget was solved on, so a token solved on another site is refused.
    """

    def __init__(
        self,
        secret: str,
        *,
        verify_url: str = TURNSTILE_SITEVERIFY_URL,
        expected_hostname: str | None = None,
        timeout: float = 3.0,
        client: httpx2.Client | None = None,
    ) -> None:
        self._secret = secret
        self._url = verify_url
        self._hostname = expected_hostname
        self._client = client or httpx2.Client(timeout=timeout, follow_redirects=False)

    def verify(self, token: str, remote_ip: str | None) -> bool:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return False
        form = {"secret": self._secret, "response": token}
        if remote_ip:
            form["remoteip"] = remote_ip
        try:
            response = self._client.post(self._url, data=form)
        except httpx2.HTTPError as error:
            log.warning("bot_challenge_unavailable", error=type(error).__name__)
            return False
        if response.status_code != 200:
            log.warning("bot_challenge_unavailable", status=response.status_code)
            return False
        try:
            body = response.json()
        except ValueError:
            log.warning("bot_challenge_malformed_answer")
            return False
        if not isinstance(body, dict) or body.get("success") is not True:
            return False
        return self._hostname is None or body.get("hostname") == self._hostname

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class ChallengeGate:
    """Decides when a challenge is required and checks the token when it is."""

    monitor: StuffingMonitor
    verifier: ChallengeVerifier
    after_failures: int = 5

    def is_required(self, source: str, account: str | None) -> bool:
        counts = self.monitor.failures(source, account)
        if max(counts.source, counts.account) >= self.after_failures:
            return True
        return self.monitor.is_flagged(source)

    def check(self, source: str, account: str | None, token: str | None) -> None:
        """Raise ChallengeRequiredError unless no challenge is due or `token` solves one."""
        if not self.is_required(source, account):
            return
        if not token:
            raise ChallengeRequiredError()
        if not self.verifier.verify(token, source):
            raise ChallengeRequiredError("the bot challenge was not solved; try again")
