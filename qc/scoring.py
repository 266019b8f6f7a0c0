"""Inspection scoring: checkpoint results to a verdict and a 0-100 score (DESIGN.md 2.4).

Verdict, worst rule first:

* ``critical``: a critical checkpoint failed, or the battery is swollen;
* ``major``: a major checkpoint failed, battery health is below the floor (80%, premium 85%;
  exactly at the floor is fine), the charging cable is missing, or the observed cosmetic grade
  is two or more grades worse than the promised one;
* ``minor``: a minor checkpoint failed, or the observed grade is exactly one grade worse;
* ``conforming``: nothing of the above. A better grade than promised is fine.

Delivery checkpoints (``DELIVERY_CODES``: LOG-1) feed delivery metrics, never the verdict,
the score or the reasons. A checkpoint that does not apply to the unit is left out of the
outcomes; unmeasured battery health (``None``) leaves BAT-1's own outcome to decide.

Findings: each defect counts once, at the worst severity any rule gives it, so one bad battery
or one missing cable is not charged twice:

* BAT-1 failed, battery below the floor and a swollen battery are one battery finding
  (critical if swollen, else at least major);
* ACC-1 failed and a missing cable are one cable finding (major if the cable is missing, else
  ACC-1's own severity);
* a cosmetic grade worse than promised makes each failed COS-1/COS-2 at least major (two or
  more grades) or minor (one grade); with neither failed, the gap itself is one finding;
* every other failed checkpoint is a finding at its own severity.

Score: 100 minus 45 per critical, 20 per major and 5 per minor finding, clamped to 0..100 and
then to the verdict's band (``VERDICT_BANDS``) so the number never contradicts the verdict.

A critical verdict counts once a second inspector confirms it on the device
(``qc.decisions``); when one rejects it, ``compute_score_without_critical`` scores the same
facts again with the critical failures (``critical_failures``) set aside.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from qc.catalog import BATTERY_CODE, CABLE_CODE, COSMETIC_CODES, DELIVERY_CODES, Severity

__all__ = [
    "BATTERY_FLOOR",
    "GRADE_ORDER",
    "PREMIUM_BATTERY_FLOOR",
    "SEVERITY_PENALTY",
    "VERDICT_BANDS",
    "VERDICT_ORDER",
    "CheckpointOutcome",
    "Grade",
    "InspectionFacts",
    "Score",
    "Verdict",
    "battery_floor",
    "check_battery",
    "compute_score",
    "compute_score_without_critical",
    "critical_failures",
    "grades_below",
    "inspection_payload",
]

BATTERY_FLOOR: Final = 80
PREMIUM_BATTERY_FLOOR: Final = 85


class Grade(StrEnum):
    """A cosmetic grade promised on a listing or observed on a unit (stored as its value)."""

    PREMIUM = "premium"
    EXCELLENT = "excellent"
    GOOD = "good"
    FAIR = "fair"


class Verdict(StrEnum):
    """The outcome of one inspection (stored as its string value)."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    CONFORMING = "conforming"


GRADE_ORDER: Final[tuple[Grade, ...]] = (Grade.PREMIUM, Grade.EXCELLENT, Grade.GOOD, Grade.FAIR)
# Worst first, like the rules, so a lower index is a worse verdict.
VERDICT_ORDER: Final[tuple[Verdict, ...]] = (
    Verdict.CRITICAL,
    Verdict.MAJOR,
    Verdict.MINOR,
    Verdict.CONFORMING,
)
# Inclusive score range per verdict; the bands tile 0..100 without gaps.
VERDICT_BANDS: Final[Mapping[Verdict, tuple[int, int]]] = MappingProxyType({
    Verdict.CRITICAL: (0, 39),
    Verdict.MAJOR: (40, 69),
    Verdict.MINOR: (70, 94),
    Verdict.CONFORMING: (95, 100),
})
SEVERITY_PENALTY: Final[Mapping[Severity, int]] = MappingProxyType({
    Severity.CRITICAL: 45,
    Severity.MAJOR: 20,
    Severity.MINOR: 5,
})

_SEVERITY_RANK: Final = {Severity.CRITICAL: 0, Severity.MAJOR: 1, Severity.MINOR: 2}
_VERDICT_OF: Final = {
    Severity.CRITICAL: Verdict.CRITICAL,
    Severity.MAJOR: Verdict.MAJOR,
    Severity.MINOR: Verdict.MINOR,
}
_GRADE_COUNT_WORDS: Final = {1: "one grade", 2: "two grades", 3: "three grades"}


@dataclass(frozen=True, slots=True)
class CheckpointOutcome:
    """The inspector's result for one checkpoint, with the severity it had in the catalog."""

    code: str
    severity: Severity
    passed: bool

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code.strip():
            raise ValueError("a checkpoint outcome needs a code")
        # Accept the stored string ("major") as well as the enum; refuse anything else.
        object.__setattr__(self, "severity", Severity(self.severity))


@dataclass(frozen=True, slots=True)
class InspectionFacts:
    """What the inspector recorded; building it refuses a bad battery value or duplicate codes."""

    promised_grade: Grade
    observed_grade: Grade
    battery_percent: int | None  # None: not measured
    battery_swollen: bool
    cable_missing: bool
    outcomes: tuple[CheckpointOutcome, ...]

    def __post_init__(self) -> None:
        # Stored strings become enums here; an unknown grade fails with the enum's message.
        object.__setattr__(self, "promised_grade", Grade(self.promised_grade))
        object.__setattr__(self, "observed_grade", Grade(self.observed_grade))
        # A list passed by a caller is copied, so later changes to it cannot reach the facts.
        object.__setattr__(self, "outcomes", tuple(self.outcomes))
        problem = check_battery(self.battery_percent)
        if problem is not None:
            raise ValueError(problem)
        duplicates = sorted(code for code, n in Counter(o.code for o in self.outcomes).items()
                            if n > 1)
        if duplicates:
            raise ValueError(
                f"each checkpoint may be recorded once; duplicated: {', '.join(duplicates)}"
            )


@dataclass(frozen=True, slots=True)
class Score:
    """The verdict of an inspection, its 0-100 display score and the reasons, worst first."""

    verdict: Verdict
    score: int
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Finding:
    severity: Severity
    reason: str
    code: str | None = None  # the checkpoint it belongs to; None for a fact alone


def grades_below(promised: Grade, observed: Grade) -> int:
    """Return how many grades ``observed`` is worse than ``promised`` (<= 0: as good or better)."""
    return GRADE_ORDER.index(Grade(observed)) - GRADE_ORDER.index(Grade(promised))


def battery_floor(promised: Grade) -> int:
    """Return the minimum battery health in percent a unit sold at ``promised`` must hold."""
    return PREMIUM_BATTERY_FLOOR if Grade(promised) is Grade.PREMIUM else BATTERY_FLOOR


def check_battery(percent: object) -> str | None:
    """Return a message if ``percent`` is not a valid battery health, else None (None is valid)."""
    if percent is None:
        return None
    if isinstance(percent, float) and math.isnan(percent):
        return "Battery health is not a number; enter a whole percentage from 0 to 100."
    # bool is an int subclass, but True is not a battery reading.
    if isinstance(percent, bool) or not isinstance(percent, int):
        return f"Battery health must be a whole percentage from 0 to 100, not {percent!r}."
    if not 0 <= percent <= 100:
        return f"Battery health must be between 0 and 100%, not {percent}%."
    return None


def _worst(severities: list[Severity]) -> Severity:
    return min(severities, key=_SEVERITY_RANK.__getitem__)


def _failed(outcome: CheckpointOutcome) -> _Finding:
    return _Finding(outcome.severity, f"{outcome.code} failed ({outcome.severity})", outcome.code)


def _battery_finding(facts: InspectionFacts, outcome: CheckpointOutcome | None) -> _Finding | None:
    floor = battery_floor(facts.promised_grade)
    percent = facts.battery_percent
    below = percent is not None and percent < floor
    failed = outcome is not None and not outcome.passed
    severities = [outcome.severity] if outcome is not None and failed else []
    if facts.battery_swollen:
        detail = f", health {percent}% below the {floor}% floor" if below else ""
        return _Finding(Severity.CRITICAL, f"battery swollen (critical){detail}", BATTERY_CODE)
    if below:
        severity = _worst([Severity.MAJOR, *severities])
        return _Finding(severity, f"battery {percent}% below the {floor}% floor", BATTERY_CODE)
    if outcome is not None and failed:
        return _failed(outcome)
    return None


def _cable_finding(facts: InspectionFacts, outcome: CheckpointOutcome | None) -> _Finding | None:
    failed = outcome is not None and not outcome.passed
    if facts.cable_missing:
        severities = [outcome.severity] if outcome is not None and failed else []
        severity = _worst([Severity.MAJOR, *severities])
        return _Finding(severity, f"charging cable missing ({CABLE_CODE}, {severity})", CABLE_CODE)
    if outcome is not None and failed:
        return _failed(outcome)
    return None


def _cosmetic_findings(
    facts: InspectionFacts, outcomes: list[CheckpointOutcome]
) -> list[_Finding]:
    failed = [o for o in outcomes if not o.passed]
    gap = grades_below(facts.promised_grade, facts.observed_grade)
    if gap <= 0:
        return [_failed(o) for o in failed]
    gap_severity = Severity.MAJOR if gap >= 2 else Severity.MINOR
    gap_reason = (
        f"cosmetic grade {facts.observed_grade} is {_GRADE_COUNT_WORDS[gap]} below the "
        f"promised {facts.promised_grade}"
    )
    if not failed:
        return [_Finding(gap_severity, gap_reason)]
    # The gap upgrades the failed COS checkpoints instead of counting on top of them, and
    # never merges them, so a worse observed grade can only lower the score.
    findings = []
    for outcome in failed:
        severity = _worst([gap_severity, outcome.severity])
        reason = f"{outcome.code} failed ({severity}): {gap_reason}"
        findings.append(_Finding(severity, reason, outcome.code))
    return findings


def _findings(facts: InspectionFacts) -> list[_Finding]:
    scored = [o for o in facts.outcomes if o.code not in DELIVERY_CODES]
    by_code = {o.code: o for o in scored}
    special = {BATTERY_CODE, CABLE_CODE} | COSMETIC_CODES
    findings = [_failed(o) for o in scored if not o.passed and o.code not in special]
    for finding in (
        _battery_finding(facts, by_code.get(BATTERY_CODE)),
        _cable_finding(facts, by_code.get(CABLE_CODE)),
    ):
        if finding is not None:
            findings.append(finding)
    findings.extend(_cosmetic_findings(facts, [o for o in scored if o.code in COSMETIC_CODES]))
    # Worst first, so the first reason explains the verdict; within a severity, in the order
    # the inspector recorded the checkpoints, and findings from facts alone last.
    position = {o.code: i for i, o in enumerate(scored)}
    return sorted(
        findings,
        key=lambda f: (_SEVERITY_RANK[f.severity], position.get(f.code or "", len(scored))),
    )


def compute_score(facts: InspectionFacts) -> Score:
    """Return the verdict, the 0-100 display score and the reasons for one inspection."""
    findings = _findings(facts)
    verdict = _VERDICT_OF[findings[0].severity] if findings else Verdict.CONFORMING
    raw = 100 - sum(SEVERITY_PENALTY[f.severity] for f in findings)
    low, high = VERDICT_BANDS[verdict]
    score = min(max(raw, low), high)
    return Score(verdict=verdict, score=score, reasons=tuple(f.reason for f in findings))


def critical_failures(facts: InspectionFacts) -> tuple[str, ...]:
    """The checkpoint codes whose failure makes the verdict critical (BAT-1 for a swollen
    battery), in the order of the reasons; empty when the verdict is not critical."""
    return tuple(dict.fromkeys(f.code or "" for f in _findings(facts)
                               if f.severity is Severity.CRITICAL))


def compute_score_without_critical(facts: InspectionFacts) -> Score:
    """The verdict and score the other results give when a second inspector rejected the
    critical finding: failed critical checkpoints count as passed and a swollen battery as
    not swollen (its health below the floor, or a failed BAT-1, still count)."""
    outcomes = tuple(CheckpointOutcome(o.code, o.severity, True)
                     if o.severity is Severity.CRITICAL and not o.passed else o
                     for o in facts.outcomes)
    return compute_score(replace(facts, battery_swollen=False, outcomes=outcomes))


def inspection_payload(*, version: int, verdict: str, score: int, observed_grade: str,
                       battery_percent: int | None, battery_cycles: int | None,
                       battery_swollen: bool, cable_missing: bool, notes: str,
                       failed: Sequence[str], photos: Sequence[str],
                       reasons: Sequence[str]) -> dict[str, Any]:
    """What the audit trail keeps of one inspection version (``inspection.submitted`` adds
    the seller; ``inspection.amended`` holds it before and after): its findings, the failed
    checkpoint codes, the photos' SHA-256 and the scoring reasons."""
    return {"version": version, "verdict": verdict, "score": score,
            "observed_grade": observed_grade, "battery_percent": battery_percent,
            "battery_cycles": battery_cycles, "battery_swollen": battery_swollen,
            "cable_missing": cable_missing, "notes": notes, "failed": list(failed),
            "photos": list(photos), "reasons": list(reasons)}
