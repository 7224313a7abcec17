"""Secrets and tagged personal data out of logs and out of text sent to a model.

`RedactSecrets` is a structlog processor (installed in `log.py`, after the
exception formatter, so tracebacks are scrubbed too). It walks every event
recursively and:

- replaces the value of any key named like a credential (secret, token,
  password, authorization, cookie, api key, ...) or like a classified column
  (security/classification.py) with a marker;
- rewrites every string, wherever it appears, removing provider keys
  (`sk_live_...`, `whsec_...`, AWS access key ids, GitHub/Slack/Vault tokens),
  bearer tokens, JWTs, PEM private keys, passwords in URLs, credentials in
  query strings and card-like numbers that pass the Luhn check.

`redact_prompt` applies the same string rules plus e-mail addresses (and any
values the caller knows are sensitive) to text bound for an LLM.
Redaction is a safety net, not a licence: code still must not log secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, Final

_MAX_DEPTH: Final = 12

#: Keys whose values are always withheld, whatever they look like.
SECRET_KEY_PATTERN: Final = re.compile(
    r"secret|token|passw|pwd|authorization|cookie|api[_-]?key|private[_-]?key|credential|signature|session[_-]?id",
    re.IGNORECASE,
)

_RULES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("private_key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S)),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")),
    ("bearer", re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")),
    ("provider_key", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}")),
    ("webhook_secret", re.compile(r"\bwhsec_[A-Za-z0-9+/=]{8,}")),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b")),
    ("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("vault_token", re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{20,}")),
    ("url_password", re.compile(r"(?<=://)([^/\s:@]+):[^/\s@]+@")),
    (
        "query_secret",
        re.compile(
            r"(?i)([?&;](?:access_token|refresh_token|id_token|token|code|key|api_key|secret|password|signature|sig)=)"
            r"[^&#\s]+"
        ),
    ),
)
_CARD: Final = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_EMAIL: Final = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _cards(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return _marker("card") if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)

    return _CARD.sub(replace, text)


def redact_text(text: str) -> str:
    """Remove credentials and card numbers from free text."""
    for kind, pattern in _RULES:
        if kind == "url_password":
            text = pattern.sub(lambda m: f"{m.group(1)}:{_marker('password')}@", text)
        elif kind == "query_secret":
            text = pattern.sub(lambda m: m.group(1) + _marker("credential"), text)
        else:
            text = pattern.sub(_marker(kind), text)
    return _cards(text)


def redact_prompt(text: str, *, sensitive_values: Iterable[str] = ()) -> str:
    """Text safe to send to a model: credentials, cards, e-mail addresses and known PII removed."""
    for value in sorted({v for v in sensitive_values if v and len(v) >= 3}, key=len, reverse=True):
        text = text.replace(value, _marker("pii"))
    return _EMAIL.sub(_marker("email"), redact_text(text))


def _is_secret_key(key: object, tagged: frozenset[str]) -> bool:
    if not isinstance(key, str):
        return False
    return bool(SECRET_KEY_PATTERN.search(key)) or key.lower() in tagged


def redact_value(value: Any, tagged: frozenset[str] = frozenset(), depth: int = 0) -> Any:
    """Redact a value of any shape, recursively (mappings, sequences, sets, strings, bytes)."""
    if depth > _MAX_DEPTH:
        return _marker("depth")
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _marker("bytes")
    if isinstance(value, Mapping):
        return {
            key: (_marker("field") if _is_secret_key(key, tagged) else redact_value(item, tagged, depth + 1))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item, tagged, depth + 1) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        digits = str(abs(value))
        return _marker("card") if 13 <= len(digits) <= 19 and _luhn(digits) else value
    return redact_text(str(value))


class RedactSecrets:
    """structlog processor: every event leaves with secrets and tagged fields removed.

    Attributes:
        tagged: lower-case names of classified columns, masked wherever they appear as keys.
    """

    def __init__(self, tagged: Iterable[str] = ()) -> None:
        self.tagged = frozenset(name.lower() for name in tagged)

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
        return redact_value(event_dict, self.tagged)


def default_redactor() -> Callable[[Any, str, MutableMapping[str, Any]], dict[str, Any]]:
    """The processor `log.py` installs: credential rules plus every classified column of the app."""
    from ..customers import CLASSIFIED_TABLES
    from .classification import sensitive_field_names

    return RedactSecrets(sensitive_field_names(CLASSIFIED_TABLES))
