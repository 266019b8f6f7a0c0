"""Fleet simulation (qc/simulate.py): determinism, extremes, report, and use of the real code."""

from __future__ import annotations

import random
from typing import Any

import pytest

from qc import decisions, sampling
from qc.simulate import (
    RATE_MIXTURE,
    SimulationConfig,
    draw_defect_rate,
    format_report,
    run_simulation,
)
from vetting.labels import SamplingState

ONBOARDING_PER_YEAR = 12 * sampling.DEFAULT_RATES[SamplingState.ONBOARDING]


def test_same_seed_gives_the_same_result() -> None:
    config = SimulationConfig(sellers=60, months=14, seed=7, report_months=(6, 14))
    first, second = run_simulation(config), run_simulation(config)
    assert first == second
    assert format_report(first) == format_report(second)


def test_another_seed_gives_another_fleet() -> None:
    one = run_simulation(SimulationConfig(sellers=60, months=6, seed=1))
    two = run_simulation(SimulationConfig(sellers=60, months=6, seed=2))
    assert one.runs[0].rates != two.runs[0].rates


def test_runs_use_consecutive_seeds() -> None:
    result = run_simulation(SimulationConfig(sellers=20, months=3, seed=5, runs=3))
    assert [run.seed for run in result.runs] == [5, 6, 7]
    alone = run_simulation(SimulationConfig(sellers=20, months=3, seed=6))
    assert result.runs[1] == alone.runs[0]


def test_always_defective_fleet_is_suspended_within_a_few_months() -> None:
    result = run_simulation(SimulationConfig(sellers=25, months=6, seed=3, fixed_rate=1.0))
    run = result.runs[0]
    months = run.suspended_month
    assert all(m is not None and m <= 3 for m in months)
    # Two onboarding orders, then tightened: four defects in a row reach h in month 2.
    assert set(months) == {2}
    snap = run.snapshots[-1]
    assert snap.bad_active == snap.worse_active == 0
    assert snap.median_months_to_suspend == 2.0
    assert run.orders_by_month[2:] == (0,) * 4  # nobody is planned once suspended


def test_defect_free_fleet_is_never_suspended_and_moves_to_reduced_sampling() -> None:
    config = SimulationConfig(sellers=80, months=24, seed=11, report_months=(12, 24),
                              fixed_rate=0.0)
    run = run_simulation(config).runs[0]
    assert all(m is None for m in run.suspended_month)
    first_year, second_year = run.snapshots
    assert first_year.good_suspended == second_year.good_suspended == 0
    # Onboarding (2 a month) for 7 months, then reduced (1 in 2 months).
    assert run.orders_by_month[0] == 2 * 80
    assert first_year.orders_per_seller_year < ONBOARDING_PER_YEAR
    assert second_year.orders_per_seller_last_year < ONBOARDING_PER_YEAR / 3
    assert second_year.orders_per_seller_last_year == pytest.approx(6.0, abs=1.5)


def test_good_fleet_rarely_suspended_bad_fleet_mostly_suspended() -> None:
    good = run_simulation(SimulationConfig(sellers=200, months=12, seed=2, fixed_rate=0.03))
    bad = run_simulation(SimulationConfig(sellers=200, months=12, seed=2, fixed_rate=0.30))
    assert good.runs[0].snapshots[-1].good_suspended <= 4
    assert bad.runs[0].snapshots[-1].worse_active_pct is not None
    assert bad.runs[0].snapshots[-1].worse_active_pct < 10.0


def test_critical_verdicts_suspend_at_once_and_are_reported_by_cause() -> None:
    config = SimulationConfig(sellers=100, months=12, seed=4, fixed_rate=0.05,
                              critical_share=1.0)
    result = run_simulation(config)
    snap = result.runs[0].snapshots[-1]
    assert snap.good_suspended > 0
    assert snap.good_suspended_critical == snap.good_suspended
    assert "by a critical verdict" in format_report(result)


def test_critical_share_does_not_change_which_orders_are_defective() -> None:
    # Per-seller verdict streams, one uniform per order whatever the share: a seller's history
    # is the same until its first critical verdict, so criticals only ever suspend earlier.
    base = run_simulation(SimulationConfig(sellers=50, months=12, seed=9))
    crit = run_simulation(SimulationConfig(sellers=50, months=12, seed=9, critical_share=0.5))
    assert base.runs[0].rates == crit.runs[0].rates
    for before, after in zip(base.runs[0].suspended_month, crit.runs[0].suspended_month,
                             strict=True):
        if before is not None:
            assert after is not None
            assert after <= before


def test_defect_rate_mixture() -> None:
    rng = random.Random(0)
    rates = [draw_defect_rate(rng) for _ in range(20000)]
    assert all(0.02 <= p <= 0.30 for p in rates)
    for share, low, high in RATE_MIXTURE:
        observed = sum(1 for p in rates if low <= p < high) / len(rates)
        assert observed == pytest.approx(share, abs=0.015)


def test_report_has_the_required_lines() -> None:
    result = run_simulation(SimulationConfig(sellers=40, months=36, seed=1))
    report = format_report(result)
    for month in (12, 36):
        assert f"After {month} months:" in report
    for text in ("good sellers (p <= 5%) wrongly suspended:",
                 "sellers with p >= 15% not yet suspended:",
                 "sellers with p >= 20% not yet suspended:",
                 "median months to suspend a bad seller (p >= 15%):",
                 "inspected orders per seller per year:"):
        assert report.count(text) == 2


def test_report_of_several_runs_gives_means() -> None:
    result = run_simulation(SimulationConfig(sellers=30, months=12, seed=1, runs=2))
    report = format_report(result)
    assert "seeds 1..2 (2 runs)" in report
    assert "After 12 months (means of 2 runs):" in report
    assert "good sellers (p <= 5%) wrongly suspended:" in report


def test_report_months_beyond_the_simulation_are_left_out_and_the_end_added() -> None:
    config = SimulationConfig(sellers=10, months=18, seed=1)
    assert config.snapshot_months == (12, 18)
    report = format_report(run_simulation(config))
    assert "After 12 months:" in report
    assert "After 18 months:" in report
    assert "After 36 months" not in report


def test_uses_the_real_decision_and_sampling_code(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"decision": 0, "plan": 0, "state": 0}
    real_decision = decisions.compute_decision
    real_plan = sampling.compute_plan
    real_state = decisions.compute_sampling_state

    def decision(*args: Any, **kwargs: Any) -> decisions.Decision:
        calls["decision"] += 1
        return real_decision(*args, **kwargs)

    def plan(*args: Any, **kwargs: Any) -> sampling.Plan:
        calls["plan"] += 1
        return real_plan(*args, **kwargs)

    def state(*args: Any, **kwargs: Any) -> SamplingState | None:
        calls["state"] += 1
        return real_state(*args, **kwargs)

    monkeypatch.setattr(decisions, "compute_decision", decision)
    monkeypatch.setattr(sampling, "compute_plan", plan)
    monkeypatch.setattr(decisions, "compute_sampling_state", state)
    result = run_simulation(SimulationConfig(sellers=30, months=5, seed=2, runs=2))
    assert calls["plan"] == 5 * 2  # one plan per month for the whole fleet
    inspected = sum(sum(run.orders_by_month) for run in result.runs)
    # Every inspected order went through the real decision (which itself calls
    # compute_sampling_state once), plus one call per run for the starting state.
    assert inspected > 0
    assert calls["decision"] == inspected
    assert calls["state"] == inspected + 2


def test_planner_failure_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> sampling.Plan:
        raise RuntimeError("planner called")

    monkeypatch.setattr(sampling, "compute_plan", broken)
    with pytest.raises(RuntimeError, match="planner called"):
        run_simulation(SimulationConfig(sellers=3, months=1, seed=1))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sellers": 0}, "seller"),
    ({"months": 0}, "month"),
    ({"runs": 0}, "run"),
    ({"report_months": (0,)}, "Report months"),
    ({"critical_share": 1.5}, "critical share"),
    ({"fixed_rate": -0.1}, "fixed defect rate"),
])
def test_config_is_checked(kwargs: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"sellers": 10, "months": 12, "seed": 1}
    with pytest.raises(ValueError, match=message):
        SimulationConfig(**{**base, **kwargs})
