"""one outbox: reports, notices and webhook deliveries share the columns of core.outbox

Every outbox table now has status, attempts, next_attempt_at, claim_token, claimed_at,
claimed_until (the lease) and last_error, with one meaning of attempts: counted when an
attempt's outcome is recorded or its lease runs out.

- reports: started_at becomes claimed_at and message last_error; attempts, next_attempt_at,
  claim_token and claimed_until are added. A finished report made one attempt; a queued one
  is due since it was requested; one rendering keeps its claim for the 15 minutes the
  renderer had before its report was put back in the queue.
- notices: claimed_until is added; a notice being sent keeps its claim for the claim timeout
  it had (600 seconds).
- webhook_deliveries: locked_until becomes claimed_until and last_attempt_at claimed_at;
  last_error becomes text. A claimed delivery's attempt was counted when it was claimed; it
  is now counted when its outcome is known (or its lease runs out), so it is taken off again.
- status columns all hold 12 characters.

Revision ID: 5f1e0c0b7a01
Revises: 86e30e52f074
Create Date: 2026-12-04 09:00:00.000000

"""
from datetime import timedelta

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5f1e0c0b7a01'
down_revision = '86e30e52f074'
branch_labels = None
depends_on = None

REPORT_LEASE = timedelta(minutes=15)  # the renderer's old started-at timeout
NOTICE_LEASE = timedelta(seconds=600)  # NOTICE_CLAIM_TIMEOUT_SECONDS' default


def _set_leases(table, status, lease):
    """claimed_until = claimed_at + lease on the rows being worked on (computed here, the
    same on both engines; there are only ever a few)."""
    t = sa.table(table, sa.column('id', sa.Integer), sa.column('status', sa.String),
                 sa.column('claimed_at', sa.DateTime), sa.column('claimed_until', sa.DateTime))
    bind = op.get_bind()
    for row_id, claimed_at in bind.execute(
            sa.select(t.c.id, t.c.claimed_at).where(t.c.status == status)).all():
        until = claimed_at + lease if claimed_at is not None else sa.func.current_timestamp()
        bind.execute(t.update().where(t.c.id == row_id).values(claimed_until=until))


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=10),
                              type_=sa.String(length=12), existing_nullable=False)
        batch_op.alter_column('started_at', new_column_name='claimed_at',
                              existing_type=sa.DateTime(), existing_nullable=True)
        batch_op.alter_column('message', new_column_name='last_error',
                              existing_type=sa.Text(), existing_nullable=False)
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(), nullable=True))
    op.execute("UPDATE reports SET next_attempt_at = requested_at")
    op.execute("UPDATE reports SET attempts = 1 WHERE status IN ('done', 'failed')")
    _set_leases('reports', 'rendering', REPORT_LEASE)
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.alter_column('next_attempt_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.alter_column('attempts', existing_type=sa.Integer(), existing_nullable=False,
                              server_default=None)

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=8),
                              type_=sa.String(length=12), existing_nullable=False)
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(), nullable=True))
    _set_leases('notices', 'sending', NOTICE_LEASE)

    op.execute("UPDATE webhook_deliveries SET attempts = attempts - 1 "
               "WHERE locked_until IS NOT NULL AND attempts > 0")
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.alter_column('locked_until', new_column_name='claimed_until',
                              existing_type=sa.DateTime(), existing_nullable=True)
        batch_op.alter_column('last_attempt_at', new_column_name='claimed_at',
                              existing_type=sa.DateTime(), existing_nullable=True)
        batch_op.alter_column('last_error', existing_type=sa.String(length=500),
                              type_=sa.Text(), existing_nullable=False)


def downgrade():
    op.execute("UPDATE webhook_deliveries SET last_error = substr(last_error, 1, 500)")
    op.execute("UPDATE webhook_deliveries SET attempts = attempts + 1 "
               "WHERE claimed_until IS NOT NULL")
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.alter_column('last_error', existing_type=sa.Text(),
                              type_=sa.String(length=500), existing_nullable=False)
        batch_op.alter_column('claimed_at', new_column_name='last_attempt_at',
                              existing_type=sa.DateTime(), existing_nullable=True)
        batch_op.alter_column('claimed_until', new_column_name='locked_until',
                              existing_type=sa.DateTime(), existing_nullable=True)

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.alter_column('status', existing_type=sa.String(length=12),
                              type_=sa.String(length=8), existing_nullable=False)

    # Before this revision a report was never retried: one waiting for its next attempt is
    # simply queued, and the old renderer picks it up.
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claim_token')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.alter_column('last_error', new_column_name='message',
                              existing_type=sa.Text(), existing_nullable=False)
        batch_op.alter_column('claimed_at', new_column_name='started_at',
                              existing_type=sa.DateTime(), existing_nullable=True)
        batch_op.alter_column('status', existing_type=sa.String(length=12),
                              type_=sa.String(length=10), existing_nullable=False)
