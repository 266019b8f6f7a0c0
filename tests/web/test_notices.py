"""Seller notices: written with each decision, kept in the seller's file, sent through the
outbox by file or SMTP, retried, dead, and sent again."""

from __future__ import annotations

import io
import socketserver
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from markupsafe import escape
from pypdf import PdfReader
from sqlalchemy import func, select

from app import scheduled_jobs
from compliance import jobs, notices, services
from compliance.models import Notice, SuspensionReview
from core.db import db
from core.models import AuditEntry, User
from qc.forecast import FIGURES_SCOPE
from qc.models import InspectionPhoto, TestOrder
from qc.services import critical_findings, inspections, label_decisions
from tests.conftest import post_form
from tests.factories import ListingFactory, SellerFactory, UserFactory
from tests.web.qc_helpers import NOW, planned_orders, received_orders
from tests.web.test_qc_orders import png
from vetting.models import Seller

# ---------------------------------------------------------------- helpers


def clock(app: Flask, at: datetime) -> None:
    app.config["CLOCK"] = lambda: at


def active_seller(**kw: object) -> Seller:
    seller = SellerFactory(label_status="active", sampling_state="onboarding",
                           label_valid_from=date(2026, 1, 10),
                           label_valid_until=date(2027, 1, 10), **kw)
    ListingFactory(seller=seller, device_model="Galaxy S22 256 GB")
    db.session.commit()
    return seller


def inspect(orders: list[TestOrder], inspector: User, failed: tuple[str, ...] = (),
            note: str = "", photo: bytes | None = None) -> None:
    for order in orders:
        db.session.refresh(order)
        outcomes = {c.code: (c.code not in failed, note if c.code in failed else "")
                    for c in inspections.checkpoints_for(order.listing.category)}
        inspections.submit_inspection(order, inspections.InspectionInput(
            observed_grade=order.listing.promised_grade, battery_percent=91,
            battery_cycles=200, battery_swollen=False, cable_missing=False, notes="",
            outcomes=outcomes,
            photos=[(io.BytesIO(photo), "front.png")] if photo is not None else ()), inspector)
        db.session.commit()


def suspend(app: Flask, seller: Seller, inspector: User) -> list[TestOrder]:
    """Two clean orders, then four display faults: S = 5.55 >= h, suspended pending review."""
    clock(app, NOW)
    clean = received_orders(seller, 2)
    inspect(clean, inspector)
    clock(app, NOW + timedelta(hours=1))
    faulty = received_orders(seller, 4)
    inspect(faulty, inspector, failed=("DISP-1",))
    db.session.expire_all()
    assert db.session.get(Seller, seller.id).label_status == "suspended"
    return clean + faulty


def notice_of(kind: str, seller: Seller) -> Notice:
    db.session.expire_all()
    return db.session.execute(select(Notice).where(
        Notice.kind == kind, Notice.seller_id == seller.id)).scalar_one()


def count(model: type, *where: object) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def officer() -> User:
    user = UserFactory(roles=["compliance"], email="officer@example.test")
    db.session.commit()
    return user


def pdf_text(data: bytes) -> str:
    """The PDF's text without white space (text extraction splits some kerned words)."""
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return "".join(text.split())


def squeeze(text: str) -> str:
    return "".join(text.split())


def parse_eml(path: Path) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())  # type: ignore[return-value]


@pytest.fixture
def inspector(app: Flask) -> User:
    user = UserFactory(roles=["inspector"], email="inspector@example.test")
    db.session.commit()
    return user


# ---------------------------------------------------------------- content per decision


def test_every_decision_writes_its_notice_with_the_facts(app: Flask, inspector: User) -> None:
    seller = active_seller(contact_email="quality@refurb-one.example")
    orders = suspend(app, seller, inspector)

    pending = notice_of("suspension_pending", seller)
    assert pending.recipient == "quality@refurb-one.example"
    assert pending.status == "queued"
    assert pending.decided_on == NOW.date()
    assert pending.appeal_by == NOW.date() + timedelta(days=30)
    text = pending.body_text
    assert "suspended with effect from 2026-06-10, pending review" in text
    # plain words first: the opening paragraph has no statistics; the formulas come last
    first = text.split("DECISION\n", 1)[1].split("\n\n", 1)[0]
    assert "suspended with effect from 2026-06-10" in first
    assert "by 2026-07-10" in first
    for jargon in ("S =", "h =", "p0", "log", "ln("):
        assert jargon not in first
    assert text.index("After each inspected test order we update a running score") < \
        text.index("ANNEX: THE STATISTICAL RULE IN DETAIL") < text.index("p0 = 5%")
    sku = orders[0].listing.sku
    for order in orders:
        assert (f"Marketplace order {order.marketplace_ref}, bought 2026-06-06 (test order "
                f"#{order.id}), listing {sku}, Galaxy S22 256 GB") in text
    assert text.count("Inspected 2026-06-10: major defect; S after it") == 4
    assert text.count("Inspected 2026-06-10: conforming, no defect; S after it") == 2
    assert text.count("Failed checkpoint DISP-1 no dead pixels, lines, burn-in, white spots") \
        == 4
    assert text.count("[TRIGGERED THE DECISION]") == 1
    assert f"[TRIGGERED THE DECISION] Marketplace order {orders[-1].marketplace_ref}" in text
    assert (f"triggered by marketplace order {orders[-1].marketplace_ref} (test order "
            f"#{orders[-1].id}), marked below") in text
    assert "S reached 5.55, at or above h = 5.19" in text
    assert "p0 = 5%, a rejectable defect rate p1 = 20%" in text
    assert "Deadline: 2026-07-10. Send to: compliance@labelkeeper.invalid." in text
    assert "no person has reviewed it yet" in text
    assert "6 test orders bought anonymously on the marketplace were inspected: 4 with" in text
    assert "(s)" not in text
    assert "<td>major defect</td>" in pending.body_html
    assert "<strong>DISP-1 no dead pixels, lines, burn-in, white spots</strong>" in \
        pending.body_html
    # the published wrongful-suspension rate says what it covers, the critical rule beside it
    assert "with a probability of 0.29%. " + FIGURES_SCOPE in " ".join(text.split())
    assert squeeze(FIGURES_SCOPE) in squeeze(pending.body_html)

    # confirmed, with the officer's reason
    clock(app, NOW + timedelta(days=2))
    review = db.session.execute(select(SuspensionReview)).scalar_one()
    services.confirm_suspension(review, "Four display faults in a row.", officer())
    db.session.commit()
    confirmed = notice_of("suspension_confirmed", seller)
    assert confirmed.review_id == review.id
    assert confirmed.appeal_by == date(2026, 7, 12)
    assert "On 2026-06-12 a compliance officer reviewed the suspension" in confirmed.body_text
    assert "Four display faults in a row." in confirmed.body_text
    assert f"[TRIGGERED THE DECISION] Marketplace order {orders[-1].marketplace_ref}" in \
        confirmed.body_text

    # reinstatement on probation
    clock(app, NOW + timedelta(days=20))
    services.reinstate(db.session.get(Seller, seller.id), "Corrective-action plan accepted.",
                       db.session.execute(select(User).where(
                           User.email == "officer@example.test")).scalar_one())
    db.session.commit()
    reinstated = notice_of("reinstatement", seller)
    text = reinstated.body_text
    assert "reinstated on probation with effect from 2026-06-30" in text
    assert "head start S0 = h/2 = 2.60" in text
    assert "Corrective-action plan accepted." in text
    # the orders that led to the suspension
    assert f"Marketplace order {orders[-1].marketplace_ref}" in text

    # revocation
    clock(app, NOW + timedelta(days=40))
    services.revoke(db.session.get(Seller, seller.id), "Fraudulent IMEI records found.",
                    db.session.execute(select(User).where(
                        User.email == "officer@example.test")).scalar_one())
    db.session.commit()
    revoked = notice_of("revocation", seller)
    assert "revoked with effect from 2026-07-20" in revoked.body_text
    assert "Fraudulent IMEI records found." in revoked.body_text
    assert "Revocation is final" in revoked.body_text
    assert revoked.appeal_by == date(2026, 8, 19)

    assert count(Notice) == 4
    assert count(AuditEntry, AuditEntry.action == "notice.queued") == 4
    assert len({n.message_id for n in db.session.execute(select(Notice)).scalars()}) == 4


def test_critical_verdict_notice_names_the_zero_tolerance_rule(app: Flask,
                                                               inspector: User) -> None:
    clock(app, NOW)
    seller = active_seller()
    order = received_orders(seller, 1)[0]
    inspect([order], inspector, failed=("LOCK-1",), note="Find My still on after reset.")
    assert count(Notice) == 0  # one inspector's critical verdict waits for a second one
    clock(app, datetime(2026, 6, 11, 9, 30))
    second = UserFactory(email="second@example.test", roles=["inspector"])
    critical_findings.decide_finding(critical_findings.pending_finding(order), True,
                                     "Activation lock still on the device.", second)
    db.session.commit()
    text = notice_of("suspension_pending", seller).body_text
    one_line = " ".join(text.split())
    assert ("Zero tolerance for critical defects: the critical checkpoint LOCK-1 activation "
            "lock / factory-reset protection / MDM cleared failed on marketplace order "
            f"{order.marketplace_ref} (test order #{order.id}).") in one_line
    assert "such as an IMEI" not in one_line  # the checkpoint itself, not examples
    # the zero-tolerance rule, without the running-score (CUSUM) explanation or column
    assert "every inspected test order changes a running score" not in one_line.lower()
    assert "h = " not in one_line
    assert "S after it" not in one_line
    assert "The critical finding was confirmed by a second inspector on 2026-06-11." in text
    assert (f"[TRIGGERED THE DECISION] Marketplace order {order.marketplace_ref}, bought "
            f"2026-06-06 (test order #{order.id}), listing {order.listing.sku}, Galaxy S22 "
            "256 GB\n  Inspected 2026-06-10: critical defect") in text
    assert "Failed checkpoint LOCK-1 activation lock / factory-reset protection / MDM " \
        "cleared; inspector's note: Find My still on after reset." in text
    pdf = pdf_text(notices.ensure_pdf(notice_of("suspension_pending", seller)))
    assert squeeze("the critical checkpoint LOCK-1 activation lock / factory-reset protection / "
                   f"MDM cleared failed on marketplace order {order.marketplace_ref}") in pdf


def test_a_notice_pdf_names_failed_checkpoints_orders_and_photos(app: Flask,
                                                                 inspector: User) -> None:
    clock(app, NOW)
    seller = active_seller()
    clean = received_orders(seller, 2)
    inspect(clean, inspector)
    clock(app, NOW + timedelta(hours=1))
    faulty = received_orders(seller, 4)
    inspect(faulty[:3], inspector, failed=("DISP-1",), note="Green line across the top.")
    inspect(faulty[3:], inspector, failed=("DISP-1", "COS-1"), note="Scratched glass.",
            photo=png())
    notice = notice_of("suspension_pending", seller)
    photo = db.session.execute(select(InspectionPhoto)).scalar_one()
    assert f"Photos (SHA-256): {photo.sha256}" in notice.body_text

    text = pdf_text(notices.ensure_pdf(notice))
    for order in clean + faulty:
        assert squeeze(f"{order.marketplace_ref} (test order #{order.id})") in text
    assert text.count(squeeze("DISP-1 no dead pixels, lines, burn-in, white spots")) == 4
    assert text.count(squeeze("inspector's note: Green line across the top.")) == 3
    assert squeeze("COS-1 screen cosmetics match the grade; inspector's note: Scratched "
                   "glass.") in text
    assert text.count("Triggeredthedecision:") == 1
    assert squeeze(f"Triggered the decision: {faulty[-1].marketplace_ref}") in text
    assert photo.sha256 in text
    assert squeeze(f"To receive copies, reply to this notice or write to "
                   f"compliance@labelkeeper.invalid, quoting reference {notice.reference}") \
        in text
    assert "(s)" not in text


def test_conditional_renewal_notice(app: Flask, inspector: User) -> None:
    clock(app, datetime(2026, 3, 1, 9))
    seller = active_seller()
    inspect(received_orders(seller, 2, datetime(2026, 3, 1, 9)), inspector)
    planned_orders(seller, 5, datetime(2026, 3, 1, 9), failed_on="seller")
    planned_orders(seller, 1, datetime(2026, 3, 1, 9), failed_on="ours")
    clock(app, datetime(2027, 1, 10, 0, 20))
    renewed = label_decisions.renew_labels(date(2027, 1, 10))
    db.session.commit()
    assert [full for _, full in renewed] == [False]
    notice = notice_of("conditional_renewal", seller)
    text = " ".join(notice.body_text.split())
    assert "renewed conditionally on 2027-01-10, valid until 2028-01-10" in text
    assert ("from 2026-01-10 to 2027-01-10 the Back Label was not suspended; 8 test orders "
            "were planned, 2 were inspected and 5 were cancelled or lost on your side") in text
    assert ("only 2 of the 8 test orders planned were inspected, fewer than the 6 needed, and "
            "5 were cancelled or lost on your side") in text
    assert "because the plan chose fewer" in text  # the rule says what does not count
    assert "onboarding-rate sampling (2 test orders a month)" in text
    assert text.count(": conforming") == 2


def test_an_overturned_suspension_tells_the_seller_the_label_is_back(
        app: Flask, client: FlaskClient, login: Callable[..., object],
        inspector: User) -> None:
    seller = active_seller(contact_email="quality@refurb-one.example")
    suspend(app, seller, inspector)
    review = db.session.execute(select(SuspensionReview)).scalar_one()
    login("compliance")
    clock(app, NOW + timedelta(days=2))
    response = post_form(client, f"/compliance/reviews/{review.id}", {
        "decision": "overturn", "reason": "Display batch was a courier accident.",
        "version": review.version})
    assert response.status_code == 302

    notice = notice_of("suspension_overturned", seller)
    assert notice.recipient == "quality@refurb-one.example"
    assert notice.review_id == review.id
    assert notice.status == "queued"
    text = " ".join(notice.body_text.split())
    assert (f"The suspension of {NOW.date()} of your Back Label is lifted: a compliance "
            f"officer reviewed it and overturned it on {NOW.date() + timedelta(days=2)}. "
            "Your label is active again. Your listings are back under the Back Label") in text
    assert "Display batch was a courier accident." in text
    assert "starts again from half the suspension threshold instead of from zero" in text
    assert count(AuditEntry, AuditEntry.action == "notice.queued") == 2
    assert squeeze("Suspension lifted after review") in pdf_text(notices.ensure_pdf(notice))


def test_a_rolled_back_decision_writes_no_notice(app: Flask, inspector: User) -> None:
    seller = active_seller()
    services.revoke(seller, "Changed my mind before saving.", officer())
    assert count(Notice) == 1  # inside the transaction, with the decision
    db.session.rollback()
    assert count(Notice) == 0
    assert db.session.get(Seller, seller.id).label_status == "active"
    assert jobs.run_notice_outbox() == []
    assert not Path(app.config["NOTICE_OUTBOX_DIR"]).exists()


# ---------------------------------------------------------------- file transport


def test_file_transport_writes_an_eml_with_text_html_and_the_pdf(
        app: Flask, inspector: User, runner: FlaskCliRunner) -> None:
    seller = active_seller(legal_name="Zweite Chance Elektronik GmbH")
    suspend(app, seller, inspector)
    result = runner.invoke(args=["notices", "send"])
    assert result.exit_code == 0, result.output
    notice = notice_of("suspension_pending", seller)
    assert f"1 notice(s) sent: {notice.reference}" in result.output
    assert "0 queued, 0 sending, 0 dead" in result.output
    assert notice.status == "sent"
    assert notice.attempts == 1
    assert notice.sent_at is not None

    files = list(Path(app.config["NOTICE_OUTBOX_DIR"]).glob("*.eml"))
    assert len(files) == 1
    msg = parse_eml(files[0])
    assert msg["Message-ID"] == notice.message_id
    assert msg["To"] == seller.contact_email
    assert msg["Subject"] == notice.subject
    assert "suspension pending review" in msg["Subject"]
    assert "S reached 5.55" in msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "<h2>Rule applied, in plain words</h2>" in html
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"labelkeeper-notice-{notice.reference}.pdf"
    data = attachment.get_content()
    assert data == notice.pdf
    text = pdf_text(data)
    assert squeeze("Zweite Chance Elektronik GmbH") in text
    assert "Ruleapplied" in text
    assert "2026-07-10" in text

    # nothing is due any more; sending again by hand gives the same message
    assert jobs.run_notice_outbox() == []
    services_user = officer()
    notices.send_again(notice, services_user)
    db.session.commit()
    assert jobs.run_notice_outbox() == [notice.reference]
    assert [f.name for f in Path(app.config["NOTICE_OUTBOX_DIR"]).glob("*.eml")] == \
        [files[0].name]
    assert parse_eml(files[0])["Message-ID"] == notice.message_id


def test_a_sender_that_died_mid_send_is_taken_over_with_the_same_message_id(
        app: Flask, inspector: User) -> None:
    seller = active_seller()
    suspend(app, seller, inspector)
    claims = notices.claim_due()
    db.session.commit()
    assert len(claims) == 1
    assert notices.claim_due() == []  # a second sender finds nothing to take
    db.session.commit()
    # the first sender dies; once the claim is stale the notice is sent by the next run
    assert jobs.run_notice_outbox() == []
    clock(app, NOW + timedelta(hours=2))
    notice = notice_of("suspension_pending", seller)
    assert jobs.run_notice_outbox() == [notice.reference]
    notice = notice_of("suspension_pending", seller)
    assert notice.status == "sent"
    assert notices.record_sent(claims[0], "late") is None  # the lost claim changes nothing
    msg = parse_eml(next(Path(app.config["NOTICE_OUTBOX_DIR"]).glob("*.eml")))
    assert msg["Message-ID"] == notice.message_id


def test_two_senders_at_once_send_each_notice_once(app_factory: Callable[..., Flask],
                                                   app: Flask) -> None:
    clock(app, NOW)
    user = officer()
    for _ in range(6):
        services.revoke(active_seller(), "Closed down.", user)
        db.session.commit()
    errors: list[BaseException] = []

    def sender(other: Flask) -> None:
        try:
            with other.app_context():
                jobs.run_notice_outbox(limit=2)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)

    # the apps are built here: registering blueprints is not meant to run in two threads
    senders = [app_factory(NOTICE_OUTBOX_DIR=app.config["NOTICE_OUTBOX_DIR"], CLOCK=lambda: NOW)
               for _ in range(2)]
    threads = [threading.Thread(target=sender, args=(other,)) for other in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.session.expire_all()
    assert [(n.status, n.attempts) for n in db.session.execute(select(Notice)).scalars()] == \
        [("sent", 1)] * 6
    assert count(AuditEntry, AuditEntry.action == "notice.sent") == 6
    assert len(list(Path(app.config["NOTICE_OUTBOX_DIR"]).glob("*.eml"))) == 6


# ---------------------------------------------------------------- SMTP transport


class SmtpServer(socketserver.ThreadingTCPServer):
    """A tiny SMTP server on 127.0.0.1 that accepts, or refuses in the chosen way."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SmtpHandler)
        self.mode = "accept"  # accept | greeting (421) | mail (451) | data (554)
        self.messages: list[EmailMessage] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class SmtpHandler(socketserver.StreamRequestHandler):
    server: SmtpServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        mode = self.server.mode
        if mode == "greeting":
            self.reply("421 4.3.2 Service not available, closing channel")
            return
        self.reply("220 test.invalid ESMTP")
        while line := self.rfile.readline():
            verb = line[:4].decode().upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 test.invalid")
            elif verb == "MAIL":
                self.reply("451 4.7.1 Greylisted, try again later" if mode == "mail"
                           else "250 2.1.0 OK")
            elif verb in ("RCPT", "RSET", "NOOP"):
                self.reply("250 2.1.5 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                if mode == "data":
                    self.reply("554 5.7.1 Message rejected as spam")
                else:
                    self.server.messages.append(
                        BytesParser(policy=policy.default).parsebytes(data))  # type: ignore[arg-type]
                    self.reply("250 2.0.0 Queued")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Command not recognised")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def use_smtp(app: Flask, port: int, max_attempts: int = 3) -> None:
    app.config.update(NOTICE_TRANSPORT="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                      MAIL_TIMEOUT=5, NOTICE_MAX_ATTEMPTS=max_attempts,
                      MAIL_FROM="Back Label compliance <compliance@marketplace.example>")


def test_smtp_transport_hands_the_message_over(app: Flask, inspector: User,
                                               smtp: SmtpServer) -> None:
    use_smtp(app, smtp.port)
    seller = active_seller(legal_name="Tweede Kans BV")
    suspend(app, seller, inspector)
    notice = notice_of("suspension_pending", seller)
    assert notice.message_id.endswith("@marketplace.example>")
    assert jobs.run_notice_outbox() == [notice.reference]
    [msg] = smtp.messages
    assert msg["Message-ID"] == notice.message_id
    assert msg["To"] == seller.contact_email
    assert msg["Reply-To"] == "compliance@marketplace.example"
    [attachment] = list(msg.iter_attachments())
    assert squeeze("Tweede Kans BV") in pdf_text(attachment.get_content())
    assert notice_of("suspension_pending", seller).status == "sent"
    assert not Path(app.config["NOTICE_OUTBOX_DIR"]).exists()


@pytest.mark.parametrize(("mode", "error"), [
    ("greeting", "replied 421 4.3.2 Service not available"),
    ("mail", "replied 451 4.7.1 Greylisted"),
    ("data", "replied 554 5.7.1 Message rejected as spam"),
])
def test_a_refusing_smtp_server_means_retry_then_dead_then_send_again(
        app: Flask, client: FlaskClient, login: Callable[..., object], inspector: User,
        smtp: SmtpServer, mode: str, error: str) -> None:
    use_smtp(app, smtp.port, max_attempts=2)
    smtp.mode = mode
    seller = active_seller()
    suspend(app, seller, inspector)

    # first attempt fails: queued again for later, with the error
    assert jobs.run_notice_outbox() == []
    notice = notice_of("suspension_pending", seller)
    assert (notice.status, notice.attempts) == ("queued", 1)
    assert error in notice.last_error
    assert NOW + timedelta(hours=1) < notice.next_attempt_at <= NOW + timedelta(hours=1,
                                                                                  seconds=30)
    assert jobs.run_notice_outbox() == []  # not due yet: no second attempt
    assert notice_of("suspension_pending", seller).attempts == 1

    # the retry is due and fails too: the last attempt, so the notice is dead
    clock(app, notice.next_attempt_at)
    assert jobs.run_notice_outbox() == []
    notice = notice_of("suspension_pending", seller)
    assert (notice.status, notice.attempts) == ("dead", 2)
    assert smtp.messages == []
    assert count(AuditEntry, AuditEntry.action == "notice.dead") == 1

    # the compliance outbox page shows it, with the error and a button
    login("compliance")
    page = client.get("/compliance/notices?status=dead").get_data(as_text=True)
    assert notice.subject in page
    assert error.split(" ", 1)[1] in page
    assert "Send again" in page

    # the server accepts again; someone presses "send again"
    smtp.mode = "accept"
    response = post_form(client, f"/compliance/notices/{notice.id}/send-again", {},
                         token_from="/compliance/notices", follow_redirects=True)
    assert f"Notice {notice.reference} to {seller.contact_email} is queued again." in \
        response.get_data(as_text=True)
    assert count(AuditEntry, AuditEntry.action == "notice.send_again") == 1
    assert jobs.run_notice_outbox() == [notice.reference]
    [msg] = smtp.messages
    assert msg["Message-ID"] == notice.message_id
    assert notice_of("suspension_pending", seller).status == "sent"


def test_connection_refused_is_a_failed_attempt(app: Flask, inspector: User) -> None:
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as probe:
        closed_port = probe.server_address[1]
    use_smtp(app, closed_port)
    seller = active_seller()
    suspend(app, seller, inspector)
    assert jobs.run_notice_outbox() == []
    notice = notice_of("suspension_pending", seller)
    assert notice.status == "queued"
    assert notice.attempts == 1
    assert f"SMTP 127.0.0.1:{closed_port}" in notice.last_error
    assert "refused" in notice.last_error.lower()


def test_send_again_refuses_a_notice_still_in_the_queue(app: Flask, client: FlaskClient,
                                                        login: Callable[..., object],
                                                        inspector: User) -> None:
    seller = active_seller()
    suspend(app, seller, inspector)
    login("compliance")
    notice = notice_of("suspension_pending", seller)
    response = post_form(client, f"/compliance/notices/{notice.id}/send-again", {},
                         token_from="/compliance/notices", follow_redirects=True)
    assert "is queued already" in response.get_data(as_text=True)
    without_token = client.post(f"/compliance/notices/{notice.id}/send-again")
    assert without_token.status_code == 400
    assert count(AuditEntry, AuditEntry.action == "notice.send_again") == 0


# ---------------------------------------------------------------- seller file and access


def test_seller_file_lists_notices_with_a_pdf_download(app: Flask, client: FlaskClient,
                                                       login: Callable[..., object],
                                                       inspector: User) -> None:
    seller = active_seller(legal_name="Second Life Devices Ltd")
    suspend(app, seller, inspector)
    notice = notice_of("suspension_pending", seller)
    login("compliance")
    page = client.get(f"/compliance/sellers/{seller.id}").get_data(as_text=True)
    assert "Notices to the seller" in page
    assert notice.subject in page
    assert f"/compliance/notices/{notice.id}/pdf" in page
    detail = client.get(f"/compliance/notices/{notice.id}").get_data(as_text=True)
    assert "S reached 5.55" in detail
    assert str(escape(notice.message_id)) in detail

    response = client.get(f"/compliance/notices/{notice.id}/pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert squeeze("Second Life Devices Ltd") in pdf_text(response.data)
    assert count(AuditEntry, AuditEntry.action == "notice.downloaded") == 1
    # the PDF is kept in the seller's file: the same bytes are sent later
    jobs.run_notice_outbox()
    msg = parse_eml(next(Path(app.config["NOTICE_OUTBOX_DIR"]).glob("*.eml")))
    assert next(msg.iter_attachments()).get_content() == response.data


@pytest.mark.parametrize("path", ["/compliance/notices", "/compliance/notices/1",
                                  "/compliance/notices/1/pdf"])
def test_inspectors_may_not_read_notices(app: Flask, client: FlaskClient,
                                         login: Callable[..., object], inspector: User,
                                         path: str) -> None:
    suspend(app, active_seller(), inspector)
    login("inspector", email="another-inspector@example.test")
    assert client.get(path).status_code == 403
    assert client.post("/compliance/notices/1/send-again").status_code == 403


def test_the_scheduler_sends_notices() -> None:
    assert "notices" in {job.name for job in scheduled_jobs()}


def test_a_notice_that_keeps_killing_its_sender_ends_dead(app: Flask, inspector: User) -> None:
    app.config["NOTICE_MAX_ATTEMPTS"] = 3
    seller = active_seller()
    suspend(app, seller, inspector)
    at = NOW
    for _ in range(3):  # each sender claims it and dies before recording anything
        assert len(notices.claim_due()) == 1
        db.session.commit()
        at += timedelta(hours=2)
        clock(app, at)
        notices.requeue_stale()
        db.session.commit()
    notice = notice_of("suspension_pending", seller)
    assert (notice.status, notice.attempts) == ("dead", 3)
    assert "sender stopped" in notice.last_error
    assert notices.claim_due() == []
