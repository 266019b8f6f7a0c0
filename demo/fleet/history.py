"""The fleet's history, simulated event by event through the production rules.

One event queue in time order (grants, monthly plans and period closings, order placements,
inspections, reviews, cases, revocations and renewals). Every decision comes from the pure
rules the app uses, and every row and audit entry is built by the functions its services
call: ``vetting.labels.compute_label_record`` and its event row and payload,
``qc.snapshots`` for statistics snapshots and sampling-state changes, ``qc.orders`` for order
moves, ``qc.plan_records`` for planning runs, ``qc.scoring.inspection_payload``,
``vetting.sellers`` and ``compliance.cases``. Nothing is written here; ``demo.fleet.build``
writes the rows in bulk.

Plans come from the budget-true planner (``qc.sampling.compute_plan``) with the inputs the
app's planning service records: the sellers in force with their posterior P(bad)
(``qc.plan_records.compute_p_bad`` over their inspected orders by month since their first
grant, as ``qc.services.planning.posteriors`` reads them from the database), their sampling
state and listings; the budget, floor and block size of the settings in force. The fleet
has no marketplace returns or claims, so no seller has a claim percentile and the signal's
AUC is not measured (``qc.allocation.measure_auc`` of no first orders): the signal is not
used, as the app would decide on the same rows. Each run stores its notes
(``qc.plan_records.plan_notes``) like the planning service.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from compliance.cases import (
    CASE_KINDS,
    case_decided_entry,
    case_recorded_entry,
    review_confirmed_payload,
    review_overturned_payload,
)
from core import audit
from demo.fleet.data import (
    ACCEPT_REASONS,
    ACCEPT_SHARE,
    CANCEL_SHARE,
    CASE_SHARE,
    CASE_SUMMARIES,
    CONFIRM_REASONS,
    CRITICAL_CONFIRM_NOTES,
    LOST_SHARE,
    OVERTURN_REASONS,
    OVERTURN_SHARE,
    REJECT_REASONS,
    REVOKE_SHARE,
    STAFF,
    STAFF_DOMAIN,
)
from demo.fleet.ledger import (
    CASE,
    CLOSE,
    DECIDE_CASE,
    GRANT,
    INSPECT,
    PLACE,
    PLAN,
    RENEW,
    REVIEW,
    REVOKE,
    Ledger,
)
from demo.fleet.model import (
    FleetConfig,
    FleetOrder,
    FleetSeller,
    Staff,
    at_business_hours,
    midnight,
    next_night,
    plan_seed,
)
from demo.fleet.units import Units
from qc.allocation import measure_auc
from qc.buyers import BuyerInput
from qc.catalog import Severity
from qc.decisions import (
    CONFIRMATION_BUSINESS_DAYS,
    DEFECT_VERDICTS,
    Action,
    Confirmation,
    DecisionPlan,
    FindingStatus,
    LabelYear,
    SellerStats,
    compute_conditional_renewal,
    compute_confirmation_due,
    compute_decision,
    compute_overturned,
    compute_reinstated,
    compute_renewal,
    compute_sampling_state,
    order_ref,
)
from qc.orders import (
    Disposition,
    FailureSide,
    OrderStatus,
    PackageCondition,
    arrival_details,
    closing_details,
    compute_order_move,
    inspection_details,
    placement_details,
    reason_details,
)
from qc.plan_records import (
    compute_p_bad,
    compute_plan_differences,
    compute_verify_result,
    derive_plan,
    inputs_from_json,
    month_index,
    plan_created_payload,
    plan_notes,
    plan_run_columns,
    seed_revealed_payload,
)
from qc.sampling import (
    ListingInput,
    Period,
    PlanInputs,
    SellerInput,
    compute_commitment,
    compute_plan,
)
from qc.scoring import (
    CheckpointOutcome,
    InspectionFacts,
    critical_failures,
    inspection_payload,
)
from qc.snapshots import (
    compute_snapshot,
    confirmation_snapshot,
    finding_payload,
    state_change_payload,
)
from vetting.labels import (
    IN_FORCE,
    LabelEventKind,
    LabelStatus,
    SamplingState,
    compute_label_end,
    compute_label_record,
    label_changed_payload,
    label_event_columns,
)

STAFF_NAMES = {f"{handle}@{STAFF_DOMAIN}": name for handle, name, _ in STAFF}


@dataclass(frozen=True)
class PlanSetup:
    """The sampling plan settings the fleet's months are planned with (read through the
    settings service by ``demo.fleet.build``)."""

    rates: Mapping[SamplingState, float]  # reference rates: the shortfall is against them
    budget_orders: int
    budget_cents: int
    floor: float
    block_max: int
    drift: float
    min_auc: float
    buyers: tuple[BuyerInput, ...]
    # The threshold notes of a run (in force, the budget's choice) for n sellers in force.
    threshold: Callable[[int], Mapping[str, Any]]


class History(Ledger):
    """The fleet's history, simulated event by event through the production rules."""

    def __init__(self, config: FleetConfig, staff: Staff, plan: DecisionPlan,
                 setup: PlanSetup, checkpoints: Mapping[str, list[tuple[str, Severity]]],
                 first_ids: Mapping[str, int]) -> None:
        super().__init__(config, staff, first_ids)
        self.plan = plan
        self.setup = setup
        self.units = Units(checkpoints)

    # ---------------------------------------------------------------- the event loop

    def run(self) -> None:
        """Process every event before the end of the history, in time order."""
        for period in self.periods:
            self.push(midnight(period.start, 5), PLAN, period)
        handlers: dict[int, Callable[[Any, datetime], None]] = {
            INSPECT: self._inspect, GRANT: self._grant, PLAN: self._plan, CLOSE: self._close,
            RENEW: self._renew, PLACE: self._place, REVIEW: self._review, CASE: self._case,
            DECIDE_CASE: self._decide_case, REVOKE: self._revoke}
        while self.queue:
            at, _, _, kind, obj = heapq.heappop(self.queue)
            handlers[kind](obj, at)

    # ---------------------------------------------------------------- labels and statistics

    def _restart(self, seller: FleetSeller, stats: SellerStats, at: datetime) -> None:
        seller.stats = stats
        seller.epoch_at = at
        seller.epoch_stats = stats
        seller.path.clear()
        seller.stats_updated = at

    def _snapshot(self, seller: FleetSeller, order_ref: str = "") -> dict[str, Any]:
        return compute_snapshot(seller.stats, seller.path, self.plan, order_ref)

    def _change_label(self, seller: FleetSeller, target: LabelStatus, reason: str,
                      actor: str | None, at: datetime, *, pending_review: bool = False,
                      snapshot: Mapping[str, Any] | None = None,
                      renewal: str | None = None) -> dict[str, Any]:
        """vetting.services.labels.change_label, with the listeners that matter here: a suspension
        pending review opens a review, a grant restarts the statistics."""
        record = compute_label_record(
            seller.label, target, reason, today=at.date(), valid_from=seller.valid_from,
            valid_until=seller.valid_until, sampling_state=seller.state,
            pending_review=pending_review, renewal=renewal)
        seller.label = target
        seller.valid_from, seller.valid_until = record.valid_from, record.valid_until
        seller.state = record.sampling_state
        event = {"id": self.new_id("label_events"), "seller_id": seller.id,
                 "actor_id": self.user(actor), "actor": actor or audit.SYSTEM_ACTOR, "at": at,
                 "application_id": None, **label_event_columns(record, snapshot)}
        self.label_events.append(event)
        self.write_audit(at, actor, "label.changed", "seller", seller.id,
                         label_changed_payload(record, snapshot))
        if target == LabelStatus.SUSPENDED:
            seller.suspended_on.append(at.date())
            if pending_review:
                review = {"id": self.new_id("suspension_reviews"), "seller_id": seller.id,
                          "label_event_id": event["id"], "status": "pending", "opened_at": at,
                          "decided_by_id": None, "decided_at": None, "reason": "",
                          "version": 1, "_seller": seller, "_from": event["from_status"]}
                self.reviews.append(review)
                self.push(at_business_hours(at.date() + timedelta(
                    days=seller.life.randint(1, 8)), seller.life), REVIEW, review)
        if record.kind == LabelEventKind.GRANT:
            self._restart(seller, SellerStats(), at)  # label_decisions.on_label_changed
            if seller.granted_on is None:
                seller.granted_on = at.date()
        return event

    def _set_state(self, seller: FleetSeller, state: SamplingState | None, at: datetime,
                   snapshot: Mapping[str, Any], why: str | None = None) -> None:
        """label_decisions: a change of sampling state, its row and its audit entry."""
        new = state.value if state is not None else None
        if seller.state != new:
            self.state_changes.append({
                "id": self.new_id("sampling_state_changes"), "seller_id": seller.id,
                "from_state": seller.state, "to_state": new, "why": why, "at": at})
            self.write_audit(at, None, "sampling.state_changed", "seller", seller.id,
                             state_change_payload(seller.state, new, snapshot, why))
            seller.state = new

    def _refresh_state(self, seller: FleetSeller, at: datetime, why: str) -> None:
        state = compute_sampling_state(seller.label, seller.stats, self.plan)
        if (state.value if state else None) != seller.state:
            self._set_state(seller, state, at, self._snapshot(seller), why)

    def _resume_renewal(self, seller: FleetSeller, at: datetime) -> None:
        if seller.renewal_due:
            seller.renewal_due = False
            self.push(next_night(at, 20), RENEW, seller)

    # ---------------------------------------------------------------- event handlers

    def _grant(self, seller: FleetSeller, at: datetime) -> None:
        self._change_label(seller, LabelStatus.ACTIVE,
                           "Application approved: every required checklist item passed.",
                           self.staff.approver, at)
        assert seller.valid_until is not None  # noqa: S101 - set by the grant
        self.push(midnight(seller.valid_until, 20), RENEW, seller)

    def _plan(self, period: Period, at: datetime) -> None:
        """qc.services.planning.plan_period on the rows so far (every inspection before
        the period is in ``verdict_months`` when the month is planned at 00:05)."""
        setup = self.setup
        inputs = PlanInputs(
            period=period,
            sellers=tuple(SellerInput(
                seller_id=s.id, state=SamplingState(s.state or SamplingState.ONBOARDING.value),
                on_probation=s.label == LabelStatus.PROBATION,
                p_bad=compute_p_bad(s.granted_on or s.valid_from, period, s.verdict_months,
                                    setup.drift),
                claim_percentile=None, awaiting_confirmation=False,
                listings=tuple(ListingInput(item.id, item.units, item.price_cents)
                               for item in s.listings))
                for s in self.sellers if s.label in IN_FORCE),
            budget_orders=setup.budget_orders, budget_cents=setup.budget_cents,
            buyers=setup.buyers, signal_auc=None, floor=setup.floor,
            block_max=setup.block_max)
        seed = plan_seed(self.config.seed, period)
        plan = compute_plan(inputs, seed)
        notes = plan_notes(inputs, plan, setup.rates, setup.threshold(len(inputs.sellers)),
                           measure_auc([]), setup.min_auc)
        run: dict[str, Any] = {
            "id": self.new_id("planning_runs"), **plan_run_columns(inputs, plan, seed),
            "notes_json": json.dumps(notes, sort_keys=True), "seed_hex": None,
            "created_at": at, "revealed_at": None, "verify_result": None}
        self.runs.append(run)
        self.run_plans[run["id"]] = (seed, plan)
        by_id = {s.id: s for s in self.sellers}
        listings = {item.id: item for item in self.listings}
        for planned in plan.orders:
            order = FleetOrder(id=self.new_id("test_orders"), run_id=run["id"],
                               seller=by_id[planned.seller_id],
                               listing=listings[planned.listing_id], planned=planned,
                               updated_at=at)
            self.orders.append(order)
            self.push(planned.planned_at, PLACE, order)
        self.write_audit(at, None, "plan.created", "planning_run", run["id"],
                         {**plan_created_payload(run, plan), "notes": notes})
        self.push(midnight(period.next().start, 15), CLOSE, run)

    def _close(self, run: dict[str, Any], at: datetime) -> None:
        seed, plan = self.run_plans[run["id"]]
        expected = derive_plan(inputs_from_json(run["inputs_json"]), seed)
        differences = compute_plan_differences(expected.orders, plan.orders)
        run["seed_hex"] = seed.hex()
        run["revealed_at"] = at
        run["verify_result"] = compute_verify_result(
            compute_commitment(seed) == run["commitment"], differences)
        self.write_audit(at, None, "plan.seed_revealed", "planning_run", run["id"],
                         seed_revealed_payload(run["period"], run["seed_hex"],
                                               run["commitment"], run["verify_result"]))

    def _move(self, order: FleetOrder, target: OrderStatus, at: datetime, actor: str,
              details: Mapping[str, Any]) -> None:
        action, payload = compute_order_move(OrderStatus(order.status), target, details)
        self.write_audit(at, actor, action, "test_order", order.id, payload)
        order.status = target.value
        order.updated_at = at

    def _place(self, order: FleetOrder, at: datetime) -> None:
        seller, rng = order.seller, order.seller.life
        planned_on = order.planned.planned_at.date()
        seller.planned_on.append(planned_on)
        inspector = rng.choice(self.staff.inspectors)
        if seller.label not in IN_FORCE or rng.random() < CANCEL_SHARE:
            when = at + timedelta(minutes=rng.randint(20, 240), seconds=rng.randrange(60))
            withdrawn = seller.label in IN_FORCE
            reason = ("Listing withdrawn by the seller before the order was placed."
                      if withdrawn else
                      f"The seller's Back Label is {seller.label.value if seller.label else 'gone'}"
                      "; the order was not placed.")
            side = FailureSide.SELLER if withdrawn else FailureSide.OURS
            if when < self.as_of:
                order.cancel_reason = reason
                order.failure_side = side.value
                if withdrawn:
                    seller.seller_side_on.append(planned_on)
                self._move(order, OrderStatus.CANCELLED, when, inspector,
                           reason_details(reason, side))
            return
        if rng.random() < 0.8:  # the same day; otherwise in the next two working days
            placed_at = at + timedelta(minutes=rng.randint(5, 240), seconds=rng.randrange(60))
        else:
            placed_at = at_business_hours(at.date() + timedelta(days=rng.randint(1, 2)), rng)
        if placed_at >= self.as_of:
            return
        cost = order.planned.cost_cents
        order.marketplace_ref = f"MKT-{order.planned.planned_at:%Y%m}-{order.id:07d}"
        order.price_paid_cents = cost if rng.random() < 0.85 else max(100, cost - rng.randint(
            1, 40) * 100)
        order.placed_at = placed_at
        order.placed_by_id = self.user(inspector)
        self._move(order, OrderStatus.PLACED, placed_at, inspector, placement_details(
            order.marketplace_ref, order.price_paid_cents, order.planned.buyer_account))
        if rng.random() < LOST_SHARE:
            lost_at = at_business_hours(placed_at.date() + timedelta(days=rng.randint(14, 21)),
                                        rng)
            if lost_at < self.as_of:  # lost in transit: the carrier, not the seller
                order.cancel_reason = "Never arrived."
                order.failure_side = FailureSide.OURS.value
                self._move(order, OrderStatus.LOST, lost_at, inspector,
                           reason_details(order.cancel_reason, FailureSide.OURS))
            return
        received_on = placed_at.date() + timedelta(days=rng.randint(2, 6))
        while received_on.weekday() >= 5:  # parcels are logged on working days
            received_on += timedelta(days=1)
        received_at = datetime(received_on.year, received_on.month, received_on.day, 9) + \
            timedelta(minutes=rng.randrange(180), seconds=rng.randrange(60))
        if received_at >= self.as_of:
            return
        condition = rng.choices(list(PackageCondition), (95, 4, 1))[0]
        receiver = rng.choice(self.staff.inspectors)
        order.received_on = received_on
        order.package_condition = condition.value
        order.received_by_id = self.user(receiver)
        self._move(order, OrderStatus.RECEIVED, received_at, receiver,
                   arrival_details(received_on, condition))
        days = rng.choices((0, 1, 2, 3), (40, 35, 15, 10))[0]
        if days == 0:
            inspected_at = received_at + timedelta(minutes=rng.randint(30, 300),
                                                   seconds=rng.randrange(60))
        else:
            inspected_at = at_business_hours(received_on + timedelta(days=days), rng)
        self.push(inspected_at, INSPECT, (order, receiver))

    def _inspect(self, item: tuple[FleetOrder, str], at: datetime) -> None:
        order, inspector = item
        seller = order.seller
        record = self.units.inspect(order, self.new_id("inspections"), self.staff.ids[inspector],
                                    at)
        self.inspections.append(record)
        order.inspected_at = at
        self._move(order, OrderStatus.INSPECTED, at, inspector, inspection_details())
        self.write_audit(at, inspector, "inspection.submitted", "test_order", order.id, {
            "seller_id": seller.id, **inspection_payload(
                version=1, verdict=record.verdict, score=record.score,
                observed_grade=record.observed_grade, battery_percent=record.battery_percent,
                battery_cycles=record.battery_cycles, battery_swollen=record.battery_swollen,
                cable_missing=record.cable_missing, notes="", failed=list(record.failed),
                photos=[], reasons=json.loads(record.reasons))})
        month = seller.verdict_months.setdefault(month_index(at), [0, 0])
        month[0 if record.verdict in DEFECT_VERDICTS else 1] += 1
        ref = order_ref(order.id)
        confirmation = (self._confirm_critical(order, record, inspector, at)
                        if record.verdict == "critical" else None)
        decision = compute_decision(seller.label, seller.stats, record.verdict, self.plan, ref)
        seller.stats = decision.stats
        seller.path.append(decision.stats.s)
        seller.inspected_on.append(at.date())
        seller.stats_updated = at
        new_state = decision.sampling_state.value if decision.sampling_state else None
        if decision.action == Action.NONE and new_state == seller.state:
            snapshot: dict[str, Any] = {}  # nothing to record (the common case)
        else:
            snapshot = self._snapshot(seller, ref)
        reason = decision.reason
        if confirmation is not None and decision.action == Action.SUSPEND:
            reason = confirmation[0].sentence() + ": zero tolerance."  # compute_confirmation
            snapshot.update(confirmation_snapshot(*confirmation))
        if decision.action == Action.SUSPEND:
            self._change_label(seller, LabelStatus.SUSPENDED, reason, None, at,
                               pending_review=True, snapshot=snapshot)
        elif decision.action == Action.END_PROBATION:
            self._change_label(seller, LabelStatus.ACTIVE, decision.reason, None, at,
                               snapshot=snapshot)
        self._set_state(seller, decision.sampling_state, at, snapshot)
        rng = seller.life
        closed_at = at_business_hours(at.date() + timedelta(days=rng.randint(1, 10)), rng)
        if closed_at < self.as_of:
            if record.verdict == "critical" and rng.random() < 0.7:
                disposition = Disposition.KEPT_AS_EVIDENCE
            else:
                disposition = Disposition.RETURNED if rng.random() < 0.6 else Disposition.REFUNDED
            order.disposition = disposition.value
            order.closed_at = closed_at
            self._move(order, OrderStatus.CLOSED, closed_at, inspector,
                       closing_details(disposition))

    def _confirm_critical(self, order: FleetOrder, record: Any, inspector: str,
                          at: datetime) -> tuple[Confirmation, str]:
        """qc.services.critical_findings: the critical finding, opened by the inspector and
        confirmed on the device by a second one. The fleet does not model the wait (nor
        rejections): the second inspector confirms at once, so the verdict counts and
        suspends where it was inspected, as the production rules do with a prompt
        confirmation."""
        rng = order.seller.life
        second = rng.choice([i for i in self.staff.inspectors if i != inspector])
        confirmed_at = at
        codes = critical_failures(InspectionFacts(
            promised_grade=order.listing.grade, observed_grade=record.observed_grade,
            battery_percent=record.battery_percent, battery_swollen=record.battery_swollen,
            cable_missing=record.cable_missing,
            outcomes=tuple(CheckpointOutcome(code, severity, code not in record.failed)
                           for code, severity in self.units.checkpoints[record.category])))
        note = rng.choice(CRITICAL_CONFIRM_NOTES)
        finding = {"id": self.new_id("critical_findings"), "order_id": order.id,
                   "seller_id": order.seller.id, "inspection_id": record.id,
                   "status": FindingStatus.CONFIRMED.value, "checkpoints": json.dumps(codes),
                   "found_by_id": self.user(inspector), "opened_at": at,
                   "due_on": compute_confirmation_due(at.date(), CONFIRMATION_BUSINESS_DAYS),
                   "decided_by_id": self.user(second), "decided_at": confirmed_at,
                   "reason": note, "rescored_verdict": None, "rescored_score": None,
                   "rescored_reasons": "[]", "version": 2}
        self.findings.append(finding)
        payload = finding_payload(order.seller.id, finding["id"], codes, finding["due_on"],
                                  inspection_version=1)
        self.write_audit(at, inspector, "critical_finding.opened", "test_order", order.id,
                         {**payload, "found_by": inspector})
        self.write_audit(confirmed_at, second, "critical_finding.confirmed", "test_order",
                         order.id, {**payload, "found_by": inspector,
                                    "decided_at": confirmed_at.isoformat(), "reason": note,
                                    "overdue": False})
        return Confirmation(order_ref(order.id), tuple(codes), STAFF_NAMES[inspector],
                            STAFF_NAMES[second], confirmed_at.date()), note

    def _review(self, review: dict[str, Any], at: datetime) -> None:
        seller: FleetSeller = review["_seller"]
        rng = seller.life
        compliance = self.staff.compliance
        review["decided_by_id"] = self.user(compliance)
        review["decided_at"] = at
        if rng.random() < OVERTURN_SHARE:
            reason = rng.choice(OVERTURN_REASONS)
            restore = LabelStatus(review["_from"] or LabelStatus.ACTIVE.value)
            review["status"], review["reason"] = "overturned", reason
            # compliance.services.overturn_suspension: the head start, then the label
            self._restart(seller, compute_overturned(seller.stats, self.plan), at)
            self._change_label(seller, restore, f"Suspension overturned on review: {reason}",
                               compliance, at, snapshot=self._snapshot(seller))
            self._refresh_state(seller, at, "suspension overturned")
            self.write_audit(at, compliance, "suspension.overturned", "seller", seller.id,
                             review_overturned_payload(review["id"], restore.value, reason))
            self._resume_renewal(seller, at)
            return
        reason = rng.choice(CONFIRM_REASONS)
        review["status"], review["reason"] = "confirmed", reason
        self.write_audit(at, compliance, "suspension.confirmed", "seller", seller.id,
                         review_confirmed_payload(review["id"], review["label_event_id"], reason))
        u = rng.random()
        if u < CASE_SHARE:
            kind = "appeal" if rng.random() < 0.4 else "corrective_action"
            day = at.date() + timedelta(days=rng.randint(3, 20))
            self.push(at_business_hours(day, rng), CASE, (seller, kind))
        elif u < CASE_SHARE + REVOKE_SHARE:
            day = at.date() + timedelta(days=rng.randint(45, 90))
            self.push(at_business_hours(day, rng), REVOKE,
                      (seller, "no appeal or corrective-action plan received within 45 days."))

    def _case(self, item: tuple[FleetSeller, str], at: datetime) -> None:
        seller, kind = item
        rng = seller.life
        received_on = at.date() - timedelta(days=rng.randint(0, 2))
        case = {"id": self.new_id("seller_cases"), "seller_id": seller.id, "kind": kind,
                "summary": CASE_SUMMARIES[kind], "received_on": received_on, "status": "open",
                "created_by_id": self.user(self.staff.compliance), "created_at": at,
                "decided_by_id": None, "decided_at": None, "decision_reason": "", "version": 1,
                "_seller": seller}
        self.cases.append(case)
        action, payload = case_recorded_entry(case["id"], kind, case["summary"], received_on)
        self.write_audit(at, self.staff.compliance, action, "seller", seller.id, payload)
        day = at.date() + timedelta(days=rng.randint(7, 25))
        self.push(at_business_hours(day, rng), DECIDE_CASE, case)

    def _decide_case(self, case: dict[str, Any], at: datetime) -> None:
        seller: FleetSeller = case["_seller"]
        rng = seller.life
        compliance = self.staff.compliance
        accept = rng.random() < ACCEPT_SHARE / (1 + seller.reinstated)
        reason = rng.choice(ACCEPT_REASONS if accept else REJECT_REASONS)
        case.update(status="accepted" if accept else "rejected", decision_reason=reason,
                    decided_by_id=self.user(compliance), decided_at=at)
        action, payload = case_decided_entry(case["id"], case["kind"], case["status"], reason)
        self.write_audit(at, compliance, action, "seller", seller.id, payload)
        if not accept:
            if rng.random() < 0.5:
                day = at.date() + timedelta(days=rng.randint(7, 30))
                self.push(at_business_hours(day, rng), REVOKE,
                          (seller, f"the {CASE_KINDS[case['kind']]} was rejected."))
            return
        if seller.label != LabelStatus.SUSPENDED:
            return
        # Reinstated at once: a later instant could fall after an inspection still due.
        self._restart(seller, compute_reinstated(seller.stats, self.plan), at)
        state = compute_sampling_state(LabelStatus.PROBATION, seller.stats, self.plan)
        seller.state = state.value if state is not None else None
        seller.reinstated += 1
        self._change_label(seller, LabelStatus.PROBATION, f"Reinstated on probation: {reason}",
                           compliance, at, snapshot=self._snapshot(seller))
        self._resume_renewal(seller, at)

    def _revoke(self, item: tuple[FleetSeller, str], at: datetime) -> None:
        seller, why = item
        if seller.label == LabelStatus.SUSPENDED:
            self._change_label(seller, LabelStatus.REVOKED, f"Revoked: {why}",
                               self.staff.compliance, at)

    def _renew(self, seller: FleetSeller, at: datetime) -> None:
        if seller.label not in IN_FORCE:
            if seller.label == LabelStatus.SUSPENDED:
                seller.renewal_due = True
            return
        start, end = seller.valid_from, seller.valid_until
        if start is None or end is None or end > at.date():
            return
        def within(days: list[date]) -> int:
            return sum(1 for d in days if start <= d <= end)

        renewal = compute_renewal(LabelYear(
            suspended=within(seller.suspended_on), planned=within(seller.planned_on),
            inspected=within(seller.inspected_on), seller_side=within(seller.seller_side_on)),
            start, end)
        full, reason = renewal.full, renewal.reason
        seller.valid_from = end
        seller.valid_until = compute_label_end(end)
        if not full:
            self._restart(seller, compute_conditional_renewal(seller.stats), at)
        assert seller.label is not None  # noqa: S101 - in force
        self._change_label(seller, seller.label, reason, None, at,
                           snapshot=self._snapshot(seller),
                           renewal="full" if full else "conditional")
        self._refresh_state(seller, at, "renewal")
        self.push(midnight(seller.valid_until, 20), RENEW, seller)
