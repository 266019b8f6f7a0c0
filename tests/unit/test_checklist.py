"""Default certification checklist and approval rules (vetting/checklist.py)."""

from __future__ import annotations

import dataclasses

import pytest

from vetting.checklist import (
    DEFAULT_CHECKLIST,
    ChecklistCategory,
    ChecklistItemSpec,
    ItemResult,
    ItemState,
    check_item_result,
    compute_approval_blockers,
    spec_by_code,
)

# (code, category, required, evidence required) exactly as DOMAIN.md lists them.
DOMAIN_ITEMS = [
    ("LEGAL-1", "legal", True, True),
    ("LEGAL-2", "legal", True, True),
    ("LEGAL-3", "legal", True, True),
    ("OPS-1", "operations", True, True),
    ("OPS-2", "operations", True, True),
    ("OPS-3", "operations", True, True),
    ("DATA-1", "data", True, True),
    ("DATA-2", "data", True, False),
    ("QUAL-1", "quality", True, False),
    ("QUAL-2", "quality", True, False),
    ("QUAL-3", "quality", True, True),
    ("SERV-1", "service", True, False),
    ("SERV-2", "service", True, False),
    ("CERT-1", "certification", False, True),
    ("INS-1", "insurance", False, True),
]


def _state(spec: ChecklistItemSpec, result: ItemResult | None, evidence: int) -> ItemState:
    return ItemState(
        code=spec.code,
        title=spec.title,
        required=spec.required,
        evidence_required=spec.evidence_required,
        result=result,
        evidence_count=evidence,
    )


def _complete_checklist() -> list[ItemState]:
    """Every item passed, with one file wherever evidence is required."""
    return [
        _state(spec, ItemResult.PASS, 1 if spec.evidence_required else 0)
        for spec in DEFAULT_CHECKLIST
    ]


def test_default_checklist_matches_domain_reference() -> None:
    actual = [
        (s.code, s.category.value, s.required, s.evidence_required) for s in DEFAULT_CHECKLIST
    ]
    assert actual == DOMAIN_ITEMS


def test_every_item_has_a_title_and_one_sentence_of_guidance() -> None:
    for spec in DEFAULT_CHECKLIST:
        assert spec.title.strip(), spec.code
        assert spec.guidance.endswith("."), spec.code
        assert spec.guidance.count(". ") == 0, f"{spec.code}: guidance is one sentence"
        assert len(spec.guidance) >= 40, spec.code


def test_codes_are_unique() -> None:
    codes = [spec.code for spec in DEFAULT_CHECKLIST]
    assert len(codes) == len(set(codes)) == 15


def test_categories_cover_the_seven_groups() -> None:
    assert {spec.category for spec in DEFAULT_CHECKLIST} == set(ChecklistCategory)


def test_specs_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_CHECKLIST[0].required = False  # type: ignore[misc]


def test_spec_by_code() -> None:
    assert spec_by_code("DATA-1").title.startswith("certified data-erasure process")
    with pytest.raises(KeyError):
        spec_by_code("NOPE-1")


@pytest.mark.parametrize("result", [ItemResult.PASS, ItemResult.FAIL])
@pytest.mark.parametrize("required", [True, False])
def test_pass_and_fail_need_no_reason(required: bool, result: ItemResult) -> None:
    assert check_item_result(required, result, "") is None


def test_waiver_on_required_item_is_refused() -> None:
    with pytest.raises(ValueError, match="^A waiver is only allowed on optional items$"):
        check_item_result(True, ItemResult.WAIVED, "seller is small")


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_waiver_needs_a_reason(reason: str) -> None:
    with pytest.raises(ValueError, match="^A waiver needs a reason$"):
        check_item_result(False, ItemResult.WAIVED, reason)


def test_waiver_with_reason_on_optional_item_is_accepted() -> None:
    assert check_item_result(False, ItemResult.WAIVED, "no certificate; not required") is None


def test_complete_checklist_has_no_blockers() -> None:
    assert compute_approval_blockers(_complete_checklist()) == []


def test_empty_checklist_has_no_blockers() -> None:
    assert compute_approval_blockers([]) == []


def test_unanswered_checklist_blocks_on_every_required_item_and_missing_evidence() -> None:
    items = [_state(spec, None, 0) for spec in DEFAULT_CHECKLIST]
    blockers = compute_approval_blockers(items)
    not_passed = [b for b in blockers if b.endswith("required item is not passed")]
    no_evidence = [b for b in blockers if "no file is attached" in b]
    assert len(not_passed) == 13
    # 8 required evidence items + CERT-1 and INS-1, which are undecided.
    assert len(no_evidence) == 10


def test_required_item_not_passed_message() -> None:
    items = _complete_checklist()
    items[0] = dataclasses.replace(items[0], result=ItemResult.FAIL)
    assert compute_approval_blockers(items) == [
        "LEGAL-1 company registration extract: required item is not passed"
    ]


def test_required_item_without_answer_blocks() -> None:
    items = _complete_checklist()
    items[8] = dataclasses.replace(items[8], result=None)  # QUAL-1, no evidence needed
    assert compute_approval_blockers(items) == [
        "QUAL-1 battery policy: replace below 80% capacity: required item is not passed"
    ]


def test_passed_item_without_its_evidence_blocks() -> None:
    items = _complete_checklist()
    items[6] = dataclasses.replace(items[6], evidence_count=0)  # DATA-1
    assert compute_approval_blockers(items) == [
        "DATA-1 certified data-erasure process (NIST SP 800-88 r1 or equivalent tool report): "
        "evidence is required but no file is attached"
    ]


def test_failed_required_item_without_evidence_gives_both_messages() -> None:
    items = _complete_checklist()
    items[1] = dataclasses.replace(items[1], result=ItemResult.FAIL, evidence_count=0)
    assert compute_approval_blockers(items) == [
        "LEGAL-2 VAT / tax identifier verified: required item is not passed",
        "LEGAL-2 VAT / tax identifier verified: evidence is required but no file is attached",
    ]


def test_waived_optional_item_needs_no_evidence() -> None:
    items = _complete_checklist()
    items[13] = dataclasses.replace(items[13], result=ItemResult.WAIVED, evidence_count=0)
    assert compute_approval_blockers(items) == []


def test_failed_optional_item_needs_no_evidence_and_does_not_block() -> None:
    items = _complete_checklist()
    items[14] = dataclasses.replace(items[14], result=ItemResult.FAIL, evidence_count=0)
    assert compute_approval_blockers(items) == []


def test_passed_optional_item_needs_evidence() -> None:
    items = _complete_checklist()
    items[14] = dataclasses.replace(items[14], evidence_count=0)  # INS-1 passed, no file
    assert compute_approval_blockers(items) == [
        "INS-1 product liability insurance: evidence is required but no file is attached"
    ]


def test_item_without_evidence_requirement_needs_no_file() -> None:
    items = _complete_checklist()
    assert items[11].code == "SERV-1"
    assert items[11].evidence_count == 0
    assert compute_approval_blockers(items) == []


def test_blockers_do_not_change_the_input() -> None:
    items = _complete_checklist()
    items[0] = dataclasses.replace(items[0], result=ItemResult.FAIL)
    before = list(items)
    compute_approval_blockers(items)
    assert items == before


def test_item_state_refuses_negative_evidence_count() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        ItemState("LEGAL-1", "x", True, True, ItemResult.PASS, -1)


def test_results_are_stored_as_plain_strings() -> None:
    assert [r.value for r in ItemResult] == ["pass", "fail", "waived"]
    assert ItemResult("waived") is ItemResult.WAIVED
