"""WebAuthn credentials for step-up of admin and finance users.

Revision ID: identity_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "identity_0001"
down_revision = "0001"
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webauthn_credentials",
        sa.Column("id", sa.Uuid(), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("transports", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("credential_id", name="webauthn_credentials_credential_id_key"),
        # The spec caps credential ids at 1023 bytes and wants at least 16 bytes of entropy.
        sa.CheckConstraint("octet_length(credential_id) BETWEEN 16 AND 1023", name="webauthn_credential_id_length"),
        sa.CheckConstraint("octet_length(public_key) BETWEEN 1 AND 2048", name="webauthn_public_key_length"),
        sa.CheckConstraint("sign_count >= 0", name="webauthn_sign_count_not_negative"),
        sa.CheckConstraint("char_length(subject) BETWEEN 1 AND 255", name="webauthn_subject_length"),
    )
    op.create_index("webauthn_credentials_account_idx", "webauthn_credentials", ["tenant_id", "subject"])


def downgrade() -> None:
    op.drop_table("webauthn_credentials")
