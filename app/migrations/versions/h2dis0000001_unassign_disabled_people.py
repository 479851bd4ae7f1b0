"""unassign disabled people: when a person was first seen disabled, and the setting

Revision ID: h2dis0000001
Revises: h1unm0000001
Create Date: 2026-11-26 18:30:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'h2dis0000001'
down_revision = 'h1unm0000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('directory_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_since', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'unassign_disabled_after_days', sa.Integer(), nullable=False, server_default='0'
            )
        )


def downgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('unassign_disabled_after_days')
    with op.batch_alter_table('directory_user', schema=None) as batch_op:
        batch_op.drop_column('disabled_since')
