"""Test doubles for the abuse and step-up cores: a hand-moved clock, an alert recorder, a verifier.

They stand in only for things outside the app (time, the SIEM, the
challenge provider); Redis and Postgres stay real.
"""

from __future__ import annotations

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

    def verify(self, token: str, remote_ip: str | None) -> bool:
        self.calls.append((token, remote_ip))
        return token == self.valid_token
