"""storefront: cached catalogue, products-for-sale profiles (with approvals), orders without a subscription

Revision ID: b2store00001
Revises: a1sec0000001
Create Date: 2026-11-26 14:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b2store00001'
down_revision = 'a1sec0000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('catalogue_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('market', sa.String(length=2), nullable=False),
    sa.Column('offer_id', sa.String(length=64), nullable=False),
    sa.Column('catalog_item_id', sa.String(length=100), nullable=False),
    sa.Column('product_id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('publisher', sa.String(length=200), nullable=False),
    sa.Column('segment', sa.String(length=32), nullable=False),
    sa.Column('azure_sku_id', sa.String(length=64), nullable=True),
    sa.Column('addon', sa.String(length=16), nullable=True),
    sa.Column('prerequisites', sa.JSON(), nullable=False),
    sa.Column('limit_per_customer', sa.Integer(), nullable=True),
    sa.Column('min_quantity', sa.Integer(), nullable=False),
    sa.Column('max_quantity', sa.Integer(), nullable=False),
    sa.Column('is_trial', sa.Boolean(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('prices', sa.JSON(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_item')),
    sa.UniqueConstraint('market', 'offer_id', name=op.f('uq_catalogue_item_market'))
    )
    with op.batch_alter_table('catalogue_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_item_product_id'), ['product_id'], unique=False)

    op.create_table('sales_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('reseller_id', sa.Integer(), nullable=True),
    sa.Column('approval_above', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('approve_all', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reseller_id'], ['reseller.id'], name=op.f('fk_sales_profile_reseller_id_reseller')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_profile')),
    sa.UniqueConstraint('name', name=op.f('uq_sales_profile_name'))
    )
    with op.batch_alter_table('sales_profile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_profile_reseller_id'), ['reseller_id'], unique=False)
    op.create_table('profile_offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.String(length=64), nullable=False),
    sa.Column('margin_percent', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('fixed_monthly', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('min_quantity', sa.Integer(), nullable=True),
    sa.Column('max_quantity', sa.Integer(), nullable=True),
    sa.Column('needs_approval', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['sales_profile.id'], name=op.f('fk_profile_offer_profile_id_sales_profile'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profile_offer')),
    sa.UniqueConstraint('profile_id', 'offer_id', name=op.f('uq_profile_offer_profile_id'))
    )
    with op.batch_alter_table('profile_offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_offer_profile_id'), ['profile_id'], unique=False)

    op.create_table('customer_profile',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_profile_customer_id_customer')),
    sa.ForeignKeyConstraint(['profile_id'], ['sales_profile.id'], name=op.f('fk_customer_profile_profile_id_sales_profile')),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_profile'))
    )
    with op.batch_alter_table('customer_profile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_profile_profile_id'), ['profile_id'], unique=False)

    # An order (the storefront) has no subscription until it is bought.
    with op.batch_alter_table('change_request', schema=None) as batch_op:
        batch_op.alter_column('subscription_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    with op.batch_alter_table('change_request', schema=None) as batch_op:
        batch_op.alter_column('subscription_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('customer_profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_profile_profile_id'))
    op.drop_table('customer_profile')
    with op.batch_alter_table('profile_offer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_offer_profile_id'))
    op.drop_table('profile_offer')
    with op.batch_alter_table('sales_profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_profile_reseller_id'))
    op.drop_table('sales_profile')
    with op.batch_alter_table('catalogue_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_item_product_id'))
    op.drop_table('catalogue_item')
