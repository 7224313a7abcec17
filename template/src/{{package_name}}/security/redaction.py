"""Secrets and tagged personal data out of logs and out of text sent to a model.

One implementation for both. `RedactSecrets` is a structlog processor
(installed in `log.py`, after the exception formatter, so tracebacks are
scrubbed too); `redact_structured` serves structured data bound for a model
(tool results). Both walk a value recursively and:

- replace the value of any key named like a credential -- secret, token,
  password, passphrase, authorization, cookie, api key, private/access key,
  credential, signature, session id, DSN -- compared case- and
  separator-insensitively (`DB-Password`, `dbPassword`, `db.password` and
  `DB PASSWORD` are one name), or like a classified column
  (security/classification.py), with a marker;
- rewrite every string, wherever it appears, removing provider keys
  (`sk_live_...`, `whsec_...`), AWS access key ids and secret access keys,
  GitHub/Slack/Vault tokens, bearer tokens, JWTs, PEM private keys,
  passwords in URLs, credentials in query strings, high-entropy values after
  a `secret` / `password` / `token` / `key` label, and card numbers that pass
  the Luhn check however their digits are grouped (spaces, dots, dashes,
  several at once).

`redact_prompt` applies the same string rules plus e-mail addresses --
internationalised ones too (RFC 6531: non-ASCII local parts and domains) --
and any values the caller knows are sensitive, to text bound for an LLM.
Redaction is a safety net, not a licence: code still must not log secrets.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, Final

_MAX_DEPTH: Final = 12

#: Words that make a key name a credential, matched against the name lower-cased with every
#: separator removed (so `api_key`, `API-Key`, `apiKey` and `api.key` are all `apikey`).
SECRET_KEY_PATTERN: Final = re.compile(
    r"secret|token|passw|pwd|passphrase|authorization|cookie|apikey|privatekey|accesskey|credential|signature"
    r"|sessionid|dsn|connectionstring"
)
_KEY_SEPARATORS: Final = re.compile(r"[^a-z0-9]")
#: A label that announces a secret in free text (`db_password: ...`, `"apiToken": "..."`, `secret=...`):
#: the label word and the rest of its name, an optional closing quote, `:` or `=`, then the value.
#: The label word is matched without the start of its name, so the scan does no backtracking.
_LABELLED_VALUE: Final = re.compile(
    r"(?i)((?:secret|passw(?:or)?d|pwd|passphrase|token|key)[\w.-]{0,40}[\"']?\s{0,3}[:=]\s{0,3}[\"']?)"
    r"([^\s\"'`,;<>(){}\[\]]{8,})"
)
#: A labelled value is taken for a secret when its Shannon entropy reaches this share of the most
#: its length allows (log2 of the length), capped at 3 bits per character.
_SECRET_ENTROPY_SHARE: Final = 0.85
_SECRET_ENTROPY_CAP: Final = 3.0

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
#: An AWS secret access key: exactly 40 characters of base64 (checked for mixed case and digits).
_AWS_SECRET: Final = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
#: A card number: 13-19 digits in one run, or in groups of 3-6 (the last may be 1-2) joined by up to
#: three separators each -- spaces, dots, dashes, underscores, slashes or their typographic cousins.
_CARD_SEPARATOR: Final = r"[ \t\u00a0\u2007\u2009\u202f._/\\\u00b7\u2022\u2010-\u2015-]{1,3}"
_CARD_GROUPS: Final = r"\d{3,6}(?:" + _CARD_SEPARATOR + r"\d{3,6}){1,5}(?:" + _CARD_SEPARATOR + r"\d{1,2})?"
_CARD: Final = re.compile(r"(?<![\d-])(?:\d{13,19}|" + _CARD_GROUPS + r")(?![\d-])")
#: An e-mail address, internationalised (RFC 6531): Unicode letters in the local part and the domain.
_EMAIL_LOCAL: Final = r"\w.!#$%&'*+/=?^`{|}~-"
_EMAIL: Final = re.compile(rf"(?<![{_EMAIL_LOCAL}])[{_EMAIL_LOCAL}]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_][\w-]*[^\W_]")


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
        digits = "".join(char for char in match.group(0) if char.isdigit())
        return _marker("card") if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)

    return _CARD.sub(replace, text)


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(count / len(value) * math.log2(count / len(value)) for count in counts.values())


def _looks_random(value: str) -> bool:
    """Mixed character classes and high entropy: a generated secret, not a word, a date or a count."""
    letters = any(char.isalpha() for char in value)
    digits = any(char.isdigit() for char in value)
    mixed_case = any(char.isupper() for char in value) and any(char.islower() for char in value)
    threshold = min(_SECRET_ENTROPY_CAP, _SECRET_ENTROPY_SHARE * math.log2(len(value)))
    return ((letters and digits) or mixed_case) and _entropy(value) >= threshold


def _aws_secrets(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        value = match.group(0)
        mixed = any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)
        return _marker("aws_secret_key") if mixed else value

    return _AWS_SECRET.sub(replace, text)


def _labelled_secrets(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return match.group(1) + _marker("secret") if _looks_random(match.group(2)) else match.group(0)

    return _LABELLED_VALUE.sub(replace, text)


def redact_text(text: str) -> str:
    """Remove credentials and card numbers from free text."""
    for kind, pattern in _RULES:
        if kind == "url_password":
            text = pattern.sub(lambda m: f"{m.group(1)}:{_marker('password')}@", text)
        elif kind == "query_secret":
            text = pattern.sub(lambda m: m.group(1) + _marker("credential"), text)
        else:
            text = pattern.sub(_marker(kind), text)
    return _cards(_labelled_secrets(_aws_secrets(text)))


def redact_prompt(text: str, *, sensitive_values: Iterable[str] = (), max_chars: int | None = None) -> str:
    """Text safe to send to a model: credentials, cards, e-mail addresses and known PII removed.

    With `max_chars`, the redacted text is cut to at most that many characters
    (after redaction, so a secret is never split into a part the rules miss).
    """
    for value in sorted({v for v in sensitive_values if v and len(v) >= 3}, key=len, reverse=True):
        text = text.replace(value, _marker("pii"))
    text = _EMAIL.sub(_marker("email"), redact_text(text))
    if max_chars is not None and len(text) > max_chars:
        note = f" [truncated: {len(text) - max_chars} more characters]"
        text = text[: max(0, max_chars - len(note))] + note
    return text


def _key_name(key: str) -> str:
    """`DB-Password`, `dbPassword`, `db.password` -> `dbpassword`."""
    return _KEY_SEPARATORS.sub("", key.lower())


def _is_secret_key(key: object, tagged: frozenset[str]) -> bool:
    if not isinstance(key, str):
        return False
    name = _key_name(key)
    return bool(SECRET_KEY_PATTERN.search(name)) or name in tagged


def redact_value(value: Any, tagged: frozenset[str] = frozenset(), depth: int = 0) -> Any:
    """Redact a value of any shape, recursively (mappings, sequences, sets, strings, bytes).

    `tagged` holds key names as `_key_name` spells them (lower case, no separators).
    """
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


def tagged_names(names: Iterable[str]) -> frozenset[str]:
    """Key names in the form `redact_value` compares them."""
    return frozenset(_key_name(name) for name in names)


def redact_structured(value: Any, *, tagged: Iterable[str] = ()) -> Any:
    """Structured data (a tool result) with credential-named and `tagged` keys withheld, before it is serialised."""
    return redact_value(value, tagged_names(tagged))


class RedactSecrets:
    """structlog processor: every event leaves with secrets and tagged fields removed.

    Attributes:
        tagged: names of classified columns (as `_key_name` spells them), masked wherever they appear as keys.
    """

    def __init__(self, tagged: Iterable[str] = ()) -> None:
        self.tagged = tagged_names(tagged)

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
        return redact_value(event_dict, self.tagged)


def classified_field_names() -> frozenset[str]:
    """Every classified (PII/PHI) column name of the app: withheld as keys in logs and in prompts."""
    from ..customers import CLASSIFIED_TABLES
    from .classification import sensitive_field_names

    return sensitive_field_names(CLASSIFIED_TABLES)


def default_redactor() -> Callable[[Any, str, MutableMapping[str, Any]], dict[str, Any]]:
    """The processor `log.py` installs: credential rules plus every classified column of the app."""
    return RedactSecrets(classified_field_names())
