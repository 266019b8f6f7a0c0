"""critical findings: a critical verdict counts once a second inspector confirms it

One row per critical verdict recorded from this revision on: pending until a second inspector
(not the one who recorded the inspection) confirms or rejects it on the device, with a reason;
a rejection keeps the verdict, score and reasons the other results give. Critical verdicts
recorded before it have no row and keep counting as critical, as they did when decided; no
existing row changes.

Revision ID: 5f1e0c0b7a04
Revises: 5f1e0c0b7a02
Create Date: 2026-12-05 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5f1e0c0b7a04'
down_revision = '5f1e0c0b7a06'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('critical_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('seller_id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('checkpoints', sa.Text(), nullable=False),
    sa.Column('found_by_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('rescored_verdict', sa.String(length=12), nullable=True),
    sa.Column('rescored_score', sa.Integer(), nullable=True),
    sa.Column('rescored_reasons', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_critical_findings_decided_by_id_users')),
    sa.ForeignKeyConstraint(['found_by_id'], ['users.id'], name=op.f('fk_critical_findings_found_by_id_users')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_critical_findings_inspection_id_inspections')),
    sa.ForeignKeyConstraint(['order_id'], ['test_orders.id'], name=op.f('fk_critical_findings_order_id_test_orders')),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], name=op.f('fk_critical_findings_seller_id_sellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_critical_findings')),
    sa.UniqueConstraint('inspection_id', name=op.f('uq_critical_findings_inspection_id'))
    )
    with op.batch_alter_table('critical_findings', schema=None) as batch_op:
        batch_op.create_index('ix_critical_findings_status_opened', ['status', 'opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_critical_findings_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_critical_findings_seller_id'), ['seller_id'], unique=False)


def downgrade():
    with op.batch_alter_table('critical_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_critical_findings_seller_id'))
        batch_op.drop_index(batch_op.f('ix_critical_findings_order_id'))
        batch_op.drop_index('ix_critical_findings_status_opened')

    op.drop_table('critical_findings')
