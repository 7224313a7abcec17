"""Attribute-based access control (AUTHZ-05): decisions use department, region, sensitivity and owner.

Proves the four attributes are declared in policy/roles.yaml and that every
condition reads only declared attributes and levels; that grants name defined
conditions; that a PII permission limited by conditions for one role is not
granted unconditionally to another (the compiled decision point would then
open every record to that role); that the record fields exist and a failed
condition is refused; and that the caller's attributes come from token claims.
"""

from __future__ import annotations

import ast
from typing import Any

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._python import class_fields, class_named, method, names_used, parse
from ._source import finding_at, location, settings_default, source
from .authz import (
    REQUIRES,
    ROLES_FILE,
    as_list,
    as_mapping,
    flagged_actions,
    granted,
    roles_document,
    unreadable_matrix,
)

#: What AUTHZ-05 names: the caller's department and region; the record's owner, department, region, sensitivity.
ABAC_ATTRIBUTES = {"principal": ("department", "region"), "record": ("owner", "department", "region", "sensitivity")}
RECORD_FILE = "security/policy/decision.py"
COMPILED_FILE = "security/policy/compiled.py"
CLAIMS_SETTING = "oidc_attribute_claims"
CONDITION_HINT = "use `same: <attr>` (declared for principal and record), `owner: true` or `sensitivity_below: <level>`"


def _undeclared_attributes(document: dict[str, Any]) -> list[Finding]:
    """The four ABAC attributes must be declared, or no condition may read them."""
    declared = as_mapping(document.get("attributes"))
    findings = [
        Finding(
            f"{ROLES_FILE} declares no {side} attribute {', '.join(absent)}",
            f"list {', '.join(names)} under attributes.{side}: the ABAC conditions decide on them",
            ROLES_FILE,
        )
        for side, names in ABAC_ATTRIBUTES.items()
        if (absent := [name for name in names if name not in as_list(declared.get(side))])
    ]
    if not as_list(as_mapping(document.get("sensitivity")).get("levels")):
        findings.append(
            Finding(
                f"{ROLES_FILE} declares no sensitivity levels",
                "list the data classification under sensitivity.levels, least to most sensitive",
                ROLES_FILE,
            )
        )
    return findings


def _clause_problem(kind: str, value: Any, declared: dict[str, Any], levels: list[Any]) -> str | None:
    """What is wrong with one clause of a condition, in the loader's fixed vocabulary; None when it is sound."""
    principal, record = as_list(declared.get("principal")), as_list(declared.get("record"))
    if kind == "same":
        if value in principal and value in record:
            return None
        return f"compares {value!r}, which is not declared as both a principal and a record attribute"
    if kind == "owner":
        return None if value is True and "owner" in record else "checks the owner without `owner: true` on a record"
    if kind == "sensitivity_below":
        if "sensitivity" in record and value in levels[1:]:
            return None
        return f"compares sensitivity with {value!r}, which is not a declared level above the lowest"
    return f"uses the unknown clause {kind!r}"


def _condition_findings(document: dict[str, Any]) -> list[Finding]:
    """Every clause of every condition reads only declared attributes and levels."""
    declared = as_mapping(document.get("attributes"))
    levels = as_list(as_mapping(document.get("sensitivity")).get("levels"))
    findings = []
    for name, spec in as_mapping(document.get("conditions")).items():
        clauses = [*as_list(as_mapping(spec).get("all")), *as_list(as_mapping(spec).get("any"))]
        if not clauses:
            findings.append(Finding(f"condition {name!r} has no clauses", CONDITION_HINT, ROLES_FILE))
        for clause in clauses:
            for kind, value in as_mapping(clause).items():
                problem = _clause_problem(str(kind), value, declared, levels)
                if problem:
                    findings.append(Finding(f"condition {name!r} {problem}", CONDITION_HINT, ROLES_FILE))
    return findings


def _grant_findings(document: dict[str, Any], grants: dict[str, dict[str, list[Any]]]) -> list[Finding]:
    conditions = as_mapping(document.get("conditions"))
    return [
        Finding(
            f"role {role} is granted {permission} under the undefined condition {name!r}",
            "define the condition under `conditions:` or fix its name",
            ROLES_FILE,
        )
        for role, granted in sorted(grants.items())
        for permission, names in granted.items()
        for name in names
        if name not in conditions
    ]


def _pii_scope_findings(document: dict[str, Any], grants: dict[str, dict[str, list[Any]]]) -> list[Finding]:
    """A PII permission the matrix limits by conditions for some roles must not be open for another.

    The compiled decision point grants without conditions as soon as one of the
    caller's roles holds the permission unconditionally: that role reads every
    record of the tenant, whatever region, department, owner or sensitivity.
    """
    findings = []
    for permission in flagged_actions(document, "pii"):
        holders = {role: granted[permission] for role, granted in grants.items() if permission in granted}
        scoped = sorted(role for role, names in holders.items() if names)
        unconditional = sorted(role for role, names in holders.items() if not names)
        if scoped and unconditional:
            findings.append(
                Finding(
                    f"{permission} returns personal data and is limited by ABAC conditions for "
                    f"{', '.join(scoped)}, but granted unconditionally to {', '.join(unconditional)}",
                    "give that grant conditions too (e.g. [same_region]); unconditioned, the role reads every record",
                    ROLES_FILE,
                )
            )
    return findings


def _record_findings(project: Project, document: dict[str, Any]) -> list[Finding]:
    """The record attributes exist on policy.Record, and the compiled decision point refuses on a failed condition."""
    tree = parse(source(project, RECORD_FILE) or "")
    record = class_named(tree, "Record") if tree is not None else None
    if record is None:
        return [Finding(f"{RECORD_FILE} defines no Record", "keep the record attributes a decision reads", RECORD_FILE)]
    fields = class_fields(record)
    findings = [
        Finding(
            f"record attribute {name!r} is not a field of policy.Record, so no decision can read it",
            "add the field to Record and fill it where the routes build records",
            location(project, RECORD_FILE),
            record.lineno,
        )
        for name in as_list(as_mapping(document.get("attributes")).get("record"))
        if name not in fields
    ]
    decide = method(
        parse(source(project, COMPILED_FILE) or "") or ast.Module(body=[], type_ignores=[]), "CompiledPolicy", "decide"
    )
    if decide is None or "CONDITION_FAILED" not in names_used(decide):
        findings.append(
            finding_at(
                project,
                COMPILED_FILE,
                decide,
                "the compiled decision point never refuses on a failed ABAC condition",
                "CompiledPolicy.decide must return CONDITION_FAILED when no alternative holds for the record",
            )
        )
    return findings


def _claims_findings(project: Project, document: dict[str, Any]) -> list[Finding]:
    """The caller's attributes come from the token: configured claims, wired into the claims mapping."""
    findings = []
    config = source(project, "config.py") or ""
    default = settings_default(config, CLAIMS_SETTING, lambdas=True)
    principal = as_list(as_mapping(document.get("attributes")).get("principal"))
    if default is None:
        findings.append(
            Finding(
                f"config.py has no {CLAIMS_SETTING} setting, so callers carry no ABAC attributes",
                "map each principal attribute of the matrix to its token claim (department=department,region=region)",
                location(project, "config.py"),
            )
        )
    elif isinstance(default[0], dict) and (absent := [name for name in principal if name not in default[0]]):
        findings.append(
            Finding(
                f"{CLAIMS_SETTING} reads no token claim for {', '.join(absent)}, so conditions on it never hold",
                "add attribute=claim pairs for every principal attribute of policy/roles.yaml",
                location(project, "config.py"),
                default[1],
            )
        )
    wiring = {
        "security/identity.py": "attribute_claims=",
        "security/claims.py": "attributes=self.attributes(",
    }
    for relative, needle in wiring.items():
        if needle not in (source(project, relative) or ""):
            findings.append(
                Finding(
                    f"{relative} does not pass the token's ABAC attributes on to the principal",
                    f"keep `{needle}...` so Principal.attributes carries the configured claims",
                    location(project, relative),
                )
            )
    return findings


@register("authz.abac_attributes", controls=("AUTHZ-05",), requires=REQUIRES)
def abac_attributes(project: Project) -> Outcome:
    """ABAC decides on department, region, sensitivity and owner: declared, read soundly, supplied and enforced."""
    document = roles_document(project)
    if document is None:
        return unreadable_matrix()
    grants = granted(project, document)
    findings = [
        *_undeclared_attributes(document),
        *_condition_findings(document),
        *_grant_findings(document, grants),
        *_pii_scope_findings(document, grants),
        *_record_findings(project, document),
        *_claims_findings(project, document),
    ]
    if findings:
        return failed(*findings)
    conditions = as_mapping(document.get("conditions"))
    return passed(
        f"{len(conditions)} ABAC conditions over department, region, sensitivity and owner; "
        "personal data is never scoped for one role and open for another"
    )
