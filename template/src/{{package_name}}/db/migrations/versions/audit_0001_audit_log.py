"""Audit log (append-only, hash-chained), SIEM outbox, delivery ledger, role assignments.

Revision ID: audit_0001
Revises: 0001

Append-only is enforced twice: the runtime role is granted only SELECT and
INSERT (db/privileges.py), and triggers refuse UPDATE, DELETE and TRUNCATE of
audit events for everyone, the owner included, so rewriting history takes a
deliberate `ALTER TABLE ... DISABLE TRIGGER` -- and even then the hash chain
(security/audit.py) shows which rows were touched. The outbox and the
delivery ledger are insert-only for the app as well: "delivered" is a row in
`siem_deliveries`, never an update.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "audit_0001"
down_revision = "0001"
branch_labels = ("audit",)
depends_on = None

_REFUSE = """
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("actor_roles", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("permission", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("ip", sa.Text(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("device", sa.Text(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.Column("prev_hash", sa.CHAR(64), nullable=False),
        sa.Column("hash", sa.CHAR(64), nullable=False),
        sa.UniqueConstraint("tenant_id", "seq", name="audit_events_tenant_seq"),
        sa.CheckConstraint("seq > 0", name="audit_events_seq_positive"),
        sa.CheckConstraint("outcome IN ('success', 'denied')", name="audit_events_outcome"),
    )
    op.create_table(
        "siem_outbox",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("kind", "event_id", name="siem_outbox_kind_event"),
        sa.CheckConstraint("kind IN ('audit', 'alert')", name="siem_outbox_kind"),
    )
    op.create_table(
        "siem_deliveries",
        sa.Column(
            "position",
            sa.BigInteger(),
            sa.ForeignKey("siem_outbox.position", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sink", sa.Text(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "role_assignments",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("tenant_id", "subject", "role", name="role_assignments_pkey"),
    )
    op.execute(_REFUSE)
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
    )
    # The owner may prune delivered outbox rows (retention); nobody may rewrite one.
    op.execute(
        "CREATE TRIGGER siem_outbox_immutable BEFORE UPDATE ON siem_outbox "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
    )


def downgrade() -> None:
    op.drop_table("role_assignments")
    op.drop_table("siem_deliveries")
    op.drop_table("siem_outbox")
    op.drop_table("audit_events")
    op.execute("DROP FUNCTION audit_refuse_change()")
