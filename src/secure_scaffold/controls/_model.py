"""The catalog's value objects: `Control` and `Catalog`. Built only by `_loader`, so always valid."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from ._checklist import Checklist
from ._conditions import Answers, Condition

Severity = Literal["blocking", "warning"]
Status = Literal["planned", "implemented"]

#: The `{package}` placeholder of `implemented_in` paths: the `package_name` answer.
PACKAGE_PLACEHOLDER = "{package}"


@dataclass(frozen=True)
class Control:
    """One requirement of the checklist, and where a generated project meets it.

    Attributes:
        id: stable id `FAMILY-NN` (e.g. `AUTH-01`); never renumbered, never reused.
        title: a short imperative ("Require MFA for every user").
        section: the checklist section the requirement comes from.
        checklist: the checklist line it comes from, verbatim (without `- `).
        severity: `blocking` fails preflight (and so the deploy); `warning` is reported.
        owner: the team role accountable for it (`security`, `platform`, ...).
        applies_when: the source of the condition over answers (see `_conditions`).
        compliance: regime id (`soc2`, `pci_saq_a`, `gdpr`, `hipaa`) -> references.
        status: `implemented` only when generated code does it AND a generated test proves it.
        implemented_in: paths in a generated project; `{package}` is the package name.
        proven_by: generated-project test ids, `tests/test_x.py::test_name`.
        preflight: the preflight check id that verifies it in a project, or None.
    """

    id: str
    title: str
    section: str
    checklist: str
    severity: Severity
    owner: str
    applies_when: str
    compliance: Mapping[str, tuple[str, ...]] = field(hash=False)
    status: Status
    implemented_in: tuple[str, ...]
    proven_by: tuple[str, ...]
    preflight: str | None
    condition: Condition = field(repr=False, compare=False, hash=False)

    @property
    def family(self) -> str:
        """The id prefix: `AUTH`, `PAY`, ..."""
        return self.id.rsplit("-", 1)[0]

    def applies_to(self, answers: Mapping[str, object]) -> bool:
        """Whether a project with these answers must meet this control."""
        return self.condition.evaluate(Answers(answers))

    def paths_for(self, package: str) -> tuple[str, ...]:
        """`implemented_in` with `{package}` resolved to a package name."""
        return tuple(path.replace(PACKAGE_PLACEHOLDER, package) for path in self.implemented_in)


@dataclass(frozen=True)
class Catalog:
    """Every control, in catalog order, plus the checklist they were validated against."""

    controls: tuple[Control, ...]
    checklist: Checklist
    retired: frozenset[str] = frozenset()

    def __iter__(self) -> Iterator[Control]:
        return iter(self.controls)

    def __len__(self) -> int:
        return len(self.controls)

    def __getitem__(self, control_id: str) -> Control:
        control = self.get(control_id)
        if control is None:
            raise KeyError(f"no control {control_id!r} in the catalog")
        return control

    def get(self, control_id: str) -> Control | None:
        """The control with this id, or None."""
        return self._by_id.get(control_id)

    @cached_property
    def _by_id(self) -> dict[str, Control]:
        return {control.id: control for control in self.controls}

    @property
    def sections(self) -> tuple[str, ...]:
        """Checklist sections in document order."""
        return self.checklist.sections

    def in_section(self, section: str) -> list[Control]:
        """The controls of one section, in catalog order."""
        return [control for control in self.controls if control.section == section]

    def for_line(self, text: str) -> list[Control]:
        """The controls split from one checklist line."""
        return [control for control in self.controls if control.checklist == text]

    def applicable(self, answers: Mapping[str, object]) -> list[Control]:
        """The controls a project with these answers must meet, in catalog order.

        Raises AnswersError when an answer a condition needs is missing or invalid:
        which controls apply is never guessed.
        """
        view = Answers(answers)
        return [control for control in self.controls if control.condition.evaluate(view)]
