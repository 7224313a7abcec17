"""Present the catalog: Markdown for docs, a plain table for terminals, JSON for tools.

With `answers`, each output keeps only the controls that apply to a project with
those answers, the compliance references of the regimes it selected, and
`{package}` resolved to its package name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..options import COMPLIANCE
from ._model import Catalog, Control

REGENERATE_COMMAND = "secure-scaffold controls --format markdown > docs/controls.md"
_REGIME_LABELS = {choice.id: choice.label for choice in COMPLIANCE}
_NONE = "—"


class _View:
    """The slice of a catalog that one set of answers (or none) selects."""

    def __init__(self, catalog: Catalog, answers: Mapping[str, object] | None) -> None:
        self.catalog = catalog
        self.answers = answers
        self.controls = list(catalog) if answers is None else catalog.applicable(answers)
        regimes = answers.get("compliance") if answers is not None else None
        self.regimes = tuple(regimes) if isinstance(regimes, list | tuple) else tuple(_REGIME_LABELS)
        package = answers.get("package_name") if answers is not None else None
        self.package = package if isinstance(package, str) else None

    def in_section(self, section: str) -> list[Control]:
        return [control for control in self.controls if control.section == section]

    def compliance(self, control: Control) -> dict[str, list[str]]:
        return {regime: list(refs) for regime, refs in control.compliance.items() if regime in self.regimes}

    def paths(self, control: Control) -> list[str]:
        return list(control.paths_for(self.package) if self.package else control.implemented_in)

    def summary(self) -> str:
        implemented = sum(control.status == "implemented" for control in self.controls)
        blocking = sum(control.severity == "blocking" for control in self.controls)
        return (
            f"{len(self.controls)} controls ({blocking} blocking): "
            f"{implemented} implemented, {len(self.controls) - implemented} planned"
        )


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if text else _NONE


def _code_list(items: list[str]) -> str:
    return ", ".join(f"`{item}`" for item in items)


def _compliance_cell(compliance: dict[str, list[str]]) -> str:
    return "; ".join(f"{_REGIME_LABELS[regime]} {', '.join(refs)}" for regime, refs in compliance.items())


def _evidence_cell(view: _View, control: Control) -> str:
    parts = []
    if paths := view.paths(control):
        parts.append(_code_list(paths))
    if control.proven_by:
        parts.append("proven by " + _code_list(list(control.proven_by)))
    if control.preflight:
        parts.append(f"preflight `{control.preflight}`")
    return "<br>".join(parts)


_LEGEND = """\
How to read the tables:

- **severity**: a failing `blocking` control fails `secure-scaffold preflight` and so the deploy; `warning` is reported.
- **status**: `implemented` means a generated project contains the code (the paths, relative to its root, `{package}`
  being its package name) **and** a test of its own that proves it; `planned` means a later release generates it.
- **applies when**: a condition over the project's answers: `always`; the facts `ai_features`, `billing`
  (payment_provider != 'none') and `multi_tenant` (tenancy != 'single'); comparisons of a choice such as
  `tenancy == 'pooled'`; combined with `and`, `or`, `not` and parentheses.
- **compliance**: the criteria, requirements or articles a control supports, where it genuinely applies. A mapping
  is evidence for an assessor, not a certification.
"""


def render_markdown(catalog: Catalog, answers: Mapping[str, object] | None = None) -> str:
    """The controls as Markdown: per checklist section, its lines and a table of their controls."""
    view = _View(catalog, answers)
    scope = "" if answers is None else " that apply to this project's answers"
    out = [
        "# Security controls",
        "",
        f"_Generated from the controls catalog; do not edit by hand. Regenerate with `{REGENERATE_COMMAND}`._",
        "",
        f"Every line of the security checklist, split into controls{scope}: {view.summary()}.",
        "",
        _LEGEND,
    ]
    for section in catalog.sections:
        controls = view.in_section(section)
        if not controls:
            continue
        out += [f"## {section}", "", "Checklist lines and their controls:", ""]
        for line in catalog.checklist.lines:
            if line.section == section:
                ids = [control.id for control in controls if control.checklist == line.text]
                out.append(f"- {line.text} → {', '.join(ids) if ids else 'none apply to these answers'}")
        out += [
            "",
            "| id | title | severity | owner | applies when | status | compliance | where implemented / proven |",
            "|---|---|---|---|---|---|---|---|",
        ]
        out += [
            "| "
            + " | ".join(
                _cell(value)
                for value in (
                    control.id,
                    control.title,
                    control.severity,
                    control.owner,
                    f"`{control.applies_when}`",
                    control.status,
                    _compliance_cell(view.compliance(control)),
                    _evidence_cell(view, control),
                )
            )
            + " |"
            for control in controls
        ]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render_text_table(catalog: Catalog, answers: Mapping[str, object] | None = None) -> str:
    """The controls as a plain-text table for a terminal, grouped by section (no trailing newline)."""
    view = _View(catalog, answers)
    columns = ("id", "severity", "owner", "status")
    widths = [max(len(column), *(len(str(getattr(c, column))) for c in view.controls)) for column in columns]

    def row(values: list[str], title: str) -> str:
        return "  ".join([*(value.ljust(width) for value, width in zip(values, widths, strict=True)), title])

    out = [row([column.upper() for column in columns], "TITLE")]
    for section in catalog.sections:
        if controls := view.in_section(section):
            out += ["", section]
            out += [row([str(getattr(control, column)) for column in columns], control.title) for control in controls]
    out += ["", view.summary()]
    return "\n".join(line.rstrip() for line in out)


def catalog_as_json(catalog: Catalog, answers: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
    """The controls as JSON-ready dicts, one per control, keys in catalog field order."""
    view = _View(catalog, answers)
    return [
        {
            "id": control.id,
            "title": control.title,
            "section": control.section,
            "checklist": control.checklist,
            "severity": control.severity,
            "owner": control.owner,
            "applies_when": control.applies_when,
            "compliance": view.compliance(control),
            "status": control.status,
            "implemented_in": view.paths(control),
            "proven_by": list(control.proven_by),
            "preflight": control.preflight,
        }
        for control in view.controls
    ]
