"""Per-tenant data keys (DATA-03): each tenant's data is sealed under its own key, bound to that tenant.

Envelope encryption in security/keys.py must bind the tenant into every AEAD
call's associated data and every key wrap's context, so a ciphertext or a
wrapped key moved to another tenant fails to open; every query on tenant_keys
is limited to the transaction's tenant; and schema or silo projects give each
tenant its own KMS key, so offboarding can crypto-shred one tenant's data, usable by
named roles only under that tenant's encryption context.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterator

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from . import _migrations
from ._python import assigned, calls, dotted, named, parse
from ._source import location, missing, source
from .data import REQUIRES
from .infra import _block_json_statements, _module_locals, terraform_files
from .infra_access import _account_root, _use_actions

KEYS_FILE = "security/keys.py"
KEY_TABLE = "tenant_keys"
#: Tenancy models whose infrastructure gives every tenant its own KMS key (crypto-shredding on offboarding).
KMS_PER_TENANT = frozenset({"schema", "silo"})
_AEAD = re.compile(r"(?:\w+\.)*(?:AESGCM|AESGCMSIV|AESCCM|AESOCB3|ChaCha20Poly1305)\(\)\.(?:encrypt|decrypt)")
#: The encryption-context key the app puts the tenant in (security/keys.py `_wrap_context`).
TENANT_CONTEXT = "tenant"
_TENANT_FILTER = re.compile(r"\btenant_id\s*=\s*:tenant\b", re.IGNORECASE)


def _returns_tenant(helper: ast.FunctionDef) -> bool:
    """The helper's result carries the tenant: a `"tenant"` key or the `tenant` parameter in what it returns."""
    for node in ast.walk(helper):
        if isinstance(node, ast.Return) and node.value is not None:
            for part in ast.walk(node.value):
                if isinstance(part, ast.Constant) and part.value == "tenant":
                    return True
                if isinstance(part, ast.Name) and part.id == "tenant":
                    return True
    return False


def _names_tenant(node: ast.AST) -> bool:
    """`tenant` or `<something>.tenant` appears in the expression."""
    return any(
        (isinstance(part, ast.Attribute) and part.attr == "tenant")
        or (isinstance(part, ast.Name) and part.id == "tenant")
        for part in ast.walk(node)
    )


def _binds_tenant(node: ast.expr, assigned: dict[str, ast.expr], helpers: dict[str, ast.FunctionDef]) -> bool:
    """Whether an associated-data or wrap-context expression is built from the tenant.

    Names are followed to their assignment in the same function (each once:
    `assigned` is consumed, so a cycle ends); a call to a module-level helper
    counts only when the helper also puts the tenant in what it returns
    (`_wrap_context(tx.tenant, 1)` -> `{"tenant": tenant, ...}`).
    """
    if isinstance(node, ast.Name) and node.id in assigned:
        return _binds_tenant(assigned.pop(node.id), assigned, helpers)
    helper = helpers.get(dotted(node.func)) if isinstance(node, ast.Call) else None
    if helper is not None and not _returns_tenant(helper):
        return False
    return _names_tenant(node)


#: What each kind of key operation must bind to the tenant, and how to fix it when it does not.
BINDINGS = {
    "ciphertext": "pass associated data naming the tenant, so a ciphertext moved to another tenant fails",
    "wrapped data key": "bind the tenant into the key-wrap context (the KMS encryption context)",
}


def _key_operations(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.Call, str]]:
    """AEAD seals/opens (kind `ciphertext`) and key wraps (kind `wrapped data key`), with their function."""
    for method in (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)):
        for name, call in calls(method):
            if _AEAD.fullmatch(name):
                yield method, call, "ciphertext"
            elif named(name, ("generate_data_key", "wrap", "unwrap")):
                yield method, call, "wrapped data key"


def _bound_argument(call: ast.Call, kind: str) -> ast.expr | None:
    """The associated data (third argument) of an AEAD call; the context (keyword or last argument) of a wrap."""
    if kind == "ciphertext":
        return call.args[2] if len(call.args) > 2 else None
    context = next((keyword.value for keyword in call.keywords if keyword.arg == "context"), None)
    return context if context is not None else (call.args[-1] if call.args else None)


def _binding_findings(project: Project, tree: ast.Module) -> list[Finding]:
    """Every AEAD call binds the tenant into its associated data; every key wrap binds it into the context."""
    helpers = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    operations = list(_key_operations(tree))
    findings = [
        Finding(
            f"{method.name} produces a {kind} that is not bound to the tenant",
            BINDINGS[kind],
            location(project, KEYS_FILE),
            call.lineno,
        )
        for method, call, kind in operations
        if (bound := _bound_argument(call, kind)) is None
        or not _binds_tenant(bound, assigned(method, ast.Name), helpers)
    ]
    if not any(kind == "ciphertext" for _, _, kind in operations):
        findings.append(
            Finding(
                f"{KEYS_FILE} encrypts nothing with a tenant data key",
                "seal column values with AES-GCM under the tenant's data key (TenantKeyring.encrypt)",
                location(project, KEYS_FILE),
            )
        )
    return findings


def _key_query_findings(project: Project, tree: ast.Module) -> list[Finding]:
    """Every read or change of tenant_keys is limited to the transaction's tenant."""
    return [
        Finding(
            f"a query on {KEY_TABLE} does not filter by the tenant: {' '.join(node.value.split())[:70]}",
            "add `WHERE tenant_id = :tenant` (the transaction's tenant) to every SELECT, UPDATE and DELETE",
            location(project, KEYS_FILE),
            node.lineno,
        )
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY_TABLE in node.value
        if node.value.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
        and not _TENANT_FILTER.search(node.value)
    ]


def _key_table_findings(project: Project) -> list[Finding]:
    table = (_migrations.stored_tables(project) or {}).get(KEY_TABLE)
    if table is not None and any("tenant_id" in key for key in table.unique):
        return []
    return [
        Finding(
            f"no migration creates {KEY_TABLE} keyed by tenant_id",
            f"create {KEY_TABLE} with PRIMARY KEY (tenant_id, version): one data key per tenant and version",
            path=table.path if table is not None else location(project, _migrations.VERSIONS_DIR),
            line=table.line if table is not None else None,
        )
    ]


def _kms_findings(project: Project, tenancy: str) -> list[Finding]:
    """Schema and silo projects give each tenant its own KMS key, in a module the stack instantiates."""
    files = [file for file in terraform_files(project) if file.body is not None]
    per_tenant = [
        (file, block)
        for file in files
        for block in file.body.blocks
        if block.type == "resource" and block.labels[:1] == ("aws_kms_key",)
        if "tenant" in getattr(block.attributes.get("for_each"), "text", "")
    ]
    if not per_tenant:
        return [
            Finding(
                f"tenancy is {tenancy} but the infrastructure creates no KMS key per tenant",
                "create aws_kms_key with for_each = var.tenants, so each tenant's data keys have their own KEK "
                "and offboarding can schedule its deletion",
                "infra/terraform",
            )
        ]
    findings = _tenant_context_findings(files, per_tenant)
    sources = {
        posixpath.normpath(posixpath.join(file.directory, block.attributes["source"]))
        for file in files
        for block in file.body.blocks
        if block.type == "module" and isinstance(block.attributes.get("source"), str)
    }
    return findings + [
        Finding(
            f"the per-tenant KMS keys of {file.directory} are never created: no module block uses it",
            f'instantiate it: module "tenant_keys" {{ source = "../{posixpath.basename(file.directory)}" }}',
            file.relative,
            block.line,
        )
        for file, block in per_tenant
        if file.directory not in sources
    ]


def _tenant_context_findings(files: list, per_tenant: list) -> list[Finding]:
    """Each tenant's key serves named roles, and only with that tenant as the encryption context.

    Otherwise the task role (or any principal of the account) unwraps tenant A's data keys while
    serving tenant B, and per-tenant keys isolate nothing but the offboarding.
    """
    local_values = _module_locals(files)
    findings = []
    for file, block in per_tenant:
        for statement in _block_json_statements(file, block, local_values.get(file.directory, {})):
            if statement.effect != "Allow" or not _use_actions(statement):
                continue
            context = statement.condition.get("StringEquals", {}).get(f"kms:EncryptionContext:{TENANT_CONTEXT}")
            label = f"statement {statement.sid}" if statement.sid else "a statement"
            if _account_root(statement.principal, local_values.get(file.directory, {})):
                findings.append(
                    Finding(
                        f"{label} of the per-tenant KMS key lets every principal of the account use it",
                        "name the app's task role as the principal (Principal = { AWS = var.user_role_arns })",
                        statement.path,
                        statement.line,
                    )
                )
            if getattr(context, "text", None) != "each.key":
                findings.append(
                    Finding(
                        f"{label} of the per-tenant KMS key does not require the key's own tenant as the encryption "
                        "context: the app could unwrap one tenant's data keys while serving another",
                        f'add Condition StringEquals "kms:EncryptionContext:{TENANT_CONTEXT}" = each.key',
                        statement.path,
                        statement.line,
                    )
                )
    return findings


def _per_tenant_kek_findings(project: Project) -> list[Finding]:
    """With a KMS key per tenant, the deployment must name it per tenant: `{tenant}` in APP_TENANT_KEK.

    Otherwise one key wraps every tenant's data keys and deleting a tenant's own key
    (offboarding) shreds nothing.
    """
    hint = 'set APP_TENANT_KEK = "alias/<name>/tenant/{tenant}" in the deployment (the app puts the tenant id in)'
    settings = []
    for file in terraform_files(project):
        text = (project.root / file.relative).read_text(encoding="utf-8")
        for match in re.finditer(r"APP_TENANT_KEK\s*=\s*(.+)", text):
            settings.append((file.relative, text.count("\n", 0, match.start()) + 1, match.group(1).strip()))
    if not settings:
        return [Finding("the deployment never sets APP_TENANT_KEK, so the per-tenant KMS keys wrap nothing", hint)]
    return [
        Finding(
            f"APP_TENANT_KEK is {value}: one key wraps every tenant, so the per-tenant keys shred nothing",
            hint,
            path,
            line,
        )
        for path, line, value in settings
        if "{tenant}" not in value
    ]


@register("data.tenant_keys", controls=("DATA-03",), requires=REQUIRES)
def tenant_keys(project: Project) -> Outcome:
    """Each tenant's data is sealed with its own data key, bound to the tenant; a KMS key per tenant where modelled."""
    text = source(project, KEYS_FILE)
    tree = parse(text) if text is not None else None
    if tree is None:
        return missing(project, KEYS_FILE, "seal tenant data with per-tenant data keys (envelope encryption)")
    tenancy = str(project.answers.get("tenancy") or "")
    cloud_kms = project.answers.get("secrets_backend") == "cloud"  # Vault derives a key per tenant from one
    findings = [
        *_binding_findings(project, tree),
        *_key_query_findings(project, tree),
        *_key_table_findings(project),
        *(_kms_findings(project, tenancy) if tenancy in KMS_PER_TENANT else []),
        *(_per_tenant_kek_findings(project) if tenancy in KMS_PER_TENANT and cloud_kms else []),
    ]
    if findings:
        return failed(*findings)
    kek = "; each tenant has its own KMS key" if tenancy in KMS_PER_TENANT else ""
    return passed(f"data keys per tenant in {KEY_TABLE}, bound to the tenant in every ciphertext and wrap{kek}")
