"""What makes a bot challenge safe for availability (AUTH-15): a person can always pass it.

A challenge nobody can solve turns a few junk requests into a lockout of
everyone behind one address, so `identity.bot_challenge` also proves:

- the default verifier is one a person can pass, and no verifier refuses
  every answer (the old `deny` default);
- the built-in proof of work is single use, checks its signature in
  constant time, is bound to the client it was issued to, and its default
  difficulty stays what a phone solves in about a second;
- only callbacks that tamper with a started login count as failures, so
  junk callbacks cannot make a challenge mandatory;
- a flood over the global limit makes the challenge mandatory for everyone
  instead of refusing everyone.
"""

from __future__ import annotations

import ast

from .._model import Finding
from .._project import Project
from ._python import calls, keyword, module_assignment, named, names_used, parse, string_literals
from ._source import NOT_LITERAL, finding_at, function_of, location, settings_default, source

ABUSE = "security/abuse.py"
BOT_CHALLENGE = "security/bot_challenge.py"
PROOF_OF_WORK = "security/proof_of_work.py"
#: Verifiers a person can pass: the built-in proof of work, or Turnstile/hCaptcha.
SOLVABLE_VERIFIERS = ("proof_of_work", "siteverify")
#: Leading zero bits: 2**16 hashes is about two seconds on a mid-range phone; below 2**10 taxes no bot.
DIFFICULTY_BOUNDS = (10, 16)
#: Callback outcomes a person causes without attacking anything (a stale state, a cancelled sign-in).
NEVER_COUNTED = ("invalid_state", "idp_refused")


def solvable_challenge(project: Project, config: str) -> list[Finding]:
    """The default verifier is solvable, no verifier denies everything, and the proof of work holds."""
    findings = _deny_all_verifiers(project)
    default = settings_default(config, "bot_challenge_verifier")
    value, line = default if default is not None else (None, None)
    if value not in SOLVABLE_VERIFIERS:
        findings.append(
            Finding(
                f"bot_challenge_verifier defaults to {value!r}, a challenge a person cannot pass",
                "default to proof_of_work (built in); a challenge nobody solves locks out everyone behind an address",
                path=location(project, "config.py"),
                line=line,
            )
        )
    if value == "proof_of_work":
        findings += _proof_of_work(project, config)
    return findings


def _deny_all_verifiers(project: Project) -> list[Finding]:
    findings = []
    for relative in (BOT_CHALLENGE, PROOF_OF_WORK, ABUSE):
        text = source(project, relative)
        tree = parse(text) if text is not None else None
        for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)) if tree else ():
            verify = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "verify"), None)
            if verify is not None and _always_false(verify):
                findings.append(
                    finding_at(
                        project,
                        relative,
                        verify,
                        f"{cls.name}.verify refuses every answer: a challenge nobody can solve",
                        "remove it; a challenge must be one a person can pass (proof_of_work or siteverify)",
                    )
                )
    return findings


def _always_false(function: ast.FunctionDef) -> bool:
    returns = [node for node in ast.walk(function) if isinstance(node, ast.Return)]
    return bool(returns) and all(isinstance(node.value, ast.Constant) and node.value.value is False for node in returns)


def _proof_of_work(project: Project, config: str) -> list[Finding]:
    verify = function_of(project, PROOF_OF_WORK, "ProofOfWork.verify")
    if verify is None:
        return [
            finding_at(
                project,
                PROOF_OF_WORK,
                None,
                "no ProofOfWork.verify: the default bot challenge is never checked",
                "restore security/proof_of_work.py",
            )
        ]
    findings = []
    single_use = any(
        named(name, ("set",)) and isinstance(keyword(call, "nx"), ast.Constant) and keyword(call, "nx").value is True
        for name, call in calls(verify)
    )
    if not single_use:
        findings.append(
            finding_at(
                project,
                PROOF_OF_WORK,
                verify,
                "a solved proof of work can be replayed: its nonce is not claimed with SET NX",
                "claim the nonce with redis.set(key, ..., nx=True, ex=...) and refuse when it was taken",
            )
        )
    if not any(named(name, ("compare_digest",)) for name, _ in calls(verify)):
        findings.append(
            finding_at(
                project,
                PROOF_OF_WORK,
                verify,
                "the proof of work's signature is not checked in constant time",
                "compare it with hmac.compare_digest",
            )
        )
    signature = function_of(project, PROOF_OF_WORK, "ProofOfWork._signature")
    if signature is None or not any(named(name, ("address_bucket",)) for name, _ in calls(signature)):
        findings.append(
            finding_at(
                project,
                PROOF_OF_WORK,
                signature,
                "proof-of-work challenges are not bound to the client they were issued to",
                "sign the client's address_bucket(...) with the challenge",
            )
        )
    findings += _difficulty(project, config)
    return findings


def _difficulty(project: Project, config: str) -> list[Finding]:
    default = settings_default(config, "bot_challenge_difficulty")
    value, line = default if default is not None else (None, None)
    lowest, highest = DIFFICULTY_BOUNDS
    if value is NOT_LITERAL or not isinstance(value, int) or not lowest <= value <= highest:
        return [
            Finding(
                f"bot_challenge_difficulty defaults to {value!r}",
                f"default to {lowest}-{highest} leading zero bits: more than 16 is not a second's work on a phone",
                path=location(project, "config.py"),
                line=line,
            )
        ]
    return []


def counted_failures(project: Project) -> list[Finding]:
    """Only callbacks that tamper with a started login count; junk, replays and cancellations never do."""
    text = source(project, ABUSE)
    tree = parse(text) if text is not None else None
    counted = module_assignment(tree, "COUNTED_CALLBACK_FAILURES") if tree is not None else None
    after = function_of(project, ABUSE, "LoginDefenceGuard.after")
    if counted is None or after is None or "COUNTED_CALLBACK_FAILURES" not in names_used(after):
        return [
            finding_at(
                project,
                ABUSE,
                after,
                "every failed callback counts towards a challenge: junk callbacks lock out a shared address",
                "count only the outcomes in COUNTED_CALLBACK_FAILURES (a refused code, an invalid token)",
            )
        ]
    wrong = sorted(set(string_literals(counted)) & set(NEVER_COUNTED))
    if wrong:
        return [
            finding_at(
                project,
                ABUSE,
                counted,
                f"{', '.join(wrong)} callbacks count as failures: junk or cancelled logins make a challenge mandatory",
                "count only callbacks that tamper with a login the client started",
            )
        ]
    return []


def flood_challenges(project: Project) -> list[Finding]:
    """Past the global limit, LoginDefences.admit challenges everyone rather than refusing everyone."""
    admit = function_of(project, ABUSE, "LoginDefences.admit")
    check = next((call for name, call in calls(admit) if named(name, ("gate.check",))), None) if admit else None
    if check is not None and keyword(check, "everyone") is not None:
        return []
    return [
        finding_at(
            project,
            ABUSE,
            admit,
            "a flood over the global login limit does not make the challenge mandatory for everyone",
            "pass everyone=self.monitor.is_flooded(scope) to self.gate.check in LoginDefences.admit",
        )
    ]
