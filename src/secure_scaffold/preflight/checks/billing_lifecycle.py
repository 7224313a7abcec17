"""Subscription lifecycle edge cases are tested (PAY-14): trials, proration, failed renewals, partial refunds.

These are where billing goes wrong in ways no type checker sees: a wrong
amount on a prorated upgrade or a partial refund. The check proves the
project's own tests exercise each one -- named for it, reaching the function
that decides it, asserting, and not skipped -- and that the function exists.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._python import dotted, first_call, function, named, reachable
from ._source import ProjectTest, location, project_tests
from .billing import REQUIRES, module_or_empty


@dataclass(frozen=True)
class EdgeCase:
    """A billing edge case the project's own tests must exercise.

    Attributes:
        label: what the catalog calls it.
        module / function: where the project decides it.
        test_name: what a test of it is called (a regex searched in the test function's name).
    """

    label: str
    module: str
    function: str
    test_name: str


EDGE_CASES = (
    EdgeCase("free trials", "billing/subscriptions.py", "start", r"trial"),
    EdgeCase("proration", "billing/subscriptions.py", "prorate", r"prorat"),
    EdgeCase("failed renewals", "billing/subscriptions.py", "renewal_failed", r"renewal|dunning"),
    EdgeCase("partial refunds", "billing/approvals.py", "request_refund", r"partial.*refund|refund.*partial"),
)


def _proves(test: ProjectTest, case: EdgeCase) -> bool:
    """Named for the case, reaches its function (itself or through its module's helpers), and asserts."""
    if not re.search(case.test_name, test.function.name):
        return False
    scopes = reachable(test.module, test.function)
    reaches = any(first_call(scope, (case.function,)) is not None for scope in scopes)
    asserts = any(
        isinstance(node, ast.Assert) or (isinstance(node, ast.Call) and named(dotted(node.func), ("raises",)))
        for scope in scopes
        for node in ast.walk(scope)
    )
    return reaches and asserts


@register("billing.lifecycle_tests", controls=("PAY-14",), requires=REQUIRES)
def lifecycle_tests(project: Project) -> Outcome:
    """The project's tests exercise free trials, proration, failed renewals and partial refunds (none skipped)."""
    tests = project_tests(project)
    findings = []
    for case in EDGE_CASES:
        if function(module_or_empty(project, case.module), case.function) is None:
            findings.append(
                Finding(
                    f"{case.function}() is missing from {case.module}",
                    f"{case.label} are decided there; restore it from the template",
                    location(project, case.module),
                )
            )
        proving = [test for test in tests if _proves(test, case)]
        if not proving:
            findings.append(
                Finding(
                    f"no test exercises {case.label}: none named like {case.test_name!r} calls "
                    f"{case.function}() and asserts",
                    f"add a test that drives {case.function}() through {case.label} and asserts exact amounts",
                    path="tests",
                )
            )
    if findings:
        return failed(*findings)
    return passed("tests exercise free trials, proration, failed renewals and partial refunds", tests=str(len(tests)))
