"""Buyer identities for mystery test orders (pure): which identity places which order.

A seller who recognises the buyer serves that order perfectly, so the planner draws each
order's buyer identity at random from the pool of active identities, from the plan's committed
seed (DESIGN.md section 3), and avoids giving a seller an identity it has seen in the last 12
months. ``assign_buyers`` is that rule; the caller (the planner) passes the plan's orders, the
active pool, each seller's recent identities and its seeded draw.

The rule, precisely enough to re-derive it in another language
--------------------------------------------------------------
Inputs: the period key ``P`` ("2026-07"); the needs, one per kept order of the plan in the
plan's final order, each a seller id ``S`` and that order's 0-based index ``i`` among the
seller's orders of the period; the active buyer identities (id and name); ``recent[S]``, the
ids of the identities used for seller ``S``'s test orders in the 12 months before the period
(a seller missing from ``recent`` has none); and ``draw_below(label, n)``, the plan's uniform
integer in ``[0, n)`` for a label. The planner passes ``qc.sampling``'s draw bound to the
plan's seed: ``(x * n) >> 64`` where ``x`` is the first 8 bytes, big-endian, of
``HMAC-SHA256(key=seed, message=UTF-8(label))``.

1. ``pool`` = the identities sorted by ascending id.
2. For each seller, ``given[S]`` starts empty (the identities given to ``S`` this period).
3. For each need, in the order given (sellers do not affect each other, only the order of a
   seller's own needs matters):

   - ``eligible`` = the identities of ``pool`` (in pool order) that are neither in
     ``recent[S]`` nor in ``given[S]``; ``reused`` = false;
   - if ``eligible`` is empty: ``eligible`` = the identities of ``pool`` not in ``given[S]``
     and ``reused`` = true; if that is empty too, ``eligible`` = ``pool`` (``reused`` = true);
   - the identity is ``eligible[draw_below(f"{P}|{S}|{i}|buyer", len(eligible))]`` (``S``
     and ``i`` in decimal), and it is added to ``given[S]``.

   A seller therefore gets an identity it saw in the last 12 months only when every identity
   of the pool was either seen or already given to it this period, and the same identity
   twice in one period only when the pool has fewer identities than the seller has orders.

Warnings, in this order (no warnings when nothing is reused):

- the pool: with ``need[S]`` = the seller's number of needs plus the number of identities of
  ``pool`` in ``recent[S]``, when ``len(pool)`` is below the largest ``need[S]``, one warning
  naming the seller with the largest need (the lowest seller id on a tie); this happens
  exactly when some seller gets a ``reused`` identity;
- then, by ascending seller id, one warning per seller with a ``reused`` identity: how many
  identities of the pool were fresh for it (not in ``recent[S]``), for how many orders, how
  many orders reuse an identity of the last 12 months and how many one already given to it
  this period.

Refused with ``ValueError``: an empty pool (nothing can be planned without a buyer, whether
or not the period has orders), ids that are not distinct, blank names, a blank period key, a
negative index, a (seller, index) pair given twice, and a draw outside ``[0, n)``.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out, inputs never
mutated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "EMPTY_POOL",
    "BuyerAssignment",
    "BuyerInput",
    "BuyerNeed",
    "assign_buyers",
]

EMPTY_POOL = "No active buyer identity: add one on the Buyer identities page before planning"


@dataclass(frozen=True)
class BuyerInput:
    """An active buyer identity as the planner sees it."""

    buyer_id: int
    name: str


@dataclass(frozen=True)
class BuyerNeed:
    """One kept order needing a buyer, in the plan's final order."""

    seller_id: int
    index: int  # 0-based order index of this seller in the period (for draw labels)


@dataclass(frozen=True)
class BuyerAssignment:
    """The identity that places one order."""

    buyer_id: int
    name: str
    reused: bool  # True when no fresh identity was left for this seller


def _check(period_key: str, needs: Sequence[BuyerNeed], buyers: Sequence[BuyerInput]) -> None:
    if not buyers:
        raise ValueError(EMPTY_POOL)
    if not period_key.strip():
        raise ValueError("The period key must not be blank")
    seen: set[int] = set()
    for buyer in buyers:
        if buyer.buyer_id in seen:
            raise ValueError(f"Buyer identity ids must be distinct: {buyer.buyer_id} is given "
                             "more than once")
        seen.add(buyer.buyer_id)
        if not buyer.name.strip():
            raise ValueError(f"Buyer identity {buyer.buyer_id} has a blank name")
    labels: set[tuple[int, int]] = set()
    for need in needs:
        if need.index < 0:
            raise ValueError(f"Seller {need.seller_id}: the order index must be 0 or more, "
                             f"not {need.index}")
        if (need.seller_id, need.index) in labels:
            raise ValueError(f"Seller {need.seller_id}: order index {need.index} is given more "
                             "than once")
        labels.add((need.seller_id, need.index))


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _seller_warning(seller_id: int, fresh: int, orders: int, from_recent: int,
                    from_period: int) -> str:
    wanted = _plural(orders, "order", "orders")
    if fresh == 0:
        head = f"Seller {seller_id}: no buyer identity is fresh for {wanted}"
    else:
        identities = "buyer identity is" if fresh == 1 else "buyer identities are"
        head = f"Seller {seller_id}: only {fresh} {identities} fresh for {wanted}"
    parts = [head]
    if from_recent:
        parts.append(f"{_plural(from_recent, 'reuses', 'reuse')} an identity used in the last "
                     "12 months")
    if from_period:
        parts.append(f"{_plural(from_period, 'reuses', 'reuse')} an identity already used for "
                     "this seller this period")
    return "; ".join(parts)


def _pool_warning(pool_size: int, seller_id: int, orders: int, recent: int) -> str:
    return (f"The buyer pool has {_plural(pool_size, 'active identity', 'active identities')} "
            f"but seller {seller_id} needs {orders + recent} to avoid reusing one "
            f"({_plural(orders, 'order', 'orders')} this period and "
            f"{_plural(recent, 'identity', 'identities')} used for it in the last 12 months); "
            "add identities on the Buyer identities page")


def assign_buyers(period_key: str, needs: Sequence[BuyerNeed], buyers: Sequence[BuyerInput],
                  recent: Mapping[int, frozenset[int]], draw_below: Callable[[str, int], int]
                  ) -> tuple[tuple[BuyerAssignment, ...], tuple[str, ...]]:
    """Assignments (one per need, same order) and warnings, by the rule of the module
    docstring."""
    _check(period_key, needs, buyers)
    pool = sorted(buyers, key=lambda b: b.buyer_id)
    pool_ids = frozenset(b.buyer_id for b in pool)
    given: dict[int, set[int]] = {}
    from_recent: dict[int, int] = {}
    from_period: dict[int, int] = {}
    assignments = []
    for need in needs:
        seller = need.seller_id
        used = given.setdefault(seller, set())
        seen = recent.get(seller, frozenset())
        eligible = [b for b in pool if b.buyer_id not in seen and b.buyer_id not in used]
        reused = not eligible
        repeat = False
        if reused:
            eligible = [b for b in pool if b.buyer_id not in used]
            if not eligible:
                eligible, repeat = pool, True
        label = f"{period_key}|{seller}|{need.index}|buyer"
        k = draw_below(label, len(eligible))
        if not 0 <= k < len(eligible):
            raise ValueError(f"draw_below({label!r}, {len(eligible)}) returned {k}, outside "
                             f"0..{len(eligible) - 1}")
        pick = eligible[k]
        used.add(pick.buyer_id)
        if repeat:
            from_period[seller] = from_period.get(seller, 0) + 1
        elif reused:
            from_recent[seller] = from_recent.get(seller, 0) + 1
        assignments.append(BuyerAssignment(pick.buyer_id, pick.name, reused))

    orders: dict[int, int] = {}
    for need in needs:
        orders[need.seller_id] = orders.get(need.seller_id, 0) + 1
    seen_in_pool = {s: len(recent.get(s, frozenset()) & pool_ids) for s in orders}
    warnings: list[str] = []
    if orders:
        top = min(orders, key=lambda s: (-(orders[s] + seen_in_pool[s]), s))
        if len(pool) < orders[top] + seen_in_pool[top]:
            warnings.append(_pool_warning(len(pool), top, orders[top], seen_in_pool[top]))
    for seller in sorted(set(from_recent) | set(from_period)):
        warnings.append(_seller_warning(seller, len(pool) - seen_in_pool[seller], orders[seller],
                                        from_recent.get(seller, 0), from_period.get(seller, 0)))
    return tuple(assignments), tuple(warnings)
