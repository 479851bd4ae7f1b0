"""cancellation allowed until, as Partner Center says

Revision ID: 7c3d2e1f0a9b
Revises: 5e2a1c0d9b7f
Create Date: 2026-11-26 12:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c3d2e1f0a9b'
down_revision = '5e2a1c0d9b7f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancellation_allowed_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_column('cancellation_allowed_until')
