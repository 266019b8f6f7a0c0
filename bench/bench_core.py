"""Benchmarks of the statistics, planning and export paths on a fleet database.

    .venv/bin/python bench/bench_core.py --database-url sqlite:////tmp/fleet.sqlite3
    .venv/bin/python bench/bench_core.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lk_fleet

Measures (medians of repeated runs, wall time with time.perf_counter):
1. full-fleet evaluation (the replay behind `flask --app app qc evaluate`) against the bare
   ordered scan of the verdicts it needs, and their ratio;
2. planning one month for the whole fleet (inputs, plan, order rows; rolled back);
3. the incremental decision after one inspection submit for a seller with 10 and with 1,000
   inspected orders (the submit service plus the statistics update; rolled back);
4. the streamed CSV export of every inspection: time and peak Python memory.
Nothing is left in the database: every write is rolled back.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, insert, select, text


def median_time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and minimum seconds over `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the figures as JSON to this file")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    os.environ["DATABASE_URL"] = args.database_url

    from app import create_app
    from compliance.csvexport import stream_csv
    from compliance.exports import build_export
    from core.db import db
    from core.models import User
    from qc.models import Inspection, TestOrder
    from qc.sampling import parse_period
    from qc.services import inspections as inspections_service
    from qc.services import label_decisions, planning

    app = create_app({"SECRET_KEY": "bench", "TESTING": True,
                      "SQLALCHEMY_DATABASE_URI": args.database_url})
    with app.app_context():
        dialect = db.engine.dialect.name
        sellers = db.session.execute(text("SELECT count(*) FROM sellers")).scalar_one()
        inspections = db.session.execute(text("SELECT count(*) FROM inspections")).scalar_one()
        print(f"database: {dialect}, {sellers} sellers, {inspections} inspections")

        def bare_scan() -> int:
            rows = db.session.execute(
                select(TestOrder.seller_id, Inspection.verdict)
                .join(Inspection, Inspection.order_id == TestOrder.id)
                .where(Inspection.is_current.is_(True))
                .order_by(TestOrder.seller_id, TestOrder.inspected_at)).all()
            db.session.rollback()
            return len(rows)

        def evaluate() -> None:
            total, corrections = label_decisions.evaluate_fleet(fix=False)
            db.session.rollback()
            assert not corrections, corrections[:3]

        scan_med, scan_min = median_time(bare_scan, args.repeat)
        eval_med, eval_min = median_time(evaluate, args.repeat)
        figures.update(evaluation_s=eval_med, evaluation_min_s=eval_min, scan_s=scan_med,
                       scan_min_s=scan_min, ratio=eval_med / scan_med, dialect=dialect,
                       sellers=sellers, inspections=inspections)
        print(f"1. evaluation: median {eval_med:.3f} s (min {eval_min:.3f}); bare ordered scan "
              f"median {scan_med:.3f} s (min {scan_min:.3f}); ratio {eval_med / scan_med:.2f}")

        latest = db.session.execute(select(func.max(TestOrder.planned_at))).scalar_one()
        period = parse_period(f"{latest:%Y-%m}").next()
        db.session.rollback()

        def plan() -> None:
            planning.plan_period(period.key)
            db.session.rollback()

        plan_med, plan_min = median_time(plan, max(3, args.repeat // 2))
        figures.update(planning_s=plan_med, planning_min_s=plan_min, period=period.key)
        print(f"2. planning {period.key} for the fleet: median {plan_med:.3f} s "
              f"(min {plan_min:.3f})")

        inspector = db.session.execute(select(User).join(User.role_rows).where(
            text("user_roles.role = 'inspector'"))).scalars().first()
        assert inspector is not None, "the fleet needs an inspector"
        results = []
        for history in (10, 1000):
            order = _order_with_history(db, history)
            checkpoints = inspections_service.checkpoints_for(order.listing.category)
            data = inspections_service.InspectionInput(
                observed_grade=order.listing.promised_grade, battery_percent=90,
                battery_cycles=100, battery_swollen=False, cable_missing=False, notes="",
                outcomes={c.code: (True, "") for c in checkpoints})
            order_id = order.id
            db.session.commit()  # the prepared history stays for the timed submits

            def submit(order_id: int = order_id,
                       data: inspections_service.InspectionInput = data) -> None:
                target = db.session.get(TestOrder, order_id)
                inspections_service.submit_inspection(target, data, inspector)
                db.session.flush()
                db.session.rollback()

            med, low = median_time(submit, 20)
            results.append((history, med, low))
        figures["submit"] = [{"history": h, "median_ms": m * 1000, "min_ms": lo * 1000}
                             for h, m, lo in results]
        for history, med, low in results:
            print(f"3. submit + decision with {history} orders of history: median "
                  f"{med * 1000:.1f} ms (min {low * 1000:.1f})")

        tracemalloc.start()
        start = time.perf_counter()
        export = build_export("inspections", {})
        size = rows = 0
        for chunk in stream_csv(export.header, export.rows):
            size += len(chunk.encode("utf-8"))
            rows += chunk.count("\r\n")
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.session.rollback()
        figures.update(export_rows=rows - 1, export_mb=size / 1e6, export_s=elapsed,
                       export_peak_mb=peak / 1e6)
        print(f"4. CSV export of inspections: {rows - 1} rows, {size / 1e6:.1f} MB in "
              f"{elapsed:.2f} s; peak Python memory {peak / 1e6:.1f} MB")
        _cleanup(db)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)


BENCH_SELLER_NAME = "Benchmark history seller"


def _order_with_history(db, history: int):  # type: ignore[no-untyped-def]
    """A received order of a seller that already has `history` inspected orders."""
    from datetime import date

    from qc.models import Inspection, Listing, PlanningRun, SellerStatistics, TestOrder
    from vetting.models import Seller
    from vetting.validation import normalise_registration

    reg = f"BENCH-{history}"
    seller = Seller(legal_name=f"{BENCH_SELLER_NAME} {history}", country="DE",
                    registration_number=reg, registration_key=normalise_registration(reg),
                    contact_email="bench@example.test", device_categories="smartphone",
                    label_status="active", label_valid_from=date(2020, 1, 1),
                    label_valid_until=date(2099, 1, 1),
                    # the state its statistics call for, so the timed submit changes nothing else
                    sampling_state="reduced" if history >= 14 else "normal")
    db.session.add(seller)
    db.session.flush()
    listing = Listing(seller_id=seller.id, sku=f"B-{history}", device_model="iPhone 13",
                      category="smartphone", promised_grade="good", price_cents=40000,
                      monthly_units=10)
    db.session.add(listing)
    run = db.session.execute(select(PlanningRun).limit(1)).scalar_one()
    inspector_id = db.session.execute(text(
        "SELECT user_id FROM user_roles WHERE role = 'inspector' LIMIT 1")).scalar_one()
    db.session.flush()
    from core.clock import utcnow

    base = utcnow() - timedelta(days=history + 1)
    orders = [{"run_id": run.id, "seller_id": seller.id, "listing_id": listing.id,
               "planned_at": base + timedelta(days=i), "buyer_account": "bench",
               "sampling_state": "normal", "protected": False, "cost_cents": 40000,
               "status": "inspected", "inspected_at": base + timedelta(days=i, hours=1),
               "updated_at": base, "version": 1, "cancel_reason": ""}
              for i in range(history)]
    db.session.execute(insert(TestOrder), orders)
    ids = db.session.execute(select(TestOrder.id).where(TestOrder.seller_id == seller.id)
                             .order_by(TestOrder.id)).scalars().all()
    db.session.execute(insert(Inspection), [
        {"order_id": i, "version": 1, "is_current": True, "inspector_id": inspector_id,
         "submitted_at": base, "observed_grade": "good", "verdict": "conforming",
         "score": 100, "reasons": "[]", "notes": "", "amend_reason": "",
         "battery_swollen": False, "cable_missing": False} for i in ids])
    db.session.add(SellerStatistics(seller_id=seller.id, inspected=history,
                                    clean_run=history, onboarding=False,
                                    epoch_at=base - timedelta(days=1), epoch_stats="{}"))
    target = TestOrder(run_id=run.id, seller_id=seller.id, listing_id=listing.id,
                       planned_at=utcnow(), buyer_account="bench", sampling_state="normal",
                       protected=False, cost_cents=40000, status="received")
    db.session.add(target)
    db.session.flush()
    return target


def _cleanup(db) -> None:  # type: ignore[no-untyped-def]
    """Remove the benchmark sellers and their rows."""
    ids = db.session.execute(text("SELECT id FROM sellers WHERE legal_name LIKE :n"),
                             {"n": BENCH_SELLER_NAME + "%"}).scalars().all()
    for seller_id in ids:
        for sql in ("DELETE FROM inspections WHERE order_id IN "
                    "(SELECT id FROM test_orders WHERE seller_id = :s)",
                    "DELETE FROM test_orders WHERE seller_id = :s",
                    "DELETE FROM listings WHERE seller_id = :s",
                    "DELETE FROM seller_statistics WHERE seller_id = :s",
                    "DELETE FROM sellers WHERE id = :s"):
            db.session.execute(text(sql), {"s": seller_id})
    db.session.commit()


if __name__ == "__main__":
    main()
