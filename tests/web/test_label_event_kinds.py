"""Label events carry their kind and tightenings have rows: the period report counts both."""

from __future__ import annotations

from datetime import date, datetime

import flask_migrate
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import select, text

from compliance.reports import period_context
from core import audit
from core.db import db
from qc.models import SamplingStateChange
from qc.services import label_decisions
from tests.factories import SellerFactory
from vetting.labels import LabelStatus
from vetting.models import LabelEvent, Seller
from vetting.services.labels import change_label

S = LabelStatus
REVISION = "5f1e0c0b7a02"


def at(app: Flask, moment: datetime) -> None:
    app.config["CLOCK"] = lambda: moment


def moves(seller: Seller, *steps: tuple[LabelStatus, str, dict[str, object]]) -> None:
    for target, reason, options in steps:
        change_label(seller, target, reason, None, **options)  # type: ignore[arg-type]


def test_the_period_report_counts_each_kind_of_label_event(app: Flask) -> None:
    at(app, datetime(2026, 3, 2, 10))
    sellers = [SellerFactory() for _ in range(7)]
    db.session.flush()
    a, b, c, d, e, f, g = sellers
    moves(a, (S.ACTIVE, "Application approved.", {}),
          # A full renewal whose reason happens to mention the word: the kind decides.
          (S.ACTIVE, "Renewed: nothing conditionally granted.", {"renewal": "full"}))
    moves(b, (S.ACTIVE, "Application approved.", {}),
          (S.ACTIVE, "Renewed with conditions (only 2 inspected orders).",
           {"renewal": "conditional"}),
          (S.EXPIRED, "Label ended.", {}),
          (S.ACTIVE, "New application approved.", {}))
    moves(c, (S.ACTIVE, "Application approved.", {}),
          (S.SUSPENDED, "CUSUM reached h.", {"pending_review": True}),
          (S.PROBATION, "Reinstated on probation: plan accepted.", {}),
          (S.ACTIVE, "14 clean orders in a row: probation ends.", {}))
    moves(d, (S.ACTIVE, "Application approved.", {}),
          (S.SUSPENDED, "Suspended by the compliance officer.", {}),
          (S.ACTIVE, "Suspension overturned on review: transit damage.", {}))
    moves(e, (S.ACTIVE, "Application approved.", {}),
          (S.SUSPENDED, "Critical verdict.", {"pending_review": True}),
          (S.REVOKED, "Revoked: no plan received.", {}))
    moves(f, (S.ACTIVE, "Application approved.", {}),
          (S.EXPIRED, "Label ended and was not renewed.", {}))
    moves(g, (S.ACTIVE, "Application approved.", {}))
    # Sampling tightens twice in March (and relaxes once), and once more in April.
    for seller, s, why in ((a, 1.5, "nightly replay"), (g, 2.0, "renewal"),
                           (g, 0.0, "nightly replay")):
        label_decisions.statistics_row(seller.id).s = s
        label_decisions.refresh_sampling_state(seller, why)
    db.session.commit()
    at(app, datetime(2026, 4, 2, 10))
    label_decisions.statistics_row(d.id).s = 3.0
    label_decisions.refresh_sampling_state(d, "nightly replay")
    db.session.commit()

    kinds = {(e.seller_id, e.kind) for e in db.session.execute(select(LabelEvent)).scalars()}
    assert (a.id, "renewal_full") in kinds
    assert (b.id, "renewal_conditional") in kinds
    assert (d.id, "restoration") in kinds
    changes = db.session.execute(select(SamplingStateChange.seller_id, SamplingStateChange
                                        .to_state, SamplingStateChange.why)
                                 .order_by(SamplingStateChange.id)).all()
    assert changes == [(a.id, "tightened", "nightly replay"), (g.id, "tightened", "renewal"),
                       (g.id, "onboarding", "nightly replay"),
                       (d.id, "tightened", "nightly replay")]

    labels = dict(period_context(date(2026, 3, 1), date(2026, 3, 31))["labels"])
    assert labels == {
        "granted": 8, "renewed": 1, "renewed conditionally": 1,
        "suspended (pending review)": 2, "suspended": 1, "reinstated on probation": 1,
        "probation ended": 1, "restored after review": 1, "revoked": 1, "expired": 2,
        "suspensions confirmed": 0, "suspensions overturned": 0, "tightened": 2}
    april = dict(period_context(date(2026, 4, 1), date(2026, 4, 30))["labels"])
    assert april == {"suspensions confirmed": 0, "suspensions overturned": 0, "tightened": 1}


def test_the_migration_fills_in_kinds_and_state_changes(app: Flask) -> None:
    seller_id = SellerFactory().id
    db.session.commit()
    config = app.extensions["migrate"].migrate.get_config()
    parent = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
    db.session.remove()
    flask_migrate.downgrade(revision=parent)
    try:
        events = [(None, "active", "Approved."),
                  ("active", "active", "Renewed conditionally (suspended 1 time(s)): the seller "
                   "returns to onboarding-rate sampling."),
                  ("active", "active", "Renewed: not suspended from 2025-01-01 to 2026-01-01."),
                  ("active", "suspended", "Critical verdict."),
                  ("suspended", "probation", "Reinstated on probation: accepted."),
                  ("probation", "active", "Probation ends."),
                  ("active", "revoked", "Revoked: fraud.")]
        for n, (from_status, to_status, reason) in enumerate(events):
            db.session.execute(text(
                "INSERT INTO label_events (seller_id, from_status, to_status, reason, "
                "pending_review, actor, at) VALUES (:seller, :f, :t, :r, :p, 'system', :at)"),
                {"seller": seller_id, "f": from_status, "t": to_status, "r": reason,
                 "p": to_status == "suspended", "at": datetime(2026, 1, 1, 9, n)})
        at(app, datetime(2026, 1, 5, 9))
        audit.record("sampling.state_changed", "seller", seller_id,
                     {"from": "onboarding", "to": "tightened", "snapshot": {"S": 1.1}})
        audit.record("sampling.state_changed", "seller", seller_id,
                     {"from": "tightened", "to": None, "why": "label change", "snapshot": {}})
        audit.record("label.changed", "seller", seller_id, {"to": "tightened"})
        db.session.commit()
        db.session.remove()
    finally:
        flask_migrate.upgrade()
    assert [k for (k,) in db.session.execute(select(LabelEvent.kind).order_by(LabelEvent.id))] \
        == ["grant", "renewal_conditional", "renewal_full", "suspension", "reinstatement",
            "probation_end", "revocation"]
    assert db.session.execute(select(
        SamplingStateChange.seller_id, SamplingStateChange.from_state,
        SamplingStateChange.to_state, SamplingStateChange.why, SamplingStateChange.at)
        .order_by(SamplingStateChange.id)).all() == [
        (seller_id, "onboarding", "tightened", None, datetime(2026, 1, 5, 9)),
        (seller_id, "tightened", None, "label change", datetime(2026, 1, 5, 9))]
