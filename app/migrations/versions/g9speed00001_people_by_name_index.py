"""people by name: an index for the people page's order (customer, name, id)

Revision ID: g9speed00001
Revises: f7azure00001
Create Date: 2026-11-26 17:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'g9speed00001'
down_revision = 'f7azure00001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('directory_user', schema=None) as batch_op:
        batch_op.create_index(
            'ix_directory_user_customer_name', ['customer_id', 'name', 'id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('directory_user', schema=None) as batch_op:
        batch_op.drop_index('ix_directory_user_customer_name')
