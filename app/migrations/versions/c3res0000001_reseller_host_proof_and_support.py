"""resellers: a host name waits for proof of control; a support contact per brand

Revision ID: c3res0000001
Revises: b2store00001
Create Date: 2026-11-26 15:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3res0000001'
down_revision = 'b2store00001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reseller', schema=None) as batch_op:
        batch_op.add_column(sa.Column('support_contact', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('pending_host_name', sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column('host_token', sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column('host_requested_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('host_checked_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('host_check_result', sa.String(length=300), nullable=True)
        )
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.add_column(sa.Column('support_contact', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.drop_column('support_contact')
    with op.batch_alter_table('reseller', schema=None) as batch_op:
        batch_op.drop_column('host_check_result')
        batch_op.drop_column('host_checked_at')
        batch_op.drop_column('host_requested_at')
        batch_op.drop_column('host_token')
        batch_op.drop_column('pending_host_name')
        batch_op.drop_column('support_contact')
