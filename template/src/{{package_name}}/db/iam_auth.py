"""IAM database authentication for RDS: a short-lived signed token instead of a stored password.

With `APP_DATABASE_IAM_AUTH=true` the runtime role has no password at all:
each new connection gets a 15-minute token signed with the task role's
credentials (which may `rds-db:connect` as exactly that database user,
infra/terraform/modules/runtime/iam.tf). RDS accepts IAM tokens only over TLS,
so a connection without an explicit `sslmode` is made with `require`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event


def use_iam_authentication(engine: Engine, *, region: str, client: Any = None) -> None:
    """Give every new connection of `engine` a fresh IAM token as its password."""
    if client is None:
        import boto3

        client = boto3.client("rds", region_name=region)

    @event.listens_for(engine, "do_connect")
    def _sign_token(dialect: Any, connection_record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["password"] = client.generate_db_auth_token(
            DBHostname=cparams["host"], Port=int(cparams.get("port") or 5432), DBUsername=cparams["user"], Region=region
        )
        cparams.setdefault("sslmode", "require")
