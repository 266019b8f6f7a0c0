"""The fleet's ledger: the rows and audit entries the simulation writes, id counters and the
event queue in time order."""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core import audit
from core.chain import canonical_json
from demo.fleet.model import (
    FleetConfig,
    FleetInspection,
    FleetListing,
    FleetOrder,
    FleetSeller,
    Staff,
    midnight,
)

# Event kinds; at equal times an inspection comes first (the replay's epoch starts strictly after
# a restart, so an inspection at the very same instant belongs to the old epoch).
(INSPECT, GRANT, PLAN, CLOSE, RENEW, PLACE, REVIEW, CASE, DECIDE_CASE,
 REVOKE) = range(10)

AuditRow = tuple[datetime, int, str, str, str, str, str]


class Ledger:
    """What the simulation has written so far, and what is still to happen."""

    def __init__(self, config: FleetConfig, staff: Staff, first_ids: Mapping[str, int]) -> None:
        self.config = config
        self.staff = staff
        self.as_of = config.as_of
        self.periods = config.periods
        self.first_start = midnight(self.periods[0].start)
        self.next_id = dict(first_ids)
        self.sellers: list[FleetSeller] = []
        self.listings: list[FleetListing] = []
        self.runs: list[dict[str, Any]] = []
        self.run_plans: dict[int, tuple[bytes, Any]] = {}
        self.orders: list[FleetOrder] = []
        self.inspections: list[FleetInspection] = []
        self.label_events: list[dict[str, Any]] = []
        self.state_changes: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []
        self.findings: list[dict[str, Any]] = []
        self.cases: list[dict[str, Any]] = []
        self.audit: list[AuditRow] = []
        self.queue: list[tuple[datetime, int, int, int, Any]] = []
        self.counter = 0

    def new_id(self, table: str) -> int:
        """The next id of `table`."""
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def push(self, at: datetime, kind: int, obj: Any) -> None:
        """Queue an event, unless it falls after the end of the history."""
        if at < self.as_of:
            self.counter += 1
            heapq.heappush(self.queue, (at, 0 if kind == INSPECT else 1, self.counter, kind, obj))

    def write_audit(self, at: datetime, actor: str | None, action: str, entity_type: str,
               entity_id: object, payload: Mapping[str, Any]) -> None:
        """Write an audit entry (chained in time order when the rows are written)."""
        if at < self.as_of:
            self.counter += 1
            self.audit.append((at, self.counter, actor or audit.SYSTEM_ACTOR, action,
                               entity_type, str(entity_id), canonical_json(dict(payload))))

    def user(self, email: str | None) -> int | None:
        """The user id of a staff email (None: the system)."""
        return self.staff.ids[email] if email is not None else None
