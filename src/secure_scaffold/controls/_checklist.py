"""Read the security checklist into the requirement lines controls must cite.

The checklist is plain text, not structured Markdown: a title, an intro
paragraph, then sections whose heading is a plain line followed by `- ` bullet
lines, then a closing paragraph. Every bullet and the closing paragraph is a
requirement line; a control's `checklist` field is one of them, verbatim, without
the leading `- `. The closing paragraph has no heading of its own, so its
controls sit under `CLOSING_SECTION`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from ..errors import CatalogError

BULLET = "- "

#: The section of the closing paragraph ("Review quarterly, tie controls to owners...").
CLOSING_SECTION = "Governance"


@dataclass(frozen=True)
class ChecklistLine:
    """One requirement of the checklist.

    Attributes:
        text: the line as written, without the leading `- ` of a bullet.
        section: the heading above it, or `CLOSING_SECTION` for the closing paragraph.
    """

    text: str
    section: str


@dataclass(frozen=True)
class Checklist:
    """The requirement lines of the checklist, in document order."""

    lines: tuple[ChecklistLine, ...]

    @property
    def sections(self) -> tuple[str, ...]:
        """Section names in document order, each once."""
        return tuple(dict.fromkeys(line.section for line in self.lines))

    def section_of(self, text: str) -> str | None:
        """The section of requirement line `text`, or None if it is not one."""
        for line in self.lines:
            if line.text == text:
                return line.section
        return None


def parse_checklist(text: str) -> Checklist:
    """Split the checklist text into requirement lines with their sections."""
    rows = [row.strip() for row in text.splitlines() if row.strip()]
    lines: list[ChecklistLine] = []
    section: str | None = None
    for index, row in enumerate(rows):
        if row.startswith(BULLET):
            if section is None:
                raise CatalogError(f"checklist bullet {row!r} comes before any section heading")
            lines.append(ChecklistLine(row.removeprefix(BULLET).strip(), section))
            continue
        next_row = rows[index + 1] if index + 1 < len(rows) else ""
        if next_row.startswith(BULLET):
            section = row
        elif lines:
            lines.append(ChecklistLine(row, CLOSING_SECTION))
        # Otherwise it is the title or the intro: context, not a requirement.
    if not lines:
        raise CatalogError("the checklist holds no requirement lines (no `- ` bullets)")
    return Checklist(tuple(lines))


def packaged_checklist_text() -> str:
    """The checklist shipped inside the package (works from an installed wheel)."""
    return (files(__package__) / "checklist.md").read_text(encoding="utf-8")
