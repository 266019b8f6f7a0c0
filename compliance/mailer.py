"""E-mail for seller notices: the message (text + HTML + PDF) and its two transports.

- "file" (the default, for development): writes `<NOTICE_OUTBOX_DIR>/<message-id>.eml`; a
  re-send overwrites the same file, since it is the same message.
- "smtp": hands the message to MAIL_SERVER:MAIL_PORT with smtplib (STARTTLS when
  MAIL_USE_TLS, login when MAIL_USERNAME is set).

A transport raises `DeliveryError` for anything that did not hand the message over
(connection refused, timeout, a 4xx or 5xx reply); the outbox records it as a failed attempt.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

TRANSPORTS = ("file", "smtp")


class DeliveryError(Exception):
    """The message was not handed over; the text says why (shown on the outbox page)."""


def sender_address(config: Mapping[str, Any]) -> str:
    """The bare e-mail address of MAIL_FROM."""
    return parseaddr(str(config["MAIL_FROM"]))[1] or "compliance@labelkeeper.invalid"


def appeal_address(config: Mapping[str, Any]) -> str:
    """Where sellers send appeals: NOTICE_APPEAL_TO, else the MAIL_FROM address."""
    return str(config["NOTICE_APPEAL_TO"] or "") or sender_address(config)


def make_message_id(reference: str, config: Mapping[str, Any]) -> str:
    """A Message-ID fixed for the notice's lifetime (RFC 5322 msg-id)."""
    domain = sender_address(config).rpartition("@")[2] or "labelkeeper.invalid"
    return f"<notice.{reference.lower()}@{domain}>"


def build_message(*, message_id: str, created_at: datetime, recipient: str, subject: str,
                  text: str, html: str, pdf: bytes, pdf_name: str,
                  config: Mapping[str, Any]) -> EmailMessage:
    """A multipart message: text and HTML alternatives, and the PDF attached."""
    msg = EmailMessage()
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(created_at.replace(tzinfo=UTC))
    msg["From"] = str(config["MAIL_FROM"])
    msg["To"] = recipient
    msg["Reply-To"] = str(Address(addr_spec=appeal_address(config)))
    msg["Subject"] = subject
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_name)
    return msg


def eml_path(outbox: Path, message_id: str) -> Path:
    """The outbox file of a message: its Message-ID made safe as a file name."""
    name = re.sub(r"[^A-Za-z0-9._@-]", "_", message_id.strip("<>"))
    return outbox / f"{name}.eml"


def _send_file(msg: EmailMessage, config: Mapping[str, Any]) -> str:
    outbox = Path(str(config["NOTICE_OUTBOX_DIR"]))
    path = eml_path(outbox, str(msg["Message-ID"]))
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(msg.as_bytes())
        tmp.replace(path)
    except OSError as exc:
        raise DeliveryError(f"Could not write {path}: {exc}") from None
    return f"written to {path}"


def _send_smtp(msg: EmailMessage, config: Mapping[str, Any]) -> str:
    host, port = str(config["MAIL_SERVER"]), int(config["MAIL_PORT"])
    try:
        with smtplib.SMTP(host, port, timeout=float(config["MAIL_TIMEOUT"])) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                smtp.login(str(config["MAIL_USERNAME"]), str(config["MAIL_PASSWORD"]))
            refused = smtp.send_message(msg, from_addr=sender_address(config))
    except smtplib.SMTPRecipientsRefused as exc:
        detail = "; ".join(f"{rcpt}: {code} {_text(reply)}"
                           for rcpt, (code, reply) in exc.recipients.items())
        raise DeliveryError(f"SMTP {host}:{port} refused the recipient: {detail}") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {host}:{port} replied {exc.smtp_code} "
                            f"{_text(exc.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {host}:{port}: {exc or type(exc).__name__}") from None
    if refused:
        raise DeliveryError(f"SMTP {host}:{port} refused: {refused}")
    return f"accepted by {host}:{port}"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def deliver(msg: EmailMessage, config: Mapping[str, Any]) -> str:
    """Hand the message to the configured transport; return what happened, or raise
    DeliveryError."""
    transport = str(config["NOTICE_TRANSPORT"])
    if transport == "file":
        return _send_file(msg, config)
    if transport == "smtp":
        return _send_smtp(msg, config)
    raise DeliveryError(f"Unknown NOTICE_TRANSPORT {transport!r} (use one of "
                        f"{', '.join(TRANSPORTS)}).")
