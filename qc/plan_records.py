"""What a planning run stores and records in the audit trail (pure).

A run keeps the seed's commitment, the plan's inputs as canonical JSON (``inputs_to_json``:
sorted keys, no spaces, so the same inputs always give the same text), its fingerprint and
totals (``plan_run_columns``) and is audited as ``plan.created``. When the period closes its
seed is revealed; ``verify-plan`` reads the inputs back (``inputs_from_json``), re-runs
``derive_plan`` with the seed (``qc.sampling`` for inputs format 2, ``qc.sampling_v1`` for
plans stored in format 1), lists what ``compute_plan_differences`` finds and
stores the outcome (``compute_verify_result``), audited as ``plan.seed_revealed``. See
``qc.sampling`` for the planner and its auditable randomness (DESIGN.md section 3).

Pure module: no Flask, no SQLAlchemy; plain values in, plain dicts and frozen dataclasses out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from qc import sampling_v1
from qc.allocation import DEFAULT_DRIFT, MIN_AUC_ORDERS, AucEstimate, posterior_bad
from qc.buyers import BuyerInput
from qc.sampling import (
    INPUTS_FORMAT_VERSION,
    ListingInput,
    Period,
    Plan,
    PlanInputs,
    PlannedOrder,
    SellerInput,
    compute_commitment,
    compute_plan,
    parse_period,
)
from vetting.labels import SamplingState

AnyInputs = PlanInputs | sampling_v1.PlanInputs
AnyPlan = Plan | sampling_v1.Plan
AnyOrder = PlannedOrder | sampling_v1.PlannedOrder

__all__ = [
    "MAX_REPORTED_DIFFERENCES",
    "POSTERIOR_HORIZON_MONTHS",
    "compute_p_bad",
    "compute_plan_differences",
    "compute_shortfall",
    "describe_shortfall",
    "compute_verify_result",
    "derive_plan",
    "describe_signal",
    "inputs_from_json",
    "inputs_to_json",
    "month_index",
    "plan_created_payload",
    "plan_fingerprint",
    "plan_notes",
    "plan_run_columns",
    "seed_revealed_payload",
    "signal_record",
]

MAX_REPORTED_DIFFERENCES = 20  # differences kept in a run's verification result


POSTERIOR_HORIZON_MONTHS = 120  # months of verdict history a posterior reads at most


# --- the recorded posterior ------------------------------------------------------------------


def month_index(day: date | datetime) -> int:
    """A calendar month as one integer (year * 12 + month - 1), for counting by month."""
    return day.year * 12 + day.month - 1


def compute_p_bad(start: date | None, period: Period, by_month: Mapping[int, Sequence[int]],
                  drift: float = DEFAULT_DRIFT) -> float:
    """A seller's P(p >= 15%) as ``period``'s plan records it: ``qc.allocation.posterior_bad``
    over the months from the month of ``start`` (its first label grant; the period itself
    when None), or of its first inspected order if earlier, to the month before ``period``,
    at most ``POSTERIOR_HORIZON_MONTHS`` of them. ``by_month`` holds [defective, clean]
    inspected orders by ``month_index``; months from ``period`` on are left out."""
    end = month_index(period.start)
    first = month_index(start if start is not None else period.start)
    earlier = [m for m in by_month if m < end]
    if earlier:
        first = min(first, min(earlier))
    first = max(first, end - POSTERIOR_HORIZON_MONTHS)
    months = []
    for m in range(first, end):
        defects, clean = by_month.get(m, (0, 0))
        months.append((defects, clean))
    return posterior_bad(months, drift)


# --- storage and verification ----------------------------------------------------------------


def _dumps(value: object) -> str:
    """Canonical JSON: sorted keys, compact, no NaN, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def inputs_to_json(inputs: AnyInputs) -> str:
    """Canonical JSON of the plan inputs, stored so the plan can be re-derived later."""
    if isinstance(inputs, sampling_v1.PlanInputs):
        return _dumps(_v1_inputs(inputs))
    return _dumps({
        "version": INPUTS_FORMAT_VERSION,
        "period": inputs.period.key,
        "budget_orders": inputs.budget_orders,
        "budget_cents": inputs.budget_cents,
        "floor": float(inputs.floor),
        "block_max": inputs.block_max,
        "signal_auc": None if inputs.signal_auc is None else float(inputs.signal_auc),
        "buyers": [{"buyer_id": b.buyer_id, "name": b.name} for b in inputs.buyers],
        "sellers": [
            {
                "seller_id": seller.seller_id,
                "state": str(seller.state),
                "on_probation": seller.on_probation,
                "p_bad": float(seller.p_bad),
                "claim_percentile": (None if seller.claim_percentile is None
                                     else float(seller.claim_percentile)),
                "awaiting_confirmation": seller.awaiting_confirmation,
                "recent_buyers": list(seller.recent_buyers),
                "listings": _listings(seller.listings),
            }
            for seller in inputs.sellers
        ],
    })


def _listings(listings: Sequence[ListingInput]) -> list[dict[str, int]]:
    return [{"listing_id": item.listing_id, "monthly_units": item.monthly_units,
             "price_cents": item.price_cents} for item in listings]


def _v1_inputs(inputs: sampling_v1.PlanInputs) -> dict[str, object]:
    return {
        "version": sampling_v1.INPUTS_FORMAT_VERSION,
        "period": inputs.period.key,
        "budget_cents": inputs.budget_cents,
        "buyer_accounts": list(inputs.buyer_accounts),
        "rates": {str(state): float(inputs.rates[state]) for state in SamplingState},
        "sellers": [
            {
                "seller_id": seller.seller_id,
                "state": str(seller.state),
                "on_probation": seller.on_probation,
                "risk": float(seller.risk),
                "listings": _listings(seller.listings),
            }
            for seller in inputs.sellers
        ],
    }


def _field(obj: object, key: str) -> object:
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError(f"Stored plan inputs lack {key!r}")
    value: object = obj[key]
    return value


def _int(obj: object, key: str) -> int:
    value = _field(obj, key)
    # bool is an int subclass; a stored true/false where a number belongs is corruption.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"Stored plan inputs: {key!r} must be an integer")
    return value


def _float(obj: object, key: str) -> float:
    value = _field(obj, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"Stored plan inputs: {key!r} must be a number")
    return float(value)


def _bool(obj: object, key: str) -> bool:
    value = _field(obj, key)
    if not isinstance(value, bool):
        raise ValueError(f"Stored plan inputs: {key!r} must be true or false")
    return value


def _str(obj: object, key: str) -> str:
    value = _field(obj, key)
    if not isinstance(value, str):
        raise ValueError(f"Stored plan inputs: {key!r} must be a string")
    return value


def _list(obj: object, key: str) -> list[object]:
    value = _field(obj, key)
    if not isinstance(value, list):
        raise ValueError(f"Stored plan inputs: {key!r} must be a list")
    return value


def _state(text: str) -> SamplingState:
    try:
        return SamplingState(text)
    except ValueError:
        raise ValueError(f"Stored plan inputs: unknown sampling state {text!r}") from None


def _optional_float(obj: object, key: str) -> float | None:
    value = _field(obj, key)
    return None if value is None else _float(obj, key)


def _int_list(obj: object, key: str) -> tuple[int, ...]:
    values = _list(obj, key)
    if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise ValueError(f"Stored plan inputs: {key!r} must be a list of integers")
    return tuple(v for v in values if isinstance(v, int))


def _read_listings(seller: object) -> tuple[ListingInput, ...]:
    return tuple(ListingInput(listing_id=_int(item, "listing_id"),
                              monthly_units=_int(item, "monthly_units"),
                              price_cents=_int(item, "price_cents"))
                 for item in _list(seller, "listings"))


def inputs_from_json(text: str) -> AnyInputs:
    """Read plan inputs written by ``inputs_to_json`` (format 2, or format 1 for plans made
    by the fixed-rate planner); malformed text raises ValueError."""
    data: object = json.loads(text)
    version = _int(data, "version")
    if version == sampling_v1.INPUTS_FORMAT_VERSION:
        return _v1_from_json(data)
    if version != INPUTS_FORMAT_VERSION:
        raise ValueError(f"Stored plan inputs have format {version}, this planner reads "
                         f"{sampling_v1.INPUTS_FORMAT_VERSION} and {INPUTS_FORMAT_VERSION}")
    sellers = tuple(
        SellerInput(
            seller_id=_int(seller, "seller_id"),
            state=_state(_str(seller, "state")),
            on_probation=_bool(seller, "on_probation"),
            p_bad=_float(seller, "p_bad"),
            claim_percentile=_optional_float(seller, "claim_percentile"),
            awaiting_confirmation=_bool(seller, "awaiting_confirmation"),
            recent_buyers=_int_list(seller, "recent_buyers"),
            listings=_read_listings(seller),
        )
        for seller in _list(data, "sellers"))
    return PlanInputs(
        period=parse_period(_str(data, "period")),
        sellers=sellers,
        budget_orders=_int(data, "budget_orders"),
        budget_cents=_int(data, "budget_cents"),
        floor=_float(data, "floor"),
        block_max=_int(data, "block_max"),
        signal_auc=_optional_float(data, "signal_auc"),
        buyers=tuple(BuyerInput(buyer_id=_int(b, "buyer_id"), name=_str(b, "name"))
                     for b in _list(data, "buyers")),
    )


def _v1_from_json(data: object) -> sampling_v1.PlanInputs:
    rates_obj = _field(data, "rates")
    accounts = []
    for account in _list(data, "buyer_accounts"):
        if not isinstance(account, str):
            raise ValueError("Stored plan inputs: buyer accounts must be strings")
        accounts.append(account)
    sellers = tuple(
        sampling_v1.SellerInput(
            seller_id=_int(seller, "seller_id"),
            state=_state(_str(seller, "state")),
            on_probation=_bool(seller, "on_probation"),
            risk=_float(seller, "risk"),
            listings=_read_listings(seller),
        )
        for seller in _list(data, "sellers"))
    return sampling_v1.PlanInputs(
        period=parse_period(_str(data, "period")),
        sellers=sellers,
        rates=MappingProxyType({state: _float(rates_obj, str(state)) for state in SamplingState}),
        budget_cents=_int(data, "budget_cents"),
        buyer_accounts=tuple(accounts),
    )


def derive_plan(inputs: AnyInputs, seed: bytes) -> AnyPlan:
    """The plan the inputs and seed give, with the planner of the inputs' format."""
    if isinstance(inputs, sampling_v1.PlanInputs):
        return sampling_v1.compute_plan(inputs, seed)
    return compute_plan(inputs, seed)


def _order_record(order: AnyOrder) -> dict[str, object]:
    record = {name: getattr(order, name) for name in _compared_fields(order)}
    record["seller_id"] = order.seller_id
    record["planned_at"] = order.planned_at.isoformat(timespec="seconds")
    record["sampling_state"] = str(order.sampling_state)
    return record


def _compared_fields(order: AnyOrder) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(order) if f.name != "seller_id")


def plan_fingerprint(plan: AnyPlan) -> str:
    """SHA-256 hex of the canonical JSON list of the kept orders, in plan order."""
    return hashlib.sha256(_dumps([_order_record(o) for o in plan.orders]).encode()).hexdigest()


def _describe(order: AnyOrder) -> str:
    return (f"seller {order.seller_id}, listing {order.listing_id} at "
            f"{order.planned_at:%Y-%m-%d %H:%M} ({order.sampling_state}, "
            f"buyer {order.buyer_account}, {order.cost_cents} cents)")


def _leftovers(orders: Sequence[AnyOrder],
               matched: Counter[AnyOrder]) -> dict[int, list[AnyOrder]]:
    """Orders not in ``matched`` (counting duplicates), grouped by seller in time order."""
    remaining = Counter(matched)
    by_seller: defaultdict[int, list[AnyOrder]] = defaultdict(list)
    for order in orders:
        if remaining[order] > 0:
            remaining[order] -= 1
        else:
            by_seller[order.seller_id].append(order)
    for group in by_seller.values():
        group.sort(key=lambda o: (o.planned_at, o.listing_id))
    return by_seller


def compute_plan_differences(expected: Sequence[AnyOrder],
                             stored: Sequence[AnyOrder]) -> list[str]:
    """Human-readable mismatches between a re-derived plan and the stored one (empty if equal)."""
    # Identical orders match first, so one changed order is reported once, not as a cascade;
    # the rest are paired per seller in time order and their differing fields named.
    matched = Counter(expected) & Counter(stored)
    missing_by_seller = _leftovers(expected, matched)
    extra_by_seller = _leftovers(stored, matched)
    messages: list[str] = []
    for seller_id in sorted(set(missing_by_seller) | set(extra_by_seller)):
        want = missing_by_seller.get(seller_id, [])
        have = extra_by_seller.get(seller_id, [])
        for exp, got in zip(want, have, strict=False):
            changes = [
                f"{name} expected {getattr(exp, name)}, stored {getattr(got, name)}"
                for name in _compared_fields(exp) if getattr(exp, name) != getattr(got, name)]
            messages.append(f"changed order of seller {seller_id} planned at "
                            f"{exp.planned_at:%Y-%m-%d %H:%M}: " + "; ".join(changes))
        messages.extend(f"missing from stored plan: {_describe(o)}" for o in want[len(have):])
        messages.extend(f"extra in stored plan: {_describe(o)}" for o in have[len(want):])
    return messages


# --- the run's record and audit payloads ----------------------------------------------------


def plan_run_columns(inputs: AnyInputs, plan: AnyPlan, seed: bytes) -> dict[str, Any]:
    """A planning run's stored record of ``plan``: period, commitment, inputs and totals."""
    return {
        "period": inputs.period.key, "commitment": compute_commitment(seed),
        "inputs_json": inputs_to_json(inputs), "fingerprint": plan_fingerprint(plan),
        "orders_planned": len(plan.orders), "orders_dropped": len(plan.dropped),
        "total_cost_cents": plan.total_cost_cents, "over_budget": plan.over_budget,
    }


def plan_created_payload(run: Mapping[str, Any], plan: AnyPlan) -> dict[str, Any]:
    """The audit payload of ``plan.created`` for a run's columns and its plan."""
    return {
        "period": run["period"], "commitment": run["commitment"],
        "fingerprint": run["fingerprint"], "orders": run["orders_planned"],
        "dropped": run["orders_dropped"], "total_cost_cents": run["total_cost_cents"],
        "over_budget": run["over_budget"],
        "dropped_orders": [{"seller_id": d.seller_id, "listing_id": d.listing_id,
                            "state": d.sampling_state.value, "reason": d.reason}
                           for d in plan.dropped],
        "skipped": [list(s) for s in plan.skipped],
    }


def compute_shortfall(inputs: PlanInputs, plan: Plan,
                      rates: Mapping[SamplingState, float]) -> list[dict[str, Any]]:
    """Per sampling state (probation counted as tightened, as planned), for the sellers with
    listings: how many, the orders the per-state reference rates would want with no budget
    limit (``sellers x rate``, 2 decimals), and the orders the plan kept for them."""
    states = {s.seller_id: (SamplingState.TIGHTENED if s.on_probation else s.state)
              for s in inputs.sellers if s.listings}
    got = Counter(states[o.seller_id] for o in plan.orders)
    sellers = Counter(states.values())
    return [{"state": str(state), "sellers": sellers[state],
             "wanted": round(sellers[state] * rates[state], 2), "got": got[state]}
            for state in SamplingState if sellers[state]]


def describe_shortfall(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Sentences for the states that got fewer orders than their reference rates want, e.g.
    "tightened sellers (15) wanted 60 orders, got 40"."""
    return [f"{row['state']} sellers ({row['sellers']}) wanted {row['wanted']:g} orders, "
            f"got {row['got']}" for row in rows if row["got"] < row["wanted"]]


def signal_record(auc: AucEstimate, min_auc: float, used: bool) -> dict[str, Any]:
    """The returns/claims signal as a run records it: the measured AUC, its 95% interval,
    the first orders behind it, the minimum AUC and whether allocation used it; "text" says
    so in a sentence (``describe_signal``)."""
    record: dict[str, Any] = {"auc": auc.auc, "low": auc.low, "high": auc.high,
                              "defective": auc.defective, "clean": auc.clean,
                              "min_auc": min_auc, "used": used}
    record["text"] = describe_signal(record)
    return record


def describe_signal(signal: Mapping[str, Any]) -> str:
    """Whether the returns/claims signal sharpens the allocation, in one sentence."""
    auc, min_auc = signal["auc"], signal["min_auc"]
    if auc is None:
        return (f"Not enough first orders yet ({signal['defective']} defective and "
                f"{signal['clean']} clean; {MIN_AUC_ORDERS} of each are needed): "
                "returns/claims are ignored for allocation.")
    if signal["used"]:
        return (f"At least {min_auc:g}: returns/claims sharpen the allocation (never a label "
                "decision).")
    if auc < min_auc:
        return f"Below {min_auc:g}: returns/claims are ignored for allocation."
    if auc >= 1:
        return ("An AUC of 1 cannot be weighed (the model needs it below 1): returns/claims "
                "are ignored for allocation.")
    return "Returns/claims were not used for this allocation."


def plan_notes(inputs: PlanInputs, plan: Plan, rates: Mapping[SamplingState, float],
               threshold: Mapping[str, Any], auc: AucEstimate, min_auc: float
               ) -> dict[str, Any]:
    """What a run records beside its orders: the budget and the orders it gave out, the
    threshold in force and the budget's choice, the signal's measured AUC and whether it was
    used, the shortfall against the reference rates (rows and sentences) and the warnings."""
    shortfall = compute_shortfall(inputs, plan, rates)
    allocated = sum(row.count for row in plan.allocation)
    return {
        "inputs_format": INPUTS_FORMAT_VERSION,
        "budget_orders": inputs.budget_orders,
        "budget_cents": inputs.budget_cents,
        "orders": len(plan.orders),
        "dropped": len(plan.dropped),
        "unallocated": max(0, inputs.budget_orders - allocated),
        "threshold": dict(threshold),
        "signal": signal_record(auc, min_auc, inputs.signal_auc is not None),
        "confirmation_tier": sum(1 for row in plan.allocation if row.confirmation),
        "shortfall": shortfall,
        "shortfall_text": describe_shortfall(shortfall),
        "warnings": list(plan.warnings),
    }


def compute_verify_result(commitment_ok: bool, differences: Sequence[str]) -> str:
    """The stored outcome of re-deriving a plan: "match", or "MISMATCH: " and the first
    differences."""
    if commitment_ok and not differences:
        return "match"
    return "MISMATCH: " + "; ".join(differences[:MAX_REPORTED_DIFFERENCES])


def seed_revealed_payload(period_key: str, seed_hex: str, commitment: str,
                          verify_result: str) -> dict[str, Any]:
    """The audit payload of ``plan.seed_revealed``."""
    return {"period": period_key, "seed": seed_hex, "commitment": commitment,
            "verify_plan": verify_result}
