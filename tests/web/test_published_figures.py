"""Published error rates: the plan preview's expected wrongful suspensions come from each
seller's own statistics, and every figure says it covers the statistical rule only."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from core.clock import utcnow
from core.db import db
from qc.forecast import FIGURES_SCOPE, MonthlyRate, suspension_probability
from qc.models import SellerStatistics
from qc.sampling import Period
from qc.services import plan_settings, planning
from qc.stats import DEFAULT_PLAN, compute_increments
from tests.conftest import post_form
from tests.factories import ListingFactory, SellerFactory
from tests.web.qc_helpers import ALLOCATION, buyer_pool
from vetting.labels import SamplingState
from vetting.models import Seller

INC = compute_increments(DEFAULT_PLAN)
P0 = DEFAULT_PLAN.p0


@pytest.fixture(autouse=True)
def _buyer_pool(app: Flask) -> None:
    """The planner needs buyer identities to place orders under."""
    buyer_pool()


def seller(status: str | None, state: str | None, s: float | None = None) -> Seller:
    row = SellerFactory(label_status=status, sampling_state=state,
                        label_valid_from=date(2026, 1, 10), label_valid_until=date(2027, 1, 10))
    db.session.flush()
    if s is not None:
        db.session.add(SellerStatistics(seller_id=row.id, s=s, epoch_stats="{}"))
    db.session.commit()
    return row


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def test_the_preview_sums_each_seller_in_force_from_its_own_statistics(app: Flask) -> None:
    rates = {SamplingState.ONBOARDING: 2.0, SamplingState.NORMAL: 1.0,
             SamplingState.REDUCED: 0.5, SamplingState.TIGHTENED: 4.0}
    new = seller("active", "onboarding")  # no statistics yet: S = 0
    reduced = seller("active", "reduced", 0.0)
    probation = seller("probation", "tightened", INC.h / 2)
    tightened = seller("active", "tightened", 1.3863)
    seller("suspended", None, 5.55)  # not in force: not counted
    seller("expired", None, 0.0)
    seller(None, None)

    def rate(orders: float) -> MonthlyRate:
        return MonthlyRate(orders, tightened=4.0, tighten_at=1.0)

    each = {new.id: suspension_probability(P0, rate(2.0), INC),
            reduced.id: suspension_probability(P0, rate(0.5), INC),
            probation.id: suspension_probability(P0, 4.0, INC, s0=INC.h / 2),
            tightened.id: suspension_probability(P0, rate(4.0), INC, s0=1.3863)}
    preview = plan_settings.plan_preview(DEFAULT_PLAN, rates)
    assert preview["sellers"] == 4
    assert preview["expected_wrongful"] == pytest.approx(sum(each.values()), rel=1e-12)
    # what the old "every seller at S = 0 for 12 months" preview hid: probation is 4.7%
    assert each[probation.id] == pytest.approx(0.0472, abs=1e-4)
    assert not preview["by_allocation"]

    # the allocation's expected orders per seller replace the state's rate where given
    allocated = plan_settings.plan_preview(DEFAULT_PLAN, rates,
                                           rates_by_seller={probation.id: 0.5})
    assert allocated["by_allocation"]
    assert allocated["expected_wrongful"] == pytest.approx(
        sum(each.values()) - each[probation.id]
        + suspension_probability(P0, 0.5, INC, s0=INC.h / 2), rel=1e-12)

    # a higher tightened rate is felt by every seller, not only by those tightened today
    stricter = plan_settings.plan_preview(DEFAULT_PLAN, {**rates, SamplingState.TIGHTENED: 8.0})
    assert stricter["expected_wrongful"] > preview["expected_wrongful"]
    # the default is the settings in force (the design's rates here)
    assert plan_settings.plan_preview(DEFAULT_PLAN)["expected_wrongful"] == pytest.approx(
        preview["expected_wrongful"], rel=1e-12)


def test_the_plan_page_states_the_forecast_and_what_it_covers(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    on_probation = seller("probation", "tightened", INC.h / 2)
    ListingFactory(seller=on_probation)
    db.session.commit()
    login("compliance")
    page = client.get("/qc/plan").get_data(as_text=True)
    text = text_of(page)
    # One seller in force and a budget of 200: the allocation expects the floor and a full
    # block (8.01 orders a month); the forecast holds that rate from S = h/2 for 12 months.
    today = utcnow().date()
    rates = planning.expected_orders(Period(today.year, today.month))
    assert rates == {on_probation.id: pytest.approx(8.01)}
    expected = suspension_probability(P0, rates[on_probation.id], INC, s0=INC.h / 2)
    assert expected > 0.05
    assert (f"Expected wrongful suspensions in the next 12 months if every seller were good: "
            f"{expected:.2f} (statistical rule; sum over 1 seller in force from their current "
            f"statistics)") in text
    assert ("each seller at the acceptable rate p0 = 5%, month by month from its CUSUM S "
            "today, at the test orders this month's allocation expects for it, held for 12 "
            "months") in text
    assert "Probability of a suspension by the statistical (CUSUM) rule within n inspected " \
           "orders, from S = 0" in text
    assert FIGURES_SCOPE in text
    assert page.count("These figures cover the statistical (CUSUM) rule only.") == 1

    # a previewed budget is forecast with the orders that budget would give
    form = {"rate_onboarding": "2", "rate_normal": "1", "rate_reduced": "0.5",
            "rate_tightened": "4", "budget_eur": "60000", **ALLOCATION, "budget_orders": "1",
            "p0": "0.05", "p1": "0.20", "alpha": "0.005", "beta": "0.10", "preview": "Preview"}
    preview = text_of(post_form(client, "/qc/plan", form).get_data(as_text=True))
    expected = suspension_probability(P0, 1.0, INC, s0=INC.h / 2)
    assert f"if every seller were good: {expected:.2f} (statistical rule;" in preview


def test_the_oc_command_says_what_it_covers(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["qc", "oc", "--p", "0.05", "--n", "24"])
    assert FIGURES_SCOPE in result.output
    assert "P(suspended by the statistical rule within 24 orders" in result.output
    assert result.output.strip().splitlines()[-1] == "0.0029"
