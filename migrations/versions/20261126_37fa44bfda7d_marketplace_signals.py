"""marketplace signals: monthly returns and warranty claims per seller

Revision ID: 37fa44bfda7d
Revises: 3d5fe4672ec6
Create Date: 2026-11-26 05:15:17.090141

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '37fa44bfda7d'
down_revision = '3d5fe4672ec6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('marketplace_signals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seller_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=True),
    sa.Column('customer_returns', sa.Integer(), nullable=False),
    sa.Column('warranty_claims', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.CheckConstraint('(orders IS NULL OR orders >= 0) AND customer_returns >= 0 AND warranty_claims >= 0', name=op.f('ck_marketplace_signals_counts_not_negative')),
    sa.ForeignKeyConstraint(['imported_by_id'], ['users.id'], name=op.f('fk_marketplace_signals_imported_by_id_users')),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], name=op.f('fk_marketplace_signals_seller_id_sellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_signals')),
    sa.UniqueConstraint('seller_id', 'month', name='uq_marketplace_signals_seller_month')
    )


def downgrade():
    op.drop_table('marketplace_signals')
