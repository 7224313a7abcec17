"""Provision the least-privileged runtime role, and refuse to serve with anything else.

The runtime role (the user of `APP_DATABASE_URL`) must not be a superuser,
must not own (or be able to act as the owner of) any table, and must not
bypass row-level security: any of those would silently switch off tenant
isolation and the append-only audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from ..errors import ConfigurationError, UnsafeDatabaseRoleError
from .privileges import RUNTIME_GRANTS, RUNTIME_ROLE_ATTRIBUTES


@dataclass(frozen=True)
class RoleFacts:
    """What the database says about a role."""

    name: str
    superuser: bool
    bypass_rls: bool
    owned_tables: tuple[str, ...]

    def problems(self) -> list[str]:
        found = []
        if self.superuser:
            found.append("is a superuser")
        if self.bypass_rls:
            found.append("has BYPASSRLS")
        if self.owned_tables:
            found.append("owns or can act as the owner of " + ", ".join(self.owned_tables))
        return found


_ROLE_FACTS = text(
    """
    SELECT r.rolname, r.rolsuper, r.rolbypassrls,
           COALESCE(array_agg(c.relname ORDER BY c.relname)
                    FILTER (WHERE c.relname IS NOT NULL), '{}') AS owned
      FROM pg_roles r
      LEFT JOIN pg_class c
        ON c.relkind IN ('r', 'p')
       AND c.relnamespace NOT IN (SELECT oid FROM pg_namespace
                                   WHERE nspname IN ('pg_catalog', 'information_schema')
                                      OR nspname LIKE 'pg_toast%')
       AND pg_has_role(r.oid, c.relowner, 'MEMBER')
     WHERE r.rolname = current_user
     GROUP BY r.rolname, r.rolsuper, r.rolbypassrls
    """
)


_ROLE_ATTRIBUTES = text(
    "SELECT rolsuper AS superuser, rolbypassrls AS bypassrls, rolcreaterole AS createrole, "
    "rolcreatedb AS createdb, rolreplication AS replication FROM pg_roles WHERE rolname = :n"
)


def current_role_facts(connection: Connection) -> RoleFacts:
    row = connection.execute(_ROLE_FACTS).one()
    return RoleFacts(name=row[0], superuser=row[1], bypass_rls=row[2], owned_tables=tuple(row[3]))


def assert_runtime_role_is_safe(connection: Connection) -> RoleFacts:
    """Raise UnsafeDatabaseRoleError unless the connected role is least-privileged."""
    facts = current_role_facts(connection)
    if problems := facts.problems():
        raise UnsafeDatabaseRoleError(
            f"refusing to serve: database role {facts.name!r} "
            + "; ".join(problems)
            + ". Run `migrate` and point APP_DATABASE_URL at the runtime role it creates."
        )
    return facts


def _quote_ident(connection: Connection, name: str) -> str:
    return connection.execute(text("SELECT quote_ident(:n)"), {"n": name}).scalar_one()


#: The RDS role whose members log in with IAM tokens only (password login is then refused for them).
RDS_IAM_ROLE = "rds_iam"


def _grant_iam_login(owner: Connection, role: str) -> None:
    """Let `role` log in with RDS IAM tokens: membership of rds_iam, which only exists on RDS."""
    if owner.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": RDS_IAM_ROLE}).first() is None:
        raise ConfigurationError(
            f"APP_DATABASE_IAM_AUTH is on but the role {RDS_IAM_ROLE!r} does not exist: IAM database "
            "authentication needs Amazon RDS (or Aurora) with iam_database_authentication_enabled"
        )
    owner.execute(text(f"GRANT {RDS_IAM_ROLE} TO {role}"))


def provision_runtime_role(owner: Connection, runtime_url: str, *, iam_auth: bool = False) -> str:
    """Create or update the runtime role named in `runtime_url`; return its name.

    Runs as the schema owner, inside the migration transaction, so a failure
    leaves the previous grants in place. With `iam_auth` the role logs in with
    RDS IAM tokens only: it is granted rds_iam and must have no password.
    """
    url = make_url(runtime_url)
    if not url.username:
        raise ConfigurationError("APP_DATABASE_URL must name the runtime role (user@host)")
    if iam_auth and url.password:
        raise ConfigurationError(
            "APP_DATABASE_URL carries a password but APP_DATABASE_IAM_AUTH is on: "
            "the runtime role authenticates with IAM tokens only; remove the password from the URL"
        )
    owner_name = owner.execute(text("SELECT current_user")).scalar_one()
    if url.username == owner_name:
        raise ConfigurationError(
            "APP_DATABASE_URL and APP_MIGRATION_DATABASE_URL use the same role; "
            "the runtime role must not own the schema"
        )
    role = _quote_ident(owner, url.username)
    existing = owner.execute(_ROLE_ATTRIBUTES, {"n": url.username}).first()
    if existing is None:
        owner.execute(text(f"CREATE ROLE {role} {RUNTIME_ROLE_ATTRIBUTES}"))
    else:
        # Only a superuser may strip these, so name them instead of failing obscurely.
        unsafe = [name for name, present in existing._mapping.items() if present]
        if unsafe:
            raise ConfigurationError(
                f"runtime role {url.username!r} already exists with {', '.join(unsafe)}; "
                "a DBA must remove those attributes (or choose another role name) before migrating"
            )
        owner.execute(text(f"ALTER ROLE {role} LOGIN"))
    if iam_auth:
        _grant_iam_login(owner, role)
    if url.password:
        # Parameters cannot be bound in utility statements; quote_literal escapes.
        literal = owner.execute(text("SELECT quote_literal(:p)"), {"p": url.password}).scalar_one()
        owner.execute(text(f"ALTER ROLE {role} PASSWORD {literal}"))
    database = _quote_ident(owner, owner.execute(text("SELECT current_database()")).scalar_one())
    owner.execute(text(f"GRANT CONNECT ON DATABASE {database} TO {role}"))
    owner.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    owner.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
    for table, privileges in RUNTIME_GRANTS.items():
        owner.execute(text(f"GRANT {', '.join(privileges)} ON {_quote_ident(owner, table)} TO {role}"))
    owner.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    return url.username


#: The drift reader's only table privilege: the three columns `drift` compares (security/drift.py).
DRIFT_GRANT: Final = "GRANT SELECT (tenant_id, subject, role) ON role_assignments TO {role}"


def provision_drift_role(owner: Connection, drift_url: str, *, iam_auth: bool = False) -> str:
    """Create or update the nightly drift check's login (APP_DRIFT_DATABASE_URL); return its name.

    It can log in and read who holds which role (three columns of `role_assignments`), and
    nothing else: no other table, no audit or tenant data, every transaction read-only, not an
    owner, no BYPASSRLS. Started by the audit workflow without reviewers, it must be harmless.
    """
    url = make_url(drift_url)
    if not url.username:
        raise ConfigurationError("APP_DRIFT_DATABASE_URL must name the drift reader (user@host)")
    if iam_auth and url.password:
        raise ConfigurationError("APP_DRIFT_DATABASE_URL carries a password but APP_DATABASE_IAM_AUTH is on")
    owner_name = owner.execute(text("SELECT current_user")).scalar_one()
    if url.username == owner_name:
        raise ConfigurationError("APP_DRIFT_DATABASE_URL must not be the schema owner: drift only reads")
    role = _quote_ident(owner, url.username)
    existing = owner.execute(_ROLE_ATTRIBUTES, {"n": url.username}).first()
    if existing is None:
        owner.execute(text(f"CREATE ROLE {role} {RUNTIME_ROLE_ATTRIBUTES}"))
    elif unsafe := [name for name, present in existing._mapping.items() if present]:
        raise ConfigurationError(f"drift role {url.username!r} already exists with {', '.join(unsafe)}")
    owner.execute(text(f"ALTER ROLE {role} LOGIN"))
    owner.execute(text(f"ALTER ROLE {role} SET default_transaction_read_only = on"))
    if iam_auth:
        _grant_iam_login(owner, role)
    if url.password:
        literal = owner.execute(text("SELECT quote_literal(:p)"), {"p": url.password}).scalar_one()
        owner.execute(text(f"ALTER ROLE {role} PASSWORD {literal}"))
    database = _quote_ident(owner, owner.execute(text("SELECT current_database()")).scalar_one())
    owner.execute(text(f"GRANT CONNECT ON DATABASE {database} TO {role}"))
    owner.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    owner.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
    owner.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}"))
    owner.execute(text(DRIFT_GRANT.format(role=role)))
    return url.username
