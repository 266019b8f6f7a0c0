"""Statements of reasons: each decision kind says what, on which facts, by which rule, and
how to appeal by when."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from compliance.statement import (
    MAX_ORDER_LINES,
    FailedCheck,
    NoticeFacts,
    NoticeKind,
    OrderFact,
    PlanTerms,
    compute_appeal_by,
    compute_notice_kind,
    compute_order_lines,
    compute_statement,
    plural,
    times,
)
from qc.forecast import FIGURES_SCOPE

PLAN = PlanTerms(p0=0.05, p1=0.20, alpha=0.005, beta=0.10, w_defect=math.log(4),
                 w_clean=math.log(0.8 / 0.95), h=math.log(0.9 / 0.005), acceptance_run=14,
                 rate_tightened=4, rate_onboarding=2, wrongful_24=0.0029)
DAY = date(2026, 6, 10)
FOUR_DEFECTS = tuple(OrderFact(10 + i, DAY, "iPhone 13 128 GB", "major") for i in range(4))


def facts(kind: NoticeKind, **kw: object) -> NoticeFacts:
    base: dict[str, object] = {
        "kind": kind, "seller_name": "Refurb Company 1 GmbH", "reference": "N0123456789",
        "decided_on": DAY, "recorded_reason": "", "plan": PLAN,
        "appeal_to": "appeals@marketplace.example", "appeal_days": 30}
    base.update(kw)
    return NoticeFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("from_status", "to_status", "renewal", "kind"), [
    ("active", "suspended", None, NoticeKind.SUSPENSION_PENDING),
    ("probation", "suspended", None, NoticeKind.SUSPENSION_PENDING),
    ("suspended", "probation", None, NoticeKind.REINSTATEMENT),
    ("active", "active", "conditional", NoticeKind.CONDITIONAL_RENEWAL),
    ("probation", "probation", "conditional", NoticeKind.CONDITIONAL_RENEWAL),
    ("suspended", "revoked", None, NoticeKind.REVOCATION),
    ("active", "revoked", None, NoticeKind.REVOCATION),
    ("active", "active", "full", None),
    (None, "active", None, None),
    ("suspended", "active", None, None),
    ("probation", "active", None, None),
    ("active", "expired", None, None),
])
def test_which_label_changes_call_for_a_notice(from_status: str | None, to_status: str,
                                               renewal: str | None,
                                               kind: NoticeKind | None) -> None:
    assert compute_notice_kind(from_status, to_status, renewal) == kind


@pytest.mark.parametrize(("from_status", "to_status", "kind"), [
    ("suspended", "active", NoticeKind.SUSPENSION_OVERTURNED),
    ("suspended", "probation", NoticeKind.SUSPENSION_OVERTURNED),  # not a reinstatement
    ("suspended", "revoked", NoticeKind.REVOCATION),
])
def test_an_overturned_suspension_calls_for_its_own_notice(from_status: str, to_status: str,
                                                           kind: NoticeKind) -> None:
    assert compute_notice_kind(from_status, to_status, None, overturned=True) == kind


def test_overturned_suspension_says_the_label_is_back_in_plain_words() -> None:
    s = compute_statement(facts(NoticeKind.SUSPENSION_OVERTURNED, decided_on=date(2026, 6, 12),
                                suspended_on=date(2026, 6, 10), restored_status="active",
                                s_value=2.5952, officer_reason="Courier damage, not the seller.",
                                trigger_order_id=6))
    assert s.decision == ("The suspension of 2026-06-10 of your Back Label is lifted: a "
                          "compliance officer reviewed it and overturned it on 2026-06-12. "
                          "Your label is active again. Your listings are back under the Back "
                          "Label from 2026-06-12.")
    assert s.reviewed_by_person
    assert s.officer_reason == "Courier damage, not the seller."
    rule = " ".join(s.rule)
    assert ("starts again from half the suspension threshold instead of from zero: one order "
            "with a major or critical defect alone will not suspend the label again, but 2 in "
            "a row would") in rule
    appeal = " ".join(s.appeal)
    assert "in your favour" in appeal
    assert "what caused the defects" not in appeal


def test_order_lines_follow_the_cusum_and_never_go_below_zero() -> None:
    orders = (OrderFact(1, DAY, "x", "conforming"), OrderFact(2, DAY, "x", "major"),
              OrderFact(3, DAY, "x", "minor"), OrderFact(4, DAY, "x", "critical"))
    lines = compute_order_lines(orders, 0.0, PLAN)
    assert [line.defect for line in lines] == [False, True, False, True]
    assert [round(line.s_after, 4) for line in lines] == [0.0, 1.3863, 1.2144, 2.6007]


def test_appeal_deadline_counts_calendar_days_and_refuses_none() -> None:
    assert compute_appeal_by(date(2026, 12, 15), 30) == date(2027, 1, 14)
    with pytest.raises(ValueError, match="at least one day"):
        compute_appeal_by(DAY, 0)


def test_pending_suspension_by_the_cusum() -> None:
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING, orders=FOUR_DEFECTS,
                                orders_since=date(2026, 1, 10), s_value=5.5452,
                                trigger_order_id=13, recorded_reason="CUSUM S = 5.55 ..."))
    assert s.title == "Suspension pending review"
    assert "N0123456789" in s.subject
    assert "suspended with effect from 2026-06-10, pending review" in s.decision
    # the facts: each order with its verdict and S after it
    assert [(o.order_id, o.verdict, round(o.s_after, 2)) for o in s.orders] == [
        (10, "major", 1.39), (11, "major", 2.77), (12, "major", 4.16), (13, "major", 5.55)]
    assert "4 test orders bought anonymously on the marketplace were inspected" in s.facts
    assert "since 2026-01-10" in s.facts
    assert "4 with a major or critical defect" in s.facts
    assert "triggered by test order #13" in s.facts
    # the rule in plain words; its formulas and parameters in the annex
    rule = " ".join(s.rule)
    assert rule.startswith("After each inspected test order we update a running score.")
    for jargon in ("S =", "h =", "p0", "p1", "alpha", "beta", "ln(", "log", "1.3863"):
        assert jargon not in rule
    annex = " ".join(s.annex)
    assert "S reached 5.55, at or above h = 5.19" in annex
    assert "p0 = 5%" in annex
    assert "p1 = 20%" in annex
    assert "alpha = 0.5%" in annex
    assert "beta = 10%" in annex
    assert "adds 1.3863" in annex
    assert "adds -0.1719" in annex
    assert "(1-beta)/alpha = 180" in annex
    assert f"about {math.exp(5.5452):,.0f} times more likely" in rule
    assert ("By this statistical rule, a seller whose true defect rate is the acceptable 5% is "
            "suspended within 24 test orders with a probability of 0.29%. " + FIGURES_SCOPE
            ) in rule
    assert "only 0.29%" not in rule
    assert "Zero tolerance" not in rule
    # nobody reviewed it yet; appeal route and date
    assert not s.reviewed_by_person
    assert s.officer_reason == ""
    assert s.appeal_by == DAY + timedelta(days=30)
    appeal = " ".join(s.appeal)
    assert "appeals@marketplace.example by 2026-07-10" in appeal
    assert "appeal" in appeal
    assert "corrective-action plan" in appeal
    assert "quoting reference N0123456789" in appeal


def test_pending_suspension_for_a_critical_verdict() -> None:
    orders = (OrderFact(5, DAY, "Galaxy S22", "conforming"),
              OrderFact(6, DAY, "Galaxy S22", "critical"))
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING, orders=orders, s_value=1.2144,
                                trigger_order_id=6, critical=True))
    rule = " ".join(s.rule)
    assert "Zero tolerance for critical defects" in rule
    assert "failed on test order #6" in rule
    # the zero-tolerance rule, not the running score (CUSUM) that played no part
    assert "plays no part in this decision" in rule
    assert "S stood" not in rule
    assert "h = " not in rule
    assert "adds 1.3863" not in rule
    assert "p0 = " not in rule
    assert not s.show_s
    assert [o.verdict for o in s.orders] == ["conforming", "critical"]


@pytest.mark.parametrize("kind", [NoticeKind.SUSPENSION_PENDING, NoticeKind.SUSPENSION_CONFIRMED])
def test_a_suspension_notice_opens_in_plain_words(kind: NoticeKind) -> None:
    s = compute_statement(facts(kind, orders=FOUR_DEFECTS, s_value=5.5452, trigger_order_id=13,
                                suspended_on=DAY))
    first = " ".join(s.summary)
    for jargon in ("S =", "h =", "p0", "p1", "alpha", "beta", "log", "ln(", "running score"):
        assert jargon not in first
    assert first.startswith(s.decision)
    assert "not carry the Back Label" in first
    assert "to appeals@marketplace.example by " + str(s.appeal_by) in first


def test_confirmed_suspension_gives_the_officers_reason() -> None:
    s = compute_statement(facts(NoticeKind.SUSPENSION_CONFIRMED, orders=FOUR_DEFECTS,
                                s_value=5.5452, trigger_order_id=13,
                                decided_on=date(2026, 6, 12), suspended_on=DAY,
                                officer_reason="Four display faults in a row."))
    assert "On 2026-06-12 a compliance officer reviewed the suspension" in s.decision
    assert "took effect on 2026-06-10" in s.decision
    assert s.reviewed_by_person
    assert s.officer_reason == "Four display faults in a row."
    assert "S reached 5.55" in " ".join(s.annex)
    assert "confirmed it" in " ".join(s.rule)
    assert s.appeal_by == date(2026, 7, 12)
    assert "reinstatement of the label on probation" in " ".join(s.appeal)


def test_reinstatement_explains_the_head_start_and_probation() -> None:
    s = compute_statement(facts(NoticeKind.REINSTATEMENT, orders=FOUR_DEFECTS,
                                s_value=5.5452, trigger_order_id=13,
                                decided_on=date(2026, 7, 1), suspended_on=DAY,
                                officer_reason="Corrective-action plan accepted."))
    assert "reinstated on probation with effect from 2026-07-01" in s.decision
    assert "suspended since 2026-06-10" in s.decision
    assert "The suspension of 2026-06-10 was triggered by test order #13" in s.facts
    rule = " ".join(s.rule)
    assert "head start S0 = h/2 = 2.60" in " ".join(s.annex)
    assert "restarts at half the suspension threshold instead of zero" in rule
    assert "so 2 test orders with a major or critical defect in a row" in rule
    assert "tightened rate of 4 test orders a month" in rule
    assert "after 14 test orders in a row" in rule
    assert s.officer_reason == "Corrective-action plan accepted."
    assert s.appeal_by == date(2026, 7, 31)


def test_conditional_renewal_says_which_condition_failed() -> None:
    orders = (OrderFact(20, date(2026, 3, 1), "Pixel 7", "conforming"),
              OrderFact(21, date(2026, 8, 1), "Pixel 7", "minor"))
    s = compute_statement(facts(NoticeKind.CONDITIONAL_RENEWAL, orders=orders,
                                decided_on=date(2027, 1, 10), valid_until=date(2028, 1, 10),
                                renewal_start=date(2026, 1, 10), renewal_end=date(2027, 1, 10),
                                renewal_suspensions=0, renewal_inspected=2, renewal_planned=6,
                                renewal_seller_side=4))
    assert "renewed conditionally on 2027-01-10, valid until 2028-01-10" in s.decision
    assert ("In your label year from 2026-01-10 to 2027-01-10 the Back Label was not "
            "suspended; 6 test orders were planned, 2 were inspected and 4 were cancelled or "
            "lost on your side (not shipped, sale cancelled or listing withdrawn).") in s.facts
    assert [(o.order_id, o.verdict) for o in s.orders] == [(20, "conforming"), (21, "minor")]
    assert not s.show_s
    rule = " ".join(s.rule)
    assert ("Here only 2 of the 6 test orders planned were inspected, fewer than the 6 needed, "
            "and 4 were cancelled or lost on your side.") in rule
    assert "because the plan chose fewer" in rule
    assert "onboarding-rate sampling (2 test orders a month)" in rule
    assert "until 14 test orders in a row pass" in rule
    assert "time(s)" not in s.facts + rule
    assert not s.reviewed_by_person
    assert s.appeal_by == date(2027, 2, 9)


@pytest.mark.parametrize(("suspensions", "words"), [
    (1, "was suspended once"), (2, "was suspended twice"), (3, "was suspended 3 times")])
def test_conditional_renewal_after_a_suspension(suspensions: int, words: str) -> None:
    s = compute_statement(facts(NoticeKind.CONDITIONAL_RENEWAL, renewal_start=DAY,
                                renewal_end=DAY, renewal_suspensions=suspensions,
                                renewal_inspected=9, renewal_planned=1, renewal_seller_side=0))
    rule = " ".join(s.rule)
    assert f"Here the label {words} in the year." in rule
    assert f"the Back Label {words}; 1 test order was planned, 9 were inspected and 0 were " \
           "cancelled" in s.facts
    assert "fewer than the" not in rule


def test_conditional_renewal_does_not_blame_a_shortfall_the_seller_did_not_cause() -> None:
    s = compute_statement(facts(NoticeKind.CONDITIONAL_RENEWAL, renewal_start=DAY,
                                renewal_end=DAY, renewal_suspensions=1, renewal_inspected=3,
                                renewal_planned=8, renewal_seller_side=1))
    assert "Here the label was suspended once in the year." in " ".join(s.rule)


def test_revocation_is_final_and_gives_the_reason() -> None:
    s = compute_statement(facts(NoticeKind.REVOCATION, orders=FOUR_DEFECTS, s_value=5.5452,
                                trigger_order_id=13, suspended_on=DAY,
                                decided_on=date(2026, 9, 1),
                                officer_reason="No corrective-action plan within 60 days."))
    assert "revoked with effect from 2026-09-01" in s.decision
    rule = " ".join(s.rule)
    assert "Revocation is final within the marketplace's internal process" in rule
    # final, yet an appeal remains: the notice says which routes are left and offers no other
    assert ("Two routes remain open: an appeal, if you believe the revocation rests on wrong "
            "facts") in rule
    assert "mediation and the courts" in rule
    assert s.officer_reason == "No corrective-action plan within 60 days."
    assert [o.order_id for o in s.orders] == [10, 11, 12, 13]
    appeal = " ".join(s.appeal)
    assert "wrong facts" in appeal
    assert "corrective-action plan" not in appeal  # no plan undoes a revocation
    assert "reinstatement" not in appeal
    assert s.appeal_by == date(2026, 10, 1)


CLEAN = tuple(OrderFact(i, DAY, "Galaxy S22", v)
              for i, v in ((20, "conforming"), (21, "minor"), (22, "conforming")))


@pytest.mark.parametrize("kind", [NoticeKind.CONDITIONAL_RENEWAL, NoticeKind.REINSTATEMENT])
def test_no_defects_no_question_about_their_cause(kind: NoticeKind) -> None:
    s = compute_statement(facts(kind, orders=CLEAN, renewal_start=DAY, renewal_end=DAY,
                                renewal_planned=8, renewal_inspected=3, renewal_seller_side=5,
                                suspended_on=DAY))
    appeal = " ".join(s.appeal)
    assert "what caused the defects" not in appeal
    assert "a corrective-action plan, saying what you have changed and from when" in appeal


def test_defects_are_asked_about() -> None:
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING, orders=FOUR_DEFECTS,
                                s_value=5.5452, trigger_order_id=13))
    assert "saying what caused the defects, what you have changed" in " ".join(s.appeal)


def test_parameters_come_from_the_plan_not_from_constants() -> None:
    strict = PlanTerms(p0=0.02, p1=0.10, alpha=0.01, beta=0.05, w_defect=math.log(5),
                       w_clean=math.log(0.9 / 0.98), h=math.log(0.95 / 0.01),
                       acceptance_run=20, rate_tightened=6, rate_onboarding=3,
                       wrongful_24=0.01)
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING, plan=strict, s_value=4.6,
                                appeal_days=14, orders=FOUR_DEFECTS))
    annex = " ".join(s.annex)
    assert "p0 = 2%" in annex
    assert "p1 = 10%" in annex
    assert "alpha = 1%" in annex
    assert "h = 4.55" in annex
    assert "(1-beta)/alpha = 95" in annex
    assert s.appeal_by == DAY + timedelta(days=14)


def test_long_histories_list_the_most_recent_orders() -> None:
    orders = tuple(OrderFact(i, DAY, "x", "conforming") for i in range(MAX_ORDER_LINES + 7))
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING, orders=orders))
    assert len(s.orders) == MAX_ORDER_LINES
    assert s.orders_omitted == 7
    assert s.orders[-1].order_id == MAX_ORDER_LINES + 6
    assert f"{MAX_ORDER_LINES + 7} test orders bought" in s.facts
    assert s.orders_omitted_text == "(7 earlier test orders were not listed.)"


def test_inputs_are_not_changed() -> None:
    f = facts(NoticeKind.SUSPENSION_PENDING, orders=FOUR_DEFECTS)
    compute_statement(f)
    assert f.orders == FOUR_DEFECTS


DISPLAY = FailedCheck("DISP-1", "Display free of dead pixels and burn-in", "major",
                      "Green line across the top third.")
LOCK = FailedCheck("LOCK-1", "Activation lock / factory-reset protection / MDM cleared",
                   "critical", "Find My still on after reset.")
PHOTO = "ab" * 32


def seller_order(order_id: int, verdict: str, *failed: FailedCheck,
                 photos: tuple[str, ...] = ()) -> OrderFact:
    return OrderFact(order_id, DAY, "Galaxy S22 256 GB", verdict,
                     marketplace_ref=f"MP-2026-{order_id:04d}", placed_on=date(2026, 6, 6),
                     sku="GS22-256-BLK", failed=failed, photos=photos)


def test_each_order_is_named_in_the_sellers_terms_with_its_failed_checkpoints() -> None:
    orders = (seller_order(21, "conforming"), seller_order(22, "major", DISPLAY, photos=(PHOTO,)))
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING, orders=orders, s_value=5.6,
                                trigger_order_id=22))
    clean, faulty = s.orders
    assert (faulty.marketplace_ref, faulty.placed_on, faulty.sku, faulty.device) == (
        "MP-2026-0022", date(2026, 6, 6), "GS22-256-BLK", "Galaxy S22 256 GB")
    assert faulty.verdict_words == "major defect"
    assert clean.verdict_words == "conforming, no defect"
    assert [(c.code, c.title, c.note) for c in faulty.failed] == [
        ("DISP-1", "Display free of dead pixels and burn-in", "Green line across the top third.")]
    assert faulty.failed[0].label == "DISP-1 Display free of dead pixels and burn-in"
    assert clean.failed == ()
    # the order the decision names is marked, and named as the seller knows it
    assert [o.trigger for o in s.orders] == [False, True]
    assert ("The suspension was triggered by marketplace order MP-2026-0022 (test order #22), "
            "marked below.") in s.facts
    # the photos: listed by hash, and how to get them
    assert faulty.photos == (PHOTO,)
    assert "SHA-256" in s.photos_note
    assert "reply to this notice or write to appeals@marketplace.example, quoting reference " \
           "N0123456789" in s.photos_note


def test_no_photos_no_photo_note() -> None:
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING,
                                orders=(seller_order(22, "major", DISPLAY),)))
    assert s.photos_note == ""


def test_a_critical_notice_names_the_critical_checkpoint_not_examples() -> None:
    orders = (seller_order(5, "conforming"), seller_order(6, "critical", LOCK))
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING, orders=orders, s_value=1.2144,
                                trigger_order_id=6, critical=True))
    rule = " ".join(s.rule)
    assert ("Zero tolerance for critical defects: the critical checkpoint LOCK-1 Activation "
            "lock / factory-reset protection / MDM cleared failed on marketplace order "
            "MP-2026-0006 (test order #6).") in rule
    assert "such as an IMEI" not in rule
    # the checkpoints the confirmation recorded win (BAT-1 for a swollen battery)
    battery = FailedCheck("BAT-1", "Battery health and no swelling", "critical")
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING, orders=orders, s_value=1.2,
                                trigger_order_id=6, critical=True,
                                critical_checks=(LOCK, battery)))
    assert ("the critical checkpoints LOCK-1 Activation lock / factory-reset protection / MDM "
            "cleared; BAT-1 Battery health and no swelling failed") in " ".join(s.rule)


def test_a_critical_notice_without_recorded_checkpoints_keeps_the_examples() -> None:
    orders = (OrderFact(6, DAY, "Galaxy S22", "critical"),)
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING, orders=orders, s_value=1.2,
                                trigger_order_id=6, critical=True))
    assert "a critical checkpoint (such as an IMEI" in " ".join(s.rule)


@pytest.mark.parametrize(("n", "words"), [(0, "0 test orders"), (1, "1 test order"),
                                          (2, "2 test orders")])
def test_counts_are_pluralised(n: int, words: str) -> None:
    assert plural(n, "test order") == words


def test_times_in_words() -> None:
    assert [times(n) for n in (1, 2, 3)] == ["once", "twice", "3 times"]
    assert plural(3, "entry", "entries") == "3 entries"


def test_one_inspected_order_is_singular() -> None:
    s = compute_statement(facts(NoticeKind.SUSPENSION_PENDING,
                                orders=(seller_order(6, "critical", LOCK),)))
    assert s.facts.startswith("1 test order bought anonymously on the marketplace was "
                              "inspected: 1 with a major or critical defect")
    assert "(s)" not in s.facts + " ".join(s.rule) + s.orders_omitted_text
