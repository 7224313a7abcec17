"""How a workflow step calls `secure-scaffold preflight`, read as the shell reads it.

A substring test ("--profile" in the script) is satisfied by a comment or by
an unrelated variable; a gate check must see the arguments the shell passes.
So each script is split as a shell would (backslash continuations joined,
comments dropped, quotes removed) and every `... secure-scaffold preflight ...`
command is returned as its argument list, up to the next shell operator.

Two forms of passing the organisation's profile are recognised: `--profile
VALUE` on the command itself, and the generated templates' array form, where
the step assigns `profile=(--profile "$SECURE_SCAFFOLD_PROFILE")` and the
command passes `"${profile[@]}"`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

#: Tokens that end one shell command and start the next.
_OPERATORS = frozenset({"&&", "||", ";", "|", "&"})
#: Options that narrow what preflight proves: a gate run with any of them does not gate.
NARROWING_OPTIONS = ("--only", "--skip", "--allow-unknown")
_PROFILE_ARRAY = "${profile[@]}"
_PROFILE_ASSIGNMENT = "profile=(--profile"


@dataclass(frozen=True)
class PreflightCall:
    """One `secure-scaffold preflight` command of a script."""

    arguments: tuple[str, ...]
    #: the step's whole script assigns the profile array (`profile=(--profile ...)`).
    script_assigns_profile: bool
    #: the command's failure is swallowed (`|| true`, `|| :`).
    exit_ignored: bool

    @property
    def passes_profile(self) -> bool:
        arguments = list(self.arguments)
        for index, argument in enumerate(arguments):
            if argument == "--profile" and index + 1 < len(arguments) and arguments[index + 1].strip():
                return True
            if argument.startswith("--profile=") and argument.partition("=")[2].strip():
                return True
        return _PROFILE_ARRAY in arguments and self.script_assigns_profile

    def narrowing(self) -> list[str]:
        """`--only X`, `--skip Y`, `--allow-unknown Z` as given (each option with its control id)."""
        found = []
        arguments = list(self.arguments)
        for index, argument in enumerate(arguments):
            for option in NARROWING_OPTIONS:
                if argument == option:
                    found.append(f"{option} {arguments[index + 1] if index + 1 < len(arguments) else ''}".strip())
                elif argument.startswith(option + "="):
                    found.append(argument.replace("=", " ", 1))
        return found

    def skips(self, control_id: str) -> bool:
        return any(item.split(" ", 1)[-1] == control_id for item in self.narrowing() if " " in item)


def _commands(script: str) -> list[list[str]]:
    """The script's simple commands as token lists; a line the shell lexer cannot read is dropped."""
    joined = script.replace("\\\n", " ")
    commands: list[list[str]] = []
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError:
            continue
        current: list[str] = []
        for token in tokens:
            if token in _OPERATORS:
                commands.append(current)
                commands.append([token])
                current = []
            else:
                current.append(token)
        commands.append(current)
    return [command for command in commands if command]


def preflight_calls(script: str) -> list[PreflightCall]:
    """Every `secure-scaffold preflight` command in `script` (a step's `run:`), as the shell sees it."""
    commands = _commands(script)
    assigns = any(token.startswith(_PROFILE_ASSIGNMENT) for command in commands for token in command)
    calls = []
    for index, command in enumerate(commands):
        for position, token in enumerate(command[:-1]):
            if token.endswith("secure-scaffold") and command[position + 1] == "preflight":
                following = commands[index + 1 : index + 3]
                ignored = len(following) == 2 and following[0] == ["||"] and following[1][:1] in (["true"], [":"])
                calls.append(PreflightCall(tuple(command[position + 2 :]), assigns, ignored))
                break
    return calls
