"""The restore drill: back up a live Postgres database, restore it into a fresh one, prove it is the same.

1. Open a REPEATABLE READ transaction on the source, export its snapshot and
   fingerprint every table in it (row count + SHA-256 over the sorted row
   hashes), so writes during the drill cannot make the comparison flaky.
2. `pg_dump --snapshot` the very same snapshot (custom format).
3. Create an empty database, revoke PUBLIC's CONNECT and TEMP on it and mark
   it as a running drill's copy (`DRILL_RUNNING_COMMENT`), then `pg_restore` into it and
   revoke PUBLIC's privileges on its `public` schema; this is the timed part
   compared with the RTO (docs/operations/rto-rpo.md).
4. Fingerprint the restored database and compare table by table.
5. Drop the restored database -- unless `keep`: then it is handed to the
   source database's owner and marked kept (`DRILL_COPY_COMMENT`), so the
   schema owner's `tenants purge` can find and drop it.

A copy holds every tenant's rows, and a kept one would outlive a tenant's
deletion: tenant purge drops every kept copy of the databases holding tenant
rows (`drop_kept_copies`, found by name and mark) and refuses to finish while
one it cannot drop remains. So a kept copy lives until the next tenant purge
or until an operator drops it.

Fingerprints run with `row_security = off`: with a role that row-level
security would filter, Postgres raises instead of silently counting fewer rows.
Passwords reach pg_dump/pg_restore through `PGPASSWORD`, never argv.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from .errors import ConfigurationError

#: The PostgreSQL recovery-time objective of docs/operations/rto-rpo.md (a test keeps them equal).
POSTGRES_RTO_SECONDS = 3600

#: The comment on a drill copy while the drill runs, and on one kept with `keep`: with the name
#: pattern, how tenant purge finds kept copies (a running drill's copy is dropped by the drill).
DRILL_RUNNING_COMMENT = "restore-drill copy: in progress"
DRILL_COPY_COMMENT = "restore-drill copy: kept; holds the rows of every tenant; dropped by tenant purge"
#: `<source[:49]>_drill_<6 hex>`; tenant databases end in 12 hex digits, so never match.
DRILL_COPY_PATTERN = "_drill_[0-9a-f]{6}$"
_SOURCE_PREFIX = 49
_SUFFIX = len("_drill_") + 6

_KEPT_COPIES = text(
    "SELECT datname, pg_has_role(current_user, datdba, 'MEMBER') AS droppable FROM pg_database d"
    " WHERE datname ~ :pattern AND shobj_description(d.oid, 'pg_database') = ANY(:comments)"
    " AND left(datname::text, :without_suffix) = ANY(:sources) ORDER BY datname"
)
_SOURCE_OWNER = text("SELECT quote_ident(pg_get_userbyid(datdba)) FROM pg_database WHERE datname = :name")

_TABLES = text(
    """
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
     ORDER BY 1
    """
)


_FINGERPRINT = (
    "SELECT count(*), encode(sha256(convert_to(coalesce(string_agg(h, '' ORDER BY h), ''), 'UTF8')), 'hex')"
    " FROM (SELECT md5(t::text) AS h FROM {table} t) rows"
)


@dataclass(frozen=True)
class TableFingerprint:
    rows: int
    sha256: str


@dataclass(frozen=True)
class DrillReport:
    """What the drill measured; `passed` only when every table matches and the restore met the RTO."""

    source_database: str
    restored_database: str
    dump_bytes: int
    dump_seconds: float
    restore_seconds: float
    verify_seconds: float
    rto_seconds: int
    tables: dict[str, TableFingerprint]
    mismatches: list[str] = field(default_factory=list)

    @property
    def within_rto(self) -> bool:
        return self.restore_seconds <= self.rto_seconds

    @property
    def passed(self) -> bool:
        return not self.mismatches and self.within_rto and bool(self.tables)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "within_rto": self.within_rto, "passed": self.passed}, indent=2)

    def to_text(self) -> str:
        rows = sum(table.rows for table in self.tables.values())
        lines = [
            f"restore drill of {self.source_database!r} -> {self.restored_database!r}",
            f"  dump:    {self.dump_seconds:.2f} s, {self.dump_bytes} bytes",
            f"  restore: {self.restore_seconds:.2f} s (RTO {self.rto_seconds} s: "
            f"{'within' if self.within_rto else 'EXCEEDED'})",
            f"  verify:  {len(self.tables)} tables, {rows} rows, checksums "
            f"{'identical' if not self.mismatches else 'DIFFER'} ({self.verify_seconds:.2f} s)",
        ]
        lines += [f"  mismatch: {item}" for item in self.mismatches]
        lines.append("PASSED" if self.passed else "FAILED")
        return "\n".join(lines)


def fingerprint(connection: Connection) -> dict[str, TableFingerprint]:
    """Row count and an order-independent SHA-256 of every user table."""
    connection.execute(text("SET LOCAL row_security = off"))
    result = {}
    for (name,) in connection.execute(_TABLES):
        rows, digest = connection.execute(
            # `name` comes from pg_catalog through quote_ident, never from input.
            text(_FINGERPRINT.format(table=name))
        ).one()
        result[name] = TableFingerprint(rows=rows, sha256=digest)
    return result


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for the pg_* tools; the password goes to the environment, not argv."""
    args = ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432)]
    if url.username:
        args += ["--username", url.username]
    env = {**os.environ, "PGPASSWORD": url.password} if url.password else dict(os.environ)
    return args, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigurationError(f"{name} is not on PATH; install the PostgreSQL client tools matching the server")
    return path


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ConfigurationError(f"{Path(command[0]).name} failed: {result.stderr.strip()[-500:]}")


@contextmanager
def _snapshot(url: URL) -> Iterator[tuple[str, dict[str, TableFingerprint]]]:
    """An exported REPEATABLE READ snapshot and the fingerprints taken inside it."""
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as connection, connection.begin():
            snapshot_id = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            yield snapshot_id, fingerprint(connection)
    finally:
        engine.dispose()


def run_restore_drill(source_url: str, *, rto_seconds: int = POSTGRES_RTO_SECONDS, keep: bool = False) -> DrillReport:
    """Run the drill against `source_url` (a role that may create databases and read every row)."""
    source = make_url(source_url).set(drivername="postgresql+psycopg")
    if not source.database:
        raise ConfigurationError("the source URL must name a database")
    # The random suffix survives truncation (Postgres names stop at 63 bytes): purge finds copies by it.
    restored_name = f"{source.database[:_SOURCE_PREFIX]}_drill_{secrets.token_hex(3)}"
    admin = create_engine(source, isolation_level="AUTOCOMMIT")
    args, env = _libpq(source)
    with tempfile.TemporaryDirectory(prefix="restore-drill-") as directory:
        dump = Path(directory) / "backup.dump"
        with _snapshot(source) as (snapshot_id, expected):
            started = time.perf_counter()
            _run(
                [
                    _tool("pg_dump"),
                    *args,
                    "--format=custom",
                    f"--snapshot={snapshot_id}",
                    f"--file={dump}",
                    source.database,
                ],
                env,
            )
            dump_seconds = time.perf_counter() - started
        dump_bytes = dump.stat().st_size
        try:
            started = time.perf_counter()
            with admin.connect() as connection:
                # Closed before any row arrives: a copy of every tenant's data is not for every role. Created
                # refusing every connection, so no session can open in the gap before PUBLIC's CONNECT goes.
                connection.execute(text(f'CREATE DATABASE "{restored_name}" WITH ALLOW_CONNECTIONS false'))
                connection.execute(text(f'REVOKE ALL ON DATABASE "{restored_name}" FROM PUBLIC'))
                connection.execute(text(f'ALTER DATABASE "{restored_name}" WITH ALLOW_CONNECTIONS true'))
                connection.execute(text(f"COMMENT ON DATABASE \"{restored_name}\" IS '{DRILL_RUNNING_COMMENT}'"))
            _run([_tool("pg_restore"), *args, "--exit-on-error", f"--dbname={restored_name}", str(dump)], env)
            restore_seconds = time.perf_counter() - started
            started = time.perf_counter()
            restored_engine = create_engine(source.set(database=restored_name))
            try:
                with restored_engine.connect() as connection, connection.begin():
                    # The dump may carry PUBLIC's grants on `public`; the copy keeps none.
                    connection.execute(text("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
                    actual = fingerprint(connection)
            finally:
                restored_engine.dispose()
            verify_seconds = time.perf_counter() - started
        finally:
            with admin.connect() as connection:
                if keep:
                    _hand_to_source_owner(connection, source.database, restored_name)
                else:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)'))
            admin.dispose()
    mismatches = [
        f"{name}: expected {expected.get(name)}, restored {actual.get(name)}"
        for name in sorted(set(expected) | set(actual))
        if expected.get(name) != actual.get(name)
    ]
    return DrillReport(
        source_database=source.database,
        restored_database=restored_name,
        dump_bytes=dump_bytes,
        dump_seconds=dump_seconds,
        restore_seconds=restore_seconds,
        verify_seconds=verify_seconds,
        rto_seconds=rto_seconds,
        tables=expected,
        mismatches=mismatches,
    )


def _hand_to_source_owner(connection: Connection, source: str, restored_name: str) -> None:
    """A kept copy belongs to the source's owner, the role `tenants purge` runs as, so purge can drop it.

    A drill role that may not hand it over (not a member of the owner role)
    keeps it; it is marked kept all the same, so tenant purge finds it and
    refuses, naming it, until whoever ran the drill drops it.
    """
    if connection.execute(_SOURCE_OWNER, {"name": restored_name}).first() is None:
        return  # the drill failed before the copy existed
    owner = connection.execute(_SOURCE_OWNER, {"name": source}).scalar_one()
    with suppress(DBAPIError):  # autocommit: a refusal aborts nothing; the mark below still goes on
        # `owner` comes from pg_catalog through quote_ident, never from input.
        connection.execute(text(f'ALTER DATABASE "{restored_name}" OWNER TO {owner}'))
    connection.execute(text(f"COMMENT ON DATABASE \"{restored_name}\" IS '{DRILL_COPY_COMMENT}'"))


def _kept(connection: Connection, sources: list[str]) -> list[tuple[str, bool]]:
    parameters = {
        "pattern": DRILL_COPY_PATTERN,
        # A copy a killed drill left behind is still marked running: it holds the rows all the same.
        "comments": [DRILL_COPY_COMMENT, DRILL_RUNNING_COMMENT],
        "without_suffix": -_SUFFIX,
        "sources": [source[:_SOURCE_PREFIX] for source in sources],
    }
    return [(row.datname, row.droppable) for row in connection.execute(_KEPT_COPIES, parameters)]


def kept_copies(connection: Connection, sources: list[str]) -> list[str]:
    """The kept restore-drill copies of the databases named in `sources`."""
    return [name for name, _ in _kept(connection, sources)]


def drop_kept_copies(engine: Engine, sources: list[str]) -> tuple[list[str], list[str]]:
    """Drop every kept drill copy of `sources` this role may drop; returns (dropped, left: those it may not).

    Tenant purge calls this first, with the databases that hold tenant rows,
    and refuses to go on while `left` is not empty: each copy holds the purged
    tenant's rows.
    """
    dropped, left = [], []
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        rows = _kept(connection, sources)
        for name, droppable in rows:
            if not droppable:
                left.append(name)
                continue
            # `name` comes from pg_database and matched DRILL_COPY_PATTERN; quoted as an identifier.
            quoted = connection.dialect.identifier_preparer.quote_identifier(name)
            try:
                connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            except DBAPIError:
                left.append(name)  # e.g. another role's session holds it and this role may not end it
                continue
            dropped.append(name)
    return dropped, left
