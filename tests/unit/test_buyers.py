"""Drawing buyer identities for the plan's orders (qc/buyers.py): seeded, no identity seen in
the last 12 months while the pool allows, warnings when it does not, sellers independent."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from qc.buyers import EMPTY_POOL, BuyerAssignment, BuyerInput, BuyerNeed, assign_buyers
from qc.sampling import below

P = "2026-07"
SEEDS = [hashlib.sha256(f"buyer-seed-{i}".encode()).digest() for i in range(300)]
Draw = Callable[[str, int], int]


def draw_for(seed: bytes) -> Draw:
    """The planner's draw bound to a seed."""
    return lambda label, n: below(seed, label, n)


def pool(*ids: int) -> list[BuyerInput]:
    return [BuyerInput(i, f"Buyer {i}") for i in ids]


def needs(*counts: tuple[int, int]) -> list[BuyerNeed]:
    """(seller, orders) pairs as needs, each seller's orders indexed 0.."""
    return [BuyerNeed(seller, i) for seller, count in counts for i in range(count)]


def ids(assignments: Sequence[BuyerAssignment]) -> list[int]:
    return [a.buyer_id for a in assignments]


def reference(period: str, wanted: Sequence[BuyerNeed], buyers: Sequence[BuyerInput],
              recent: Mapping[int, frozenset[int]], seed: bytes) -> list[tuple[int, bool]]:
    """The rule as the module docstring states it, written again from the text (HMAC draws
    included), for an auditor's cross-check."""
    ordered = sorted(buyers, key=lambda b: b.buyer_id)
    given_to: dict[int, list[int]] = {}
    out = []
    for need in wanted:
        given = given_to.setdefault(need.seller_id, [])
        seen = recent.get(need.seller_id, frozenset())
        choice = [b.buyer_id for b in ordered if b.buyer_id not in seen | set(given)]
        reused = not choice
        if reused:
            choice = [b.buyer_id for b in ordered if b.buyer_id not in given] or \
                     [b.buyer_id for b in ordered]
        label = f"{period}|{need.seller_id}|{need.index}|buyer"
        x = int.from_bytes(hmac.new(seed, label.encode(), hashlib.sha256).digest()[:8], "big")
        pick = choice[(x * len(choice)) >> 64]
        given.append(pick)
        out.append((pick, reused))
    return out


# --- the draw ------------------------------------------------------------------------------


def test_each_order_draws_once_with_its_own_label_among_the_eligible_identities() -> None:
    calls: list[tuple[str, int]] = []

    def last(label: str, n: int) -> int:
        calls.append((label, n))
        return n - 1

    assigned, warnings = assign_buyers(P, needs((12, 2), (7, 1)), pool(30, 10, 20),
                                       {12: frozenset({30})}, last)
    assert calls == [("2026-07|12|0|buyer", 2), ("2026-07|12|1|buyer", 1),
                     ("2026-07|7|0|buyer", 3)]
    # Sorted by id: seller 12 may have 10 and 20 (it saw 30), seller 7 any of the three.
    assert assigned == (BuyerAssignment(20, "Buyer 20", False),
                        BuyerAssignment(10, "Buyer 10", False),
                        BuyerAssignment(30, "Buyer 30", False))
    assert warnings == ()


def test_same_seed_and_inputs_give_the_same_assignments() -> None:
    args = (P, needs((1, 3), (2, 2), (3, 1)), pool(*range(1, 9)), {1: frozenset({2, 5})})
    first = assign_buyers(*args, draw_for(SEEDS[0]))
    assert assign_buyers(*args, draw_for(SEEDS[0])) == first
    others = {tuple(ids(assign_buyers(*args, draw_for(seed))[0])) for seed in SEEDS[1:40]}
    assert len(others) > 30  # another seed, another draw


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_code_follows_the_rule_written_in_the_docstring(data: st.DataObject) -> None:
    buyer_ids = data.draw(st.lists(st.integers(1, 60), min_size=1, max_size=12, unique=True))
    sellers = data.draw(st.lists(st.integers(1, 9), min_size=0, max_size=5, unique=True))
    counts = [(s, data.draw(st.integers(1, 6))) for s in sellers]
    wanted = data.draw(st.permutations(needs(*counts)))
    recent = {s: frozenset(data.draw(st.lists(st.sampled_from(buyer_ids + [99]), max_size=8)))
              for s in sellers}
    seed = data.draw(st.sampled_from(SEEDS))
    buyers = data.draw(st.permutations(pool(*buyer_ids)))
    assigned, _ = assign_buyers(P, wanted, buyers, recent, draw_for(seed))
    assert [(a.buyer_id, a.reused) for a in assigned] == reference(P, wanted, buyers, recent,
                                                                   seed)


def test_fresh_identities_are_drawn_uniformly() -> None:
    picks = Counter(assign_buyers(P, needs((5, 1)), pool(1, 2, 3, 4, 5, 6),
                                  {5: frozenset({2})}, draw_for(seed))[0][0].buyer_id
                    for seed in SEEDS)
    assert sorted(picks) == [1, 3, 4, 5, 6]
    assert chisquare([picks[i] for i in (1, 3, 4, 5, 6)]).pvalue > 0.001


# --- no reuse within 12 months while the pool allows ---------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_no_seller_sees_a_recent_or_repeated_identity_while_the_pool_allows(
        data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 30))
    buyers = pool(*range(1, size + 1))
    counts, recent = [], {}
    for seller in data.draw(st.lists(st.integers(1, 50), max_size=8, unique=True)):
        seen = frozenset(data.draw(st.lists(st.integers(1, size + 5), max_size=size)))
        fresh = size - len(seen & set(range(1, size + 1)))
        if fresh:
            counts.append((seller, data.draw(st.integers(1, fresh))))
            recent[seller] = seen
    wanted = needs(*counts)
    assigned, warnings = assign_buyers(P, wanted, buyers, recent,
                                       draw_for(data.draw(st.sampled_from(SEEDS))))
    assert warnings == ()
    by_seller: dict[int, list[int]] = {}
    for need, a in zip(wanted, assigned, strict=True):
        assert not a.reused
        assert a.buyer_id not in recent[need.seller_id]
        by_seller.setdefault(need.seller_id, []).append(a.buyer_id)
    assert all(len(set(got)) == len(got) for got in by_seller.values())


# --- the fallback and its warnings ---------------------------------------------------------


def test_when_fresh_identities_run_out_recent_ones_are_reused_and_it_says_so() -> None:
    recent = {12: frozenset({2, 4, 77})}  # 77 is no longer in the pool (retired)
    for seed in SEEDS[:50]:
        assigned, warnings = assign_buyers(P, needs((12, 4), (13, 2)), pool(1, 2, 3, 4, 5),
                                           recent, draw_for(seed))
        twelve = assigned[:4]
        assert {a.buyer_id for a in twelve[:3]} == {1, 3, 5}  # the fresh ones first
        assert [a.reused for a in twelve] == [False, False, False, True]
        assert twelve[3].buyer_id in {2, 4}
        assert not any(a.reused for a in assigned[4:])
        assert warnings == (
            "The buyer pool has 5 active identities but seller 12 needs 6 to avoid reusing one "
            "(4 orders this period and 2 identities used for it in the last 12 months); add "
            "identities on the Buyer identities page",
            "Seller 12: only 3 buyer identities are fresh for 4 orders; 1 reuses an identity "
            "used in the last 12 months")


def test_a_seller_with_more_orders_than_the_pool_gets_an_identity_twice() -> None:
    assigned, warnings = assign_buyers(P, needs((3, 4)), pool(1, 2, 3), {3: frozenset({1})},
                                       draw_for(SEEDS[1]))
    got = ids(assigned)
    assert set(got[:2]) == {2, 3}
    assert got[2] == 1
    assert len(set(got[:3])) == 3
    assert [a.reused for a in assigned] == [False, False, True, True]
    assert warnings[1] == ("Seller 3: only 2 buyer identities are fresh for 4 orders; 1 reuses "
                           "an identity used in the last 12 months; 1 reuses an identity "
                           "already used for this seller this period")


def test_a_pool_of_one_plans_every_order_and_warns() -> None:
    assigned, warnings = assign_buyers(
        P, needs((1, 2), (2, 1), (3, 1)), [BuyerInput(9, "Only Buyer")],
        {2: frozenset({9})}, draw_for(SEEDS[2]))
    assert ids(assigned) == [9, 9, 9, 9]
    assert [a.reused for a in assigned] == [False, True, True, False]
    assert warnings == (
        "The buyer pool has 1 active identity but seller 1 needs 2 to avoid reusing one "
        "(2 orders this period and 0 identities used for it in the last 12 months); add "
        "identities on the Buyer identities page",
        "Seller 1: only 1 buyer identity is fresh for 2 orders; 1 reuses an identity already "
        "used for this seller this period",
        "Seller 2: no buyer identity is fresh for 1 order; 1 reuses an identity used in the "
        "last 12 months")


def test_a_pool_large_enough_for_every_seller_warns_of_nothing() -> None:
    _, warnings = assign_buyers(P, needs((1, 3), (2, 1)), pool(1, 2, 3, 4),
                                {1: frozenset({4}), 2: frozenset({1, 2, 3})},
                                draw_for(SEEDS[3]))
    assert warnings == ()
    assert assign_buyers(P, [], pool(1), {}, draw_for(SEEDS[3])) == ((), ())


# --- sellers do not affect each other -------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_sellers_identities_do_not_depend_on_the_other_sellers(data: st.DataObject) -> None:
    buyers = pool(*range(1, data.draw(st.integers(1, 10)) + 1))
    seed = data.draw(st.sampled_from(SEEDS))
    mine = needs((42, data.draw(st.integers(1, 5))))
    recent = {42: frozenset(data.draw(st.lists(st.integers(1, 10), max_size=6)))}
    alone = ids(assign_buyers(P, mine, buyers, recent, draw_for(seed))[0])

    others = needs(*[(s, data.draw(st.integers(1, 5)))
                     for s in data.draw(st.lists(st.integers(1, 40), max_size=6, unique=True))])
    mixed = _keep_own_order(data.draw(st.permutations(others + mine)), mine)
    more_recent = {**{n.seller_id: frozenset({1, 2}) for n in others}, **recent}
    assigned, _ = assign_buyers(P, mixed, buyers, more_recent, draw_for(seed))
    assert [a.buyer_id for n, a in zip(mixed, assigned, strict=True) if n.seller_id == 42] \
        == alone


def _keep_own_order(mixed: list[BuyerNeed], mine: list[BuyerNeed]) -> list[BuyerNeed]:
    """Interleave other sellers' needs anywhere while seller 42's stay in their own order."""
    slots = iter(mine)
    return [next(slots) if n.seller_id == 42 else n for n in mixed]


# --- inputs ----------------------------------------------------------------------------------


def test_inputs_are_not_changed() -> None:
    buyers = pool(3, 1, 2)
    wanted = needs((1, 2))
    recent = {1: frozenset({1})}
    assign_buyers(P, wanted, buyers, recent, draw_for(SEEDS[4]))
    assert buyers == pool(3, 1, 2)
    assert wanted == needs((1, 2))
    assert recent == {1: frozenset({1})}


def test_an_empty_pool_is_refused_with_what_to_do() -> None:
    for wanted in ([], needs((1, 1))):
        with pytest.raises(ValueError, match="^No active buyer identity: add one on the Buyer "
                                             "identities page before planning$"):
            assign_buyers(P, wanted, [], {}, draw_for(SEEDS[0]))
    assert EMPTY_POOL.startswith("No active buyer identity")


@pytest.mark.parametrize(("period", "wanted", "buyers", "message"), [
    (P, needs((1, 1)), [BuyerInput(1, "A"), BuyerInput(1, "B")], "ids must be distinct: 1"),
    (P, needs((1, 1)), [BuyerInput(1, "A"), BuyerInput(2, " \t")], "Buyer identity 2 has a blank"),
    (P, [BuyerNeed(4, 0), BuyerNeed(4, 0)], pool(1, 2), "Seller 4: order index 0 is given more"),
    (P, [BuyerNeed(4, -1)], pool(1), "Seller 4: the order index must be 0 or more, not -1"),
    (" ", needs((1, 1)), pool(1), "period key must not be blank"),
])
def test_bad_inputs_are_refused_with_a_clear_message(period: str, wanted: list[BuyerNeed],
                                                     buyers: list[BuyerInput],
                                                     message: str) -> None:
    with pytest.raises(ValueError, match=message):
        assign_buyers(period, wanted, buyers, {}, draw_for(SEEDS[0]))


def test_a_draw_outside_the_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"returned 2, outside 0\.\.1"):
        assign_buyers(P, needs((1, 1)), pool(1, 2), {}, lambda _label, n: n)
