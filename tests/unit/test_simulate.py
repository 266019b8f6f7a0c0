"""Fleet simulation at the real budget (qc/simulate.py): the world, the rules, the table."""

from __future__ import annotations

import random
from typing import Any

import pytest

from qc import decisions, sampling, sampling_v1, simulate
from qc.simulate import (
    RULES,
    WorldConfig,
    format_comparison,
    run_comparison,
    simulate_run,
)

SMALL = WorldConfig(sellers=150, arrivals=5, months=8, budget=20, seed=3)


def test_same_seed_gives_the_same_result_and_another_seed_another() -> None:
    first = run_comparison(SMALL)
    assert run_comparison(SMALL) == first
    other = run_comparison(WorldConfig(**{**SMALL.__dict__, "seed": 4}))
    assert other.runs["new"][0].orders_by_month != first.runs["new"][0].orders_by_month


def test_runs_use_consecutive_seeds_and_the_same_world_for_every_rule() -> None:
    result = run_comparison(WorldConfig(**{**SMALL.__dict__, "runs": 2}))
    assert set(result.runs) == set(RULES)
    for rules in RULES:
        assert [r.seed for r in result.runs[rules]] == [3, 4]
    world = simulate._world(SMALL, 3)
    assert simulate_run(SMALL, 3, "new", world) == result.runs["new"][0]


def test_the_new_rules_and_the_capped_old_rules_never_exceed_the_budget() -> None:
    config = WorldConfig(sellers=400, arrivals=10, months=12, budget=30, seed=5)
    result = run_comparison(config)
    assert max(max(r.orders_by_month) for r in result.runs["new"]) <= 30
    assert max(max(r.orders_by_month) for r in result.runs["old-capped"]) <= 30
    # As built, the old rules never cut onboarding or tightened orders: they overspend.
    assert max(max(r.orders_by_month) for r in result.runs["old"]) > 30
    assert sum(result.runs["new"][0].orders_by_month) >= 30 * 12 * 0.9


def test_a_perfect_inspector_reports_the_truth_and_a_second_confirms_it() -> None:
    config = WorldConfig(critical_share=0.5, inspector_error=0.0)
    rng = random.Random(1)
    verdicts = [simulate._verdict(rng, 0.2, config, second=True) for _ in range(4000)]
    critical = sum(v == "critical" for v, _ in verdicts)
    defective = sum(v in ("critical", "major") for v, _ in verdicts)
    assert all((v == "critical") == truly for v, truly in verdicts)
    assert abs(defective / 4000 - 0.2) < 0.03
    assert abs(critical / 4000 - 0.1) < 0.02


def test_the_second_inspector_rejects_a_first_inspectors_false_critical() -> None:
    config = WorldConfig(critical_share=1.0, inspector_error=0.5)
    rng = random.Random(2)
    pairs = [simulate._verdict(rng, 0.0, config, second=True) for _ in range(4000)]
    first_only = [simulate._verdict(random.Random(2), 0.0, config, second=False)]
    assert first_only[0][1] is False
    # A clean unit is reported critical half the time; the second inspector confirms that
    # false finding only when it errs too (a quarter of all units).
    false_critical = sum(v == "critical" for v, _ in pairs)
    assert abs(false_critical / 4000 - 0.25) < 0.03
    assert not any(truly for _, truly in pairs)


def test_the_report_has_every_measure_for_every_rule() -> None:
    text = format_comparison(run_comparison(SMALL))
    for needle in ("| measure | old rules | old-capped rules | new rules |",
                   "good sellers wrongly suspended, 12 months",
                   "good sellers suspended for a true critical defect",
                   ">= 20% sellers still selling 12 months after they start or turn bad",
                   "launch sellers at >= 20% still selling at 8 months",
                   "median months to suspension", "defective units sold while bad",
                   "relative to the old rules", "orders used a month, mean",
                   "orders used a month, max over runs", "h in force",
                   "seed 3"):
        assert needle in text


def test_the_threshold_follows_the_budget() -> None:
    tight = simulate_run(WorldConfig(sellers=1000, months=1, budget=100), 1, "new")
    ample = simulate_run(WorldConfig(sellers=100, months=1, budget=100), 1, "new")
    assert tight.h < ample.h == decisions.compute_decision_plan().main.h


def test_uses_the_real_planners_and_decision_code(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"decision": 0, "plan": 0, "old plan": 0}
    real_decision, real_plan, real_old = (decisions.compute_decision, sampling.compute_plan,
                                          sampling_v1.compute_plan)

    def decision(*args: Any, **kwargs: Any) -> decisions.Decision:
        calls["decision"] += 1
        return real_decision(*args, **kwargs)

    def plan(*args: Any, **kwargs: Any) -> sampling.Plan:
        calls["plan"] += 1
        return real_plan(*args, **kwargs)

    def old_plan(*args: Any, **kwargs: Any) -> sampling_v1.Plan:
        calls["old plan"] += 1
        return real_old(*args, **kwargs)

    monkeypatch.setattr(decisions, "compute_decision", decision)
    monkeypatch.setattr(sampling, "compute_plan", plan)
    monkeypatch.setattr(sampling_v1, "compute_plan", old_plan)
    result = run_comparison(SMALL)
    assert calls["plan"] == 8
    assert calls["old plan"] == 16  # as built and capped
    inspected = sum(sum(r[0].orders_by_month) for r in result.runs.values())
    assert calls["decision"] == inspected > 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sellers": 0}, "seller"),
    ({"months": 0}, "month"),
    ({"runs": 0}, "run"),
    ({"budget": -1}, "budget"),
    ({"signal": "loud"}, "signal must be one of"),
    ({"drift": 1.5}, "drift"),
    ({"critical_share": -0.1}, "critical share"),
    ({"inspector_error": 2.0}, "inspector error"),
])
def test_config_is_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorldConfig(**kwargs)


def test_unknown_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="rules must be one of"):
        simulate_run(SMALL, 1, "newest")
