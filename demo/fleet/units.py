"""How a seller's units fail: checkpoint outcomes drawn from its true defect rate, scored by
``qc.scoring.compute_score``.

A defect checkpoint fails with probability p x its weight (weights sum to 1 per category, 3% of
it critical), a minor one with (5% + 0.6 p) x weight, delivery (LOG-1) 4% of the time; battery
health, a missing cable and the observed grade follow the failures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from demo.fleet.model import FleetInspection, FleetOrder
from qc.catalog import BATTERY_CODE, CABLE_CODE, Severity
from qc.scoring import (
    GRADE_ORDER,
    CheckpointOutcome,
    Grade,
    InspectionFacts,
    battery_floor,
    compute_score,
)

MINOR_BASE, MINOR_SLOPE = 0.05, 0.6
LATE_DELIVERY = 0.04
BATTERY_UNMEASURED = 0.02

# Share of a seller's defect rate per failure mode (normalised per category); a code of the
# catalog not named here gets the default of its severity, so new checkpoints also fail.
DEFECT_WEIGHTS = {"ID-1": 0.004, "ID-2": 0.002, "LOCK-1": 0.008, "LOCK-2": 0.003,
                  "LAP-FW-1": 0.004, "DATA-1": 0.006, "CONF-1": 0.002, "INTEG-1": 0.004,
                  "BAT-1": 0.22, "PWR-1": 0.04, "DISP-1": 0.08, "DISP-2": 0.04,
                  "LAP-KEY-1": 0.05, "LAP-TPAD-1": 0.03, "PART-1": 0.05, "CAM-1": 0.04,
                  "LAP-CAM-1": 0.02, "AUD-1": 0.05, "BTN-1": 0.04, "BIO-1": 0.04,
                  "SENS-1": 0.03, "CONN-1": 0.04, "CONN-2": 0.02, "LAP-PORT-1": 0.03,
                  "LAP-HINGE-1": 0.03, "LAP-THERM-1": 0.02, "LAP-SSD-1": 0.02, "SW-1": 0.03,
                  "LAP-OS-1": 0.02, "INTEG-2": 0.02, "COS-3": 0.03}
DEFAULT_DEFECT_WEIGHT = {Severity.CRITICAL: 0.004, Severity.MAJOR: 0.03}
SWOLLEN_WEIGHT, CABLE_MISSING_WEIGHT, TWO_GRADES_WEIGHT = 0.004, 0.05, 0.06
MINOR_WEIGHTS = {"COS-1": 0.30, "COS-2": 0.20, "PRES-1": 0.15, "PACK-1": 0.15,
                 "LAP-KB-1": 0.05, CABLE_CODE: 0.10}
DEFAULT_MINOR_WEIGHT = 0.05
DELIVERY_CODE = "LOG-1"

# Failure modes of a unit.
FAIL, BATTERY_LOW, SWOLLEN, CABLE_MISSING, TWO_GRADES, ONE_GRADE = range(6)


def defect_modes(checkpoints: list[tuple[str, Severity]]) -> list[tuple[float, int, str]]:
    """The ways a unit of a category is defective, with their shares of the defect rate."""
    modes: list[tuple[float, int, str]] = []
    codes = {code for code, _ in checkpoints}
    for code, severity in checkpoints:
        if severity == Severity.MINOR:
            continue
        weight = DEFECT_WEIGHTS.get(code, DEFAULT_DEFECT_WEIGHT[severity])
        modes.append((weight, BATTERY_LOW if code == BATTERY_CODE else FAIL, code))
    if BATTERY_CODE in codes:
        modes.append((SWOLLEN_WEIGHT, SWOLLEN, BATTERY_CODE))
    if CABLE_CODE in codes:
        modes.append((CABLE_MISSING_WEIGHT, CABLE_MISSING, CABLE_CODE))
    if "COS-1" in codes:
        modes.append((TWO_GRADES_WEIGHT, TWO_GRADES, "COS-1"))
    total = sum(w for w, _, _ in modes)
    return [(w / total, kind, code) for w, kind, code in modes]


def minor_modes(checkpoints: list[tuple[str, Severity]]) -> list[tuple[float, int, str]]:
    """The minor findings a unit of a category may have, with their shares."""
    modes = [(MINOR_WEIGHTS.get(code, DEFAULT_MINOR_WEIGHT),
              ONE_GRADE if code == "COS-1" else FAIL, code)
             for code, severity in checkpoints
             if severity == Severity.MINOR and code != DELIVERY_CODE]
    total = sum(w for w, _, _ in modes)
    return [(w / total, kind, code) for w, kind, code in modes]


class Units:
    """The failure modes of every category's units, and the draw of one unit."""

    def __init__(self, checkpoints: Mapping[str, list[tuple[str, Severity]]]) -> None:
        self.checkpoints = checkpoints
        self.defect_modes = {c: defect_modes(cps) for c, cps in checkpoints.items()}
        self.minor_modes = {c: minor_modes(cps) for c, cps in checkpoints.items()}

    def inspect(self, order: FleetOrder, inspection_id: int, inspector_id: int,
                at: datetime) -> FleetInspection:
        """Draw the unit's checkpoint outcomes from the seller's true rate and score them."""
        seller, listing = order.seller, order.listing
        rng, p = seller.outcomes, seller.p
        random_ = rng.random
        failed: dict[str, str] = {}
        battery_low = swollen = cable_missing = False
        gap = 0
        for weight, kind, code in self.defect_modes[listing.category]:
            if random_() < p * weight:
                if kind == BATTERY_LOW:
                    battery_low = True
                elif kind == SWOLLEN:
                    swollen = True
                    failed[code] = "Battery visibly swollen; device isolated."
                elif kind == CABLE_MISSING:
                    cable_missing = True
                    failed[code] = "No charging cable in the box."
                elif kind == TWO_GRADES:
                    gap = 2
                failed.setdefault(code, "Failed at inspection.")
        minor_rate = MINOR_BASE + MINOR_SLOPE * p
        for weight, kind, code in self.minor_modes[listing.category]:
            if random_() < minor_rate * weight:
                failed.setdefault(code, "Minor finding; noted for the seller.")
                if kind == ONE_GRADE:
                    gap = max(gap, 1)
        codes = [code for code, _ in self.checkpoints[listing.category]]
        if DELIVERY_CODE in codes and random_() < LATE_DELIVERY:
            failed[DELIVERY_CODE] = "Delivered after the promised date."
        promised = Grade(listing.grade)
        observed = GRADE_ORDER[min(GRADE_ORDER.index(promised) + gap, len(GRADE_ORDER) - 1)]
        if observed != promised and "COS-1" in failed:
            failed["COS-1"] = f"Observed {observed.value}, listed as {promised.value}."
        floor = battery_floor(promised)
        if battery_low:
            battery: int | None = rng.randint(floor - 18, floor - 1)
            failed[BATTERY_CODE] = f"Battery health {battery}%, below the {floor}% floor."
        elif random_() < BATTERY_UNMEASURED:
            battery = None
        else:
            battery = rng.randint(floor, 100)
        cycles = None if random_() < 0.1 else rng.randint(10, 1100)
        score = compute_score(InspectionFacts(
            promised_grade=promised, observed_grade=observed, battery_percent=battery,
            battery_swollen=swollen, cable_missing=cable_missing,
            outcomes=tuple(CheckpointOutcome(code, severity, code not in failed)
                           for code, severity in self.checkpoints[listing.category])))
        ordered = {code: failed[code] for code in codes if code in failed}
        return FleetInspection(
            id=inspection_id, order_id=order.id, inspector_id=inspector_id,
            at=at, category=listing.category, observed_grade=observed.value,
            battery_percent=battery, battery_cycles=cycles, battery_swollen=swollen,
            cable_missing=cable_missing, verdict=score.verdict.value, score=score.score,
            reasons=json.dumps(list(score.reasons)), failed=ordered)
