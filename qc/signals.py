"""Marketplace signals as reviewers read them: monthly figures with return and claim rates.

The marketplace's counts of customer returns and warranty claims are information for
reviewers beside the test-order statistics; no label decision uses them. A rate is the
month's returns (or claims) per unit sold in that month, so it is only defined when the
marketplace reported the month's orders and they are more than zero; it may exceed 100 %,
because a return often concerns a unit sold in an earlier month.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

__all__ = [
    "WINDOW_MONTHS",
    "SignalFigures",
    "SignalLine",
    "SignalTable",
    "add_months",
    "compute_signal_table",
    "month_start",
]

WINDOW_MONTHS = 12


@dataclass(frozen=True, slots=True)
class SignalFigures:
    """One seller's reported counts for one month (``month`` is the month's first day)."""

    month: date
    orders: int | None
    returns: int
    warranty_claims: int


@dataclass(frozen=True, slots=True)
class SignalLine:
    """One line of the table: a month (or the total, month None) with its rates."""

    month: date | None
    orders: int | None
    returns: int
    warranty_claims: int
    return_rate: float | None
    claim_rate: float | None


@dataclass(frozen=True, slots=True)
class SignalTable:
    """The months with figures, newest first, their total, and how many lack orders."""

    first_month: date
    last_month: date
    lines: tuple[SignalLine, ...]
    total: SignalLine | None
    months_without_orders: int = 0


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months after ``month``'s (negative: before)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _rate(count: int, orders: int | None) -> float | None:
    return count / orders if orders else None


def _line(month: date | None, orders: int | None, returns: int, claims: int) -> SignalLine:
    return SignalLine(month, orders, returns, claims, _rate(returns, orders),
                      _rate(claims, orders))


def compute_signal_table(
    figures: Iterable[SignalFigures], today: date, months: int = WINDOW_MONTHS
) -> SignalTable:
    """The figures of the ``months`` calendar months up to ``today``'s, newest first.

    Months without figures are left out. The total adds the months' counts; its rates use
    only the months whose orders are known, so a month without orders does not lower them.
    With no figures at all the table has no lines and no total.
    """
    if months < 1:
        raise ValueError(f"months must be at least 1, not {months}")
    last = month_start(today)
    first = add_months(last, -(months - 1))
    chosen = sorted((f for f in figures if first <= f.month <= last),
                    key=lambda f: f.month, reverse=True)
    lines = tuple(_line(f.month, f.orders, f.returns, f.warranty_claims) for f in chosen)
    if not chosen:
        return SignalTable(first, last, (), None)
    known = [f for f in chosen if f.orders is not None]
    orders = sum(f.orders or 0 for f in known) if known else None
    total = SignalLine(
        None, orders, sum(f.returns for f in chosen), sum(f.warranty_claims for f in chosen),
        _rate(sum(f.returns for f in known), orders),
        _rate(sum(f.warranty_claims for f in known), orders),
    )
    return SignalTable(first, last, lines, total, len(chosen) - len(known))
