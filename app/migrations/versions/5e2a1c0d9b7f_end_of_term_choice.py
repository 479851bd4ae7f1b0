"""end of term choice

Revision ID: 5e2a1c0d9b7f
Revises: 39eec0f64d3a
Create Date: 2026-11-26 12:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e2a1c0d9b7f'
down_revision = '39eec0f64d3a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_at_end', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_column('cancel_at_end')
