"""one open change per subscription; when a change was last handed to a worker

Revision ID: 8d4e5f6a7b8c
Revises: 7c3d2e1f0a9b
Create Date: 2026-11-26 14:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8d4e5f6a7b8c'
down_revision = '7c3d2e1f0a9b'
branch_labels = None
depends_on = None

OPEN = "state IN ('pending', 'running')"


def upgrade():
    with op.batch_alter_table('change_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True))
    # Older duplicates (possible before this index) end as failed, the newest stays open.
    op.execute(
        "UPDATE change_request SET state = 'failed', "
        "outcome = 'Superseded by a later change of the same subscription; nothing was sent.' "
        f"WHERE {OPEN} AND id NOT IN (SELECT MAX(id) FROM change_request "
        f"WHERE {OPEN} GROUP BY subscription_id)"
    )
    op.execute("UPDATE change_request SET queued_at = created_at WHERE " + OPEN)
    op.create_index(
        'uq_change_request_open_subscription',
        'change_request',
        ['subscription_id'],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade():
    op.drop_index('uq_change_request_open_subscription', table_name='change_request')
    with op.batch_alter_table('change_request', schema=None) as batch_op:
        batch_op.drop_column('queued_at')
