"""TLS everywhere (DATA-05): data in transit is protected by verified TLS 1.2 or later, end to end.

Proves the one outbound TLS context (security/tls.py) refuses TLS below 1.2
and verifies certificate and host name; that no module of the package turns
verification off or allows an old protocol; that production database URLs
need sslmode=verify-full; and that the Terraform's load balancers, database
parameter groups, Redis and connection strings all require TLS. A single weak
hop would expose what the other controls protect.
"""

from __future__ import annotations

import ast
import re

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from . import _hcl
from ._python import assigned, calls, dotted, function, module_assignment, named, parse
from ._source import finding_at, location, missing, source
from .data import REQUIRES
from .infra import TerraformFile, terraform_files

TLS_FILE = "security/tls.py"
MODERN_TLS = frozenset({"TLSv1_2", "TLSv1_3", "MAXIMUM_SUPPORTED"})
OLD_TLS = frozenset({"SSLv3", "TLSv1", "TLSv1_1", "MINIMUM_SUPPORTED"})
OLD_PROTOCOLS = frozenset({"PROTOCOL_SSLv2", "PROTOCOL_SSLv3", "PROTOCOL_TLSv1", "PROTOCOL_TLSv1_1"})
#: AWS load-balancer security policies that refuse anything below TLS 1.2.
_MODERN_POLICY = re.compile(r"^ELBSecurityPolicy-(?:TLS13-1-[23]|TLS-1-2|FS-1-2)-")
_POSTGRES_URL = re.compile(r"postgres(?:ql)?(?:\+\w+)?://[^\s\"']*")
_PLAIN_REDIS = re.compile(r"\bredis://")


def _client_context_findings(project: Project, tree: ast.Module) -> list[Finding]:
    """security/tls.py's client context refuses TLS below 1.2 and verifies certificate and host name."""
    where = location(project, TLS_FILE)
    floor = module_assignment(tree, "MINIMUM_VERSION")
    builder = function(tree, "client_context")
    if builder is None:
        return [Finding(f"{TLS_FILE} defines no client_context()", "build outbound TLS contexts in one place", where)]
    settings = assigned(builder, ast.Attribute)
    version = settings.get("minimum_version")
    if isinstance(version, ast.Name) and version.id == "MINIMUM_VERSION":
        version = floor
    checks = {
        "does not refuse TLS below 1.2": isinstance(version, ast.Attribute) and version.attr in MODERN_TLS,
        "does not verify the server's host name": getattr(settings.get("check_hostname"), "value", None) is True,
        "does not require a server certificate": getattr(settings.get("verify_mode"), "attr", "") == "CERT_REQUIRED",
    }
    return [
        Finding(
            f"client_context() {problem}",
            "set minimum_version = ssl.TLSVersion.TLSv1_2 (or later), check_hostname = True and "
            "verify_mode = ssl.CERT_REQUIRED",
            where,
            builder.lineno,
        )
        for problem, holds in checks.items()
        if not holds
    ]


def _weakening(node: ast.AST) -> str | None:
    """What a node does to weaken TLS, if anything."""
    if isinstance(node, ast.keyword):
        return _keyword_weakening(node)
    if isinstance(node, ast.Attribute):
        return _attribute_weakening(node)
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value is False:
        hostname = any(isinstance(target, ast.Attribute) and target.attr == "check_hostname" for target in node.targets)
        return "turns host-name checking off (check_hostname = False)" if hostname else None
    return None


def _keyword_weakening(node: ast.keyword) -> str | None:
    value = node.value.value if isinstance(node.value, ast.Constant) else True
    off = value in (False, "none", None) if node.arg == "ssl_cert_reqs" else value is False
    if node.arg in ("verify", "ssl_cert_reqs", "verify_ssl") and off:
        return f"turns certificate verification off ({node.arg}={value!r})"
    return None


def _attribute_weakening(node: ast.Attribute) -> str | None:
    if node.attr == "CERT_NONE":
        return "accepts any certificate (ssl.CERT_NONE)"
    if node.attr in OLD_PROTOCOLS or (node.attr in OLD_TLS and dotted(node.value).endswith("TLSVersion")):
        return f"allows a protocol below TLS 1.2 ({node.attr})"
    if node.attr == "_create_unverified_context":
        return "builds a TLS context that verifies nothing"
    return None


def _weakened_findings(project: Project) -> list[Finding]:
    """No module of the package weakens TLS on an outbound connection."""
    assert project.package_dir is not None
    findings = []
    for path in sorted(project.python_files(project.package_dir)):
        tree = parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree) if tree is not None else []:
            problem = _weakening(node)
            if problem:
                findings.append(
                    Finding(
                        f"an outbound connection {problem}",
                        f"use {TLS_FILE} client_context() (TLS 1.2+, verified); point cafile at a private CA instead",
                        project.relative(path),
                        getattr(node, "lineno", None) or getattr(getattr(node, "value", None), "lineno", None),
                    )
                )
    return findings


def _database_tls_findings(project: Project) -> list[Finding]:
    """Settings refuse a production database URL without sslmode=verify-full."""
    config = parse(source(project, "config.py") or "") or ast.Module(body=[], type_ignores=[])
    verifier = function(config, "verifies_tls")
    settings = next((n for n in ast.walk(config) if isinstance(n, ast.ClassDef) and n.name == "Settings"), None)
    demands = verifier is not None and any(
        isinstance(node, ast.Constant) and node.value == "verify-full" for node in ast.walk(verifier)
    )
    used = settings is not None and any(named(name, ("verifies_tls",)) for name, _ in calls(settings))
    if demands and used:
        return []
    return [
        finding_at(
            project,
            "config.py",
            verifier,
            "production database URLs are not required to use sslmode=verify-full",
            "refuse, when Settings load in production, any database URL whose sslmode is not verify-full",
        )
    ]


def _listener_findings(file: TerraformFile, block: _hcl.Block) -> list[Finding]:
    protocol = str(block.attributes.get("protocol", "")).upper()
    policy = block.attributes.get("ssl_policy")
    label = f"{block.labels[0]}.{block.labels[1] if len(block.labels) > 1 else ''}"
    if protocol in ("HTTPS", "TLS"):
        if isinstance(policy, str) and _MODERN_POLICY.match(policy):
            return []
        return [
            Finding(
                f"{label} accepts TLS below 1.2 (ssl_policy {policy!r})",
                'use ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06" (TLS 1.2 and 1.3 only)',
                file.relative,
                block.line,
            )
        ]
    redirects = any(
        str(action.attributes.get("type")) == "redirect"
        and any(str(inner.attributes.get("protocol", "")).upper() == "HTTPS" for inner in action.blocks)
        for action in block.blocks
        if action.type == "default_action"
    )
    if redirects:
        return []
    return [
        Finding(
            f"{label} serves plain {protocol or 'traffic'} without redirecting to HTTPS",
            "terminate TLS on the listener (protocol HTTPS, a TLS 1.2+ ssl_policy) or redirect to HTTPS",
            file.relative,
            block.line,
        )
    ]


def _parameters(block: _hcl.Block) -> dict[str, str]:
    return {
        str(child.attributes.get("name")): str(child.attributes.get("value"))
        for child in block.blocks
        if child.type == "parameter"
    }


def _datastore_findings(file: TerraformFile, block: _hcl.Block) -> list[Finding]:
    kind = block.labels[0]
    if kind == "aws_db_parameter_group":
        parameters = _parameters(block)
        problems = []
        if parameters.get("rds.force_ssl") != "1":
            problems.append("does not force TLS (rds.force_ssl = 1)")
        if parameters.get("ssl_min_protocol_version", "TLSv1.2") not in ("TLSv1.2", "TLSv1.3"):
            problems.append(f"allows {parameters['ssl_min_protocol_version']} (ssl_min_protocol_version)")
        hint = "set rds.force_ssl = 1 and ssl_min_protocol_version = TLSv1.2"
    elif kind == "aws_elasticache_replication_group":
        enabled = block.attributes.get("transit_encryption_enabled") is True
        problems = [] if enabled else ["does not encrypt connections (transit_encryption_enabled)"]
        hint = 'set transit_encryption_enabled = true and transit_encryption_mode = "required"'
    else:
        return []
    return [Finding(f"{kind}.{block.labels[1]} {problem}", hint, file.relative, block.line) for problem in problems]


def _url_findings(project: Project, file: TerraformFile) -> list[Finding]:
    """Connection strings the infrastructure hands the app: verify-full for PostgreSQL, rediss:// for Redis."""
    text = (project.root / file.relative).read_text(encoding="utf-8")
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        urls = [url for url in _POSTGRES_URL.findall(line) if "sslmode=verify-full" not in url]
        if urls or _PLAIN_REDIS.search(line):
            findings.append(
                Finding(
                    f"a connection string connects without verified TLS: {(urls or ['redis://'])[0][:60]}",
                    "use postgresql://...?sslmode=verify-full&sslrootcert=... and rediss://",
                    file.relative,
                    number,
                )
            )
    return findings


def _infrastructure_tls_findings(project: Project) -> list[Finding]:
    findings = []
    for file in terraform_files(project):
        if file.body is None:
            continue
        for block in file.body.blocks:
            if block.type == "resource" and block.labels[:1] == ("aws_lb_listener",):
                findings.extend(_listener_findings(file, block))
            elif block.type == "resource" and block.labels:
                findings.extend(_datastore_findings(file, block))
        findings.extend(_url_findings(project, file))
    return findings


@register("data.tls_everywhere", controls=("DATA-05",), requires=REQUIRES)
def tls_everywhere(project: Project) -> Outcome:
    """Listeners and outbound connections speak TLS 1.2+ with verification, and nothing in the code turns it off."""
    text = source(project, TLS_FILE)
    tree = parse(text) if text is not None else None
    if tree is None:
        return missing(project, TLS_FILE, "build verifying TLS 1.2+ client contexts in one place")
    findings = [
        *_client_context_findings(project, tree),
        *_weakened_findings(project),
        *_database_tls_findings(project),
        *_infrastructure_tls_findings(project),
    ]
    if findings:
        return failed(*findings)
    return passed(
        "TLS 1.2+ with verification: client context, PostgreSQL verify-full in production, load balancer, "
        "database and Redis; no code turns verification off"
    )
