"""`demo fleet`: a small benchmark fleet builds, holds together and is reproducible."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from compliance.models import SellerCase, SuspensionReview
from core.db import db
from core.models import AuditEntry, User
from qc.catalog import Severity
from qc.decisions import compute_sampling_state
from qc.models import (
    CriticalFinding,
    Inspection,
    InspectionResult,
    Listing,
    PlanningRun,
    SamplingSettings,
    SellerStatistics,
    TestOrder,
)
from qc.sampling import compute_commitment
from qc.scoring import CheckpointOutcome, InspectionFacts, compute_score
from qc.services import inspections as inspections_service
from qc.services import planning
from qc.services.label_decisions import evaluate_fleet, to_stats
from qc.services.plan_settings import current_plan
from tests.conftest import PG_URL, _truncate_all
from tests.factories import SellerFactory
from vetting.labels import LabelStatus
from vetting.models import LabelEvent, Seller
from vetting.validation import check_vat_id

UNTIL = "2026-06-15"  # history ends 2026-06-15 00:00 UTC: 2025-07..2026-06, June in progress
AS_OF = datetime(2026, 6, 15)


def build(runner: FlaskCliRunner, sellers: int = 40, years: int = 1, seed: int = 7):  # type: ignore[no-untyped-def]
    return runner.invoke(args=["demo", "fleet", "--sellers", str(sellers), "--years",
                               str(years), "--seed", str(seed), "--until", UNTIL])


@pytest.fixture(autouse=True)
def _own_seed_dir(app: Flask, tmp_path: Path) -> None:
    """Sealed seeds go to this test's folder, never to the developer's instance/."""
    app.config["PLAN_SEED_DIR"] = str(tmp_path / "seeds")


def count(model: object) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_small_fleet_builds_with_consistent_rows(app: Flask, runner: FlaskCliRunner) -> None:
    result = build(runner)
    assert result.exit_code == 0, result.output
    assert "Fleet built: 40 sellers, 1 year(s) (2025-07..2026-06), seed 7" in result.output
    assert "Elapsed:" in result.output

    assert count(Seller) == 40
    assert 40 <= count(Listing) <= 160
    assert count(PlanningRun) == 12
    assert count(User) == 9
    inspections = count(Inspection)
    assert 300 <= inspections <= count(TestOrder)
    assert count(InspectionResult) >= 28 * inspections  # every checkpoint of the category
    verdicts = Counter(db.session.execute(select(Inspection.verdict)).scalars())
    assert verdicts["conforming"] > 0.7 * inspections
    assert 0 < verdicts["minor"] + verdicts["major"] < 0.3 * inspections

    sellers = list(db.session.execute(select(Seller).order_by(Seller.id)).scalars())
    assert len({s.country for s in sellers}) >= 8
    assert all(check_vat_id(s.vat_id, s.country) is None for s in sellers)
    labelled = [s for s in sellers if s.label_status is not None]
    assert count(SellerStatistics) == len(labelled) >= 30

    # The replay, the audit chain and the plan re-derivation agree with what was written.
    total, corrections = evaluate_fleet(fix=False)
    assert (total, corrections) == (len(labelled), [])
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert f"audit trail OK: {count(AuditEntry)} entries" in verify.output
    assert planning.verify_plan("2026-03").match
    assert count(AuditEntry) > 4 * inspections


def test_rows_agree_with_the_rules(app: Flask, runner: FlaskCliRunner) -> None:
    assert build(runner).exit_code == 0

    # Each stored verdict and score is what the scoring rule makes of the stored results.
    results: defaultdict[int, list[CheckpointOutcome]] = defaultdict(list)
    for inspection_id, code, severity, passed in db.session.execute(
            select(InspectionResult.inspection_id, InspectionResult.code,
                   InspectionResult.severity, InspectionResult.passed)
            .order_by(InspectionResult.inspection_id, InspectionResult.position)):
        results[inspection_id].append(CheckpointOutcome(code, Severity(severity), passed))
    for inspection, grade, category in db.session.execute(
            select(Inspection, Listing.promised_grade, Listing.category)
            .join(TestOrder, TestOrder.id == Inspection.order_id)
            .join(Listing, Listing.id == TestOrder.listing_id)).all():
        assert len(results[inspection.id]) == len(inspections_service.checkpoints_for(category))
        score = compute_score(InspectionFacts(
            promised_grade=grade, observed_grade=inspection.observed_grade,
            battery_percent=inspection.battery_percent,
            battery_swollen=inspection.battery_swollen,
            cable_missing=inspection.cable_missing, outcomes=tuple(results[inspection.id])))
        assert (score.verdict.value, score.score) == (inspection.verdict, inspection.score)
        assert json.loads(inspection.reasons) == list(score.reasons)

    # A seller's label is where its last label event left it; its sampling state is what
    # its statistics call for.
    plan = current_plan()
    last_event = {}
    for event in db.session.execute(select(LabelEvent).order_by(LabelEvent.at, LabelEvent.id)
                                    ).scalars():
        last_event[event.seller_id] = event
    for seller in db.session.execute(select(Seller)).scalars():
        event = last_event.get(seller.id)
        assert seller.label_status == (event.to_status if event else None)
        if seller.label_status is None:
            continue
        row = db.session.get(SellerStatistics, seller.id)
        state = compute_sampling_state(LabelStatus(seller.label_status), to_stats(row), plan)
        assert seller.sampling_state == (state.value if state else None)
        if seller.label_status in (LabelStatus.ACTIVE, LabelStatus.PROBATION):
            assert seller.label_valid_until is not None  # renewed at each anniversary
            assert seller.label_valid_until >= AS_OF.date()

    # Every critical verdict was confirmed on the device by a second inspector; an overturned
    # suspension restarted the statistics with the head start h/2.
    criticals = {i.id: i for i in db.session.execute(select(Inspection).where(
        Inspection.verdict == "critical")).scalars()}
    findings = list(db.session.execute(select(CriticalFinding)).scalars())
    assert {f.inspection_id for f in findings} == set(criticals)
    assert all(f.status == "confirmed" and f.reason and f.decided_by_id != f.found_by_id
               and f.found_by_id == criticals[f.inspection_id].inspector_id for f in findings)
    for event in db.session.execute(select(LabelEvent).where(
            LabelEvent.kind == "restoration")).scalars():
        assert json.loads(event.snapshot)["S"] == pytest.approx(plan.main.h / 2, abs=1e-4)

    # Suspensions pending review have a review; decided reviews have a reason and an officer.
    reviews = list(db.session.execute(select(SuspensionReview)).scalars())
    pending_events = count(select(LabelEvent).where(LabelEvent.pending_review.is_(True))
                           .subquery())
    assert len(reviews) == pending_events
    assert all(r.reason and r.decided_by_id for r in reviews if r.status != "pending")
    assert all(c.received_on <= AS_OF.date() for c in db.session.execute(
        select(SellerCase)).scalars())

    # Nothing happened after the end of the history; June is in progress.
    assert db.session.execute(select(func.max(AuditEntry.at))).scalar_one() < AS_OF
    assert db.session.execute(select(func.max(TestOrder.inspected_at))).scalar_one() < AS_OF
    june = Counter(db.session.execute(select(TestOrder.status).join(PlanningRun).where(
        PlanningRun.period == "2026-06")).scalars())
    assert june["planned"] > 0
    assert june["closed"] + june["inspected"] > 0
    april = Counter(db.session.execute(select(TestOrder.status).join(PlanningRun).where(
        PlanningRun.period == "2026-04")).scalars())
    assert set(april) <= {"closed", "cancelled", "lost"}

    # Closed months are revealed and re-derive; the open one is sealed for the scheduler.
    runs = {r.period: r for r in db.session.execute(select(PlanningRun)).scalars()}
    assert all(runs[p].verify_result == "match" and runs[p].seed_hex for p in runs
               if p != "2026-06")
    open_run = runs["2026-06"]
    assert open_run.seed_hex is None
    sealed = Path(app.config["PLAN_SEED_DIR"]) / "2026-06.seed"
    assert compute_commitment(bytes.fromhex(sealed.read_text())) == open_run.commitment

    # Ids continue after the bulk rows (PostgreSQL sequences were moved on).
    seller = SellerFactory()
    assert seller.id == 41


def digest() -> str:
    """SHA-256 over every row the fleet writes (staff passwords and session tokens aside)."""
    h = hashlib.sha256()
    models = [Seller, Listing, SamplingSettings, PlanningRun, TestOrder, Inspection,
              InspectionResult, LabelEvent, SuspensionReview, SellerCase, SellerStatistics,
              CriticalFinding, AuditEntry]
    for model in models:
        table = model.__table__
        for row in db.session.execute(select(table).order_by(*table.primary_key.columns)):
            h.update(repr(tuple(row)).encode())
    for row in db.session.execute(select(User.id, User.email, User.display_name,
                                         User.created_at).order_by(User.id)):
        h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def test_same_seed_builds_the_same_rows(app_factory: Callable[..., Flask],
                                        template_db: Path | None, tmp_path: Path) -> None:
    def fresh(name: str, seed: int) -> tuple[str, str]:
        if template_db is None:  # PostgreSQL: the one test database, emptied
            db_uri = PG_URL
            _truncate_all(PG_URL)
        else:
            path = tmp_path / f"{name}.sqlite3"
            shutil.copyfile(template_db, path)
            db_uri = f"sqlite:///{path}"
        other = app_factory(SQLALCHEMY_DATABASE_URI=db_uri,
                            PLAN_SEED_DIR=str(tmp_path / f"{name}-seeds"))
        with other.app_context():
            result = build(other.test_cli_runner(), sellers=15, seed=seed)
            assert result.exit_code == 0, result.output
            head = db.session.execute(select(AuditEntry.hash).order_by(
                AuditEntry.seq.desc()).limit(1)).scalar_one()
            out = digest(), head
            db.session.remove()
        return out

    first, second, other_seed = fresh("first", 7), fresh("second", 7), fresh("third", 8)
    assert first == second
    assert other_seed[0] != first[0]
    assert other_seed[1] != first[1]


def test_refuses_a_database_that_has_sellers(app: Flask, runner: FlaskCliRunner) -> None:
    SellerFactory()
    db.session.commit()
    before = count(AuditEntry)
    result = build(runner)
    assert result.exit_code == 1
    assert "This database already has 1 seller(s)" in result.output
    assert "fresh benchmark database" in result.output
    assert (count(Seller), count(User), count(PlanningRun), count(AuditEntry)) == (1, 0, 0,
                                                                                   before)


def test_refuses_a_history_that_ends_in_the_future(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["demo", "fleet", "--sellers", "5", "--until", "2999-01-01"])
    assert result.exit_code == 1
    assert "The history cannot end after today" in result.output
    assert (count(Seller), count(User)) == (0, 0)


def test_refuses_to_overwrite_another_databases_sealed_seed(app: Flask,
                                                            runner: FlaskCliRunner) -> None:
    seeds = Path(app.config["PLAN_SEED_DIR"])
    seeds.mkdir(parents=True)
    (seeds / "2026-06.seed").write_text("ab" * 32)
    result = build(runner)
    assert result.exit_code == 1
    assert "already holds the sealed seed of another database's 2026-06 plan" in result.output
    assert (seeds / "2026-06.seed").read_text() == "ab" * 32
    assert (count(Seller), count(User), count(AuditEntry)) == (0, 0, 0)
