"""What a planning run stores and records in the audit trail (pure).

A run keeps the seed's commitment, the plan's inputs, its fingerprint and totals
(``plan_run_columns``) and is audited as ``plan.created``; when the period closes its seed is
revealed, the plan re-derived and the outcome (``compute_verify_result``) audited as
``plan.seed_revealed``. See ``qc.sampling`` for the planner and its auditable randomness.

Pure module: no Flask, no SQLAlchemy; plain values in, plain dicts out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qc.sampling import Plan, PlanInputs, compute_commitment, inputs_to_json, plan_fingerprint

__all__ = [
    "MAX_REPORTED_DIFFERENCES",
    "compute_verify_result",
    "plan_created_payload",
    "plan_run_columns",
    "seed_revealed_payload",
]

MAX_REPORTED_DIFFERENCES = 20  # differences kept in a run's verification result


def plan_run_columns(inputs: PlanInputs, plan: Plan, seed: bytes) -> dict[str, Any]:
    """A planning run's stored record of ``plan``: period, commitment, inputs and totals."""
    return {
        "period": inputs.period.key, "commitment": compute_commitment(seed),
        "inputs_json": inputs_to_json(inputs), "fingerprint": plan_fingerprint(plan),
        "orders_planned": len(plan.orders), "orders_dropped": len(plan.dropped),
        "total_cost_cents": plan.total_cost_cents, "over_budget": plan.over_budget,
    }


def plan_created_payload(run: Mapping[str, Any], plan: Plan) -> dict[str, Any]:
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
