"""The reviewers' table of marketplace signals (qc/signals.py)."""

from __future__ import annotations

from datetime import date

import pytest

from qc.signals import SignalFigures, add_months, compute_signal_table, month_start


def test_add_months_crosses_years() -> None:
    assert add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert add_months(date(2026, 11, 1), -11) == date(2025, 12, 1)
    assert add_months(date(2026, 12, 1), 1) == date(2027, 1, 1)
    assert month_start(date(2026, 2, 28)) == date(2026, 2, 1)


def test_twelve_months_newest_first_with_rates_and_total() -> None:
    figures = [
        SignalFigures(date(2026, 10, 1), 200, 10, 4),
        SignalFigures(date(2026, 11, 1), 100, 5, 1),
        SignalFigures(date(2025, 11, 1), 999, 99, 99),  # thirteen months back: left out
        SignalFigures(date(2025, 12, 1), 300, 3, 0),
        SignalFigures(date(2026, 12, 1), 50, 50, 50),  # after today's month: left out
    ]
    table = compute_signal_table(figures, date(2026, 11, 26))
    assert (table.first_month, table.last_month) == (date(2025, 12, 1), date(2026, 11, 1))
    assert [line.month for line in table.lines] == [date(2026, 11, 1), date(2026, 10, 1),
                                                   date(2025, 12, 1)]
    first = table.lines[0]
    assert (first.return_rate, first.claim_rate) == (0.05, 0.01)
    assert table.total is not None
    assert (table.total.orders, table.total.returns, table.total.warranty_claims) == (600, 18, 5)
    assert table.total.return_rate == pytest.approx(18 / 600)
    assert table.months_without_orders == 0


def test_months_without_orders_have_no_rate_and_stay_out_of_the_total_rates() -> None:
    table = compute_signal_table([SignalFigures(date(2026, 5, 1), None, 7, 1),
                                  SignalFigures(date(2026, 4, 1), 100, 10, 2),
                                  SignalFigures(date(2026, 3, 1), 0, 2, 0)], date(2026, 5, 3))
    assert [(line.return_rate, line.claim_rate) for line in table.lines] == [
        (None, None), (0.1, 0.02), (None, None)]
    assert table.total is not None
    assert table.total.returns == 19
    assert table.total.orders == 100
    assert (table.total.return_rate, table.total.claim_rate) == (0.12, 0.02)
    assert table.months_without_orders == 1


def test_no_figures_no_lines_and_no_total() -> None:
    table = compute_signal_table([], date(2026, 1, 15), months=3)
    assert table.lines == ()
    assert table.total is None
    assert table.first_month == date(2025, 11, 1)
    with pytest.raises(ValueError, match="at least 1"):
        compute_signal_table([], date(2026, 1, 15), months=0)
