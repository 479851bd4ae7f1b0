"""azure usage: a customer's monthly Azure usage per subscription, resource group and meter

Revision ID: f7azure00001
Revises: f8ins0000001
Create Date: 2026-11-26 17:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f7azure00001'
down_revision = 'f8ins0000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('azure_usage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('subscription_id', sa.String(length=64), nullable=False),
    sa.Column('entitlement_id', sa.String(length=64), nullable=False),
    sa.Column('entitlement_name', sa.String(length=200), nullable=False),
    sa.Column('resource_group', sa.String(length=200), nullable=False),
    sa.Column('meter_id', sa.String(length=64), nullable=False),
    sa.Column('meter_category', sa.String(length=100), nullable=False),
    sa.Column('meter_subcategory', sa.String(length=100), nullable=False),
    sa.Column('meter_name', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=50), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=20, scale=6), nullable=False),
    sa.Column('cost', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_azure_usage_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_azure_usage')),
    sa.UniqueConstraint('customer_id', 'month', 'entitlement_id', 'resource_group', 'meter_id', name=op.f('uq_azure_usage_customer_id'))
    )
    with op.batch_alter_table('azure_usage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_azure_usage_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_azure_usage_month'), ['month'], unique=False)


def downgrade():
    with op.batch_alter_table('azure_usage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_azure_usage_month'))
        batch_op.drop_index(batch_op.f('ix_azure_usage_customer_id'))
    op.drop_table('azure_usage')
