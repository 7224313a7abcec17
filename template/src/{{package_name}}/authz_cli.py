"""The authorization commands of `python -m <package>`: drift, audit-verify, audit-forward, policy,
webauthn-enrolment.

`audit-verify` audits every tenant, so it connects as the schema owner
(`APP_MIGRATION_DATABASE_URL`), whom row-level security does not filter;
`drift` connects as its read-only login (`APP_DRIFT_DATABASE_URL`, which may
read the three columns of role_assignments and nothing else) and falls back to
the owner only where none is configured; `audit-forward` needs only the runtime
role. Exit codes: 0 clean,
1 a finding (unexpected grant, broken chain, stale generated file), 2 a
configuration problem (printed by `__main__`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def _owner_engine() -> Any:
    from .config import load_settings
    from .db.engine import build_engine

    settings = load_settings()
    return settings, build_engine(settings.sqlalchemy_migration_url, application_name="authz-audit")


def _drift_engine() -> Any:
    """The drift reader's engine (APP_DRIFT_DATABASE_URL: read-only, role_assignments only), signing
    IAM tokens when the URL has no password; the owner's only where no drift login is configured."""
    from sqlalchemy.engine import make_url

    from .config import load_settings
    from .db.engine import build_engine
    from .db.iam_auth import use_iam_authentication

    settings = load_settings()
    if not settings.sqlalchemy_drift_url:
        return _owner_engine()
    engine = build_engine(settings.sqlalchemy_drift_url, application_name="drift")
    if settings.database_iam_auth and not make_url(settings.sqlalchemy_drift_url).password:
        use_iam_authentication(engine, region=settings.aws_region)
    return settings, engine


def _drift(args: argparse.Namespace) -> int:
    from .errors import ConfigurationError
    from .security.drift import SnapshotError, compare, dump, load_snapshot, read_assignments, snapshot
    from .security.policy import load_matrix, policy_dir

    settings, engine = _drift_engine()
    try:
        matrix = load_matrix(policy_dir(settings))
        with engine.connect() as connection:
            current = snapshot(matrix, read_assignments(connection))
    finally:
        engine.dispose()
    approved_path = Path(args.approved)
    if args.write:
        approved_path.write_text(dump(current), encoding="utf-8")
        print(f"approved snapshot written to {approved_path}")
        return 0
    try:
        report = compare(load_snapshot(approved_path), current, matrix)
    except SnapshotError as error:
        raise ConfigurationError(str(error)) from None
    for line in report.revoked:
        print(f"revoked since approval: {line}")
    for line in report.unexpected:
        print(f"UNEXPECTED {line}")
    if report.ok:
        print(f"no unexpected grants (approved snapshot: {approved_path})")
        return 0
    print(f"{len(report.unexpected)} unexpected grant(s); review, then approve with --write", file=sys.stderr)
    return 1


def _audit_verify(args: argparse.Namespace) -> int:
    from .security.audit import tenants_with_events, verify_chain

    _, engine = _owner_engine()
    failures = 0
    try:
        with engine.connect() as connection:
            tenants = [args.tenant] if args.tenant is not None else tenants_with_events(connection)
            for tenant in tenants:
                report = verify_chain(connection, tenant)
                status = "ok" if report.ok else "TAMPERED"
                print(f"{status} tenant={tenant!r} events={report.events} head={report.head}")
                for problem in report.problems:
                    print(f"  seq {problem.seq}: {problem.kind}: {problem.detail}")
                failures += not report.ok
    finally:
        engine.dispose()
    return 1 if failures else 0


def _audit_forward(args: argparse.Namespace) -> int:
    from .config import load_settings
    from .db.engine import build_engine
    from .secrets import build_secrets_provider
    from .security.siem import build_sink, forward_once, run_forwarder, secret_token

    settings = load_settings()
    secrets = build_secrets_provider(settings)
    sink = build_sink(settings.siem_url, token=secret_token(secrets.get), app_name=settings.redis_key_prefix)
    engine = build_engine(settings.sqlalchemy_database_url, application_name="audit-forward")
    try:
        if args.once:
            result = forward_once(engine, sink)
            print(f"delivered={result.delivered} pending={result.pending}")
            return 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        run_forwarder(engine, sink, stop=stop, interval=args.interval)
        return 0
    finally:
        engine.dispose()


def _policy(args: argparse.Namespace) -> int:
    from .security.policy import load_matrix
    from .security.policy.loader import default_policy_dir
    from .security.policy.render import derived_files, stale_files

    directory = Path(args.policy_dir or os.environ.get("APP_POLICY_DIR") or default_policy_dir())
    matrix = load_matrix(directory)
    root = directory.resolve().parent
    if args.action == "export":
        return _export_rego(matrix, directory, Path(args.out))
    if args.check:
        stale = stale_files(matrix, root)
        for path in stale:
            print(f"out of date with roles.yaml: {path}")
        return 1 if stale else 0
    for path, content in derived_files(matrix, root).items():
        path.write_text(content, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _export_rego(matrix: Any, directory: Path, out: Path) -> int:
    """Copy the shipped `authz.rego` to `out/` for the OPA sidecar (its init container, runtime/main.tf).

    Only the Rego module goes: OPA loads every data file of a directory it is
    given, and roles.yaml or approved-grants.json are not its input. A module
    that is not what roles.yaml renders is refused (exit 1): the sidecar then
    never becomes healthy and the app never starts, rather than serving a
    policy nobody reviewed.
    """
    from .security.policy.rego import render_rego

    shipped = directory / "authz.rego"
    content = shipped.read_text(encoding="utf-8") if shipped.is_file() else None
    if content != render_rego(matrix):
        print(f"{shipped} is missing or out of date with roles.yaml; refusing to export it", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    target = out / "authz.rego"
    target.write_text(content, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def _webauthn_enrolment(args: argparse.Namespace) -> int:
    """Grant one account a first security-key enrolment: how the first administrator gets a key."""
    from .bootstrap import bootstrap
    from .config import load_settings
    from .security.audit import AuditLog
    from .security.clock import SYSTEM_CLOCK
    from .security.key_enrolment import EnrolmentGrants, KeyEnrolmentAdministration
    from .security.policy import build_decision_point

    services = bootstrap(load_settings())
    try:
        settings = services.settings
        point = build_decision_point(settings)
        grants = EnrolmentGrants(
            services.redis,
            key_prefix=settings.redis_key_prefix,
            ttl_seconds=settings.webauthn_enrolment_grant_ttl_seconds,
        )
        administration = KeyEnrolmentAdministration(services.engine, point, AuditLog(point.matrix), grants)
        grant = administration.grant_as_operator(
            tenant=args.tenant, target=args.subject, reason=args.reason, now=SYSTEM_CLOCK.now()
        )
    finally:
        services.close()
    print(f"{args.subject!r} of tenant {args.tenant!r} may enrol a first security key until {int(grant.expires_at)}")
    return 0


def register_authz_commands(commands: Any) -> None:
    """Add the subcommands to `__main__`'s argparse subparsers."""
    drift = commands.add_parser("drift", help="diff effective grants against the approved snapshot (exit 1 on drift)")
    drift.add_argument("--approved", default="policy/approved-grants.json", help="the approved snapshot (JSON)")
    drift.add_argument("--write", action="store_true", help="record the current grants as the approved snapshot")
    drift.set_defaults(run=_drift)
    verify = commands.add_parser("audit-verify", help="verify every tenant's audit hash chain (exit 1 if tampered)")
    verify.add_argument("--tenant", default=None, help="only this tenant")
    verify.set_defaults(run=_audit_verify)
    forward = commands.add_parser("audit-forward", help="stream the audit outbox to APP_SIEM_URL")
    forward.add_argument("--once", action="store_true", help="deliver what is pending, then exit")
    forward.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    forward.set_defaults(run=_audit_forward)
    from .security.policy import POLICY_ENGINE

    policy = commands.add_parser(
        "policy", help="regenerate (or --check) the files derived from roles.yaml; OPA: export authz.rego"
    )
    policy.add_argument("action", choices=["render", "export"] if POLICY_ENGINE == "opa" else ["render"])
    policy.add_argument("--check", action="store_true", help="exit 1 when a derived file is out of date")
    policy.add_argument("--out", default="/opa-policy", help="export: the directory the OPA sidecar loads")
    policy.add_argument("--policy-dir", default=None, help="default: APP_POLICY_DIR or the project's policy/")
    policy.set_defaults(run=_policy)
    enrolment = commands.add_parser(
        "webauthn-enrolment",
        help="let one account enrol a first security key without token MFA (audited; alert AUTH001)",
    )
    enrolment.add_argument("--tenant", required=True, help="the account's tenant (as in its token)")
    enrolment.add_argument("--subject", required=True, help="the account's `sub`")
    enrolment.add_argument("--reason", required=True, help="the justification recorded in the audit log")
    enrolment.set_defaults(run=_webauthn_enrolment)
