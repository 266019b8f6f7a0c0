"""Marketplace signals (orders, returns, warranty claims per seller and month): import and
the figures shown for a seller.

Services flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from core import audit
from core.clock import utcnow
from core.db import db, lock
from core.models import User
from qc.models import (
    MarketplaceSignal,
)
from qc.signal_csv import MAX_COUNT, SignalRow, parse_signal_csv, signal_key
from qc.signals import (
    WINDOW_MONTHS,
    SignalFigures,
    SignalTable,
    add_months,
    compute_signal_table,
    month_start,
)
from vetting.models import Seller
from vetting.seller_csv import RowError


@dataclass(frozen=True)
class SignalImportOutcome:
    """What a signal import did (months created, replaced, unchanged), or why it did nothing."""

    created: int
    updated: int
    unchanged: int
    errors: tuple[RowError, ...]


def _signal_values(orders: int | None, returns: int, claims: int) -> dict[str, int | None]:
    return {"orders": orders, "returns": returns, "warranty_claims": claims}


def import_signals(data: bytes, filename: str, actor: User | None) -> SignalImportOutcome:
    """Import marketplace signals from CSV, all or none; a known seller-month is replaced."""
    parsed = parse_signal_csv(data)
    if not parsed.errors:
        return import_signal_rows(parsed.rows, filename, actor)
    # Report the database's problems with the valid rows too, so one round fixes the file.
    _, errors = _resolve_signal_rows(parsed.rows)
    merged = sorted([*parsed.errors, *errors], key=lambda e: e.row) if errors else parsed.errors
    return SignalImportOutcome(0, 0, 0, tuple(merged))


def _resolve_signal_rows(
        rows: Sequence[SignalRow]) -> tuple[dict[tuple[int, date], SignalRow], list[RowError]]:
    """Rows by (seller id, month), and the problems: unknown seller, month not begun, counts."""
    this_month = month_start(utcnow().date())
    sellers = {(s.country, s.registration_key): s.id
               for s in db.session.execute(select(Seller)).scalars()} if rows else {}
    errors: list[RowError] = []
    resolved: dict[tuple[int, date], SignalRow] = {}
    for row in rows:
        country, registration, month = signal_key(row.seller_country,
                                                  row.seller_registration_number, row.month)
        seller_id = sellers.get((country, registration))
        if seller_id is None:
            errors.append(RowError(row.row, "seller_registration_number",
                                   f"No seller with registration number "
                                   f"{row.seller_registration_number} in {country}; "
                                   "register the seller first"))
        if month > this_month:
            errors.append(RowError(row.row, "month", f"{month:%Y-%m} has not begun yet; "
                                   "figures can only be imported for past and current months"))
        for column, count in (("orders", row.orders), ("returns", row.returns),
                              ("warranty_claims", row.warranty_claims)):
            if count is not None and not 0 <= count <= MAX_COUNT:
                # Rows that did not come through the CSV parser (an API) are checked here too.
                errors.append(RowError(row.row, column, f"{column} must be a whole number "
                                       f"from 0 to {MAX_COUNT}, not {count}"))
        if seller_id is not None:
            first = resolved.setdefault((seller_id, month), row)
            if first is not row:
                errors.append(RowError(row.row, "month", f"Duplicate of row {first.row}: the "
                                       f"same seller and month {month:%Y-%m} twice"))
    return resolved, errors


def import_signal_rows(rows: Sequence[SignalRow], source: str,
                       actor: User | None) -> SignalImportOutcome:
    """Store already validated signal rows, all or none: sellers must exist, months have begun.

    ``source`` names where the rows came from (a file name, "api") in the rows and the audit
    entry. A seller-month already stored is replaced; the audit entry keeps its old and new
    figures. On errors nothing is written and the outcome lists them by row.
    """
    if not rows:
        return SignalImportOutcome(0, 0, 0, (RowError(0, "", "There are no figures to import."),))
    lock("marketplace_signals")
    resolved, errors = _resolve_signal_rows(rows)
    if errors:
        return SignalImportOutcome(0, 0, 0, tuple(sorted(errors, key=lambda e: e.row)))
    months = {month for _, month in resolved}
    existing = {(s.seller_id, s.month): s for s in db.session.execute(
        select(MarketplaceSignal).where(MarketplaceSignal.month.in_(months))).scalars()}
    now = utcnow()
    created = unchanged = 0
    replaced: list[dict[str, Any]] = []
    for (seller_id, month), row in resolved.items():
        new = _signal_values(row.orders, row.returns, row.warranty_claims)
        stored = existing.get((seller_id, month))
        if stored is None:
            db.session.add(MarketplaceSignal(
                seller_id=seller_id, month=month, orders=row.orders,
                customer_returns=row.returns, warranty_claims=row.warranty_claims,
                imported_at=now, imported_by_id=actor.id if actor else None,
                source=source[:200]))
            created += 1
            continue
        old = _signal_values(stored.orders, stored.customer_returns, stored.warranty_claims)
        if old == new:
            unchanged += 1
            continue
        stored.orders, stored.customer_returns = row.orders, row.returns
        stored.warranty_claims = row.warranty_claims
        stored.imported_at, stored.imported_by_id = now, actor.id if actor else None
        stored.source = source[:200]
        replaced.append({"seller_id": seller_id, "month": f"{month:%Y-%m}", "old": old,
                         "new": new})
    db.session.flush()
    audit.record("signals.imported", "signal_import", source[:64], {
        "source": source, "rows": len(resolved), "created": created, "updated": len(replaced),
        "unchanged": unchanged, "months": sorted(f"{m:%Y-%m}" for m in months),
        "replaced": replaced}, actor)
    return SignalImportOutcome(created, len(replaced), unchanged, ())


def _signal_figures(seller_id: int, first: date, last: date) -> list[SignalFigures]:
    return [SignalFigures(r.month, r.orders, r.customer_returns, r.warranty_claims)
            for r in db.session.execute(
                select(MarketplaceSignal.month, MarketplaceSignal.orders,
                       MarketplaceSignal.customer_returns, MarketplaceSignal.warranty_claims)
                .where(MarketplaceSignal.seller_id == seller_id,
                       MarketplaceSignal.month >= first, MarketplaceSignal.month <= last))]


def seller_signals(seller_id: int, months: int = WINDOW_MONTHS) -> SignalTable:
    """The seller's marketplace figures of the last ``months`` months (one query)."""
    last = month_start(utcnow().date())
    first = add_months(last, -(months - 1))
    return compute_signal_table(_signal_figures(seller_id, first, last), last, months)


def signals_between(seller_id: int, date_from: date, date_to: date) -> SignalTable:
    """The seller's figures of the months a date range touches (for the dossier)."""
    first, last = month_start(date_from), month_start(date_to)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    return compute_signal_table(_signal_figures(seller_id, first, last), last, months)
