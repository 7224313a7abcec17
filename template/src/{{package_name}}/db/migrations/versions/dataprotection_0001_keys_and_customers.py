"""Per-tenant data keys (envelope encryption) and a classified sample table, `customers`.

Revision ID: dataprotection_0001
Revises: 0001

`tenant_keys` holds each tenant's data keys, wrapped by the key-encryption
key (Vault transit / AWS KMS; security/key_wrappers.py): never a plaintext
key. The runtime role may read and insert them (a tenant's first key is
created on first use) but never update or delete them; rotation runs as the
schema owner (`keys rotate`). One active version per tenant is a unique
index; older versions stay for decrypting older ciphertexts.

`customers.full_name` and `customers.email` are classified PII and stored only as
ciphertext: the CHECK constraints refuse anything that does not start with
the ciphertext format byte, so even a hand-written INSERT cannot store them
in clear.

Tenancy-specific isolation (row-level security, tenant schemas) of both
tables is applied by the `tenancy` branch, which depends on this revision.
"""

import sqlalchemy as sa
from alembic import op

revision = "dataprotection_0001"
down_revision = "0001"
branch_labels = ("dataprotection",)
depends_on = None

# security/keys.py: format byte (1) + key version (4) + nonce (12) + GCM tag (16).
_MIN_CIPHERTEXT = 33


def _ciphertext(column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        f"octet_length({column}) >= {_MIN_CIPHERTEXT} AND get_byte({column}, 0) = 1",
        name=f"customers_{column}_encrypted",
    )


def upgrade() -> None:
    op.create_table(
        "tenant_keys",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("wrapper", sa.Text(), nullable=False),
        sa.Column("kek_version", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "version", name="tenant_keys_pkey"),
        sa.CheckConstraint("version >= 1", name="tenant_keys_version_positive"),
        sa.CheckConstraint("octet_length(wrapped_key) BETWEEN 16 AND 8192", name="tenant_keys_wrapped_length"),
    )
    op.create_index(
        "tenant_keys_one_active", "tenant_keys", ["tenant_id"], unique=True, postgresql_where=sa.text("active")
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("full_name", sa.LargeBinary(), nullable=False),
        sa.Column("email", sa.LargeBinary(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False, server_default=""),
        sa.Column("department", sa.Text(), nullable=False, server_default=""),
        sa.Column("owner", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        _ciphertext("full_name"),
        _ciphertext("email"),
    )
    op.create_index("customers_tenant_id_idx", "customers", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("customers")
    op.drop_table("tenant_keys")
