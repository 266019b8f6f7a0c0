"""Label event kinds and sampling-state changes: label_events.kind, sampling_state_changes

Reports count label decisions by kind and tightenings by row instead of reading reason texts
and audit JSON. Existing rows are filled in once here: a label event's kind from its statuses
(a same-status event is a renewal, conditional when its reason says "conditionally"), and one
sampling_state_changes row per `sampling.state_changed` audit entry, in audit order.

Revision ID: 5f1e0c0b7a02
Revises: 5f1e0c0b7a01
Create Date: 2026-12-04 21:45:00.000000

"""
import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5f1e0c0b7a02'
down_revision = '5f1e0c0b7a01'
branch_labels = None
depends_on = None

BATCH = 5000


def _kind(from_status, to_status, reason):
    """The kind of an existing event (the rule of vetting.labels.compute_label_event_kind as
    of this revision; renewals told apart by their reason text, the one time it is read)."""
    if to_status == 'active' and from_status in (None, 'expired'):
        return 'grant'
    if from_status == to_status:
        return 'renewal_conditional' if 'conditionally' in reason else 'renewal_full'
    if to_status == 'suspended':
        return 'suspension'
    if to_status == 'probation':
        return 'reinstatement'
    if to_status == 'revoked':
        return 'revocation'
    if to_status == 'expired':
        return 'expiry'
    if from_status == 'probation':
        return 'probation_end'
    return 'restoration'


def _backfill_kinds(bind):
    events = sa.table('label_events', sa.column('id', sa.Integer),
                      sa.column('from_status', sa.String), sa.column('to_status', sa.String),
                      sa.column('reason', sa.Text), sa.column('kind', sa.String))
    rows = bind.execute(sa.select(events.c.id, events.c.from_status, events.c.to_status,
                                  events.c.reason).order_by(events.c.id)).all()
    update = (events.update().where(events.c.id == sa.bindparam('event_id'))
              .values(kind=sa.bindparam('new_kind')))
    params = [{'event_id': row.id, 'new_kind': _kind(row.from_status, row.to_status, row.reason)}
              for row in rows]
    for start in range(0, len(params), BATCH):
        bind.execute(update, params[start:start + BATCH])


def _backfill_state_changes(bind, changes):
    audit = sa.table('audit_entries', sa.column('seq', sa.Integer),
                     sa.column('action', sa.String), sa.column('entity_id', sa.String),
                     sa.column('at', sa.DateTime), sa.column('payload', sa.Text))
    rows = bind.execute(sa.select(audit.c.entity_id, audit.c.at, audit.c.payload)
                        .where(audit.c.action == 'sampling.state_changed')
                        .order_by(audit.c.seq)).all()
    values = []
    for row in rows:
        payload = json.loads(row.payload)
        values.append({'seller_id': int(row.entity_id), 'from_state': payload.get('from'),
                       'to_state': payload.get('to'), 'why': payload.get('why'),
                       'at': row.at})
    for start in range(0, len(values), BATCH):
        op.bulk_insert(changes, values[start:start + BATCH])


def upgrade():
    with op.batch_alter_table('label_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=24), nullable=True))
    bind = op.get_bind()
    _backfill_kinds(bind)
    with op.batch_alter_table('label_events', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=24), nullable=False)

    changes = op.create_table('sampling_state_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seller_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=True),
    sa.Column('why', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], name=op.f('fk_sampling_state_changes_seller_id_sellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sampling_state_changes'))
    )
    with op.batch_alter_table('sampling_state_changes', schema=None) as batch_op:
        batch_op.create_index('ix_sampling_state_changes_to_state_at', ['to_state', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_state_changes_seller_id'), ['seller_id'], unique=False)
    _backfill_state_changes(bind, changes)


def downgrade():
    with op.batch_alter_table('sampling_state_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sampling_state_changes_seller_id'))
        batch_op.drop_index('ix_sampling_state_changes_to_state_at')

    op.drop_table('sampling_state_changes')
    with op.batch_alter_table('label_events', schema=None) as batch_op:
        batch_op.drop_column('kind')
