"""Just enough of HCL to find IAM policy statements in Terraform, without a dependency.

python-hcl2 would do, but it is a development dependency of the generator (and
checkov vendors a conflicting version), so preflight parses the subset that
carries policies itself: blocks, attributes, object and tuple literals,
strings with `${...}` interpolations, heredocs and function calls such as
`jsonencode({...})`. Anything else (traversals, operators, `for` expressions)
is kept as an opaque `Expr` with its source text: a check can say "I cannot
see this value" instead of guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class HclError(ValueError):
    """The text is not HCL this parser understands; carries the line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Token:
    kind: str  # IDENT, NUMBER, STRING, HEREDOC, NEWLINE, OP, EOF
    text: str
    line: int


class Object(dict[str, Any]):
    """An object literal (or a block body read as one), remembering its first line."""

    line: int = 0


@dataclass(frozen=True)
class Expr:
    """A value the parser does not evaluate: `var.x`, `a ? b : c`, `[for ...]`; `parts` are its literals."""

    text: str
    parts: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Call:
    """A function call: `jsonencode({...})`, `concat(a, b)`."""

    name: str
    args: tuple[Any, ...]


@dataclass
class Block:
    """`type "label" ... { body }`; attributes by name, nested blocks in order."""

    type: str
    labels: tuple[str, ...]
    line: int
    attributes: dict[str, Any] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")
_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_]*)[ \t]*\n")
_OPERATORS = ("==", "!=", ">=", "<=", "&&", "||", "=>", "...")
_CLOSING = {"{": "}", "[": "]", "(": ")"}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position, line, length = 0, 1, len(text)
    while position < length:
        char = text[position]
        if char in " \t\r":
            position += 1
        elif char == "\n":
            tokens.append(Token("NEWLINE", "\n", line))
            line += 1
            position += 1
        elif char == "#" or text.startswith("//", position):
            end = text.find("\n", position)
            position = length if end < 0 else end
        elif text.startswith("/*", position):
            end = text.find("*/", position + 2)
            if end < 0:
                raise HclError("unterminated /* comment", line)
            line += text.count("\n", position, end)
            position = end + 2
        elif char == '"':
            value, position, lines = _string(text, position, line)
            tokens.append(Token("STRING", value, line))
            line += lines
        elif (heredoc := _HEREDOC.match(text, position)) is not None:
            indented, marker = heredoc.group(1) == "-", heredoc.group(2)
            body_start = heredoc.end()
            closing = re.compile(rf"^[ \t]*{marker}[ \t]*$", re.MULTILINE)
            end = closing.search(text, body_start)
            if end is None:
                raise HclError(f"heredoc {marker} is never closed", line)
            body = text[body_start : end.start()]
            if indented:
                body = "\n".join(row.strip() for row in body.splitlines())
            tokens.append(Token("HEREDOC", body, line))
            line += text.count("\n", position, end.end())
            position = end.end()
        elif (match := _IDENT.match(text, position)) is not None:
            tokens.append(Token("IDENT", match.group(), line))
            position = match.end()
        elif (match := _NUMBER.match(text, position)) is not None:
            tokens.append(Token("NUMBER", match.group(), line))
            position = match.end()
        else:
            operator = next((op for op in _OPERATORS if text.startswith(op, position)), char)
            tokens.append(Token("OP", operator, line))
            position += len(operator)
    tokens.append(Token("EOF", "", line))
    return tokens


def _string(text: str, start: int, line: int) -> tuple[str, int, int]:
    """A quoted string from `start` (the opening quote): (value, position after it, newlines inside)."""
    out: list[str] = []
    position, depth = start + 1, 0
    while position < len(text):
        char = text[position]
        if depth == 0 and char == '"':
            return "".join(out), position + 1, text.count("\n", start, position)
        if char == "\\" and position + 1 < len(text):
            escaped = text[position + 1]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(escaped, "\\" + escaped))
            position += 2
            continue
        if char in "$%" and text.startswith("{", position + 1) and not text.startswith(char * 2, position - 1):
            depth += 1
            out.append(char + "{")
            position += 2
            continue
        if depth and char == '"':
            value, position, _ = _string(text, position, line)  # a string inside an interpolation
            out.append(f'"{value}"')
            continue
        if depth and char == "{":
            depth += 1
        elif depth and char == "}":
            depth -= 1
        out.append(char)
        position += 1
    raise HclError("unterminated string", line)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def expect(self, text: str) -> Token:
        if self.token.text != text or self.token.kind not in {"OP", "IDENT"}:
            raise HclError(f"expected {text!r}, found {self.token.text!r}", self.token.line)
        return self.advance()

    def skip_newlines(self) -> None:
        while self.token.kind == "NEWLINE":
            self.advance()

    # ---------------------------------------------------------------- structure

    def body(self, closing: str | None) -> Block:
        block = Block("", (), self.token.line)
        while True:
            self.skip_newlines()
            if closing is None and self.token.kind == "EOF":
                return block
            if closing is not None and self.token.text == closing and self.token.kind == "OP":
                self.advance()
                return block
            if self.token.kind != "IDENT":
                raise HclError(f"expected an attribute or block, found {self.token.text!r}", self.token.line)
            name = self.advance()
            if self.token.text == "=" and self.token.kind == "OP":
                self.advance()
                closers = frozenset({closing}) if closing else frozenset()
                block.attributes[name.text] = self.expression(stop=frozenset({"NEWLINE"}), closers=closers)
                continue
            labels = []
            while self.token.kind in {"STRING", "IDENT"}:
                labels.append(self.advance().text)
            self.expect("{")
            child = self.body("}")
            block.blocks.append(Block(name.text, tuple(labels), name.line, child.attributes, child.blocks))

    # ---------------------------------------------------------------- expressions

    def expression(self, *, stop: frozenset[str], closers: frozenset[str]) -> Any:
        """Terms up to a NEWLINE (if in `stop`), a `,` or a closer, none consumed; one term is returned as is."""
        start = self.token.line
        terms: list[Any] = []
        texts: list[str] = []
        while True:
            token = self.token
            if token.kind == "EOF" or (token.kind == "NEWLINE" and "NEWLINE" in stop):
                break
            if token.kind == "OP" and (token.text == "," or token.text in closers):
                break
            if token.kind == "NEWLINE":
                self.advance()
                continue
            term, text = self.term()
            terms.append(term)
            texts.append(text)
        if not terms:
            raise HclError("expected a value", start)
        if len(terms) == 1:
            return terms[0]
        return Expr(" ".join(texts), tuple(terms))

    def term(self) -> tuple[Any, str]:
        token = self.advance()
        if token.kind == "STRING":
            return token.text, f'"{token.text}"'
        if token.kind == "HEREDOC":
            return token.text, "<<heredoc>>"
        if token.kind == "OP" and token.text == "{":
            return self.object(token.line), "{...}"
        if token.kind == "OP" and token.text == "[":
            return self.tuple_(), "[...]"
        if token.kind == "OP" and token.text == "(":
            inner = self.expression(stop=frozenset(), closers=frozenset({")"}))
            self.expect(")")
            return inner, "(...)"
        if token.kind == "IDENT" and self.token.text == "(" and self.token.kind == "OP":
            self.advance()
            args = self.sequence(")")
            return Call(token.text, tuple(args)), f"{token.text}(...)"
        if token.kind == "IDENT" and token.text in {"true", "false"}:
            return token.text == "true", token.text
        if token.kind == "IDENT" and token.text == "null":
            return None, "null"
        if token.kind == "IDENT":
            text = self._traversal(token.text)
            return Expr(text), text
        return Expr(token.text), token.text

    def _traversal(self, first: str) -> str:
        """`local.a.b[0]`, `var.x[*].id`: glue the dotted and indexed parts into one expression text."""
        parts = [first]
        while True:
            if self.token.kind == "OP" and self.token.text == "." and self.peek().kind in {"IDENT", "NUMBER", "OP"}:
                self.advance()
                parts.append("." + self.advance().text)
            elif self.token.kind == "OP" and self.token.text == "[" and parts:
                self.advance()
                index = self.expression(stop=frozenset(), closers=frozenset({"]"}))
                self.expect("]")
                parts.append(f"[{index.text if isinstance(index, Expr) else index}]")
            else:
                return "".join(parts)

    def sequence(self, closer: str) -> list[Any]:
        items: list[Any] = []
        while True:
            self.skip_newlines()
            if self.token.kind == "OP" and self.token.text == closer:
                self.advance()
                return items
            items.append(self.expression(stop=frozenset(), closers=frozenset({closer})))
            self.skip_newlines()
            if self.token.kind == "OP" and self.token.text == ",":
                self.advance()

    def tuple_(self) -> Any:
        self.skip_newlines()
        if self.token.kind == "IDENT" and self.token.text == "for":
            return Expr("[for ...]", (self._skip_to("]"),))
        return self.sequence("]")

    def object(self, line: int) -> Any:
        self.skip_newlines()
        if self.token.kind == "IDENT" and self.token.text == "for":
            return Expr("{for ...}", (self._skip_to("}"),))
        result = Object()
        result.line = line
        while True:
            self.skip_newlines()
            if self.token.kind == "OP" and self.token.text == "}":
                self.advance()
                return result
            key_token = self.token
            if key_token.kind in {"IDENT", "STRING", "NUMBER"}:
                key = self._traversal(self.advance().text) if key_token.kind == "IDENT" else self.advance().text
            elif key_token.kind == "OP" and key_token.text == "(":
                key = str(self.term()[1])
            else:
                raise HclError(f"expected an object key, found {key_token.text!r}", key_token.line)
            if self.token.kind != "OP" or self.token.text not in {"=", ":"}:
                raise HclError(f"expected = after {key!r}", self.token.line)
            self.advance()
            result[key] = self.expression(stop=frozenset({"NEWLINE"}), closers=frozenset({"}"}))
            if self.token.kind == "OP" and self.token.text == ",":
                self.advance()

    def _skip_to(self, closer: str) -> tuple[Any, ...]:
        """Skip a `for` expression up to its closer; keep the literals found inside it."""
        literals: list[Any] = []
        depth = 0
        while self.token.kind != "EOF":
            token = self.token
            if token.kind == "OP" and token.text in _CLOSING:
                depth += 1
            elif token.kind == "OP" and token.text in _CLOSING.values():
                if depth == 0 and token.text == closer:
                    self.advance()
                    return tuple(literals)
                depth -= 1
            elif token.kind == "STRING":
                literals.append(token.text)
            self.advance()
        raise HclError(f"unterminated for expression (expected {closer!r})", self.token.line)


def parse(text: str) -> Block:
    """The file's top-level body: its attributes and blocks. Raises HclError."""
    return _Parser(text).body(None)


def walk(value: Any) -> Iterator[Any]:
    """Every value nested in `value` (itself included): through blocks, objects, tuples, calls, expressions."""
    yield value
    if isinstance(value, Block):
        for child in value.attributes.values():
            yield from walk(child)
        for block in value.blocks:
            yield from walk(block)
    elif isinstance(value, dict):
        for child in value.values():
            yield from walk(child)
    elif isinstance(value, list | tuple):
        for child in value:
            yield from walk(child)
    elif isinstance(value, Call):
        yield from walk(value.args)
    elif isinstance(value, Expr):
        yield from walk(value.parts)
    elif isinstance(value, str) and value.lstrip().startswith("{") and '"Statement"' in value:
        try:  # a JSON policy in a heredoc or a file()'d string
            yield from walk(json.loads(value))
        except json.JSONDecodeError:
            return
