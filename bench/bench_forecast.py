"""Time the expected-wrongful-suspensions forecast (qc/forecast.py) for a 3,000-seller fleet.

    .venv/bin/python bench/bench_forecast.py [--sellers 3000] [--seed 7] [--repeat 5]

Pure computation, no database. Each seller gets the CUSUM S of a random history of 0 to 60
orders at p0 (so S takes the values a real fleet has) and a sampling state. Three cases:

1. the plan page today: a rate per sampling state, tightened from S >= 1 (one dynamic program
   per distinct rate: a handful);
2. the same sellers one call each, without the grouping (what a cache by (S, r) would cost if
   every S were distinct);
3. the allocation's worst case: every seller a different planned rate (one dynamic program per
   seller).

Prints the best of --repeat runs for each; bench/FORECAST.md records a run with its machine.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qc.forecast import MonthlyRate, expected_suspensions, suspension_probability  # noqa: E402
from qc.stats import DEFAULT_PLAN, compute_increments, cusum_step  # noqa: E402

STATE_RATES = {"onboarding": 2.0, "normal": 1.0, "reduced": 0.5, "tightened": 4.0}


def fleet(n: int, seed: int) -> list[tuple[float, str]]:
    """(S, sampling state) of `n` sellers with random histories at p0."""
    rng = random.Random(seed)
    inc = compute_increments(DEFAULT_PLAN)
    out = []
    for _ in range(n):
        s, run = 0.0, 0
        for _ in range(rng.randrange(61)):
            defective = rng.random() < DEFAULT_PLAN.p0
            s = cusum_step(s, defective, inc)
            run = 0 if defective else run + 1
        s = min(s, inc.h / 2) if s >= inc.h else s  # suspended ones are out; keep them in force
        state = ("tightened" if s >= 1.0 else "reduced" if run >= 14
                 else rng.choice(("onboarding", "normal")))
        out.append((s, state))
    return out


def best(repeat: int, work: Callable[[], float]) -> tuple[float, float]:
    """The fastest of `repeat` runs, in seconds, and the value computed."""
    times, value = [], 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        value = work()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sellers", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    inc = compute_increments(DEFAULT_PLAN)
    p0 = DEFAULT_PLAN.p0
    sellers = fleet(args.sellers, args.seed)
    by_state = [(s, MonthlyRate(STATE_RATES[state], tightened=4.0, tighten_at=1.0))
                for s, state in sellers]
    rng = random.Random(args.seed + 1)
    distinct = [(s, rng.uniform(0.01, 8.0)) for s, _ in sellers]

    grouped, total = best(args.repeat, lambda: expected_suspensions(by_state, p0, inc))
    one_by_one, check = best(1, lambda: sum(suspension_probability(p0, r, inc, s0=s)
                                            for s, r in by_state))
    worst, _ = best(1, lambda: expected_suspensions(distinct, p0, inc))
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{args.sellers} sellers, seed {args.seed}")
    print(f"expected wrongful suspensions in 12 months at p0: {total:.4f} "
          f"(one call per seller: {check:.4f})")
    print(f"1. rate per sampling state, grouped:        {grouped * 1000:8.1f} ms")
    print(f"2. one call per seller, no grouping:        {one_by_one * 1000:8.1f} ms")
    print(f"3. every seller its own rate (0.01 to 8):   {worst * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
