"""Small AST queries the code checks share: find a function, list the calls in it, in source order.

Call names are dotted as written (`stripe.WebhookSignature.verify_header`,
`self._provider.verify_webhook`); a call on a call's result reads
`Verifier().verify`. Checks match on a name's ending, so an import alias or
`self.` prefix does not matter.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import timedelta


def parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


def dotted(node: ast.expr) -> str:
    """`a.b.c` for attribute chains; `f().g` when the chain goes through a call's result."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{dotted(node.func)}()"
    return ""


def function(tree: ast.AST, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The first function or method called `name`, anywhere in the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def calls(node: ast.AST) -> Iterator[tuple[str, ast.Call]]:
    """Every call under `node` as (dotted callee, call), in source order."""
    found = [(dotted(call.func), call) for call in ast.walk(node) if isinstance(call, ast.Call)]
    yield from sorted(found, key=lambda item: (item[1].lineno, item[1].col_offset))


def named(name: str, endings: tuple[str, ...]) -> bool:
    """Whether a dotted name ends with one of `endings` at a dot boundary."""
    return any(name == ending or name.endswith("." + ending) for ending in endings)


def first_call(node: ast.AST, endings: tuple[str, ...]) -> ast.Call | None:
    """The first call whose dotted name ends with one of `endings`."""
    for name, call in calls(node):
        if named(name, endings):
            return call
    return None


def names_used(node: ast.AST) -> set[str]:
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}


def duration_seconds(node: ast.expr | None) -> float | None:
    """An int/float literal (seconds) or `timedelta(...)` with literal arguments; None otherwise."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.BinOp):
        left, right = duration_seconds(node.left), duration_seconds(node.right)
        if left is not None and right is not None and isinstance(node.op, ast.Mult):
            return left * right
        return None
    if isinstance(node, ast.Call) and dotted(node.func).split(".")[-1] == "timedelta":
        try:
            positional = [ast.literal_eval(argument) for argument in node.args]
            keywords = {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords if keyword.arg}
            return timedelta(*positional, **keywords).total_seconds()
        except (ValueError, TypeError):
            return None
    return None


def module_assignment(tree: ast.Module, name: str) -> ast.expr | None:
    """The expression bound to a module-level `name` (plain or annotated assignment)."""
    for node in tree.body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        value = getattr(node, "value", None)
        if value is not None and any(isinstance(target, ast.Name) and target.id == name for target in targets):
            return value
    return None


def class_fields(node: ast.ClassDef) -> dict[str, int]:
    """Names declared in a class body (annotated or assigned), with their lines."""
    fields: dict[str, int] = {}
    for statement in node.body:
        targets = [statement.target] if isinstance(statement, ast.AnnAssign) else getattr(statement, "targets", [])
        for target in targets:
            if isinstance(target, ast.Name):
                fields[target.id] = statement.lineno
    return fields


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    """The expression passed as `name=` to `call`, or None."""
    return next((item.value for item in call.keywords if item.arg == name), None)


def parameter_default(node: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> ast.expr | None:
    """The default expression of parameter `name` (positional or keyword-only), or None."""
    positional = [item.arg for item in (*node.args.posonlyargs, *node.args.args)]
    with_default = positional[len(positional) - len(node.args.defaults) :]
    defaults = dict(zip(with_default, node.args.defaults, strict=True))
    for argument, default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
        if default is not None:
            defaults[argument.arg] = default
    return defaults.get(name)


def assigned(node: ast.AST, target: type[ast.Name] | type[ast.Attribute]) -> dict[str, ast.expr]:
    """`name = value` (target ast.Name) or `<anything>.name = value` (ast.Attribute) under `node`, by name.

    A value built first and passed by name is still read where it was built.
    """
    return {
        (found.id if isinstance(found, ast.Name) else found.attr): statement.value
        for statement in ast.walk(node)
        if isinstance(statement, ast.Assign)
        for found in statement.targets
        if isinstance(found, target)
    }


def class_named(tree: ast.AST, name: str) -> ast.ClassDef | None:
    """The first class called `name`, anywhere in the tree."""
    return next((node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name == name), None)


def method(tree: ast.AST, class_name: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """`class_name.name`: a same-named function elsewhere in the module is not mistaken for it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for statement in node.body:
                if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name == name:
                    return statement
    return None


def reachable(tree: ast.Module, start: ast.AST) -> list[ast.AST]:
    """`start` and the module-level functions it calls, transitively: a test's helpers do part of its work."""
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    seen, queue = [start], [start]
    while queue:
        for name, _ in calls(queue.pop()):
            helper = functions.get(name)
            if helper is not None and helper not in seen:
                seen.append(helper)
                queue.append(helper)
    return seen


def string_literals(node: ast.AST) -> list[str]:
    """Every string constant under `node` (f-string parts included), in walk order."""
    return [child.value for child in ast.walk(node) if isinstance(child, ast.Constant) and isinstance(child.value, str)]


def raises(node: ast.AST, names: tuple[str, ...]) -> bool:
    """Whether `node` contains `raise X` or `raise X(...)` for an exception named one of `names`."""
    for child in ast.walk(node):
        if isinstance(child, ast.Raise) and child.exc is not None:
            raised = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
            if named(dotted(raised), names):
                return True
    return False
