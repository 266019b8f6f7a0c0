"""Buyer identities: buyer_identities, test_orders.buyer_identity_id

Test orders are placed by managed buyer identities instead of the buyer account strings of the
sampling settings. test_orders.buyer_account stays, as the identity's name copied when the
order was planned, so every order stays readable.

Existing databases keep their history: one identity is made per buyer account string found in
the sampling settings (every saved version) or on a test order, spellings that differ only in
case or spacing sharing one, and every order is linked to the identity of its string. The
accounts of the settings in force (the newest version, or the defaults when none was saved)
stay active; the others had already left the rotation and are retired, so the planner does not
take them up again. Their address and payment reference are not known: a compliance officer
fills them in on the Buyer identities page. An empty database gets no identity.

Revision ID: 5f1e0c0b7a05
Revises: 5f1e0c0b7a02
Create Date: 2026-12-04 23:43:40.093568

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5f1e0c0b7a05'
down_revision = '5f1e0c0b7a03'
branch_labels = None
depends_on = None

BATCH = 5000
# qc.services.plan_settings.DEFAULT_BUYER_ACCOUNTS as of this revision: the accounts in force
# while no settings version was saved.
DEFAULT_BUYER_ACCOUNTS = ("mystery-buyer-01@labelkeeper.example",
                          "mystery-buyer-02@labelkeeper.example",
                          "mystery-buyer-03@labelkeeper.example")
NAME_LENGTH = 120
RETIRED_REASON = ("Retired when buyer identities were introduced: not among the buyer accounts "
                  "of the sampling settings in force.")


def _key(name):
    """qc.services.buyers.name_key as of this revision."""
    return " ".join(name.split()).casefold()


def _accounts(text):
    return [line.strip()[:NAME_LENGTH] for line in text.splitlines() if line.strip()]


def _backfill(bind, identities):
    settings = sa.table('sampling_settings', sa.column('id', sa.Integer),
                        sa.column('buyer_accounts', sa.Text))
    orders = sa.table('test_orders', sa.column('id', sa.Integer),
                      sa.column('buyer_account', sa.String),
                      sa.column('buyer_identity_id', sa.Integer))
    versions = bind.execute(sa.select(settings.c.buyer_accounts)
                            .order_by(settings.c.id.desc())).scalars().all()
    used = bind.execute(sa.select(orders.c.buyer_account, sa.func.min(orders.c.id))
                        .group_by(orders.c.buyer_account)
                        .order_by(sa.func.min(orders.c.id))).all()
    if not versions and not used:
        return
    in_force = _accounts(versions[0]) if versions else list(DEFAULT_BUYER_ACCOUNTS)
    # Names in order of preference for a key's spelling: in force, newer settings, orders.
    names = in_force + [a for text in versions[1:] for a in _accounts(text)] + \
        [account.strip()[:NAME_LENGTH] for account, _ in used if account.strip()]
    active_keys = {_key(a) for a in in_force}
    now = datetime.now(UTC).replace(tzinfo=None)
    rows, seen = [], set()
    for name in names:
        key = _key(name)
        if key in seen:
            continue
        seen.add(key)
        active = key in active_keys
        rows.append({'name': name, 'name_key': key, 'address': '', 'payment_reference': '',
                     'active': active, 'created_at': now, 'updated_at': now,
                     'retired_at': None if active else now,
                     'retired_reason': '' if active else RETIRED_REASON, 'version': 1})
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(identities, rows[start:start + BATCH])
    ids = dict(bind.execute(sa.select(identities.c.name_key, identities.c.id)).all())
    link = (orders.update().where(orders.c.buyer_account == sa.bindparam('account'))
            .values(buyer_identity_id=sa.bindparam('identity')))
    params = [{'account': account, 'identity': ids[_key(account.strip()[:NAME_LENGTH])]}
              for account, _ in used if account.strip()]
    for start in range(0, len(params), BATCH):
        bind.execute(link, params[start:start + BATCH])


def upgrade():
    identities = op.create_table('buyer_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_key', sa.String(length=360), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('payment_reference', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.Column('retired_by_id', sa.Integer(), nullable=True),
    sa.Column('retired_reason', sa.Text(), nullable=False),
    sa.Column('flagged_by_seller_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('(active AND retired_at IS NULL) OR (NOT active AND retired_at IS NOT NULL)', name=op.f('ck_buyer_identities_retired_when_inactive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_buyer_identities_created_by_id_users')),
    sa.ForeignKeyConstraint(['flagged_by_seller_id'], ['sellers.id'], name=op.f('fk_buyer_identities_flagged_by_seller_id_sellers')),
    sa.ForeignKeyConstraint(['retired_by_id'], ['users.id'], name=op.f('fk_buyer_identities_retired_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_buyer_identities')),
    sa.UniqueConstraint('name_key', name='uq_buyer_identities_name_key')
    )
    with op.batch_alter_table('test_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('buyer_identity_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_test_orders_buyer_identity_planned', ['buyer_identity_id', 'planned_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_test_orders_buyer_identity_id_buyer_identities'), 'buyer_identities', ['buyer_identity_id'], ['id'])
    _backfill(op.get_bind(), identities)


def downgrade():
    with op.batch_alter_table('test_orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_test_orders_buyer_identity_id_buyer_identities'), type_='foreignkey')
        batch_op.drop_index('ix_test_orders_buyer_identity_planned')
        batch_op.drop_column('buyer_identity_id')

    op.drop_table('buyer_identities')
