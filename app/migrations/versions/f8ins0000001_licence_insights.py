"""insights: per-person sign-in and workload activity; per-customer insight settings

Revision ID: f8ins0000001
Revises: f6mail000001
Create Date: 2026-11-26 17:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f8ins0000001'
down_revision = 'f6mail000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('directory_user_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('last_sign_in', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exchange', sa.Date(), nullable=True),
    sa.Column('onedrive', sa.Date(), nullable=True),
    sa.Column('sharepoint', sa.Date(), nullable=True),
    sa.Column('teams', sa.Date(), nullable=True),
    sa.Column('office', sa.Date(), nullable=True),
    sa.Column('copilot', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_user_activity_customer_id_customer')),
    sa.ForeignKeyConstraint(['directory_user_id'], ['directory_user.id'], name=op.f('fk_user_activity_directory_user_id_directory_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_activity')),
    sa.UniqueConstraint('directory_user_id', name=op.f('uq_user_activity_directory_user_id'))
    )
    with op.batch_alter_table('user_activity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_activity_customer_id'), ['customer_id'], unique=False)

    op.create_table('insight_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('inactive_days', sa.Integer(), nullable=False),
    sa.Column('excluded_skus', sa.JSON(), nullable=False),
    sa.Column('excluded_people', sa.JSON(), nullable=False),
    sa.Column('sku_parts', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=24), nullable=False),
    sa.Column('source_note', sa.Text(), nullable=True),
    sa.Column('refresh_state', sa.String(length=16), nullable=False),
    sa.Column('refresh_message', sa.Text(), nullable=True),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_insight_settings_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insight_settings')),
    sa.UniqueConstraint('customer_id', name=op.f('uq_insight_settings_customer_id'))
    )


def downgrade():
    op.drop_table('insight_settings')
    with op.batch_alter_table('user_activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_activity_customer_id'))
    op.drop_table('user_activity')
