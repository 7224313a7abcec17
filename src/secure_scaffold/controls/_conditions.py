"""`applies_when`: a tiny condition language over a project's answers, parsed without eval().

Grammar (keywords are lowercase; strings use single or double quotes, no escapes)::

    expression  := conjunction ("or" conjunction)*
    conjunction := negation ("and" negation)*
    negation    := "not" negation | primary
    primary     := "always" | "(" expression ")" | FACT | QUESTION ("==" | "!=") STRING

FACT is a yes/no answer or derived fact: `ai_features`, `billing`
(payment_provider != 'none') or `multi_tenant` (tenancy != 'single').
QUESTION is a choice question of `options.CHOICE_QUESTIONS` (`tenancy`,
`payment_provider`, `idp`, ...) and STRING one of its choice ids, so a typo such
as `tenancy == 'poled'` is rejected when the catalog loads, not silently false.

Examples: `always`, `billing`, `multi_tenant and ai_features`,
`tenancy == 'pooled'`, `not (idp == 'google')`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..errors import AnswersError
from ..options import CHOICE_QUESTIONS

#: Derived facts, computed from answers exactly as copier.yml derives them
#: (`.copier-answers.yml` does not store `when: false` values).
DERIVED_FACTS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "billing": ("payment_provider", lambda provider: provider != "none"),
    "multi_tenant": ("tenancy", lambda tenancy: tenancy != "single"),
}
#: Yes/no answers stored in `.copier-answers.yml`.
BOOLEAN_ANSWERS: tuple[str, ...] = ("ai_features",)
FACTS: tuple[str, ...] = (*BOOLEAN_ANSWERS, *DERIVED_FACTS)
KEYWORDS = frozenset({"always", "and", "or", "not"})

_TOKEN = re.compile(r"\s*(?:(?P<op>==|!=|\(|\))|(?P<string>'[^']*'|\"[^\"]*\")|(?P<word>[A-Za-z_][A-Za-z0-9_]*))")


class ConditionError(ValueError):
    """`applies_when` text that is not a sentence of the grammar; the loader adds context."""


class Answers:
    """Read-only view of a project's answers that checks each value it is asked for."""

    def __init__(self, answers: Mapping[str, object]) -> None:
        self._answers = answers

    def _raw(self, name: str) -> object:
        if name not in self._answers:
            raise AnswersError(f"the answers have no {name!r}; it is needed to decide which controls apply")
        return self._answers[name]

    def choice(self, question: str) -> str:
        """The answer to a choice question, checked against the question's choice ids."""
        value = self._raw(question)
        known = [choice.id for choice in CHOICE_QUESTIONS[question]]
        if value not in known:
            raise AnswersError(f"answer {question}={value!r} is not one of {known}")
        return str(value)

    def fact(self, name: str) -> bool:
        """A yes/no answer, or a fact derived from a choice answer."""
        if name in DERIVED_FACTS:
            question, derive = DERIVED_FACTS[name]
            return derive(self.choice(question))
        value = self._raw(name)
        if not isinstance(value, bool):
            raise AnswersError(f"answer {name}={value!r} must be true or false")
        return value


class Condition(Protocol):
    """A parsed `applies_when` expression."""

    def evaluate(self, answers: Answers) -> bool:
        """True when the control applies to a project with these answers."""
        ...


@dataclass(frozen=True)
class _Always:
    def evaluate(self, answers: Answers) -> bool:
        return True


@dataclass(frozen=True)
class _Fact:
    name: str

    def evaluate(self, answers: Answers) -> bool:
        return answers.fact(self.name)


@dataclass(frozen=True)
class _Compare:
    question: str
    equal: bool
    value: str

    def evaluate(self, answers: Answers) -> bool:
        return (answers.choice(self.question) == self.value) is self.equal


@dataclass(frozen=True)
class _Not:
    operand: Condition

    def evaluate(self, answers: Answers) -> bool:
        return not self.operand.evaluate(answers)


@dataclass(frozen=True)
class _All:
    operands: tuple[Condition, ...]

    def evaluate(self, answers: Answers) -> bool:
        return all(operand.evaluate(answers) for operand in self.operands)


@dataclass(frozen=True)
class _Any:
    operands: tuple[Condition, ...]

    def evaluate(self, answers: Answers) -> bool:
        return any(operand.evaluate(answers) for operand in self.operands)


def _tokenize(source: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(source.rstrip()):
        match = _TOKEN.match(source, position)
        if match is None or match.end() == position:
            raise ConditionError(f"unexpected character {source[position:].lstrip()[:1]!r} at position {position}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over the tokens, one method per grammar rule."""

    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.index = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _next(self, what: str) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise ConditionError(f"expected {what} but the expression ended")
        self.index += 1
        return token

    def _expect(self, text: str) -> None:
        if (found := self._next(repr(text))[1]) != text:
            raise ConditionError(f"expected {text!r} but found {found!r}")

    def _at_word(self, word: str) -> bool:
        return self._peek() == ("word", word)

    def parse(self) -> Condition:
        if not self.tokens:
            raise ConditionError("it is empty; write `always` for controls that apply to every project")
        condition = self.expression()
        if (token := self._peek()) is not None:
            raise ConditionError(f"unexpected {token[1]!r} after a complete expression")
        return condition

    def expression(self) -> Condition:
        operands = [self.conjunction()]
        while self._at_word("or"):
            self._expect("or")
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else _Any(tuple(operands))

    def conjunction(self) -> Condition:
        operands = [self.negation()]
        while self._at_word("and"):
            self._expect("and")
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else _All(tuple(operands))

    def negation(self) -> Condition:
        if self._at_word("not"):
            self._expect("not")
            return _Not(self.negation())
        return self.primary()

    def primary(self) -> Condition:
        kind, text = self._next("a fact, a comparison, 'always' or '('")
        if text == "(" and kind == "op":
            condition = self.expression()
            self._expect(")")
            return condition
        if kind != "word" or text in KEYWORDS - {"always"}:
            raise ConditionError(f"expected a fact, a comparison, 'always' or '(' but found {text!r}")
        if text == "always":
            return _Always()
        if text in FACTS:
            return _Fact(text)
        if text in CHOICE_QUESTIONS:
            return self._comparison(text)
        raise ConditionError(f"unknown name {text!r}; facts: {list(FACTS)}; questions: {list(CHOICE_QUESTIONS)}")

    def _comparison(self, question: str) -> Condition:
        token = self._peek()
        if token is None or token[1] not in {"==", "!="}:
            raise ConditionError(f"{question!r} is a choice, not a yes/no fact; compare it, e.g. {question} == '...'")
        operator = self._next("'==' or '!='")[1]
        kind, quoted = self._next("a quoted choice id")
        if kind != "string":
            raise ConditionError(f"expected a quoted choice id after {question} {operator} but found {quoted!r}")
        value = quoted[1:-1]
        known = [choice.id for choice in CHOICE_QUESTIONS[question]]
        if value not in known:
            raise ConditionError(f"{value!r} is not a choice of {question}; expected one of {known}")
        return _Compare(question, operator == "==", value)


def parse_condition(source: str) -> Condition:
    """Parse `applies_when` text; raises ConditionError saying what is wrong and where."""
    return _Parser(source).parse()
