"""Typed errors of secure-scaffold; the CLI maps each to a message and an exit code in one place."""

from __future__ import annotations


class SecureScaffoldError(Exception):
    """Root of every error secure-scaffold raises on purpose; its message is for the user."""

    exit_code = 2


class TemplateNotFoundError(SecureScaffoldError, FileNotFoundError):
    """The template (copier.yml + template/) could not be located."""


class DestinationNotEmptyError(SecureScaffoldError, FileExistsError):
    """The destination exists and holds files; generating there could overwrite work."""


class InvalidAnswerError(SecureScaffoldError, ValueError):
    """An answer failed its question's validator or is not one of its choices."""


class DataFileError(SecureScaffoldError, ValueError):
    """A --data-file or --data value could not be read."""


class CatalogError(SecureScaffoldError, ValueError):
    """The controls catalog (or the checklist it cites) is malformed."""


class AnswersError(SecureScaffoldError, ValueError):
    """Project answers lack, or mistype, a value a control's `applies_when` needs."""


class PreflightError(SecureScaffoldError, ValueError):
    """Preflight was asked for something it cannot do (no such directory, unknown control id, skip without reason)."""


class ProfileError(SecureScaffoldError, ValueError):
    """An org profile is malformed, contradicts itself, or an answer breaks one of its locks."""


class UpdateRefusedError(SecureScaffoldError, RuntimeError):
    """An update was refused before it started (dirty tree, not a generated project)."""


class UpdateConflictError(SecureScaffoldError, RuntimeError):
    """An update left conflict markers or .rej files; the files are named."""

    exit_code = 1

    def __init__(self, message: str, *, files: list[str]) -> None:
        super().__init__(message)
        self.files = files
