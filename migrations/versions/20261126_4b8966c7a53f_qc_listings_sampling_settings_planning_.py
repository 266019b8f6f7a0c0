"""qc: listings, sampling settings, planning runs, test orders, checkpoints, inspections

Revision ID: 4b8966c7a53f
Revises: 49bd380ad86b
Create Date: 2026-11-26 02:29:34.423805

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4b8966c7a53f'
down_revision = '49bd380ad86b'
branch_labels = None
depends_on = None


# The inspection checkpoint catalog of DOMAIN.md as it stood when this migration was written:
# (code, title, severity, device categories, guidance). Later changes come as new migrations
# or through the catalog data, never by editing this list.
CHECKPOINTS = [
    ('ID-1', 'IMEI / serial matches listing and box', 'critical', 'smartphone,tablet,laptop,smartwatch,console',
     'Read the IMEI or serial number from the device itself (*#06#, Settings > About, or the BIOS / About This Mac on a laptop) and compare it with the box label and the listing.'),
    ('ID-2', 'IMEI not on the lost/stolen blacklist', 'critical', 'smartphone,tablet,laptop,smartwatch,console',
     "Run the IMEI (a laptop's serial number) through a lost/stolen register such as GSMA Device Check or CheckMEND and keep the report."),
    ('LOCK-1', 'activation lock / factory-reset protection / MDM cleared', 'critical', 'smartphone,tablet,laptop,smartwatch,console',
     'Start the setup wizard and confirm it asks for no previous Apple ID or Google account and shows no remote-management (MDM, Autopilot, Intune) enrolment screen.'),
    ('LOCK-2', 'carrier unlocked', 'critical', 'smartphone,tablet,smartwatch,console',
     'Insert a SIM from a different carrier than the original one and confirm the device registers on the network and can place a call.'),
    ('LAP-FW-1', 'firmware/BIOS password removed and anti-theft not active', 'critical', 'laptop',
     'Open the BIOS/UEFI setup (Startup Security Utility on a Mac) and confirm it asks for no password and shows no anti-theft service such as Absolute/Computrace as activated.'),
    ('DATA-1', "previous owner's data erased (setup wizard on first boot)", 'critical', 'smartphone,tablet,laptop,smartwatch,console',
     'Confirm the device boots into the first-run setup wizard and that no earlier user account, photo or file is left after setup.'),
    ('CONF-1', 'model, storage and colour match the listing', 'critical', 'smartphone,tablet,laptop,smartwatch,console',
     'Compare the model number, storage and colour shown by the device (on a laptop also processor and memory) with the listing, not with the box.'),
    ('INTEG-1', 'liquid-damage indicator not tripped, no corrosion', 'critical', 'smartphone,tablet,laptop,smartwatch,console',
     'Look at the liquid-contact indicators you can reach (SIM slot, ports, under the keyboard or back cover) with a torch and fail on red/pink marks or corrosion.'),
    ('BAT-1', 'battery health >= floor (record %, cycles); swollen battery is critical', 'major', 'smartphone,tablet,laptop,smartwatch,console',
     'Record battery health % and cycle count from the OS or a diagnostic tool, and look for a lifted screen or bulging back, which means the battery is swollen.'),
    ('PWR-1', 'charges through the port (and wireless where supported)', 'major', 'smartphone,tablet,laptop,smartwatch,console',
     'Charge with a known-good charger through the port (and on a wireless pad where supported) and watch the percentage rise for two minutes.'),
    ('DISP-1', 'no dead pixels, lines, burn-in, white spots', 'major', 'smartphone,tablet,laptop,smartwatch,console',
     'Show full-screen white, black, red, green and blue at full brightness and look for dead pixels, lines, burn-in or white spots.'),
    ('DISP-2', 'touch works over the full surface, multi-touch, no ghost touches', 'major', 'smartphone,tablet,smartwatch,console',
     'Draw over the whole screen in a touch-test app, pinch-zoom with two fingers, then leave it untouched for a minute to catch ghost touches.'),
    ('LAP-KEY-1', 'every key and the keyboard backlight work', 'major', 'laptop',
     'Press every key once in a keyboard-test tool and step the backlight through each level in a dim room.'),
    ('LAP-TPAD-1', 'trackpad tracks, clicks and scrolls', 'major', 'laptop',
     'Move, tap, click in all four corners, two-finger scroll and drag on the trackpad and fail on jumps, dead zones or a click that does not register.'),
    ('PART-1', 'replaced parts like-for-like; non-genuine parts disclosed', 'major', 'smartphone,tablet,laptop,smartwatch,console',
     'Read the parts and service history (or open the case where the seller allows it) and check every non-genuine part is disclosed on the listing.'),
    ('CAM-1', 'all cameras, autofocus, flash', 'major', 'smartphone,tablet,smartwatch,console',
     'Take a photo and a video with every camera, focus on a near and a far object, and fire the flash.'),
    ('LAP-CAM-1', 'webcam works', 'major', 'laptop',
     'Open the camera app and check the image is sharp, the indicator light comes on and any privacy shutter closes.'),
    ('AUD-1', 'earpiece, speakers, microphones, vibration', 'major', 'smartphone,tablet,laptop,smartwatch,console',
     'Play audio on each speaker (and the earpiece on a phone), record with each microphone, and trigger vibration where the device has it.'),
    ('BTN-1', 'buttons and switches', 'major', 'smartphone,tablet,smartwatch,console',
     'Press every button and switch (power, volume, mute, home) and confirm each responds once per press.'),
    ('BIO-1', 'face / fingerprint unlock enrols', 'major', 'smartphone,tablet,smartwatch,console',
     'Enrol a face or fingerprint, lock the device and unlock it with it three times.'),
    ('SENS-1', 'proximity, light, motion sensors, compass', 'major', 'smartphone,tablet,smartwatch,console',
     "Run the maker's diagnostics or a sensor-test app to check the proximity, ambient-light and motion sensors and the compass."),
    ('CONN-1', 'calls, mobile data, Wi-Fi, Bluetooth, NFC, GPS', 'major', 'smartphone,tablet,laptop,smartwatch,console',
     'Test each radio the device has: a call and mobile data on a SIM, joining Wi-Fi, pairing a Bluetooth device, an NFC tag read and a GPS fix.'),
    ('CONN-2', 'SIM / eSIM, card reader', 'major', 'smartphone,tablet,smartwatch,console',
     'Insert a SIM (and add an eSIM where supported) and a memory card where there is a reader, and confirm each is detected.'),
    ('LAP-PORT-1', 'every port works', 'major', 'laptop',
     'Plug something into every port (USB-A/C, Thunderbolt, HDMI, audio, card reader, Ethernet) and confirm the laptop detects it.'),
    ('LAP-HINGE-1', 'hinges firm', 'major', 'laptop',
     'Open and close the lid through its full range and fail it if the screen will not hold its angle, wobbles, creaks or the hinge cover is cracked.'),
    ('LAP-THERM-1', 'fans and temperatures normal under load', 'major', 'laptop',
     'Run a ten-minute CPU stress test and confirm the fans spin up and the processor does not throttle or shut down.'),
    ('LAP-SSD-1', 'SSD health', 'major', 'laptop',
     "Read the SSD's SMART data with a disk tool, record its remaining life, and fail it on any SMART warning or media error."),
    ('SW-1', 'not rooted or jailbroken; updates to the latest OS', 'major', 'smartphone,tablet,laptop,smartwatch,console',
     'Check no root or jailbreak is detectable (Magisk, Cydia, an unlocked bootloader) and install the latest OS update the device offers.'),
    ('LAP-OS-1', 'licensed OS activated', 'major', 'laptop',
     'Open the activation page (Windows Settings > Activation) and confirm the installed OS is genuine and activated, or that macOS/ChromeOS signs in and updates normally.'),
    ('INTEG-2', 'frame straight, no housing gaps, seals restored', 'major', 'smartphone,tablet,laptop,smartwatch,console',
     'Lay the device on a flat surface to check the frame is straight, and look along the edges for gaps between the screen and the housing.'),
    ('COS-1', 'screen cosmetics match the grade', 'minor', 'smartphone,tablet,laptop,smartwatch,console',
     'Inspect the screen under bright light from the distance the promised grade names (20 cm excellent, 50 cm good) and record the grade it really meets.'),
    ('COS-2', 'body cosmetics match the grade', 'minor', 'smartphone,tablet,laptop,smartwatch,console',
     'Inspect the back, frame and edges under bright light from the distance the promised grade names and record the grade they really meet.'),
    ('COS-3', 'back or camera glass not cracked', 'major', 'smartphone,tablet,smartwatch,console',
     'Check the back glass and every camera lens cover for cracks or chips under a bright light.'),
    ('PRES-1', 'clean, no third-party engravings', 'minor', 'smartphone,tablet,laptop,smartwatch,console',
     'Check the device is clean and free of stickers, glue residue, asset tags and third-party engravings.'),
    ('LAP-KB-1', 'keyboard layout matches the listing', 'minor', 'laptop',
     'Compare the printed keyboard layout (e.g. UK, US, AZERTY, QWERTZ) with the layout named on the listing.'),
    ('ACC-1', "charging cable present (major if missing), plug for the buyer's country", 'minor', 'smartphone,tablet,laptop,smartwatch,console',
     "Confirm the box holds a working charging cable (a laptop's power adapter) and that any plug fits the sockets of the buyer's country."),
    ('PACK-1', 'protective packaging, warranty insert', 'minor', 'smartphone,tablet,laptop,smartwatch,console',
     'Check the device arrived in packaging that kept it from moving and that the warranty insert is in the box.'),
    ('LOG-1', 'delivered on time with tracking (feeds delivery metrics, not the device verdict)', 'minor', 'smartphone,tablet,laptop,smartwatch,console',
     "Compare the delivery date with the date promised at order time and check the tracking number showed the parcel's progress."),
]


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('guidance', sa.Text(), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('categories', sa.String(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoints')),
    sa.UniqueConstraint('code', name=op.f('uq_checkpoints_code'))
    )
    op.create_table('planning_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('commitment', sa.String(length=64), nullable=False),
    sa.Column('seed_hex', sa.String(length=64), nullable=True),
    sa.Column('inputs_json', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('orders_planned', sa.Integer(), nullable=False),
    sa.Column('orders_dropped', sa.Integer(), nullable=False),
    sa.Column('total_cost_cents', sa.Integer(), nullable=False),
    sa.Column('over_budget', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revealed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_planning_runs')),
    sa.UniqueConstraint('period', name=op.f('uq_planning_runs_period'))
    )
    op.create_table('listings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seller_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('device_model', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('promised_grade', sa.String(length=10), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('monthly_units', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], name=op.f('fk_listings_seller_id_sellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listings')),
    sa.UniqueConstraint('seller_id', 'sku', name='uq_listings_seller_sku')
    )
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listings_seller_id'), ['seller_id'], unique=False)

    op.create_table('sampling_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rate_onboarding', sa.Double(), nullable=False),
    sa.Column('rate_normal', sa.Double(), nullable=False),
    sa.Column('rate_reduced', sa.Double(), nullable=False),
    sa.Column('rate_tightened', sa.Double(), nullable=False),
    sa.Column('budget_cents', sa.Integer(), nullable=False),
    sa.Column('buyer_accounts', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_sampling_settings_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sampling_settings'))
    )
    op.create_table('test_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('seller_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('planned_at', sa.DateTime(), nullable=False),
    sa.Column('buyer_account', sa.String(length=120), nullable=False),
    sa.Column('sampling_state', sa.String(length=16), nullable=False),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('cost_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('marketplace_ref', sa.String(length=64), nullable=True),
    sa.Column('price_paid_cents', sa.Integer(), nullable=True),
    sa.Column('placed_at', sa.DateTime(), nullable=True),
    sa.Column('placed_by_id', sa.Integer(), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=True),
    sa.Column('package_condition', sa.String(length=20), nullable=True),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('inspected_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('disposition', sa.String(length=20), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_test_orders_listing_id_listings')),
    sa.ForeignKeyConstraint(['placed_by_id'], ['users.id'], name=op.f('fk_test_orders_placed_by_id_users')),
    sa.ForeignKeyConstraint(['received_by_id'], ['users.id'], name=op.f('fk_test_orders_received_by_id_users')),
    sa.ForeignKeyConstraint(['run_id'], ['planning_runs.id'], name=op.f('fk_test_orders_run_id_planning_runs')),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], name=op.f('fk_test_orders_seller_id_sellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_test_orders'))
    )
    with op.batch_alter_table('test_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_test_orders_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_test_orders_seller_id'), ['seller_id'], unique=False)
        batch_op.create_index('ix_test_orders_status_planned', ['status', 'planned_at'], unique=False)

    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('observed_grade', sa.String(length=10), nullable=False),
    sa.Column('battery_percent', sa.Integer(), nullable=True),
    sa.Column('battery_cycles', sa.Integer(), nullable=True),
    sa.Column('battery_swollen', sa.Boolean(), nullable=False),
    sa.Column('cable_missing', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('verdict', sa.String(length=12), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('amend_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['inspector_id'], ['users.id'], name=op.f('fk_inspections_inspector_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['test_orders.id'], name=op.f('fk_inspections_order_id_test_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections')),
    sa.UniqueConstraint('order_id', 'version', name='uq_inspections_version')
    )
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspections_order_id'), ['order_id'], unique=False)

    op.create_table('inspection_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_inspection_photos_inspection_id_inspections')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_photos'))
    )
    with op.batch_alter_table('inspection_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_photos_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('inspection_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_inspection_results_inspection_id_inspections')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_results')),
    sa.UniqueConstraint('inspection_id', 'code', name='uq_inspection_results_code')
    )
    # ### end Alembic commands ###
    checkpoints = sa.table(
        'checkpoints', sa.column('code', sa.String), sa.column('title', sa.String),
        sa.column('guidance', sa.Text), sa.column('severity', sa.String),
        sa.column('categories', sa.String), sa.column('position', sa.Integer),
        sa.column('active', sa.Boolean))
    op.bulk_insert(checkpoints, [
        {'code': code, 'title': title, 'severity': severity, 'categories': categories,
         'guidance': guidance, 'position': position, 'active': True}
        for position, (code, title, severity, categories, guidance)
        in enumerate(CHECKPOINTS, start=1)])


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table('inspection_results')
    with op.batch_alter_table('inspection_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_photos_inspection_id'))

    op.drop_table('inspection_photos')
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspections_order_id'))

    op.drop_table('inspections')
    with op.batch_alter_table('test_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_test_orders_status_planned')
        batch_op.drop_index(batch_op.f('ix_test_orders_seller_id'))
        batch_op.drop_index(batch_op.f('ix_test_orders_run_id'))

    op.drop_table('test_orders')
    op.drop_table('sampling_settings')
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listings_seller_id'))

    op.drop_table('listings')
    op.drop_table('planning_runs')
    op.drop_table('checkpoints')
    # ### end Alembic commands ###
