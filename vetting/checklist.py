"""The certification checklist as data, and the rules that decide whether it allows approval.

``DEFAULT_CHECKLIST`` is the default template of DOMAIN.md (15 items). Services copy it into
a versioned template in the database; the rules here work on plain ``ItemState`` values so the
same code checks any template version.

Rules:

* an item is answered ``pass``, ``fail`` or ``waived``; a waiver is only allowed on an
  optional item and needs a reason (``check_item_result``);
* an application can be approved only when every required item is passed and every
  evidence-required item has at least one file, except an optional item that was waived or
  failed: there is nothing to prove for it (``compute_approval_blockers``).

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DEFAULT_CHECKLIST",
    "ChecklistCategory",
    "ChecklistItemSpec",
    "ItemResult",
    "ItemState",
    "check_item_result",
    "compute_approval_blockers",
    "spec_by_code",
]


class ChecklistCategory(StrEnum):
    """The group a checklist item belongs to (stored as its string value)."""

    LEGAL = "legal"
    OPERATIONS = "operations"
    DATA = "data"
    QUALITY = "quality"
    SERVICE = "service"
    CERTIFICATION = "certification"
    INSURANCE = "insurance"


class ItemResult(StrEnum):
    """The reviewer's answer to one checklist item (stored as its string value)."""

    PASS = "pass"  # noqa: S105 - a checklist answer, not a password
    FAIL = "fail"
    WAIVED = "waived"


@dataclass(frozen=True, slots=True)
class ChecklistItemSpec:
    """One item of a checklist template."""

    code: str
    title: str
    guidance: str
    category: ChecklistCategory
    required: bool
    evidence_required: bool


@dataclass(frozen=True, slots=True)
class ItemState:
    """The current answer to one item of an application's checklist."""

    code: str
    title: str
    required: bool
    evidence_required: bool
    result: ItemResult | None
    evidence_count: int

    def __post_init__(self) -> None:
        if self.evidence_count < 0:
            raise ValueError(f"{self.code}: evidence count cannot be negative")


_C = ChecklistCategory

DEFAULT_CHECKLIST: tuple[ChecklistItemSpec, ...] = (
    ChecklistItemSpec(
        "LEGAL-1",
        "company registration extract",
        "Upload a trade-register extract no older than three months whose company name, "
        "number and address match the application.",
        _C.LEGAL,
        required=True,
        evidence_required=True,
    ),
    ChecklistItemSpec(
        "LEGAL-2",
        "VAT / tax identifier verified",
        "Check the VAT number in VIES (or the national register outside the EU) and upload "
        "the confirmation showing the same legal name.",
        _C.LEGAL,
        required=True,
        evidence_required=True,
    ),
    ChecklistItemSpec(
        "LEGAL-3",
        "WEEE / producer-responsibility registration in the selling countries",
        "Upload the WEEE or producer-responsibility registration number for every country "
        "the seller ships to, or proof that a compliance scheme covers it.",
        _C.LEGAL,
        required=True,
        evidence_required=True,
    ),
    ChecklistItemSpec(
        "OPS-1",
        "refurbishment facility shown (photos, video call or site audit)",
        "See the workshop yourself by video call or visit, or get dated photos of the "
        "test benches, stock area and packing station, and upload them.",
        _C.OPERATIONS,
        required=True,
        evidence_required=True,
    ),
    ChecklistItemSpec(
        "OPS-2",
        "written grading procedure matching the marketplace's grades",
        "Upload the seller's written grading procedure and confirm it maps onto premium, "
        "excellent, good and fair with the same screen and body criteria.",
        _C.OPERATIONS,
        required=True,
        evidence_required=True,
    ),
    ChecklistItemSpec(
        "OPS-3",
        "supply track record: purchase invoices for refurbished stock in the last 90 days",
        "Upload purchase invoices from the last 90 days that show a steady supply of used "
        "devices from identifiable sources.",
        _C.OPERATIONS,
        required=True,
        evidence_required=True,
    ),
    ChecklistItemSpec(
        "DATA-1",
        "certified data-erasure process (NIST SP 800-88 r1 or equivalent tool report)",
        "Upload a recent erasure report from a certified tool that names the device serial, "
        "the method used and the result.",
        _C.DATA,
        required=True,
        evidence_required=True,
    ),
    ChecklistItemSpec(
        "DATA-2",
        "IMEI / serial blacklist and activation-lock check in the intake process",
        "Confirm that every incoming device is checked against a lost/stolen database and "
        "for activation lock or MDM before it is refurbished.",
        _C.DATA,
        required=True,
        evidence_required=False,
    ),
    ChecklistItemSpec(
        "QUAL-1",
        "battery policy: replace below 80% capacity",
        "Confirm the seller replaces any battery below 80% of its original capacity (85% "
        "for premium) and records the measured health.",
        _C.QUALITY,
        required=True,
        evidence_required=False,
    ),
    ChecklistItemSpec(
        "QUAL-2",
        "spare-parts sourcing and disclosure of non-genuine parts",
        "Ask where replacement parts come from and confirm listings disclose every "
        "non-genuine part.",
        _C.QUALITY,
        required=True,
        evidence_required=False,
    ),
    ChecklistItemSpec(
        "QUAL-3",
        "sample unit inspected by the marketplace and passed",
        "Have the seller send one unit as it would be sold, inspect it against the checkpoint "
        "catalog and upload the inspection report.",
        _C.QUALITY,
        required=True,
        evidence_required=True,
    ),
    ChecklistItemSpec(
        "SERV-1",
        "12-month warranty and 30-day returns accepted",
        "Confirm the seller has accepted the marketplace terms for a 12-month warranty and "
        "30-day returns on every device.",
        _C.SERVICE,
        required=True,
        evidence_required=False,
    ),
    ChecklistItemSpec(
        "SERV-2",
        "customer-service response within 1 business day",
        "Send a test enquiry through the seller's support channel and check the answer "
        "arrives within one business day.",
        _C.SERVICE,
        required=True,
        evidence_required=False,
    ),
    ChecklistItemSpec(
        "CERT-1",
        "R2v3, ISO 9001 or ISO 14001 certificate",
        "If the seller holds one of these certificates, upload it and check it is current "
        "and covers the refurbishing site.",
        _C.CERTIFICATION,
        required=False,
        evidence_required=True,
    ),
    ChecklistItemSpec(
        "INS-1",
        "product liability insurance",
        "If the seller has product liability insurance, upload the current policy "
        "certificate showing the insured amount.",
        _C.INSURANCE,
        required=False,
        evidence_required=True,
    ),
)


def spec_by_code(
    code: str, checklist: Sequence[ChecklistItemSpec] = DEFAULT_CHECKLIST
) -> ChecklistItemSpec:
    """Return the item with ``code`` from ``checklist``; raise ``KeyError`` if it is absent."""
    for spec in checklist:
        if spec.code == code:
            return spec
    raise KeyError(code)


def check_item_result(spec_required: bool, result: ItemResult, reason: str) -> None:
    """Raise ``ValueError`` if ``result`` is a waiver on a required item or has no reason."""
    if result == ItemResult.WAIVED:
        if spec_required:
            raise ValueError("A waiver is only allowed on optional items")
        if not reason.strip():
            raise ValueError("A waiver needs a reason")


def _needs_evidence(item: ItemState) -> bool:
    if not item.evidence_required:
        return False
    # An optional item that was waived or failed proves nothing, so there is nothing to file.
    return item.required or item.result not in (ItemResult.WAIVED, ItemResult.FAIL)


def compute_approval_blockers(items: Sequence[ItemState]) -> list[str]:
    """Return one message per reason the checklist does not allow approval (empty: it does)."""
    blockers: list[str] = []
    for item in items:
        label = f"{item.code} {item.title}"
        if item.required and item.result != ItemResult.PASS:
            blockers.append(f"{label}: required item is not passed")
        if _needs_evidence(item) and item.evidence_count == 0:
            blockers.append(f"{label}: evidence is required but no file is attached")
    return blockers
