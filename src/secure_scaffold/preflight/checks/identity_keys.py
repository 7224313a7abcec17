"""Signing-key rotation (AUTH-04): the app follows the IdP's key rotation without a restart.

Proves JwksCache.key_for refetches the JWKS once when a token names an
unknown `kid` (rate-limited, so forged kids cannot hammer the IdP) and that
cached keys expire, with literal bounds on both: a rotated-in key is accepted
within minutes and a retired one stops verifying within a day, so quarterly
rotation breaks no login and a withdrawn key is not trusted for long.
"""

from __future__ import annotations

import ast

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._python import calls, duration_seconds, keyword, method, named, parameter_default, parse
from ._source import location, missing, source
from .identity import REQUIRES

JWKS = "security/jwks.py"
#: Cache bounds: a key the IdP retires must stop verifying within a day; a key it rotates in must be
#: picked up within minutes, even right after a forced refetch was spent on a forged `kid`.
JWKS_BOUNDS = {
    "max_age": (86_400, "a key the IdP retired keeps verifying until the cache expires"),
    "min_refetch_interval": (300, "a rotated-in key is refused until the next refetch is allowed"),
}


@register("identity.jwks_rotation", controls=("AUTH-04",), requires=(*REQUIRES, "identity.token_algorithms"))
def jwks_rotation(project: Project) -> Outcome:
    """The app follows the IdP's key rotation without a restart, so quarterly rotation breaks no login.

    A token naming an unknown `kid` triggers one rate-limited JWKS refetch, and
    cached keys expire. Which algorithms verify is identity.token_algorithms, a
    prerequisite: one root cause, one finding.
    """
    text = source(project, JWKS)
    if text is None:
        return missing(project, JWKS, "cache the IdP's JWKS and refetch it when a token names an unknown kid")
    tree = parse(text)
    key_for = method(tree, "JwksCache", "key_for") if tree is not None else None
    if tree is None or key_for is None:
        return failed(
            Finding(
                "no JwksCache.key_for: signing keys are not looked up by kid in a refreshable cache",
                "resolve each token's key with JwksCache.key_for(kid, algorithm)",
                path=location(project, JWKS),
            )
        )
    findings = [*_kid_refetch(project, key_for), *_jwks_defaults(project, tree), *_jwks_call_sites(project)]
    if findings:
        return failed(*findings)
    return passed("an unknown kid refetches the JWKS (rate-limited); cached keys expire")


def _kid_refetch(project: Project, key_for: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Finding]:
    """A refetch after the first failed lookup, rate-limited, and an expiry check, all in key_for."""
    path, line = location(project, JWKS), key_for.lineno
    lookups = [call.lineno for name, call in calls(key_for) if named(name, ("_find", "find"))]
    refetches = [call.lineno for name, call in calls(key_for) if named(name, ("_refresh", "refresh", "load"))]
    attributes = {node.attr for node in ast.walk(key_for) if isinstance(node, ast.Attribute)}
    findings = []
    if not lookups or not any(refetch > lookups[0] for refetch in refetches):
        findings.append(
            Finding(
                "a token with an unknown kid is refused without refetching the JWKS: rotated keys fail",
                "when no cached key matches the kid, refetch the JWKS once and look again",
                path,
                line,
            )
        )
    if "min_refetch_interval" not in attributes:
        findings.append(
            Finding(
                "unknown-kid refetches are not rate-limited: forged kids make the app hammer the IdP",
                "allow at most one forced refetch per min_refetch_interval",
                path,
                line,
            )
        )
    if "max_age" not in attributes:
        findings.append(
            Finding(
                "cached signing keys never expire: a key the IdP retired keeps verifying",
                "refetch the JWKS once the cache is older than max_age",
                path,
                line,
            )
        )
    return findings


def _jwks_defaults(project: Project, tree: ast.Module) -> list[Finding]:
    init = method(tree, "JwksCache", "__init__")
    if init is None:
        return []
    return [
        finding
        for name in JWKS_BOUNDS
        if (finding := _jwks_bound(project, name, parameter_default(init, name), "defaults to", init.lineno))
    ]


def _jwks_call_sites(project: Project) -> list[Finding]:
    """Literal bounds passed where the cache is built (security/oidc.py) count as much as the defaults."""
    assert project.package_dir is not None
    findings = []
    for path in project.python_files(project.package_dir):
        text = path.read_text(encoding="utf-8", errors="replace")
        tree = parse(text) if "JwksCache(" in text else None
        built = [call for name, call in calls(tree) if named(name, ("JwksCache",))] if tree is not None else []
        relative = str(path.relative_to(project.package_dir))
        for call in built:
            for bound in JWKS_BOUNDS:
                value = keyword(call, bound)
                if value is None or duration_seconds(value) is None:
                    continue  # not passed, or computed (from the settings): the default or nothing to prove
                finding = _jwks_bound(project, bound, value, "is built with", call.lineno, relative)
                findings += [finding] if finding else []
    return findings


def _jwks_bound(
    project: Project, name: str, value: ast.expr | None, verb: str, line: int, relative: str = JWKS
) -> Finding | None:
    ceiling, why = JWKS_BOUNDS[name]
    seconds = duration_seconds(value)
    if seconds is not None and 0 < seconds <= ceiling:
        return None
    written = ast.unparse(value) if value is not None else "nothing"
    return Finding(
        f"JwksCache {name} {verb} {written}",
        f"keep {name} a positive literal of at most {ceiling} seconds: otherwise {why}",
        path=location(project, relative),
        line=value.lineno if value is not None else line,
    )
