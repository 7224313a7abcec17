"""Test doubles for the abuse and step-up cores: a hand-moved clock, an alert recorder, a verifier.

They stand in only for things outside the app (time, the SIEM, the
challenge provider); Redis and Postgres stay real. `solve_proof_of_work` is
the client's side of the built-in challenge, written from its documented
format (docs/step-up-and-abuse.md), not from the app's code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


class ManualClock:
    """A clock tests move by hand (the `security.clock.Clock` protocol): no sleeps."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.value = start

    def now(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


@dataclass
class RecordingAlertSink:
    """Keeps every alert so a test can assert on kind, source and details."""

    alerts: list = field(default_factory=list)

    def emit(self, alert) -> None:
        self.alerts.append(alert)

    def kinds(self) -> list[str]:
        return [alert.kind for alert in self.alerts]


@dataclass
class OneTokenVerifier:
    """Accepts exactly one token value and records what it was asked (a test verifier)."""

    valid_token: str
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def describe(self, remote_ip: str | None) -> dict[str, object]:
        return {"kind": "test"}

    def verify(self, token: str, remote_ip: str | None) -> bool:
        self.calls.append((token, remote_ip))
        return token == self.valid_token


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solves(token: str, difficulty: int) -> bool:
    return leading_zero_bits(hashlib.sha256(token.encode("ascii")).digest()) >= difficulty


def solve_proof_of_work(challenge: str, difficulty: int) -> str:
    """What the browser does: the first `<challenge>.<counter>` whose SHA-256 starts with `difficulty` zero bits."""
    counter = 0
    while not solves(f"{challenge}.{counter}", difficulty):
        counter += 1
    return f"{challenge}.{counter}"


def unsolved_token(challenge: str, difficulty: int) -> str:
    """A well-formed answer that does not solve the challenge (what a bot that skips the work sends)."""
    counter = 0
    while solves(f"{challenge}.{counter}", difficulty):
        counter += 1
    return f"{challenge}.{counter}"
