"""What a label decision records about the statistics behind it (pure).

- ``compute_snapshot``: the statistics snapshot stored with a label event and in the audit
  entries of label and sampling-state changes (S and its recent path, the thresholds, the
  counts, the defect-rate bounds and the plan's parameters);
- ``state_change_payload``: the audit payload of ``sampling.state_changed``;
- ``epoch_stats_json`` / ``epoch_stats_from_json``: the statistics a replay starts from, as
  stored on the seller's statistics row;
- ``confirmation_snapshot``: what a suspension's snapshot adds about the critical finding a
  second inspector confirmed; ``finding_payload``: the audit payload of a critical finding's
  ``critical_finding.*`` entries.

Pure module: no Flask, no SQLAlchemy; plain values in, plain dicts out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import date
from functools import lru_cache
from typing import Any

from qc.decisions import Confirmation, DecisionPlan, SellerStats
from qc.stats import clopper_pearson

__all__ = [
    "SNAPSHOT_PATH_TAIL",
    "compute_snapshot",
    "confirmation_snapshot",
    "epoch_stats_from_json",
    "epoch_stats_json",
    "finding_payload",
    "state_change_payload",
]

SNAPSHOT_PATH_TAIL = 10  # values of S shown in a snapshot: the last orders of the epoch
EMPTY_EPOCH = "{}"  # a statistics row no grant, reinstatement or renewal has restarted yet


@lru_cache(maxsize=65536)
def _bounds(defects: int, inspected: int) -> tuple[float, float]:
    # The same (k, n) pairs recur across sellers and decisions; the exact test is not cheap.
    return clopper_pearson(defects, inspected)


def compute_snapshot(stats: SellerStats, path: Iterable[float], plan: DecisionPlan,
                     order_ref: str = "") -> dict[str, Any]:
    """The snapshot of ``stats`` (S after each order of the epoch in ``path``, oldest first)
    under ``plan``, for the decision taken on ``order_ref`` (empty when no order caused it)."""
    tail = list(path)[-SNAPSHOT_PATH_TAIL:]
    low, high = _bounds(stats.defects, stats.inspected)
    return {
        "order": order_ref, "S": round(stats.s, 4), "S_path_tail": [round(x, 4) for x in tail],
        "h": round(plan.main.h, 4), "tighten_at": plan.tighten_at,
        "minor_S": round(stats.minor_s, 4), "minor_h": round(plan.minor.h, 4),
        "clean_run": stats.clean_run, "inspected": stats.inspected, "defects": stats.defects,
        "minor": stats.minor, "critical": stats.critical,
        "defect_rate_bounds_95": [round(low, 4), round(high, 4)],
        "plan": {"p0": plan.params.p0, "p1": plan.params.p1, "alpha": plan.params.alpha,
                 "beta": plan.params.beta, "w_defect": round(plan.main.w_defect, 4),
                 "w_clean": round(plan.main.w_clean, 4),
                 "acceptance_run": plan.main.acceptance_run},
    }


def state_change_payload(before: str | None, after: str | None, snapshot: Mapping[str, Any],
                         why: str | None = None) -> dict[str, Any]:
    """The audit payload of a sampling-state change; ``why`` names what other than an
    inspection caused it (a renewal, an overturned suspension, the nightly replay)."""
    payload: dict[str, Any] = {"from": before, "to": after}
    if why is not None:
        payload["why"] = why
    payload["snapshot"] = dict(snapshot)
    return payload


def epoch_stats_json(stats: SellerStats) -> str:
    """The statistics an epoch starts from, as stored."""
    return json.dumps(asdict(stats), sort_keys=True)


def epoch_stats_from_json(text: str) -> SellerStats:
    """The statistics an epoch starts from, read back (defaults for a row never restarted)."""
    return SellerStats(**json.loads(text)) if text != EMPTY_EPOCH else SellerStats()


def confirmation_snapshot(confirmation: Confirmation, reason: str) -> dict[str, Any]:
    """The ``critical_confirmation`` entry of the snapshot of a suspension that a confirmed
    critical finding caused: the order, the checkpoints, both inspectors, the day, the reason."""
    return {"critical_confirmation": {
        "order": confirmation.order_ref, "checkpoints": list(confirmation.checkpoints),
        "found_by": confirmation.found_by, "confirmed_by": confirmation.confirmed_by,
        "confirmed_on": confirmation.confirmed_on.isoformat(), "reason": reason}}


def finding_payload(seller_id: int, finding_id: int, checkpoints: Sequence[str], due_on: date,
                    **extra: Any) -> dict[str, Any]:
    """The audit payload of a ``critical_finding.*`` entry (opened, moved, withdrawn,
    confirmed, rejected); ``extra`` adds what the step records (who found it, the reason,
    the re-scored verdict of a rejection)."""
    return {"seller_id": seller_id, "finding_id": finding_id, "checkpoints": list(checkpoints),
            "due_on": due_on.isoformat(), **extra}
