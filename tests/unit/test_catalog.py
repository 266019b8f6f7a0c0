"""The inspection checkpoint catalog (qc/catalog.py) against DOMAIN.md."""

from __future__ import annotations

import dataclasses

import pytest

from qc.catalog import (
    BATTERY_CODE,
    CABLE_CODE,
    CATALOG,
    COSMETIC_CODES,
    DELIVERY_CODES,
    CheckpointSpec,
    DeviceCategory,
    Severity,
    checkpoints_for,
)

# DOMAIN.md's smartphone and tablet table, in its order: (code, severity).
DOMAIN_TABLE = [
    ("ID-1", "critical"),
    ("ID-2", "critical"),
    ("LOCK-1", "critical"),
    ("LOCK-2", "critical"),
    ("DATA-1", "critical"),
    ("CONF-1", "critical"),
    ("INTEG-1", "critical"),
    ("BAT-1", "major"),
    ("PWR-1", "major"),
    ("DISP-1", "major"),
    ("DISP-2", "major"),
    ("PART-1", "major"),
    ("CAM-1", "major"),
    ("AUD-1", "major"),
    ("BTN-1", "major"),
    ("BIO-1", "major"),
    ("SENS-1", "major"),
    ("CONN-1", "major"),
    ("CONN-2", "major"),
    ("SW-1", "major"),
    ("INTEG-2", "major"),
    ("COS-1", "minor"),
    ("COS-2", "minor"),
    ("COS-3", "major"),
    ("PRES-1", "minor"),
    ("ACC-1", "minor"),
    ("PACK-1", "minor"),
    ("LOG-1", "minor"),
]

# DOMAIN.md's laptop additions, one code each.
LAPTOP_ADDITIONS = [
    ("LAP-FW-1", "critical"),
    ("LAP-KEY-1", "major"),
    ("LAP-TPAD-1", "major"),
    ("LAP-HINGE-1", "major"),
    ("LAP-PORT-1", "major"),
    ("LAP-CAM-1", "major"),
    ("LAP-THERM-1", "major"),
    ("LAP-SSD-1", "major"),
    ("LAP-OS-1", "major"),
    ("LAP-KB-1", "minor"),
]

# The generic checkpoints a laptop is inspected against as well.
LAPTOP_GENERIC = {
    "ID-1", "ID-2", "LOCK-1", "DATA-1", "CONF-1", "INTEG-1", "BAT-1", "PWR-1", "DISP-1",
    "AUD-1", "CONN-1", "SW-1", "INTEG-2", "COS-1", "COS-2", "PART-1", "PRES-1", "PACK-1",
    "LOG-1", "ACC-1",
}

BY_CODE = {spec.code: spec for spec in CATALOG}
PHONE_LIKE = ["smartphone", "tablet", "smartwatch", "console"]


def _codes(specs: tuple[CheckpointSpec, ...]) -> list[str]:
    return [spec.code for spec in specs]


def test_codes_are_unique() -> None:
    codes = _codes(CATALOG)
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(("code", "severity"), DOMAIN_TABLE, ids=[c for c, _ in DOMAIN_TABLE])
def test_domain_checkpoint_present_with_its_severity(code: str, severity: str) -> None:
    assert BY_CODE[code].severity == Severity(severity)


@pytest.mark.parametrize(
    ("code", "severity"), LAPTOP_ADDITIONS, ids=[c for c, _ in LAPTOP_ADDITIONS]
)
def test_laptop_addition_present_with_its_severity(code: str, severity: str) -> None:
    spec = BY_CODE[code]
    assert spec.severity == Severity(severity)
    assert spec.categories == frozenset({DeviceCategory.LAPTOP})


def test_catalog_holds_nothing_else() -> None:
    assert set(BY_CODE) == {c for c, _ in DOMAIN_TABLE} | {c for c, _ in LAPTOP_ADDITIONS}


@pytest.mark.parametrize("category", PHONE_LIKE)
def test_phone_like_categories_get_the_domain_table_in_order(category: str) -> None:
    assert _codes(checkpoints_for(category)) == [c for c, _ in DOMAIN_TABLE]


def test_laptop_gets_its_additions_and_the_generic_checkpoints_that_apply() -> None:
    codes = _codes(checkpoints_for("laptop"))
    assert set(codes) == LAPTOP_GENERIC | {c for c, _ in LAPTOP_ADDITIONS}
    assert len(codes) == len(set(codes))
    # No SIM, no touch screen to speak of: these stay phone and tablet only.
    assert not set(codes) & {"LOCK-2", "CONN-2", "DISP-2", "CAM-1", "BTN-1", "BIO-1"}


def test_checkpoints_for_accepts_the_enum_and_keeps_catalog_order() -> None:
    for category in DeviceCategory:
        specs = checkpoints_for(category)
        assert specs == checkpoints_for(category.value)
        assert list(specs) == [s for s in CATALOG if s in specs]


@pytest.mark.parametrize("category", ["phone", "", "Smartphone", "laptops", "desktop"])
def test_unknown_category_is_refused_with_the_known_ones_listed(category: str) -> None:
    with pytest.raises(ValueError, match="unknown device category") as excinfo:
        checkpoints_for(category)
    message = str(excinfo.value)
    assert repr(category) in message
    assert all(c.value in message for c in DeviceCategory)


def test_special_codes_are_catalog_codes_with_the_expected_severity() -> None:
    assert DELIVERY_CODES == frozenset({"LOG-1"})
    assert BATTERY_CODE == "BAT-1"
    assert CABLE_CODE == "ACC-1"
    assert COSMETIC_CODES == frozenset({"COS-1", "COS-2"})
    # The scoring rule upgrades these; the table itself keeps their base severity.
    assert BY_CODE[BATTERY_CODE].severity == Severity.MAJOR
    assert BY_CODE[CABLE_CODE].severity == Severity.MINOR
    assert {BY_CODE[c].severity for c in COSMETIC_CODES} == {Severity.MINOR}
    for category in DeviceCategory:
        codes = set(_codes(checkpoints_for(category)))
        assert {BATTERY_CODE, CABLE_CODE} | COSMETIC_CODES | DELIVERY_CODES <= codes


@pytest.mark.parametrize("spec", CATALOG, ids=[s.code for s in CATALOG])
def test_every_checkpoint_is_usable_by_an_inspector(spec: CheckpointSpec) -> None:
    assert spec.title.strip()
    assert spec.categories
    # One sentence: a single full stop, at the end (abbreviations like "e.g." aside).
    guidance = spec.guidance.replace("e.g.", "eg")
    assert guidance.endswith(".")
    assert guidance.count(". ") == 0
    assert 40 <= len(spec.guidance) <= 220


def test_specs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOG[0].severity = Severity.MINOR  # type: ignore[misc]
