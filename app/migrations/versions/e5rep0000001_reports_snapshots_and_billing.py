"""reports: daily usage snapshots; PSA agreement ids of billed subscriptions

Revision ID: e5rep0000001
Revises: c3res0000001
Create Date: 2026-11-26 15:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5rep0000001'
down_revision = 'c3res0000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('usage_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('product', sa.String(length=64), nullable=False),
    sa.Column('product_name', sa.String(length=200), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('assigned', sa.Integer(), nullable=False),
    sa.Column('monthly_cost', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_usage_snapshot_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_snapshot')),
    sa.UniqueConstraint('customer_id', 'day', 'product', name=op.f('uq_usage_snapshot_customer_id'))
    )
    with op.batch_alter_table('usage_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_snapshot_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_snapshot_day'), ['day'], unique=False)

    op.create_table('billing_agreement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscription.id'], name=op.f('fk_billing_agreement_subscription_id_subscription'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_agreement')),
    sa.UniqueConstraint('subscription_id', name=op.f('uq_billing_agreement_subscription_id'))
    )


def downgrade():
    op.drop_table('billing_agreement')
    with op.batch_alter_table('usage_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_snapshot_day'))
        batch_op.drop_index(batch_op.f('ix_usage_snapshot_customer_id'))
    op.drop_table('usage_snapshot')
