"""mail: e-mail preferences; reminders and summaries sent (never twice)

Revision ID: f6mail000001
Revises: e5rep0000001
Create Date: 2026-11-26 17:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f6mail000001'
down_revision = 'e5rep0000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_preference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('reminders', sa.Boolean(), nullable=False),
    sa.Column('monthly_summary', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_preference')),
    sa.UniqueConstraint('email', name=op.f('uq_mail_preference_email'))
    )
    op.create_table('sent_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('term_end', sa.Date(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_sent_mail_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_mail')),
    sa.UniqueConstraint('kind', 'customer_id', 'subscription_id', 'threshold', 'term_end', 'recipient', name=op.f('uq_sent_mail_kind'))
    )


def downgrade():
    op.drop_table('sent_mail')
    op.drop_table('mail_preference')
