"""The anniversary rule (qc/decisions.py compute_renewal): a label renews conditionally after a
suspension in its year, or when too few orders were inspected because of the seller; never for
the sampling the plan chose."""

from __future__ import annotations

from datetime import date

import pytest

from qc.decisions import (
    RENEWAL_MIN_INSPECTED,
    LabelYear,
    compute_renewal,
    compute_short_on_seller_side,
)

START, END = date(2026, 1, 10), date(2027, 1, 10)


def renew(suspended: int = 0, planned: int = 0, inspected: int = 0, seller_side: int = 0,
          ) -> tuple[bool, str]:
    result = compute_renewal(LabelYear(suspended=suspended, planned=planned,
                                       inspected=inspected, seller_side=seller_side),
                             START, END)
    return result.full, result.reason


def test_six_inspected_orders_and_no_suspension_renew_fully() -> None:
    assert renew(planned=7, inspected=6) == (True, (
        "Renewed: not suspended from 2026-01-10 to 2027-01-10; 6 test orders inspected "
        "(at least 6 needed)."))
    assert RENEWAL_MIN_INSPECTED == 6


def test_fewer_orders_because_the_plan_chose_fewer_renew_fully() -> None:
    # a reduced seller at 0.5 orders a month: 3 planned, 3 inspected
    assert renew(planned=3, inspected=3) == (True, (
        "Renewed: not suspended from 2026-01-10 to 2027-01-10; 3 test orders inspected — "
        "fewer than 6 because the plan chose fewer (3 planned), which does not count against "
        "the seller."))
    # nothing planned at all; and every planned order failing on the seller's side is still
    # fewer than six planned
    assert renew()[0]
    assert "0 test orders inspected" in renew()[1]
    full, reason = renew(planned=5, inspected=0, seller_side=5)
    assert full
    assert "1 test order inspected" in renew(planned=1, inspected=1)[1]
    assert "(5 planned)" in reason


def test_a_shortfall_that_is_not_the_sellers_doing_renews_fully() -> None:
    full, reason = renew(planned=8, inspected=3, seller_side=2)  # 3 more lost in transit
    assert full
    assert reason == (
        "Renewed: not suspended from 2026-01-10 to 2027-01-10; 3 test orders inspected of 8 "
        "planned — fewer than 6, but not because of the seller (2 cancelled or lost on the "
        "seller's side), which does not count against the seller.")
    assert "conditionally" not in reason


def test_a_shortfall_the_seller_caused_renews_conditionally() -> None:
    assert renew(planned=6, inspected=2, seller_side=4) == (False, (
        "Renewed conditionally (only 2 test orders inspected of 6 planned, 4 cancelled or lost "
        "on the seller's side (6 needed)): the seller returns to onboarding-rate sampling."))


@pytest.mark.parametrize(("planned", "inspected", "seller_side", "short"), [
    (6, 5, 1, True),  # the one order the seller withdrew made the difference
    (6, 5, 0, False),
    (12, 4, 2, True),
    (12, 4, 1, False),
    (5, 0, 5, False),  # the plan chose fewer than six
    (6, 6, 0, False),
    (9, 7, 2, False),  # enough inspected anyway
])
def test_the_seller_side_shortfall(planned: int, inspected: int, seller_side: int,
                                   short: bool) -> None:
    year = LabelYear(suspended=0, planned=planned, inspected=inspected,
                     seller_side=seller_side)
    assert compute_short_on_seller_side(year) is short
    assert renew(planned=planned, inspected=inspected, seller_side=seller_side)[0] is not short


@pytest.mark.parametrize(("suspended", "words"), [(1, "once"), (2, "twice"), (3, "3 times")])
def test_a_suspension_in_the_year_renews_conditionally(suspended: int, words: str) -> None:
    assert renew(suspended=suspended, planned=9, inspected=9) == (False, (
        f"Renewed conditionally (suspended {words} from 2026-01-10 to 2027-01-10): the seller "
        f"returns to onboarding-rate sampling."))


def test_both_reasons_are_given() -> None:
    full, reason = renew(suspended=1, planned=6, inspected=1, seller_side=5)
    assert not full
    assert reason.startswith("Renewed conditionally (suspended once from 2026-01-10 to "
                             "2027-01-10; only 1 test order inspected of 6 planned, 5 cancelled")
    assert "time(s)" not in reason
    # a suspended seller with a shortfall it did not cause is told only of the suspension
    assert "only" not in renew(suspended=2, planned=8, inspected=2)[1]


@pytest.mark.parametrize(("counts", "message"), [
    ({"suspended": -1}, "suspended must be a whole number, at least 0"),
    ({"planned": 1.5}, "planned must be a whole number"),
    ({"inspected": True}, "inspected must be a whole number"),
    ({"seller_side": 3, "planned": 2}, "More orders failed on the seller's side than were "
                                       "planned"),
])
def test_bad_counts_are_refused(counts: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"suspended": 0, "planned": 0, "inspected": 0,
                                 "seller_side": 0, **counts}
    with pytest.raises(ValueError, match=message):
        LabelYear(**values)  # type: ignore[arg-type]
