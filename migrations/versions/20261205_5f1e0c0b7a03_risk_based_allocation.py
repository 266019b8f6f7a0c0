"""Risk-based allocation: budget in orders, floor, blocks, threshold; plan notes; order tier

Sampling settings gain the allocation's parameters (qc.allocation) and the threshold h in
force (chosen from the budget, or overridden with a reason); planning runs keep their notes
(threshold, signal AUC, shortfall, warnings); test orders record whether they were planned in
the confirmation tier and the seller's claim percentile when planned (for measuring the
signal's AUC on first orders).

Revision ID: 5f1e0c0b7a03
Revises: 5f1e0c0b7a02
Create Date: 2026-12-05 00:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5f1e0c0b7a03'
down_revision = '5f1e0c0b7a02'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sampling_settings') as batch:
        batch.add_column(sa.Column('budget_orders', sa.Integer(), nullable=False,
                                   server_default='200'))
        batch.add_column(sa.Column('floor_rate', sa.Double(), nullable=False,
                                   server_default='0.01'))
        batch.add_column(sa.Column('block_max', sa.Integer(), nullable=False,
                                   server_default='8'))
        batch.add_column(sa.Column('drift', sa.Double(), nullable=False, server_default='0.0025'))
        batch.add_column(sa.Column('min_auc', sa.Double(), nullable=False,
                                   server_default='0.55'))
        batch.add_column(sa.Column('target_years', sa.Double(), nullable=False,
                                   server_default='500'))
        batch.add_column(sa.Column('h', sa.Double(), nullable=True))
        batch.add_column(sa.Column('h_override_reason', sa.Text(), nullable=False,
                                   server_default=''))
    with op.batch_alter_table('planning_runs') as batch:
        batch.add_column(sa.Column('notes_json', sa.Text(), nullable=False,
                                   server_default='{}'))
    with op.batch_alter_table('test_orders') as batch:
        batch.add_column(sa.Column('confirmation', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('claim_percentile', sa.Double(), nullable=True))


def downgrade():
    with op.batch_alter_table('test_orders') as batch:
        batch.drop_column('claim_percentile')
        batch.drop_column('confirmation')
    with op.batch_alter_table('planning_runs') as batch:
        batch.drop_column('notes_json')
    with op.batch_alter_table('sampling_settings') as batch:
        for name in ('h_override_reason', 'h', 'target_years', 'min_auc', 'drift', 'block_max',
                     'floor_rate', 'budget_orders'):
            batch.drop_column(name)
