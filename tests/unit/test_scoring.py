"""Inspection scoring (qc/scoring.py): verdict rules, boundaries, score bands, bad input."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qc.catalog import CATALOG, Severity, checkpoints_for
from qc.scoring import (
    BATTERY_FLOOR,
    GRADE_ORDER,
    PREMIUM_BATTERY_FLOOR,
    VERDICT_BANDS,
    VERDICT_ORDER,
    CheckpointOutcome,
    Grade,
    InspectionFacts,
    Score,
    Verdict,
    battery_floor,
    check_battery,
    compute_score,
    compute_score_without_critical,
    critical_failures,
    grades_below,
)

PHONE = checkpoints_for("smartphone")
SEVERITY_OF = {spec.code: spec.severity for spec in CATALOG}


def facts(
    promised: str = "excellent",
    observed: str | None = None,
    battery: Any = 90,
    swollen: bool = False,
    cable_missing: bool = False,
    failed: tuple[str, ...] = (),
) -> InspectionFacts:
    """A smartphone inspection with every checkpoint passed except ``failed``."""
    outcomes = tuple(
        CheckpointOutcome(spec.code, spec.severity, passed=spec.code not in failed)
        for spec in PHONE
    )
    return InspectionFacts(
        promised_grade=Grade(promised),
        observed_grade=Grade(observed or promised),
        battery_percent=battery,
        battery_swollen=swollen,
        cable_missing=cable_missing,
        outcomes=outcomes,
    )


# (id, facts, verdict, score, reasons)
CASES = [
    # Nothing wrong.
    ("all-passed", facts(), "conforming", 100, ()),
    ("better-grade-good-promised-premium-seen", facts("good", "premium"), "conforming", 100, ()),
    ("fair-promised-premium-seen", facts("fair", "premium"), "conforming", 100, ()),
    ("same-grade-fair", facts("fair", "fair"), "conforming", 100, ()),
    # Battery floors: 80% (premium 85%), exactly at the floor is fine.
    ("battery-80-excellent", facts(battery=80), "conforming", 100, ()),
    ("battery-79-excellent", facts(battery=79), "major", 69,
     ("battery 79% below the 80% floor",)),
    ("battery-84-excellent", facts(battery=84), "conforming", 100, ()),
    ("battery-79-fair", facts("fair", battery=79), "major", 69,
     ("battery 79% below the 80% floor",)),
    ("battery-85-premium", facts("premium", battery=85), "conforming", 100, ()),
    ("battery-84-premium", facts("premium", battery=84), "major", 69,
     ("battery 84% below the 85% floor",)),
    ("battery-80-premium", facts("premium", battery=80), "major", 69,
     ("battery 80% below the 85% floor",)),
    ("battery-100", facts(battery=100), "conforming", 100, ()),
    ("battery-0", facts(battery=0), "major", 69, ("battery 0% below the 80% floor",)),
    ("battery-none-bat1-passed", facts(battery=None), "conforming", 100, ()),
    ("battery-none-bat1-failed", facts(battery=None, failed=("BAT-1",)), "major", 69,
     ("BAT-1 failed (major)",)),
    ("battery-90-bat1-failed", facts(battery=90, failed=("BAT-1",)), "major", 69,
     ("BAT-1 failed (major)",)),
    ("battery-79-and-bat1-failed-count-once", facts(battery=79, failed=("BAT-1",)), "major", 69,
     ("battery 79% below the 80% floor",)),
    ("battery-swollen", facts(swollen=True), "critical", 39, ("battery swollen (critical)",)),
    ("battery-swollen-unmeasured", facts(battery=None, swollen=True), "critical", 39,
     ("battery swollen (critical)",)),
    ("battery-swollen-and-low", facts(battery=79, swollen=True, failed=("BAT-1",)), "critical",
     39, ("battery swollen (critical), health 79% below the 80% floor",)),
    # Cosmetic grade against the promise.
    ("one-grade-worse", facts("excellent", "good"), "minor", 94,
     ("cosmetic grade good is one grade below the promised excellent",)),
    ("two-grades-worse", facts("premium", "good"), "major", 69,
     ("cosmetic grade good is two grades below the promised premium",)),
    ("three-grades-worse", facts("premium", "fair"), "major", 69,
     ("cosmetic grade fair is three grades below the promised premium",)),
    ("one-grade-worse-cos1-failed", facts("good", "fair", failed=("COS-1",)), "minor", 94,
     ("COS-1 failed (minor): cosmetic grade fair is one grade below the promised good",)),
    ("two-grades-worse-cos1-cos2-failed",
     facts("excellent", "fair", failed=("COS-1", "COS-2")), "major", 60,
     ("COS-1 failed (major): cosmetic grade fair is two grades below the promised excellent",
      "COS-2 failed (major): cosmetic grade fair is two grades below the promised excellent")),
    ("same-grade-cos2-failed", facts(failed=("COS-2",)), "minor", 94,
     ("COS-2 failed (minor)",)),
    ("better-grade-cos1-failed", facts("good", "excellent", failed=("COS-1",)), "minor", 94,
     ("COS-1 failed (minor)",)),
    # Cable: ACC-1 is minor, a missing cable is major, and the two are one finding.
    ("acc1-failed-cable-present", facts(failed=("ACC-1",)), "minor", 94,
     ("ACC-1 failed (minor)",)),
    ("cable-missing", facts(cable_missing=True), "major", 69,
     ("charging cable missing (ACC-1, major)",)),
    ("cable-missing-and-acc1-failed", facts(cable_missing=True, failed=("ACC-1",)), "major", 69,
     ("charging cable missing (ACC-1, major)",)),
    # Delivery does not judge the device.
    ("log1-failed", facts(failed=("LOG-1",)), "conforming", 100, ()),
    ("log1-failed-with-a-minor", facts(failed=("LOG-1", "PRES-1")), "minor", 94,
     ("PRES-1 failed (minor)",)),
    # Combinations: the worst finding decides; the score adds every finding up.
    ("critical-major-minor", facts(failed=("PACK-1", "DISP-1", "LOCK-1")), "critical", 30,
     ("LOCK-1 failed (critical)", "DISP-1 failed (major)", "PACK-1 failed (minor)")),
    ("major-and-minor", facts(failed=("PRES-1", "CAM-1")), "major", 69,
     ("CAM-1 failed (major)", "PRES-1 failed (minor)")),
    ("major-and-one-grade-worse", facts("excellent", "good", failed=("PWR-1",)), "major", 69,
     ("PWR-1 failed (major)",
      "cosmetic grade good is one grade below the promised excellent")),
    ("swollen-beats-two-grades-and-cable",
     facts("premium", "good", swollen=True, cable_missing=True), "critical", 15,
     ("battery swollen (critical)", "charging cable missing (ACC-1, major)",
      "cosmetic grade good is two grades below the promised premium")),
    ("three-majors-from-facts", facts("premium", "good", battery=84, cable_missing=True),
     "major", 40,
     ("battery 84% below the 85% floor", "charging cable missing (ACC-1, major)",
      "cosmetic grade good is two grades below the promised premium")),
    # Score bands: the number never leaves the verdict's band.
    ("four-majors-floor-at-40", facts(failed=("PWR-1", "DISP-1", "CAM-1", "AUD-1")), "major",
     40, ("PWR-1 failed (major)", "DISP-1 failed (major)", "CAM-1 failed (major)",
          "AUD-1 failed (major)")),
    ("two-minors", facts(failed=("PRES-1", "PACK-1")), "minor", 90,
     ("PRES-1 failed (minor)", "PACK-1 failed (minor)")),
    ("five-minor-findings", facts("excellent", "good", failed=("PRES-1", "PACK-1", "ACC-1",
                                                              "COS-1", "COS-2")),
     "minor", 75,
     ("COS-1 failed (minor): cosmetic grade good is one grade below the promised excellent",
      "COS-2 failed (minor): cosmetic grade good is one grade below the promised excellent",
      "PRES-1 failed (minor)", "ACC-1 failed (minor)", "PACK-1 failed (minor)")),
    ("two-criticals", facts(failed=("ID-1", "ID-2")), "critical", 10,
     ("ID-1 failed (critical)", "ID-2 failed (critical)")),
    ("three-criticals-clamped-to-0", facts(failed=("ID-1", "ID-2", "LOCK-1")), "critical", 0,
     ("ID-1 failed (critical)", "ID-2 failed (critical)", "LOCK-1 failed (critical)")),
]


@pytest.mark.parametrize(
    ("inspection", "verdict", "score", "reasons"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_verdict_score_and_reasons(
    inspection: InspectionFacts, verdict: str, score: int, reasons: tuple[str, ...]
) -> None:
    assert compute_score(inspection) == Score(Verdict(verdict), score, reasons)


def _minor_outcomes(count: int) -> tuple[CheckpointOutcome, ...]:
    return tuple(CheckpointOutcome(f"X-{i}", Severity.MINOR, passed=False) for i in range(count))


@pytest.mark.parametrize(
    ("minors", "score"), [(1, 94), (5, 75), (6, 70), (7, 70), (30, 70)],
    ids=["one", "five", "six-at-floor", "seven-clamped", "thirty-clamped"],
)
def test_minor_score_stays_in_its_band(minors: int, score: int) -> None:
    inspection = dataclasses.replace(facts(), outcomes=_minor_outcomes(minors))
    reasons = tuple(f"X-{i} failed (minor)" for i in range(minors))
    assert compute_score(inspection) == Score(Verdict.MINOR, score, reasons)


# Every catalog checkpoint without a rule of its own, failing alone on a smartphone.
PLAIN = [s for s in PHONE if s.code not in {"BAT-1", "ACC-1", "COS-1", "COS-2", "LOG-1"}]
ALONE = {Severity.CRITICAL: ("critical", 39), Severity.MAJOR: ("major", 69),
         Severity.MINOR: ("minor", 94)}


@pytest.mark.parametrize("code", [s.code for s in PLAIN], ids=[s.code for s in PLAIN])
def test_each_checkpoint_failing_alone_gives_its_severity(code: str) -> None:
    severity = SEVERITY_OF[code]
    verdict, score = ALONE[severity]
    expected = Score(Verdict(verdict), score, (f"{code} failed ({severity})",))
    assert compute_score(facts(failed=(code,))) == expected


def test_outcome_severity_is_taken_from_the_outcome_not_the_catalog() -> None:
    # The catalog is seeded into the database and may be tuned there; scoring trusts the row.
    outcome = CheckpointOutcome("PRES-1", Severity.CRITICAL, passed=False)
    result = compute_score(dataclasses.replace(facts(), outcomes=(outcome,)))
    assert result == Score(Verdict.CRITICAL, 39, ("PRES-1 failed (critical)",))


def test_no_outcomes_at_all_is_conforming() -> None:
    assert compute_score(dataclasses.replace(facts(), outcomes=())).verdict == Verdict.CONFORMING


@pytest.mark.parametrize(
    ("promised", "observed", "below"),
    [("premium", "premium", 0), ("premium", "excellent", 1), ("excellent", "fair", 2),
     ("premium", "fair", 3), ("fair", "premium", -3), ("good", "excellent", -1)],
    ids=["equal", "one-worse", "two-worse", "three-worse", "three-better", "one-better"],
)
def test_grades_below(promised: str, observed: str, below: int) -> None:
    assert grades_below(Grade(promised), Grade(observed)) == below


@pytest.mark.parametrize(
    ("grade", "floor"),
    [("premium", PREMIUM_BATTERY_FLOOR), ("excellent", BATTERY_FLOOR),
     ("good", BATTERY_FLOOR), ("fair", BATTERY_FLOOR)],
    ids=["premium", "excellent", "good", "fair"],
)
def test_battery_floor(grade: str, floor: int) -> None:
    assert battery_floor(Grade(grade)) == floor


def test_constants_match_the_domain_reference() -> None:
    assert (BATTERY_FLOOR, PREMIUM_BATTERY_FLOOR) == (80, 85)
    assert [g.value for g in GRADE_ORDER] == ["premium", "excellent", "good", "fair"]
    assert [v.value for v in VERDICT_ORDER] == ["critical", "major", "minor", "conforming"]


def test_verdict_bands_tile_0_to_100_worst_lowest() -> None:
    edges = [VERDICT_BANDS[v] for v in VERDICT_ORDER]
    assert edges == [(0, 39), (40, 69), (70, 94), (95, 100)]
    assert all(high + 1 == low for (_, high), (low, _) in zip(edges, edges[1:], strict=False))


# (id, value, message fragment or None when valid)
BATTERY_VALUES = [
    ("none-not-measured", None, None),
    ("zero", 0, None),
    ("eighty", 80, None),
    ("hundred", 100, None),
    ("minus-3", -3, "between 0 and 100%, not -3%"),
    ("140", 140, "between 0 and 100%, not 140%"),
    ("101", 101, "between 0 and 100%, not 101%"),
    ("nan", math.nan, "not a number"),
    ("abc", "abc", "whole percentage from 0 to 100, not 'abc'"),
    ("numeric-string", "85", "whole percentage from 0 to 100, not '85'"),
    ("float", 79.5, "whole percentage from 0 to 100, not 79.5"),
    ("bool", True, "whole percentage from 0 to 100, not True"),
]


@pytest.mark.parametrize(
    ("value", "message"), [c[1:] for c in BATTERY_VALUES], ids=[c[0] for c in BATTERY_VALUES]
)
def test_check_battery(value: object, message: str | None) -> None:
    problem = check_battery(value)
    if message is None:
        assert problem is None
    else:
        assert problem is not None
        assert message in problem


BAD_BATTERY = [c for c in BATTERY_VALUES if c[2] is not None]


@pytest.mark.parametrize(
    ("value", "message"), [c[1:] for c in BAD_BATTERY], ids=[c[0] for c in BAD_BATTERY]
)
def test_bad_battery_value_is_refused_with_the_same_message(value: object, message: str) -> None:
    with pytest.raises(ValueError, match="Battery health") as excinfo:
        compute_score(facts(battery=value))
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    "codes",
    [("LOCK-1", "LOCK-1"), ("LOG-1", "LOG-1"), ("BAT-1", "PWR-1", "BAT-1", "PWR-1")],
    ids=["critical-twice", "delivery-twice", "two-codes-twice"],
)
def test_duplicate_codes_are_refused(codes: tuple[str, ...]) -> None:
    outcomes = tuple(CheckpointOutcome(c, SEVERITY_OF[c], passed=True) for c in codes)
    duplicated = ", ".join(sorted(set(codes)))
    with pytest.raises(ValueError, match=f"duplicated: {duplicated}$"):
        compute_score(dataclasses.replace(facts(), outcomes=outcomes))


@pytest.mark.parametrize(
    ("field", "value"),
    [("promised_grade", "mint"), ("observed_grade", "A+")],
    ids=["promised", "observed"],
)
def test_unknown_grade_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=value):
        dataclasses.replace(facts(), **{field: value})  # type: ignore[arg-type]


def test_stored_strings_become_enums() -> None:
    inspection = InspectionFacts(
        promised_grade="premium",  # type: ignore[arg-type]
        observed_grade="good",  # type: ignore[arg-type]
        battery_percent=None,
        battery_swollen=False,
        cable_missing=False,
        outcomes=(CheckpointOutcome("PWR-1", "major", passed=False),),  # type: ignore[arg-type]
    )
    assert inspection.promised_grade is Grade.PREMIUM
    assert inspection.outcomes[0].severity is Severity.MAJOR
    assert compute_score(inspection).verdict == Verdict.MAJOR


@pytest.mark.parametrize(
    ("code", "severity"), [("", "major"), ("  ", "major"), ("PWR-1", "severe")],
    ids=["empty-code", "blank-code", "unknown-severity"],
)
def test_bad_outcome_is_refused(code: str, severity: str) -> None:
    with pytest.raises(ValueError, match="code|severe"):
        CheckpointOutcome(code, severity, passed=False)  # type: ignore[arg-type]


def test_a_list_of_outcomes_is_copied_not_kept() -> None:
    outcomes = [CheckpointOutcome("PWR-1", Severity.MAJOR, passed=True)]
    inspection = dataclasses.replace(facts(), outcomes=outcomes)  # type: ignore[arg-type]
    outcomes.append(CheckpointOutcome("DISP-1", Severity.MAJOR, passed=False))
    assert compute_score(inspection).verdict == Verdict.CONFORMING
    assert len(outcomes) == 2

# --- properties -----------------------------------------------------------------------------

# Catalog codes (so BAT-1, ACC-1, COS-*, LOG-1 are exercised) plus codes the catalog lacks.
CODE_POOL = [spec.code for spec in CATALOG] + ["X-1", "X-2", "X-3"]

outcome_lists = st.lists(
    st.builds(CheckpointOutcome, st.sampled_from(CODE_POOL), st.sampled_from(Severity),
              st.booleans()),
    unique_by=lambda o: o.code,
    max_size=12,
)
inspections = st.builds(
    InspectionFacts,
    promised_grade=st.sampled_from(Grade),
    observed_grade=st.sampled_from(Grade),
    battery_percent=st.none() | st.integers(0, 100),
    battery_swollen=st.booleans(),
    cable_missing=st.booleans(),
    outcomes=outcome_lists.map(tuple),
)


def _no_better(before: Score, after: Score) -> bool:
    """``after`` is at least as bad as ``before`` in verdict and in score."""
    worse_or_same = VERDICT_ORDER.index(after.verdict) <= VERDICT_ORDER.index(before.verdict)
    return worse_or_same and after.score <= before.score


@given(inspections)
def test_score_is_always_inside_its_verdicts_band(inspection: InspectionFacts) -> None:
    result = compute_score(inspection)
    low, high = VERDICT_BANDS[result.verdict]
    assert low <= result.score <= high
    assert (result.verdict == Verdict.CONFORMING) == (result.reasons == ())


@given(inspections, st.sampled_from(Severity), st.data())
def test_adding_a_failed_checkpoint_never_helps(
    inspection: InspectionFacts, severity: Severity, data: st.DataObject
) -> None:
    used = {o.code for o in inspection.outcomes}
    code = data.draw(st.sampled_from([c for c in CODE_POOL + ["NEW-1"] if c not in used]))
    worse = dataclasses.replace(
        inspection, outcomes=(*inspection.outcomes, CheckpointOutcome(code, severity, False))
    )
    assert _no_better(compute_score(inspection), compute_score(worse))


@given(inspections, st.data())
def test_failing_a_passed_checkpoint_never_helps(
    inspection: InspectionFacts, data: st.DataObject
) -> None:
    passed = [i for i, o in enumerate(inspection.outcomes) if o.passed]
    if not passed:
        return
    index = data.draw(st.sampled_from(passed))
    outcomes = list(inspection.outcomes)
    outcomes[index] = dataclasses.replace(outcomes[index], passed=False)
    worse = dataclasses.replace(inspection, outcomes=tuple(outcomes))
    assert _no_better(compute_score(inspection), compute_score(worse))


@given(inspections, st.data())
def test_a_worse_unit_never_scores_better(inspection: InspectionFacts, data: st.DataObject) -> None:
    worsen = data.draw(st.sampled_from(["swollen", "cable", "grade", "battery"]))
    if worsen == "swollen":
        worse = dataclasses.replace(inspection, battery_swollen=True)
    elif worsen == "cable":
        worse = dataclasses.replace(inspection, cable_missing=True)
    elif worsen == "grade":
        index = GRADE_ORDER.index(inspection.observed_grade)
        worse = dataclasses.replace(inspection, observed_grade=data.draw(
            st.sampled_from(GRADE_ORDER[index:])))
    else:
        current = 100 if inspection.battery_percent is None else inspection.battery_percent
        worse = dataclasses.replace(inspection, battery_percent=data.draw(st.integers(0, current)))
    assert _no_better(compute_score(inspection), compute_score(worse))


@given(inspections, st.booleans())
def test_delivery_outcome_never_changes_the_result(
    inspection: InspectionFacts, passed: bool
) -> None:
    others = tuple(o for o in inspection.outcomes if o.code != "LOG-1")
    without = dataclasses.replace(inspection, outcomes=others)
    with_log = dataclasses.replace(
        inspection, outcomes=(*others, CheckpointOutcome("LOG-1", Severity.CRITICAL, passed))
    )
    assert compute_score(with_log) == compute_score(without)


# --------------------------------------------------------------------------- rejected findings

def test_critical_failures_name_the_checkpoints_that_make_the_verdict_critical() -> None:
    assert critical_failures(facts()) == ()
    assert critical_failures(facts(failed=("DISP-1",))) == ()
    assert critical_failures(facts(failed=("LOCK-1", "DISP-1", "ID-2"))) == ("ID-2", "LOCK-1")
    assert critical_failures(facts(swollen=True)) == ("BAT-1",)


@pytest.mark.parametrize(("found", "verdict", "score"), [
    (facts(failed=("LOCK-1",)), "conforming", 100),
    (facts(failed=("LOCK-1", "DISP-1")), "major", 69),
    (facts(failed=("LOCK-1",), observed="good"), "minor", 94),
    (facts(swollen=True), "conforming", 100),
    (facts(swollen=True, battery=70), "major", 69),  # the health below the floor still counts
])
def test_a_rejected_critical_finding_is_scored_on_the_other_results(
        found: InspectionFacts, verdict: str, score: int) -> None:
    assert compute_score(found).verdict == "critical"
    rescored = compute_score_without_critical(found)
    assert (rescored.verdict.value, rescored.score) == (verdict, score)
    assert not any("critical" in reason for reason in rescored.reasons)
    assert compute_score(found).verdict == "critical"  # the recorded facts are unchanged
