"""Development secrets: a JSON file outside the repository, refused in production.

It exists so a laptop or CI can run the app without a Vault; it is not a
fallback. The file is named by `APP_DEV_SECRETS_FILE` and must not be
group- or world-readable.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from ..errors import ConfigurationError, MissingSecretError


@dataclass(frozen=True)
class DevSecretsProvider:
    """Secrets from a local JSON object of string values."""

    path: Path
    values: dict[str, str] = field(repr=False)
    name: str = "dev"

    @classmethod
    def from_settings(cls, settings: Settings) -> DevSecretsProvider:
        if settings.env == "production":
            raise ConfigurationError("the dev secrets backend refuses to run when APP_ENV=production")
        if not settings.dev_secrets_file:
            raise ConfigurationError("APP_DEV_SECRETS_FILE must name a JSON file when APP_SECRETS_BACKEND=dev")
        return cls.from_file(Path(settings.dev_secrets_file))

    @classmethod
    def from_file(cls, path: Path) -> DevSecretsProvider:
        try:
            mode = path.stat().st_mode
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ConfigurationError(f"dev secrets file {path} does not exist") from error
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"dev secrets file {path} is not valid JSON (line {error.lineno})") from error
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(f"dev secrets file {path} is readable by others; chmod 600 it")
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise ConfigurationError(f"dev secrets file {path} must hold a JSON object of strings")
        return cls(path=path, values=dict(raw))

    def get(self, key: str) -> str:
        try:
            return self.values[key]
        except KeyError:
            raise MissingSecretError(key, self.name) from None

    def ping(self) -> None:
        if not self.path.is_file():
            raise ConfigurationError(f"dev secrets file {self.path} disappeared")
