"""A webhook receiver on 127.0.0.1, written the way the README tells the marketplace to.

It verifies every request with `webhooks.signing.verify_signature`, applies each event id
once (a duplicate is acknowledged but changes nothing), and records what arrived, so tests
can check signatures, order per seller and exactly-once effect. Per event it can be told to
misbehave: answer 500 before or after applying, or apply and then stall past the sender's
timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from webhooks.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TOPIC_HEADER,
    SignatureError,
    verify_signature,
)

OK = "ok"
FAIL = "fail"  # 500 without applying
APPLY_THEN_FAIL = "apply-then-fail"  # applies, then 500: the sender must retry
APPLY_THEN_STALL = "apply-then-stall"  # applies, then answers after the sender gave up


@dataclass
class Arrival:
    """One request that passed the signature check."""

    event_id: str
    seller_id: int
    sequence: int
    topic: str
    answered: int
    duplicate: bool


@dataclass
class Receiver:
    """The receiving side's state; `url` is where it listens."""

    now: Callable[[], float]
    secret: str = ""
    stall_seconds: float = 1.0
    url: str = ""
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> payload
    applied_order: dict[int, list[int]] = field(default_factory=dict)  # seller -> sequences
    arrivals: list[Arrival] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    plans: dict[int | str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, key: int | str, *behaviours: str) -> None:
        """Misbehave for the next requests of a seller id (int) or an event id (str)."""
        self.plans.setdefault(key, []).extend(behaviours)

    def _next_behaviour(self, event_id: str, seller_id: int) -> str:
        for key in (event_id, seller_id):
            queue = self.plans.get(key)
            if queue:
                return queue.pop(0)
        return OK

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, str, float]:
        """Check, apply once, and say what to answer (status, text, seconds to stall).

        `headers` has lower-case names."""
        with self.lock:
            self.raw.append((headers, body))
            try:
                verify_signature(self.secret, headers.get(SIGNATURE_HEADER.lower()), body,
                                 self.now())
            except SignatureError as exc:
                self.rejections.append(str(exc))
                return 401, str(exc), 0.0
            payload = json.loads(body)
            event_id = headers.get(IDEMPOTENCY_HEADER.lower(), "")
            if event_id != payload["id"] or headers.get(TOPIC_HEADER.lower()) != payload["topic"]:
                self.rejections.append("headers disagree with the body")
                return 400, "headers disagree with the body", 0.0
            seller_id, sequence = payload["seller"]["id"], payload["sequence"]
            behaviour = self._next_behaviour(event_id, seller_id)
            duplicate = event_id in self.applied
            answered = 500 if behaviour in (FAIL, APPLY_THEN_FAIL) else 200
            self.arrivals.append(Arrival(event_id, seller_id, sequence, payload["topic"],
                                         answered, duplicate))
            if behaviour != FAIL and not duplicate:  # the effect happens once per event id
                self.applied[event_id] = payload
                self.applied_order.setdefault(seller_id, []).append(sequence)
            stall = self.stall_seconds if behaviour == APPLY_THEN_STALL else 0.0
            return answered, "error" if answered == 500 else "ok", stall

    def sequences_sent(self, seller_id: int) -> list[int]:
        """The sequence numbers of every signed request for a seller, in arrival order."""
        return [a.sequence for a in self.arrivals if a.seller_id == seller_id]


def serve(receiver: Receiver) -> ThreadingHTTPServer:
    """Start the receiver on a free port of 127.0.0.1 in background threads."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, text, stall = receiver.handle(
                {k.lower(): v for k, v in self.headers.items()}, body)
            if stall:
                time.sleep(stall)
            data = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    return server
