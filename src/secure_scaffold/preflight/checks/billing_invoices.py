"""Invoices kept as issued (PAY-10 to PAY-12): encrypted, sealed, and written once.

Invoices are legal records full of customer data: `billing.invoice_encryption`
proves the store only ever receives AEAD ciphertext under a fresh data key
wrapped per tenant by the project's KEK; `billing.invoice_seal` proves each
invoice's SHA-256 digests are stored at issue and compared in constant time
before any read returns it, so a tampered invoice is refused;
`billing.invoice_object_lock` proves the bucket and the writes use S3 Object
Lock in COMPLIANCE mode, so no one can rewrite or delete an issued invoice.
"""

from __future__ import annotations

import ast
import re

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._python import calls, dotted, first_call, function, keyword, method, named, names_used
from ._source import location, source
from .billing import REQUIRES, has_sql, module_or_empty, tree_or_problem

# ------------------------------------------------------------------ PAY-12 object-locked invoices


def _terraform_blocks(text: str, resource_type: str) -> list[tuple[int, str]]:
    blocks = []
    for match in re.finditer(rf'resource\s+"{resource_type}"\s+"[^"]+"\s*\{{', text):
        depth, position = 1, match.end()
        while depth and position < len(text):
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            position += 1
        blocks.append((text.count("\n", 0, match.start()) + 1, text[match.end() : position]))
    return blocks


@register("billing.invoice_object_lock", controls=("PAY-12",), requires=REQUIRES)
def invoice_object_lock(project: Project) -> Outcome:
    """The invoice bucket has S3 Object Lock in COMPLIANCE mode, and the app writes locked objects."""
    terraform = [path for path in project.files if path.suffix == ".tf"]
    buckets = [
        (path, line)
        for path in terraform
        for line, body in _terraform_blocks(path.read_text(encoding="utf-8"), "aws_s3_bucket")
        if re.search(r"object_lock_enabled\s*=\s*true", body)
    ]
    locks = [
        (path, line, body)
        for path in terraform
        for line, body in _terraform_blocks(path.read_text(encoding="utf-8"), "aws_s3_bucket_object_lock_configuration")
    ]
    findings = []
    if not buckets:
        findings.append(
            Finding(
                "no S3 bucket with object_lock_enabled = true in the Terraform",
                "create the invoice bucket with Object Lock (infra/terraform/modules/invoices)",
            )
        )
    findings.extend(
        Finding(
            "the invoice Object Lock retention is not COMPLIANCE mode (GOVERNANCE can be bypassed)",
            'default_retention { mode = "COMPLIANCE" }',
            path=project.relative(path),
            line=line,
        )
        for path, line, body in locks
        if not re.search(r'mode\s*=\s*"COMPLIANCE"', body)
    )
    if not locks:
        findings.append(Finding("no aws_s3_bucket_object_lock_configuration", "set a COMPLIANCE default retention"))
    storage = source(project, "billing/storage.py") or ""
    if "COMPLIANCE" not in storage or "ObjectLockMode" not in storage:
        findings.append(
            Finding(
                "the invoice store does not write objects with COMPLIANCE retention",
                "put_object(..., ObjectLockMode='COMPLIANCE', ObjectLockRetainUntilDate=...)",
                path=location(project, "billing/storage.py"),
            )
        )
    if findings:
        return failed(*findings)
    return passed("invoices are written once into an Object Lock bucket with COMPLIANCE retention")


# ------------------------------------------------------------------ PAY-10 encrypted invoices

#: AEAD ciphers of `cryptography` (dotted as called: `AESGCM(key).encrypt`).
AEAD_ENCRYPT = tuple(
    f"{cipher}().encrypt" for cipher in ("AESGCM", "AESGCMSIV", "AESOCB3", "AESCCM", "ChaCha20Poly1305")
)


def _first_parameter(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The first parameter after `self`: who the data belongs to (the tenant)."""
    names = [argument.arg for argument in [*node.args.posonlyargs, *node.args.args] if argument.arg != "self"]
    return names[0] if names else None


def _envelope_findings(project: Project) -> list[Finding]:
    """EnvelopeEncryptor.encrypt: AEAD under a fresh data key, wrapped per tenant, tenant bound as associated data."""
    relative = "billing/encryption.py"
    path = location(project, relative)
    encrypt = method(module_or_empty(project, relative), "EnvelopeEncryptor", "encrypt")
    if encrypt is None:
        return [Finding("no EnvelopeEncryptor.encrypt in billing/encryption.py", "seal invoices with it", path)]
    tenant = _first_parameter(encrypt) or "tenant"
    findings = []
    sealed = first_call(encrypt, AEAD_ENCRYPT)
    if sealed is None:
        findings.append(
            Finding(
                "EnvelopeEncryptor.encrypt does not seal with an AEAD cipher (AES-GCM, ChaCha20-Poly1305)",
                "AESGCM(data_key).encrypt(nonce, plaintext, associated_data): tampering must fail decryption",
                path,
                encrypt.lineno,
            )
        )
    elif len(sealed.args) < 3 or tenant not in names_used(sealed.args[2]):
        findings.append(
            Finding(
                "the invoice ciphertext is not bound to its tenant (no associated data naming the tenant)",
                "pass the tenant (and the invoice id) as AEAD associated data",
                path,
                sealed.lineno,
            )
        )
    if first_call(encrypt, ("generate_key",)) is None:
        findings.append(
            Finding("invoices are not encrypted under a fresh data key each", "AESGCM.generate_key(256)", path)
        )
    wrap = first_call(encrypt, ("wrap",))
    if wrap is None or not wrap.args or tenant not in names_used(wrap.args[0]):
        findings.append(
            Finding(
                "the data key is not wrapped with the tenant's key-encryption key",
                f"self._keys.wrap({tenant}, data_key): the wrapped key travels in the blob",
                path,
                encrypt.lineno,
            )
        )
    return findings


def _bound_value(scope: ast.AST, name: str, before: int) -> ast.expr | None:
    """The value last assigned to `name` in `scope` before line `before`."""
    value = None
    for node in ast.walk(scope):
        if (
            isinstance(node, ast.Assign)
            and node.lineno < before
            and any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
            and (value is None or node.lineno >= value.lineno)
        ):
            value = node.value
    return value


def _stored_plaintext_findings(project: Project) -> list[Finding]:
    """Whatever InvoiceService hands to its store is the encryptor's output."""
    relative = "billing/invoices.py"
    path = location(project, relative)
    functions = [node for node in ast.walk(module_or_empty(project, relative)) if isinstance(node, ast.FunctionDef)]
    # Outer functions come first in the walk: a put inside a nested function ends up owned by the innermost.
    puts = {id(call): (scope, call) for scope in functions for name, call in calls(scope) if name.endswith("store.put")}
    if not puts:
        return [Finding("InvoiceService never writes invoices to the store", "store the encrypted blob", path)]
    findings = []
    for scope, call in puts.values():
        data = call.args[1] if len(call.args) > 1 else keyword(call, "data")
        if isinstance(data, ast.Name):
            data = _bound_value(scope, data.id, call.lineno)
        if not (isinstance(data, ast.Call) and dotted(data.func).endswith("encryptor.encrypt")):
            findings.append(
                Finding(
                    f"{scope.name}() hands the store an invoice that is not the encryptor's ciphertext",
                    "store only self._encryptor.encrypt(tenant, document, context=...)",
                    path,
                    call.lineno,
                )
            )
    return findings


def _kek_findings(project: Project) -> list[Finding]:
    """The app's InvoiceService encrypts with data keys wrapped by the project's KEK, per tenant."""
    encryptors = [
        keyword(call, "encryptor")
        for name, call in calls(module_or_empty(project, "billing/service.py"))
        if named(name, ("InvoiceService",))
    ]
    wired = any(
        isinstance(value, ast.Call)
        and named(dotted(value.func), ("EnvelopeEncryptor",))
        and value.args
        and isinstance(value.args[0], ast.Call)
        and named(dotted(value.args[0].func), ("build_invoice_keys",))
        for value in encryptors
    )
    findings = []
    if not wired:
        findings.append(
            Finding(
                "invoice data keys are not wrapped by the project's KEK: InvoiceService gets no "
                "EnvelopeEncryptor(build_invoice_keys(...))",
                "LocalTenantKeys derives keys from one root secret and serves tests only; wire build_invoice_keys",
                location(project, "billing/service.py"),
            )
        )
    build = function(module_or_empty(project, "security/keyring.py"), "build_invoice_keys")
    if build is None or not any(
        isinstance(node, ast.Attribute) and node.attr == "tenant_kek" for node in ast.walk(build)
    ):
        findings.append(
            Finding(
                "build_invoice_keys does not wrap invoice keys with the project's KEK (settings.tenant_kek)",
                "InvoiceKeys(wrapper, settings.tenant_kek): Vault transit / KMS, bound to the tenant",
                location(project, "security/keyring.py"),
            )
        )
    return findings


@register("billing.invoice_encryption", controls=("PAY-10",), requires=REQUIRES)
def invoice_encryption(project: Project) -> Outcome:
    """The invoice store only ever receives AEAD ciphertext under a data key wrapped by the tenant-bound KEK."""
    findings = [*_envelope_findings(project), *_stored_plaintext_findings(project), *_kek_findings(project)]
    if findings:
        return failed(*findings)
    return passed("invoices are stored as AES-GCM ciphertext, tenant-bound, under data keys wrapped by the KEK")


# ------------------------------------------------------------------ PAY-11 sealed invoices

#: The stored digests a read must compare, and what each covers.
SEALS = (
    ("document_sha256", "the PDF's SHA-256"),
    ("content_sha256", "the seal embedded in the PDF"),
)


def _compares(node: ast.AST, field: str) -> bool:
    """A constant-time comparison (hmac/secrets.compare_digest) involving `<row>.field`."""
    return any(
        any(isinstance(child, ast.Attribute) and child.attr == field for child in ast.walk(call))
        for name, call in calls(node)
        if named(name, ("compare_digest",))
    )


def _refuses(tree: ast.Module, body: list[ast.stmt]) -> bool:
    """The branch raises, directly or through a method of the module that raises."""
    block = ast.Module(body=body, type_ignores=[])
    if any(isinstance(node, ast.Raise) for node in ast.walk(block)):
        return True
    helpers = (function(tree, name.rsplit(".", 1)[-1]) for name, _ in calls(block) if name.startswith("self."))
    return any(helper is not None and any(isinstance(n, ast.Raise) for n in ast.walk(helper)) for helper in helpers)


def _digest_equality(reader: ast.AST) -> list[ast.Compare]:
    """`==` / `!=` on a digest: the time it takes tells an attacker how much of it matched."""
    return [
        node
        for node in ast.walk(reader)
        if isinstance(node, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops)
        and re.search(r"sha256|digest|seal", ast.unparse(node))
    ]


def _reader_findings(tree: ast.Module, reader: ast.FunctionDef, path: str) -> list[Finding]:
    findings = [
        Finding(
            f"{reader.name}() compares invoice digests with == / != (not constant-time)",
            "hmac.compare_digest(actual, stored)",
            path,
            node.lineno,
        )
        for node in _digest_equality(reader)
    ]
    returns = [node.lineno for node in ast.walk(reader) if isinstance(node, ast.Return) and node.value is not None]
    for field, what in SEALS:
        checks = [node for node in ast.walk(reader) if isinstance(node, ast.If) and _compares(node.test, field)]
        if not checks:
            message = f"{reader.name}() returns invoices without comparing {what} with {field} in constant time"
            findings.append(Finding(message, "if not hmac.compare_digest(...): refuse and alert", path, reader.lineno))
        elif not any(_refuses(tree, check.body) for check in checks):
            message = f"{reader.name}() does not refuse an invoice whose {field} does not match"
            findings.append(
                Finding(message, "raise InvoiceTamperedError (and alert): never serve it", path, checks[0].lineno)
            )
        elif returns and min(returns) < min(check.lineno for check in checks):
            message = f"{reader.name}() returns the invoice before checking {field}"
            findings.append(Finding(message, "verify both digests, then return", path, min(returns)))
    return findings


def _seal_writer_findings(project: Project, tree: ast.Module, path: str) -> list[Finding]:
    findings = []
    hashing = {name for name, _ in calls(tree) if name.startswith("hashlib.")}
    if "hashlib.sha256" not in hashing or hashing & {"hashlib.md5", "hashlib.sha1", "hashlib.new"}:
        findings.append(
            Finding("invoices are not sealed with SHA-256", "hashlib.sha256 over the content and the PDF bytes", path)
        )
    issue = method(tree, "InvoiceService", "issue")
    if issue is None or not all(has_sql(issue, rf"INSERT INTO billing_invoices\b.*\b{f}\b") for f, _ in SEALS):
        findings.append(
            Finding(
                "issued invoices do not record content_sha256 and document_sha256",
                "store both digests in billing_invoices when the invoice is issued",
                path,
                issue.lineno if issue else None,
            )
        )
    pdf = module_or_empty(project, "billing/invoice_pdf.py")
    render = function(pdf, "render")
    if render is None or function(pdf, "embedded_seal") is None or "seal" not in names_used(render):
        findings.append(
            Finding(
                "the PDF does not carry its seal (render never embeds it, or embedded_seal is missing)",
                "write sha256=<seal> into the PDF metadata and read it back with embedded_seal",
                location(project, "billing/invoice_pdf.py"),
            )
        )
    return findings


@register("billing.invoice_seal", controls=("PAY-11",), requires=REQUIRES)
def invoice_seal(project: Project) -> Outcome:
    """Each invoice's SHA-256 digests are stored at issue and compared in constant time before any read returns it."""
    tree, problem = tree_or_problem(project, "billing/invoices.py")
    if tree is None:
        return problem  # type: ignore[return-value]
    path = location(project, "billing/invoices.py")
    readers = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and any(name.endswith("store.get") for name, _ in calls(node))
    ]
    findings = _seal_writer_findings(project, tree, path)
    if not readers:
        findings.append(Finding("no invoice read path in billing/invoices.py", "InvoiceService.fetch", path))
    for reader in readers:
        findings.extend(_reader_findings(tree, reader, path))
    if findings:
        return failed(*findings)
    return passed("SHA-256 digests stored at issue; every read compares both with hmac.compare_digest or refuses")
