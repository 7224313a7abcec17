"""Bot challenges after repeated failures or under a flood, failing closed, always solvable by a person.

The first attempts from a source or on an account need no challenge, so
people are not taxed for an attacker's existence. After
`after_failures` counted failures in the stuffing window, once the source
has been flagged as a stuffing source, while the source or account is over
its soft sign-in rate limit (`security.abuse`), or while the global limit of
the endpoint is exceeded (a flood from many addresses), every further attempt
must carry a freshly solved challenge, verified server-side. Verification
fails closed: a timeout, an HTTP error or an unreadable answer counts as
"not solved".

A challenge must be one a human can pass: one nobody can solve would turn
a few junk requests into a lockout of everyone behind the same address.
Verifiers share one small protocol: `describe(remote_ip)` hands the client
what it needs to solve one, `verify(token, remote_ip) -> bool` checks an
answer. Two are built in:

- `proof_of_work.ProofOfWork` (the default): self-hosted, a signed
  proof of work the browser solves in about a second;
- `SiteverifyVerifier`: the siteverify protocol Cloudflare Turnstile and
  hCaptcha both implement (a form POST of the site's key, the widget's
  response and the client's address, answered with JSON carrying `success`
  and `hostname`); your page renders the widget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

import httpx2
import structlog

from ..errors import ChallengeRequiredError
from .internal_http import internal_client
from .stuffing import StuffingMonitor

log = structlog.get_logger("security.bot_challenge")

TURNSTILE_SITEVERIFY_URL: Final = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
CREDENTIAL_NAME: Final = "bot_challenge_secret"
#: Turnstile documents 2048 characters as the longest valid token.
MAX_TOKEN_LENGTH: Final = 2048


class ChallengeVerifier(Protocol):
    """Hands out challenges and checks answers; `verify` is True only for a fresh, valid solve."""

    def describe(self, remote_ip: str | None) -> dict[str, object]: ...

    def verify(self, token: str, remote_ip: str | None) -> bool: ...


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
        self._client = client or internal_client(timeout=timeout)

    def describe(self, remote_ip: str | None) -> dict[str, object]:
        """The widget (and its site key) lives on your page; the client only learns which kind to show."""
        return {"kind": "siteverify"}

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

    def check(
        self,
        source: str,
        account: str | None,
        token: str | None,
        *,
        everyone: bool = False,
        over_limit: bool = False,
    ) -> None:
        """Raise ChallengeRequiredError unless no challenge is due or `token` solves one.

        `everyone`: the endpoint is flooded (its global limit is exceeded), so every attempt is challenged.
        `over_limit`: this source or account is over its soft rate limit, so this attempt is challenged.
        """
        if not everyone and not over_limit and not self.is_required(source, account):
            return
        if not token:
            raise ChallengeRequiredError(challenge=self.verifier.describe(source))
        if not self.verifier.verify(token, source):
            raise ChallengeRequiredError(
                "the bot challenge was not solved; try again", challenge=self.verifier.describe(source)
            )
