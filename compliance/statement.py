"""Statements of reasons for seller notices (EU regulation 2019/1150, article 4) (pure).

A restriction, suspension or revocation of the Back Label, and the conditions of a
reinstatement or conditional renewal, are explained to the seller: the decision and when it
took effect, the facts (the test orders and their verdicts), the rule applied with its
parameters in plain words, the officer's reason where a person decided, and how to appeal and
by when. Plain values in (`NoticeFacts`), a `Statement` of plain sentences out; the Jinja
templates only arrange it. No Flask, no SQLAlchemy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from qc.decisions import LabelYear, compute_short_on_seller_side
from qc.forecast import FIGURES_SCOPE

DEFECT_VERDICTS = frozenset({"major", "critical"})
MAX_ORDER_LINES = 50  # the most recent orders listed; older ones are counted, not listed


class NoticeKind(StrEnum):
    """The label decisions a seller is told about."""

    SUSPENSION_PENDING = "suspension_pending"
    SUSPENSION_CONFIRMED = "suspension_confirmed"
    REINSTATEMENT = "reinstatement"
    CONDITIONAL_RENEWAL = "conditional_renewal"
    REVOCATION = "revocation"
    SUSPENSION_OVERTURNED = "suspension_overturned"


KIND_TITLES: dict[NoticeKind, str] = {
    NoticeKind.SUSPENSION_PENDING: "Suspension pending review",
    NoticeKind.SUSPENSION_CONFIRMED: "Suspension confirmed",
    NoticeKind.REINSTATEMENT: "Reinstatement on probation",
    NoticeKind.CONDITIONAL_RENEWAL: "Conditional renewal",
    NoticeKind.REVOCATION: "Revocation",
    NoticeKind.SUSPENSION_OVERTURNED: "Suspension lifted after review",
}


def compute_notice_kind(from_status: str | None, to_status: str, renewal: str | None,
                        overturned: bool = False) -> NoticeKind | None:
    """The notice a label change calls for, or None (grants, full renewals, probation ending
    and expiry need no statement of reasons); `overturned` says a reviewer lifted the
    suspension the label leaves, whatever status it returns to."""
    if renewal is not None:
        return NoticeKind.CONDITIONAL_RENEWAL if renewal == "conditional" else None
    if overturned and from_status == "suspended" and to_status in ("active", "probation"):
        return NoticeKind.SUSPENSION_OVERTURNED
    if to_status == "suspended":
        return NoticeKind.SUSPENSION_PENDING
    if to_status == "probation" and from_status == "suspended":
        return NoticeKind.REINSTATEMENT
    if to_status == "revoked":
        return NoticeKind.REVOCATION
    return None


@dataclass(frozen=True)
class PlanTerms:
    """The sampling plan's parameters in force when the decision was taken."""

    p0: float
    p1: float
    alpha: float
    beta: float
    w_defect: float
    w_clean: float
    h: float
    acceptance_run: int
    rate_tightened: float
    rate_onboarding: float
    wrongful_24: float  # probability that a seller at p0 is suspended within 24 orders


VERDICT_WORDS: dict[str, str] = {
    "conforming": "conforming, no defect",
    "minor": "minor defects only (not counted as a defect)",
    "major": "major defect",
    "critical": "critical defect",
}


@dataclass(frozen=True)
class FailedCheck:
    """A checkpoint that failed at an inspection, as the catalog names it, with the
    inspector's note."""

    code: str
    title: str
    severity: str = ""
    note: str = ""

    @property
    def label(self) -> str:
        """"CODE title", the way the inspection checklist names the checkpoint."""
        return f"{self.code} {self.title}".strip()


@dataclass(frozen=True)
class OrderFact:
    """An inspected test order, the verdict in force for it, and what the seller knows it
    by: the marketplace order, its purchase date and the listing."""

    order_id: int
    inspected_on: date
    device: str
    verdict: str
    marketplace_ref: str | None = None
    placed_on: date | None = None
    sku: str = ""
    failed: tuple[FailedCheck, ...] = ()
    photos: tuple[str, ...] = ()  # SHA-256 of each inspection photo


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a statement of reasons is built from, as plain values."""

    kind: NoticeKind
    seller_name: str
    reference: str
    decided_on: date
    recorded_reason: str  # the reason recorded on the label event
    plan: PlanTerms
    appeal_to: str
    appeal_days: int
    orders: tuple[OrderFact, ...] = ()
    orders_since: date | None = None
    start_s: float = 0.0  # S before the first listed order
    s_value: float | None = None  # S the decision was taken on (from the event's snapshot)
    trigger_order_id: int | None = None
    critical: bool = False  # the decision rests on a critical verdict
    critical_checks: tuple[FailedCheck, ...] = ()  # the critical checkpoints that failed
    critical_confirmed_on: date | None = None  # when a second inspector confirmed it
    officer_reason: str = ""
    suspended_on: date | None = None  # the suspension a later decision follows
    restored_status: str = ""  # the status an overturned suspension returned the label to
    valid_until: date | None = None
    renewal_start: date | None = None
    renewal_end: date | None = None
    renewal_suspensions: int = 0
    renewal_inspected: int = 0
    renewal_min_inspected: int = 6
    renewal_planned: int = 0  # test orders planned in the label year
    renewal_seller_side: int = 0  # of those, cancelled or lost on the seller's side


@dataclass(frozen=True)
class OrderLine:
    """One row of the facts table: an order as the seller knows it, its verdict and failed
    checkpoints, S after it, and whether it triggered the decision."""

    order_id: int
    inspected_on: date
    device: str
    verdict: str
    defect: bool
    s_after: float
    marketplace_ref: str | None = None
    placed_on: date | None = None
    sku: str = ""
    failed: tuple[FailedCheck, ...] = ()
    photos: tuple[str, ...] = ()
    trigger: bool = False

    @property
    def verdict_words(self) -> str:
        """The verdict in words."""
        return VERDICT_WORDS.get(self.verdict, self.verdict)


@dataclass(frozen=True)
class Statement:
    """The notice as sentences: what was decided, on which facts, by which rule, and how to
    appeal by when."""

    kind: NoticeKind
    title: str
    subject: str
    seller_name: str
    reference: str
    decided_on: date
    decision: str
    summary: tuple[str, ...]  # what happened, what it means, what to do by when: plain words
    facts: str
    orders: tuple[OrderLine, ...]
    orders_omitted: int
    orders_omitted_text: str  # "(3 earlier test orders were not listed.)", or ""
    photos_note: str  # how to get the inspection photos listed, or "" when none are
    show_s: bool
    rule: tuple[str, ...]  # the rule in plain words
    annex: tuple[str, ...]  # the formulas and parameters behind the rule
    officer_reason: str
    reviewed_by_person: bool
    appeal: tuple[str, ...]
    appeal_to: str
    appeal_by: date


def _pct(rate: float) -> str:
    text = f"{rate * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def plural(n: int, one: str, many: str | None = None) -> str:
    """The count with the noun in its number: "1 test order", "2 test orders"."""
    return f"{n} {one if n == 1 else (many if many is not None else one + 's')}"


def times(n: int) -> str:
    """How often, in words: "once", "twice", "3 times"."""
    return {1: "once", 2: "twice"}.get(n) or f"{n} times"


def _orders(n: int) -> str:
    return plural(n, "test order")


def _were(n: int) -> str:
    return "was" if n == 1 else "were"


def _suspended(n: int) -> str:
    return "was not suspended" if not n else "was suspended " + times(n)


def _rate(per_month: float) -> str:
    return f"{per_month:g} test order{'s' if per_month != 1 else ''} a month"


def compute_order_lines(orders: Sequence[OrderFact], start_s: float, plan: PlanTerms,
                        trigger_order_id: int | None = None) -> tuple[OrderLine, ...]:
    """Each order with whether it counts as a defect, the CUSUM S after it (S never goes
    below 0; a defect adds w_defect, any other verdict adds w_clean) and whether it is the
    order that triggered the decision."""
    s, lines = start_s, []
    for o in orders:
        defect = o.verdict in DEFECT_VERDICTS
        s = max(0.0, s + (plan.w_defect if defect else plan.w_clean))
        lines.append(OrderLine(o.order_id, o.inspected_on, o.device, o.verdict, defect, s,
                               o.marketplace_ref, o.placed_on, o.sku, o.failed, o.photos,
                               trigger=o.order_id == trigger_order_id))
    return tuple(lines)


def order_name(order_id: int, marketplace_ref: str | None) -> str:
    """An order as the seller can find it: the marketplace order, with our test order number."""
    if marketplace_ref:
        return f"marketplace order {marketplace_ref} (test order #{order_id})"
    return f"test order #{order_id}"


def compute_appeal_by(decided_on: date, days: int) -> date:
    """The last day an appeal is accepted: `days` calendar days after the decision."""
    if days < 1:
        raise ValueError("the appeal period is at least one day")
    return decided_on + timedelta(days=days)


def _facts_sentence(f: NoticeFacts, lines: Sequence[OrderLine]) -> str:
    if f.kind == NoticeKind.CONDITIONAL_RENEWAL:
        return (f"In your label year from {f.renewal_start} to {f.renewal_end} the Back Label "
                f"{_suspended(f.renewal_suspensions)}; {_orders(f.renewal_planned)} "
                f"{_were(f.renewal_planned)} planned, {f.renewal_inspected} "
                f"{_were(f.renewal_inspected)} inspected and {f.renewal_seller_side} "
                f"{_were(f.renewal_seller_side)} cancelled or lost on your side (not shipped, "
                f"sale cancelled or listing withdrawn). The test orders of that year are listed "
                f"below.")
    if not lines:
        return "No test order had been inspected since the label was last granted or restarted."
    defects = sum(1 for line in lines if line.defect)
    minor = sum(1 for line in lines if line.verdict == "minor")
    since = f" since {f.orders_since}" if f.orders_since else ""
    text = (f"{_orders(len(lines))} bought anonymously on the marketplace "
            f"{_were(len(lines))} inspected{since}: {defects} with a major or critical defect, "
            f"{minor} with only minor defects, {len(lines) - defects - minor} conforming.")
    if f.trigger_order_id is not None:
        which = f"The suspension of {f.suspended_on}" if f.suspended_on else "The suspension"
        ref = next((line.marketplace_ref for line in lines
                    if line.order_id == f.trigger_order_id), None)
        text += (f" {which} was triggered by {order_name(f.trigger_order_id, ref)}, marked "
                 f"below.")
    return text


def _critical_checks(f: NoticeFacts) -> str:
    checks = f.critical_checks or next(
        (tuple(c for c in o.failed if c.severity == "critical") for o in f.orders
         if o.order_id == f.trigger_order_id), ())
    if not checks:  # older decisions recorded no checkpoints: name the kinds of checkpoint
        return ("a critical checkpoint (such as an IMEI that does not match or is "
                "blacklisted, an activation or account lock not removed, the previous owner's "
                "data not erased, a different model than listed, or liquid damage) failed")
    named = "; ".join(c.label for c in checks)
    return (f"the critical checkpoint{'' if len(checks) == 1 else 's'} {named} "
            f"failed")


def _plan_annex(p: PlanTerms) -> str:
    return (f"The running score S never falls below 0: an order with a major or critical "
            f"defect adds {p.w_defect:.4f}, any other order adds {p.w_clean:.4f}, and the "
            f"label is suspended, pending review, when S reaches the threshold "
            f"h = {p.h:.2f}. These numbers follow from the sampling plan in force: an "
            f"acceptable defect rate p0 = {_pct(p.p0)}, a rejectable defect rate "
            f"p1 = {_pct(p.p1)}, a risk alpha = {_pct(p.alpha)} of suspending a seller at the "
            f"acceptable rate and a risk beta = {_pct(p.beta)} of missing one at the "
            f"rejectable rate (a defect adds ln(p1/p0), a clean order ln((1-p1)/(1-p0)), and "
            f"h = ln((1-beta)/alpha)).")


def _cusum_rule(f: NoticeFacts) -> tuple[str, ...]:
    p = f.plan
    s = f.s_value if f.s_value is not None else 0.0
    if f.critical:
        ref = next((o.marketplace_ref for o in f.orders if o.order_id == f.trigger_order_id),
                   None)
        where = order_name(f.trigger_order_id, ref) if f.trigger_order_id is not None \
            else "a test order"
        return (
            f"Zero tolerance for critical defects: {_critical_checks(f)} on {where}. "
            "One critical verdict, "
            "confirmed on the device by a second inspector, suspends the label at once, "
            "pending review, whatever the running score." + (
                f" The critical finding was confirmed by a second inspector on "
                f"{f.critical_confirmed_on}." if f.critical_confirmed_on else "") +
            " The running score used for major defects plays no part in this decision.",)
    return (
        "After each inspected test order we update a running score. An order with a major or "
        "critical defect raises it a lot; an order without one lowers it a little; it never "
        "goes below zero. When the score reaches a set threshold, the label is suspended and "
        "a compliance officer reviews the suspension.",
        f"Your score reached that threshold. In plain words: your most recent test results "
        f"are about {math.exp(s):,.0f} times more likely to come from a seller whose true "
        f"defect rate is {_pct(p.p1)} than from one at the acceptable {_pct(p.p0)}. By this "
        f"statistical rule, a seller whose true defect rate is the acceptable {_pct(p.p0)} is "
        f"suspended within 24 test orders with a probability of "
        f"{_pct(round(f.plan.wrongful_24, 4))}. {FIGURES_SCOPE}")


def _annex(f: NoticeFacts) -> tuple[str, ...]:
    """The formulas and parameters behind the rule, for whoever wants to check them."""
    p = f.plan
    if f.kind in (NoticeKind.SUSPENSION_PENDING, NoticeKind.SUSPENSION_CONFIRMED):
        if f.critical:
            return ()
        s = f.s_value if f.s_value is not None else 0.0
        return (_plan_annex(p),
                f"Here S reached {s:.2f}, at or above h = {p.h:.2f}. S is the logarithm of the "
                f"likelihood ratio above (exp({s:.2f}) = {math.exp(s):,.0f}); the plan "
                f"suspends once this ratio reaches (1-beta)/alpha = "
                f"{(1 - p.beta) / p.alpha:,.0f}.")
    if f.kind == NoticeKind.REINSTATEMENT:
        return (_plan_annex(p),
                f"On probation S restarts with a head start S0 = h/2 = {p.h / 2:.2f} instead "
                f"of 0.")
    if f.kind == NoticeKind.SUSPENSION_OVERTURNED:
        head = f.s_value if f.s_value is not None else p.h / 2
        return (_plan_annex(p),
                f"After the overturned suspension S restarted with a head start "
                f"S0 = {head:.2f} (h/2) instead of 0.")
    if f.kind == NoticeKind.CONDITIONAL_RENEWAL:
        return (_plan_annex(p),)
    return ()


def _overturn_rule(f: NoticeFacts) -> tuple[str, ...]:
    p = f.plan
    head = f.s_value if f.s_value is not None else p.h / 2
    to_suspend = max(1, math.ceil((p.h - head) / p.w_defect - 1e-9))
    again = ("one more order with a major or critical defect would suspend the label again"
             if to_suspend == 1 else
             f"one order with a major or critical defect alone will not suspend the label "
             f"again, but {to_suspend} in a row would")
    return (
        "An automatic suspension is reviewed by a compliance officer, who confirms it or "
        "overturns it. An overturned suspension is lifted and the label returns to the status "
        "it had before.",
        f"Your running score of test results starts again from half the suspension threshold "
        f"instead of from zero: {again}, and each order without such a defect brings the "
        f"score down.")


def _rule(f: NoticeFacts) -> tuple[str, ...]:
    p = f.plan
    if f.kind in (NoticeKind.SUSPENSION_PENDING, NoticeKind.SUSPENSION_CONFIRMED):
        tail = ((" A compliance officer reviewed the suspension and confirmed it. It lasts "
                 "until the label is reinstated on probation (after an accepted appeal or "
                 "corrective-action plan) or revoked."),) \
            if f.kind == NoticeKind.SUSPENSION_CONFIRMED else (
                ("The suspension takes effect at once. A compliance officer reviews it and "
                 "either confirms it or overturns it; if it is overturned, the label returns "
                 "to the status it had."),)
        return _cusum_rule(f) + tuple(t.strip() for t in tail)
    if f.kind == NoticeKind.REINSTATEMENT:
        head = p.h / 2
        to_suspend = math.ceil((p.h - head) / p.w_defect - 1e-9)
        return (
            "A suspended label is reinstated on probation once a compliance officer accepts "
            "the seller's appeal or corrective-action plan.",
            f"On probation the running score of your test results restarts at half the "
            f"suspension threshold instead of zero, so {_orders(to_suspend)} with a major or "
            f"critical defect in a row suspend the label again; a critical defect, once "
            f"confirmed by a second inspector, suspends it at once.",
            f"Test orders are placed at the tightened rate of {_rate(p.rate_tightened)}. "
            f"Probation ends, and the label is active again, after {p.acceptance_run} test "
            f"orders in a row without a major or critical defect.")
    if f.kind == NoticeKind.SUSPENSION_OVERTURNED:
        return _overturn_rule(f)
    if f.kind == NoticeKind.CONDITIONAL_RENEWAL:
        need = f.renewal_min_inspected
        why = []
        if f.renewal_suspensions:
            why.append(f"the label {_suspended(f.renewal_suspensions)} in the year")
        if compute_short_on_seller_side(LabelYear(
                suspended=f.renewal_suspensions, planned=f.renewal_planned,
                inspected=f.renewal_inspected, seller_side=f.renewal_seller_side)):
            why.append(f"only {f.renewal_inspected} of the {_orders(f.renewal_planned)} "
                       f"planned {_were(f.renewal_inspected)} inspected, fewer than the "
                       f"{need} needed, and {f.renewal_seller_side} "
                       f"{_were(f.renewal_seller_side)} cancelled or lost on your side")
        because = " and ".join(why) or "the conditions of a full renewal were not met"
        return (
            f"At its anniversary a label renews fully unless it was suspended during its year, "
            f"or fewer than {need} test orders were inspected although at least {need} were "
            f"planned and the orders cancelled or lost on the seller's side made the "
            f"difference; fewer inspected orders because the plan chose fewer, or for reasons "
            f"not on the seller's side, do not count against the seller. Otherwise it renews "
            f"conditionally. Here {because}.",
            f"A conditional renewal keeps the label in force but returns the seller to "
            f"onboarding-rate sampling ({_rate(p.rate_onboarding)}) until "
            f"{p.acceptance_run} test orders in a row pass without a major or critical "
            f"defect. The running score of your test results and the suspension threshold "
            f"apply as before.")
    return (
        "A compliance officer may revoke a Back Label when the seller can no longer be trusted "
        "to meet the label's requirements, for example after a confirmed suspension that was "
        "not followed by an accepted appeal or corrective-action plan.",
        "Revocation is final within the marketplace's internal process: a revoked label "
        "cannot be reinstated on probation, and a corrective-action plan does not bring it "
        "back. Two routes remain open: an appeal, if you believe the revocation rests on wrong "
        "facts, which a compliance officer reviews and answers with a reason; and, outside the "
        "marketplace, mediation and the courts. Until you are told otherwise your listings "
        "may not carry the Back Label.")


def _decision(f: NoticeFacts) -> str:
    if f.kind == NoticeKind.SUSPENSION_PENDING:
        return (f"Your Back Label is suspended with effect from {f.decided_on}, pending review "
                "by a compliance officer. While it is suspended your listings may not carry "
                "the Back Label and no test orders are placed.")
    if f.kind == NoticeKind.SUSPENSION_CONFIRMED:
        since = f" that took effect on {f.suspended_on}" if f.suspended_on else ""
        return (f"On {f.decided_on} a compliance officer reviewed the suspension of your Back "
                f"Label{since} and confirmed it. The label stays suspended: your listings may "
                "still not carry the Back Label.")
    if f.kind == NoticeKind.REINSTATEMENT:
        after = f" (suspended since {f.suspended_on})" if f.suspended_on else ""
        return (f"Your Back Label is reinstated on probation with effect from "
                f"{f.decided_on}{after}. Your listings may carry the Back Label again, under "
                f"the conditions below.")
    if f.kind == NoticeKind.SUSPENSION_OVERTURNED:
        of = f" of {f.suspended_on}" if f.suspended_on else ""
        status = ("on probation again, as it was before the suspension"
                  if f.restored_status == "probation" else "active again")
        return (f"The suspension{of} of your Back Label is lifted: a compliance officer "
                f"reviewed it and overturned it on {f.decided_on}. Your label is {status}. "
                f"Your listings are back under the Back Label from {f.decided_on}.")
    if f.kind == NoticeKind.CONDITIONAL_RENEWAL:
        until = f", valid until {f.valid_until}" if f.valid_until else ""
        return (f"Your Back Label was renewed conditionally on {f.decided_on}{until}. It stays "
                f"in force, with more frequent test orders under the conditions below.")
    return (f"Your Back Label is revoked with effect from {f.decided_on}. Your listings may no "
            f"longer carry the Back Label.")


def _summary(f: NoticeFacts, appeal_by: date) -> tuple[str, ...]:
    """The opening: the decision and its effect on the listings, then what the seller can do
    and by when, before any figure."""
    if f.kind == NoticeKind.SUSPENSION_OVERTURNED:
        return (_decision(f), "You need not do anything.")
    do = {
        NoticeKind.SUSPENSION_PENDING: "If you disagree, or want to tell us what you are "
                                       "changing, send an appeal or a corrective-action plan",
        NoticeKind.SUSPENSION_CONFIRMED: "To have the label reinstated, send an appeal or a "
                                         "corrective-action plan",
        NoticeKind.REINSTATEMENT: "If you disagree with the conditions, send an appeal",
        NoticeKind.CONDITIONAL_RENEWAL: "If you believe the counts are wrong, send an appeal",
        NoticeKind.REVOCATION: "If you believe the revocation rests on wrong facts, send an "
                               "appeal",
    }[f.kind]
    return (_decision(f), f"{do} to {f.appeal_to} by {appeal_by}. The reasons and the facts "
                          f"follow.")


def _appeal(f: NoticeFacts, appeal_by: date) -> tuple[str, ...]:
    where = (f"Write to {f.appeal_to} by {appeal_by} ({f.appeal_days} days from "
             f"{f.decided_on}), quoting reference {f.reference}.")
    if f.kind == NoticeKind.SUSPENSION_OVERTURNED:
        return ("This decision is in your favour; you need not do anything.",
                "If you believe a fact in this notice is wrong, for example an order listed "
                "above that is not yours, say which and send your evidence. " + where)
    evidence = ("with your evidence (for example your own test records for the orders "
                "above)")
    outcome = ("A compliance officer records what you send, accepts or rejects it with a "
               "reason, and tells you the outcome.")
    # no corrective-action plan undoes a revocation; no defect, no cause to explain
    cause = ("what caused the defects, " if any(o.verdict in DEFECT_VERDICTS for o in f.orders)
             else "")
    what = (f"Send an appeal, saying which facts you believe are wrong, {evidence}. {outcome}"
            if f.kind == NoticeKind.REVOCATION else
            f"Send either an appeal, saying why you believe the decision is wrong, {evidence}, "
            f"or a corrective-action plan, saying {cause}what you have changed and from when. "
            f"{outcome}")
    effect = {
        NoticeKind.SUSPENSION_PENDING: "The review of the suspension takes what you send into "
                                       "account. An accepted appeal or corrective-action plan "
                                       "leads to reinstatement of the label on probation.",
        NoticeKind.SUSPENSION_CONFIRMED: "An accepted appeal or corrective-action plan leads to "
                                         "reinstatement of the label on probation.",
        NoticeKind.REINSTATEMENT: "You may also appeal against the conditions of the "
                                  "probation.",
        NoticeKind.CONDITIONAL_RENEWAL: "If you believe the counts above are wrong, an "
                                        "accepted appeal restores the normal sampling rate.",
        NoticeKind.REVOCATION: "If you believe the revocation rests on wrong facts, say which "
                               "and send your evidence.",
    }[f.kind]
    return (where, what, effect)


def _photos_note(f: NoticeFacts, shown: Sequence[OrderLine]) -> str:
    if not any(line.photos for line in shown):
        return ""
    return ("The photos taken at these inspections are listed by their SHA-256 fingerprint. "
            f"To receive copies, reply to this notice or write to {f.appeal_to}, quoting "
            f"reference {f.reference} and the orders concerned; the fingerprint of each copy "
            "you receive matches the one listed here.")


def compute_statement(facts: NoticeFacts) -> Statement:
    """The statement of reasons for one decision."""
    lines = compute_order_lines(facts.orders, facts.start_s, facts.plan,
                                facts.trigger_order_id)
    shown = lines[-MAX_ORDER_LINES:]
    omitted = len(lines) - len(shown)
    appeal_by = compute_appeal_by(facts.decided_on, facts.appeal_days)
    title = KIND_TITLES[facts.kind]
    person = facts.kind != NoticeKind.SUSPENSION_PENDING and \
        facts.kind != NoticeKind.CONDITIONAL_RENEWAL
    officer = facts.officer_reason.strip() if person else ""
    return Statement(
        kind=facts.kind, title=title,
        subject=f"Back Label: {title.lower()} for {facts.seller_name} ({facts.reference})",
        seller_name=facts.seller_name, reference=facts.reference, decided_on=facts.decided_on,
        decision=_decision(facts), summary=_summary(facts, appeal_by),
        facts=_facts_sentence(facts, lines), orders=shown,
        orders_omitted=omitted,
        orders_omitted_text=(f"({plural(omitted, 'earlier test order')} {_were(omitted)} not "
                             "listed.)") if omitted else "",
        photos_note=_photos_note(facts, shown),
        # a critical defect suspends whatever the running score: its column would mislead
        show_s=facts.kind != NoticeKind.CONDITIONAL_RENEWAL and not facts.critical,
        rule=_rule(facts), annex=_annex(facts), officer_reason=officer, reviewed_by_person=person,
        appeal=_appeal(facts, appeal_by), appeal_to=facts.appeal_to, appeal_by=appeal_by)
