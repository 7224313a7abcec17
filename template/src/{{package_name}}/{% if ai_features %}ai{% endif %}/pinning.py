"""Model pinning: an exact model id and version, or nothing.

A floating alias (`latest`, a bare family name with no version) lets the
provider change the model -- and with it refusals, tool use and prompt
injection behaviour -- without a code review. The gateway only accepts a
`ModelPin`, and a pin cannot be built from a floating reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .errors import ModelNotPinnedError

_MODEL: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
_VERSION: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_FLOATING: Final = re.compile(r"latest|current|stable|default|preview|\*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ModelPin:
    """The model every request goes to.

    Attributes:
        model: the provider's model id, e.g. `vendor-model-large`.
        version: the fixed snapshot, e.g. `2025-01-15` or `v3.2.1`.
    """

    model: str
    version: str

    def __post_init__(self) -> None:
        for label, value, shape in (("model id", self.model, _MODEL), ("model version", self.version, _VERSION)):
            if not value or not shape.fullmatch(value):
                raise ModelNotPinnedError(f"the {label} must be set to an exact value")
            if _FLOATING.search(value):
                raise ModelNotPinnedError(f"the {label} {value!r} floats; pin an exact snapshot, not an alias")

    @classmethod
    def from_settings(cls, settings) -> ModelPin:
        if not settings.llm_model or not settings.llm_model_version:
            raise ModelNotPinnedError("set APP_LLM_MODEL and APP_LLM_MODEL_VERSION to use the AI features")
        return cls(settings.llm_model, settings.llm_model_version)

    def __str__(self) -> str:
        return f"{self.model}@{self.version}"
