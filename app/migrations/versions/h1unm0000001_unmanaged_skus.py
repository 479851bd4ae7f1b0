"""unmanaged SKUs: products of a tenant no CSP subscription grants, with their units

Revision ID: h1unm0000001
Revises: g9speed00001
Create Date: 2026-11-26 18:30:00

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = 'h1unm0000001'
down_revision = 'g9speed00001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unmanaged_sku',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.String(length=64), nullable=False),
    sa.Column('part_number', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('assigned', sa.Integer(), nullable=False),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_unmanaged_sku_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unmanaged_sku')),
    sa.UniqueConstraint('customer_id', 'sku_id', name=op.f('uq_unmanaged_sku_customer_id'))
    )


def downgrade():
    op.drop_table('unmanaged_sku')
