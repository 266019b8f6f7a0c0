from __future__ import annotations
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

@dataclass(frozen=True)
class BuyerInput:
    buyer_id: int
    name: str

@dataclass(frozen=True)
class BuyerNeed:
    seller_id: int
    index: int

@dataclass(frozen=True)
class BuyerAssignment:
    buyer_id: int
    name: str
    reused: bool

def assign_buyers(period_key: str, needs: Sequence[BuyerNeed], buyers: Sequence[BuyerInput],
                  recent: Mapping[int, frozenset[int]], draw_below: Callable[[str, int], int]
                  ) -> tuple[tuple[BuyerAssignment, ...], tuple[str, ...]]:
    if not buyers:
        raise ValueError("No active buyer identity: add one on the Buyer identities page before planning")
    pool = sorted(buyers, key=lambda b: b.buyer_id)
    out = []
    for n in needs:
        b = pool[draw_below(f"{period_key}|{n.seller_id}|{n.index}|buyer", len(pool))]
        out.append(BuyerAssignment(b.buyer_id, b.name, False))
    return tuple(out), ()
