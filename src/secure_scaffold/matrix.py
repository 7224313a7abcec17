"""The answer matrix: every combination of the choices the template offers.

Used by the generator's tests (render all of it; run a pairwise-covering
subset's own suites) and by `make bench`. Derived from `options.py`, so a new
choice enters the matrix the day it is offered.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from .options import CHOICE_QUESTIONS, COMPLIANCE, available_ids

#: Boolean questions, part of the cartesian product.
BOOL_QUESTIONS: tuple[str, ...] = ("ai_features",)


def compliance_subsets() -> list[list[str]]:
    """Every subset of the compliance multiselect, smallest first."""
    ids = [choice.id for choice in COMPLIANCE if choice.available]
    return [list(combo) for size in range(len(ids) + 1) for combo in itertools.combinations(ids, size)]


def full_matrix() -> Iterator[dict[str, Any]]:
    """The cartesian product of every single-choice and boolean question.

    The compliance multiselect (2^4 subsets) only changes documentation and
    evidence mappings, so instead of multiplying the matrix by 16 each row
    takes the next subset in turn: every subset is rendered many times, with
    every other answer varying.
    """
    names = [*CHOICE_QUESTIONS, *BOOL_QUESTIONS]
    values = [available_ids(name) for name in CHOICE_QUESTIONS] + [[False, True] for _ in BOOL_QUESTIONS]
    subsets = compliance_subsets()
    for index, combo in enumerate(itertools.product(*values)):
        answers = dict(zip(names, combo, strict=True))
        answers["compliance"] = subsets[index % len(subsets)]
        yield answers


def pairwise_matrix() -> list[dict[str, Any]]:
    """A small set of combinations in which every pair of answer values occurs.

    allpairspy is a dev dependency; it is imported here so the package itself
    does not need it at runtime.
    """
    from allpairspy import AllPairs

    names = [name for name in CHOICE_QUESTIONS if len(available_ids(name)) > 1] + list(BOOL_QUESTIONS)
    fixed = {name: available_ids(name)[0] for name in CHOICE_QUESTIONS if len(available_ids(name)) == 1}
    values = [available_ids(name) if name in CHOICE_QUESTIONS else [False, True] for name in names]
    subsets = compliance_subsets()
    rows = []
    for index, combo in enumerate(AllPairs(values)):
        answers = {**fixed, **dict(zip(names, combo, strict=True))}
        answers["compliance"] = subsets[(index * 5) % len(subsets)]
        rows.append(answers)
    return rows


def each_choice_matrix() -> list[dict[str, Any]]:
    """The fewest combinations in which every value of every question appears at least once.

    Row i takes value i of each question (wrapping), shifted per question so
    that the same values do not always travel together; as many rows as the
    question with the most values has (seven identity providers).
    """
    names = [*CHOICE_QUESTIONS, *BOOL_QUESTIONS]
    values = [available_ids(name) for name in CHOICE_QUESTIONS] + [[False, True] for _ in BOOL_QUESTIONS]
    subsets = compliance_subsets()
    rows = []
    for index in range(max(len(options) for options in values)):
        answers = {
            name: options[(index + shift) % len(options)]
            for shift, (name, options) in enumerate(zip(names, values, strict=True))
        }
        answers["compliance"] = subsets[-1] if index == 0 else subsets[index % len(subsets)]
        rows.append(answers)
    return rows


def combination_id(answers: dict[str, Any]) -> str:
    """A short, filesystem-safe, stable name for one combination."""
    parts = [str(answers[name]) for name in CHOICE_QUESTIONS]
    parts += [f"{name}-{int(bool(answers[name]))}" for name in BOOL_QUESTIONS]
    parts.append("c-" + ("_".join(answers.get("compliance", [])) or "none"))
    return "__".join(parts)
