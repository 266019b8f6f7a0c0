"""Test orders record whose side a cancellation or loss was on: test_orders.failure_side

The renewal rule counts a shortfall of inspected orders against a seller only when orders
failed on the seller's side (not shipped, sale cancelled, listing withdrawn). Orders cancelled
or lost before this revision have no recorded side (NULL) and never count against a seller.

Revision ID: 5f1e0c0b7a06
Revises: 5f1e0c0b7a02
Create Date: 2026-12-05 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5f1e0c0b7a06'
down_revision = '5f1e0c0b7a05'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('test_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failure_side', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('test_orders', schema=None) as batch_op:
        batch_op.drop_column('failure_side')
