"""The inspection checkpoint catalog as data (DOMAIN.md, "Inspection checkpoint catalog").

``CATALOG`` lists every checkpoint an inspector works through, with the device categories it
applies to. A migration copies it into the checkpoint table, so it stays plain data: codes,
titles, one-sentence guidance, a severity and a set of categories, in the order the inspection
form shows them (identity and locks first, delivery last).

Category decisions:

* smartphone and tablet share DOMAIN.md's table. Checkpoints a given unit lacks (LOCK-2 or
  CONN-1 calls on a Wi-Fi-only tablet, BIO-1 without a sensor) are left out of its outcomes
  by the inspector rather than split into more categories.
* smartwatch and console listings exist but have no list of their own yet, so they get exactly
  the smartphone set (spelled out in each spec, not aliased, so the seeded table needs no rule
  to read it). Give them their own specs here when the marketplace writes their lists.
* laptop gets its own LAP-* codes for DOMAIN.md's laptop additions, plus the generic
  checkpoints that make sense on a laptop: ID-1, ID-2 (a serial number can be reported stolen
  too), LOCK-1 (Activation Lock / Autopilot / MDM), DATA-1, CONF-1, INTEG-1, BAT-1, PWR-1,
  DISP-1, AUD-1, CONN-1 (Wi-Fi and Bluetooth), SW-1, INTEG-2, COS-1, COS-2, PART-1, PRES-1,
  ACC-1 (the power adapter), PACK-1 and LOG-1. Left out: LOCK-2 and CONN-2 (no SIM), DISP-2,
  CAM-1, BTN-1 (covered by LAP-TPAD-1, LAP-CAM-1 and LAP-KEY-1), BIO-1, SENS-1 and COS-3
  (optional or absent on most laptops).

Severities are the table's. COS-1 and COS-2 are minor here because the scoring rule upgrades
them when the observed grade is two or more grades worse; ACC-1 is minor here and a missing
cable is upgraded to major by the scoring rule; BAT-1 is major and a swollen battery is
critical by the scoring rule (see ``qc.scoring``).

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "BATTERY_CODE",
    "CABLE_CODE",
    "CATALOG",
    "COSMETIC_CODES",
    "DELIVERY_CODES",
    "CheckpointSpec",
    "DeviceCategory",
    "Severity",
    "checkpoints_for",
]


class Severity(StrEnum):
    """How bad a failed checkpoint is (stored as its string value)."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


class DeviceCategory(StrEnum):
    """The category of a listed device, which picks its checkpoints (stored as its value)."""

    SMARTPHONE = "smartphone"
    TABLET = "tablet"
    LAPTOP = "laptop"
    # No list of their own yet: they get the smartphone checkpoints (module docstring).
    SMARTWATCH = "smartwatch"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class CheckpointSpec:
    """One checkpoint of the catalog and the device categories it applies to."""

    code: str
    title: str
    guidance: str
    severity: Severity
    categories: frozenset[DeviceCategory]


# The special codes the scoring rule treats on their own.
DELIVERY_CODES: Final[frozenset[str]] = frozenset({"LOG-1"})  # delivery metrics only
BATTERY_CODE: Final = "BAT-1"
CABLE_CODE: Final = "ACC-1"
COSMETIC_CODES: Final[frozenset[str]] = frozenset({"COS-1", "COS-2"})

_D = DeviceCategory
_S = Severity
# DOMAIN.md's table is for smartphone and tablet; smartwatch and console borrow it.
_MOBILE: Final = frozenset({_D.SMARTPHONE, _D.TABLET, _D.SMARTWATCH, _D.CONSOLE})
_ALL: Final = _MOBILE | {_D.LAPTOP}
_LAPTOP: Final = frozenset({_D.LAPTOP})

CATALOG: Final[tuple[CheckpointSpec, ...]] = (
    CheckpointSpec(
        "ID-1",
        "IMEI / serial matches listing and box",
        "Read the IMEI or serial number from the device itself (*#06#, Settings > About, or "
        "the BIOS / About This Mac on a laptop) and compare it with the box label and the "
        "listing.",
        _S.CRITICAL,
        _ALL,
    ),
    CheckpointSpec(
        "ID-2",
        "IMEI not on the lost/stolen blacklist",
        "Run the IMEI (a laptop's serial number) through a lost/stolen register such as GSMA "
        "Device Check or CheckMEND and keep the report.",
        _S.CRITICAL,
        _ALL,
    ),
    CheckpointSpec(
        "LOCK-1",
        "activation lock / factory-reset protection / MDM cleared",
        "Start the setup wizard and confirm it asks for no previous Apple ID or Google account "
        "and shows no remote-management (MDM, Autopilot, Intune) enrolment screen.",
        _S.CRITICAL,
        _ALL,
    ),
    CheckpointSpec(
        "LOCK-2",
        "carrier unlocked",
        "Insert a SIM from a different carrier than the original one and confirm the device "
        "registers on the network and can place a call.",
        _S.CRITICAL,
        _MOBILE,
    ),
    CheckpointSpec(
        "LAP-FW-1",
        "firmware/BIOS password removed and anti-theft not active",
        "Open the BIOS/UEFI setup (Startup Security Utility on a Mac) and confirm it asks for no "
        "password and shows no anti-theft service such as Absolute/Computrace as activated.",
        _S.CRITICAL,
        _LAPTOP,
    ),
    CheckpointSpec(
        "DATA-1",
        "previous owner's data erased (setup wizard on first boot)",
        "Confirm the device boots into the first-run setup wizard and that no earlier user "
        "account, photo or file is left after setup.",
        _S.CRITICAL,
        _ALL,
    ),
    CheckpointSpec(
        "CONF-1",
        "model, storage and colour match the listing",
        "Compare the model number, storage and colour shown by the device (on a laptop also "
        "processor and memory) with the listing, not with the box.",
        _S.CRITICAL,
        _ALL,
    ),
    CheckpointSpec(
        "INTEG-1",
        "liquid-damage indicator not tripped, no corrosion",
        "Look at the liquid-contact indicators you can reach (SIM slot, ports, under the "
        "keyboard or back cover) with a torch and fail on red/pink marks or corrosion.",
        _S.CRITICAL,
        _ALL,
    ),
    CheckpointSpec(
        BATTERY_CODE,
        "battery health >= floor (record %, cycles); swollen battery is critical",
        "Record battery health % and cycle count from the OS or a diagnostic tool, and look for "
        "a lifted screen or bulging back, which means the battery is swollen.",
        _S.MAJOR,
        _ALL,
    ),
    CheckpointSpec(
        "PWR-1",
        "charges through the port (and wireless where supported)",
        "Charge with a known-good charger through the port (and on a wireless pad where "
        "supported) and watch the percentage rise for two minutes.",
        _S.MAJOR,
        _ALL,
    ),
    CheckpointSpec(
        "DISP-1",
        "no dead pixels, lines, burn-in, white spots",
        "Show full-screen white, black, red, green and blue at full brightness and look for "
        "dead pixels, lines, burn-in or white spots.",
        _S.MAJOR,
        _ALL,
    ),
    CheckpointSpec(
        "DISP-2",
        "touch works over the full surface, multi-touch, no ghost touches",
        "Draw over the whole screen in a touch-test app, pinch-zoom with two fingers, then leave "
        "it untouched for a minute to catch ghost touches.",
        _S.MAJOR,
        _MOBILE,
    ),
    CheckpointSpec(
        "LAP-KEY-1",
        "every key and the keyboard backlight work",
        "Press every key once in a keyboard-test tool and step the backlight through each "
        "level in a dim room.",
        _S.MAJOR,
        _LAPTOP,
    ),
    CheckpointSpec(
        "LAP-TPAD-1",
        "trackpad tracks, clicks and scrolls",
        "Move, tap, click in all four corners, two-finger scroll and drag on the trackpad and "
        "fail on jumps, dead zones or a click that does not register.",
        _S.MAJOR,
        _LAPTOP,
    ),
    CheckpointSpec(
        "PART-1",
        "replaced parts like-for-like; non-genuine parts disclosed",
        "Read the parts and service history (or open the case where the seller allows it) and "
        "check every non-genuine part is disclosed on the listing.",
        _S.MAJOR,
        _ALL,
    ),
    CheckpointSpec(
        "CAM-1",
        "all cameras, autofocus, flash",
        "Take a photo and a video with every camera, focus on a near and a far object, and fire "
        "the flash.",
        _S.MAJOR,
        _MOBILE,
    ),
    CheckpointSpec(
        "LAP-CAM-1",
        "webcam works",
        "Open the camera app and check the image is sharp, the indicator light comes on and "
        "any privacy shutter closes.",
        _S.MAJOR,
        _LAPTOP,
    ),
    CheckpointSpec(
        "AUD-1",
        "earpiece, speakers, microphones, vibration",
        "Play audio on each speaker (and the earpiece on a phone), record with each microphone, "
        "and trigger vibration where the device has it.",
        _S.MAJOR,
        _ALL,
    ),
    CheckpointSpec(
        "BTN-1",
        "buttons and switches",
        "Press every button and switch (power, volume, mute, home) and confirm each responds "
        "once per press.",
        _S.MAJOR,
        _MOBILE,
    ),
    CheckpointSpec(
        "BIO-1",
        "face / fingerprint unlock enrols",
        "Enrol a face or fingerprint, lock the device and unlock it with it three times.",
        _S.MAJOR,
        _MOBILE,
    ),
    CheckpointSpec(
        "SENS-1",
        "proximity, light, motion sensors, compass",
        "Run the maker's diagnostics or a sensor-test app to check the proximity, ambient-light "
        "and motion sensors and the compass.",
        _S.MAJOR,
        _MOBILE,
    ),
    CheckpointSpec(
        "CONN-1",
        "calls, mobile data, Wi-Fi, Bluetooth, NFC, GPS",
        "Test each radio the device has: a call and mobile data on a SIM, joining Wi-Fi, pairing "
        "a Bluetooth device, an NFC tag read and a GPS fix.",
        _S.MAJOR,
        _ALL,
    ),
    CheckpointSpec(
        "CONN-2",
        "SIM / eSIM, card reader",
        "Insert a SIM (and add an eSIM where supported) and a memory card where there is a "
        "reader, and confirm each is detected.",
        _S.MAJOR,
        _MOBILE,
    ),
    CheckpointSpec(
        "LAP-PORT-1",
        "every port works",
        "Plug something into every port (USB-A/C, Thunderbolt, HDMI, audio, card reader, "
        "Ethernet) and confirm the laptop detects it.",
        _S.MAJOR,
        _LAPTOP,
    ),
    CheckpointSpec(
        "LAP-HINGE-1",
        "hinges firm",
        "Open and close the lid through its full range and fail it if the screen will not hold "
        "its angle, wobbles, creaks or the hinge cover is cracked.",
        _S.MAJOR,
        _LAPTOP,
    ),
    CheckpointSpec(
        "LAP-THERM-1",
        "fans and temperatures normal under load",
        "Run a ten-minute CPU stress test and confirm the fans spin up and the processor does "
        "not throttle or shut down.",
        _S.MAJOR,
        _LAPTOP,
    ),
    CheckpointSpec(
        "LAP-SSD-1",
        "SSD health",
        "Read the SSD's SMART data with a disk tool, record its remaining life, and fail it on "
        "any SMART warning or media error.",
        _S.MAJOR,
        _LAPTOP,
    ),
    CheckpointSpec(
        "SW-1",
        "not rooted or jailbroken; updates to the latest OS",
        "Check no root or jailbreak is detectable (Magisk, Cydia, an unlocked bootloader) and "
        "install the latest OS update the device offers.",
        _S.MAJOR,
        _ALL,
    ),
    CheckpointSpec(
        "LAP-OS-1",
        "licensed OS activated",
        "Open the activation page (Windows Settings > Activation) and confirm the installed OS "
        "is genuine and activated, or that macOS/ChromeOS signs in and updates normally.",
        _S.MAJOR,
        _LAPTOP,
    ),
    CheckpointSpec(
        "INTEG-2",
        "frame straight, no housing gaps, seals restored",
        "Lay the device on a flat surface to check the frame is straight, and look along the "
        "edges for gaps between the screen and the housing.",
        _S.MAJOR,
        _ALL,
    ),
    CheckpointSpec(
        "COS-1",
        "screen cosmetics match the grade",
        "Inspect the screen under bright light from the distance the promised grade names (20 "
        "cm excellent, 50 cm good) and record the grade it really meets.",
        _S.MINOR,
        _ALL,
    ),
    CheckpointSpec(
        "COS-2",
        "body cosmetics match the grade",
        "Inspect the back, frame and edges under bright light from the distance the promised "
        "grade names and record the grade they really meet.",
        _S.MINOR,
        _ALL,
    ),
    CheckpointSpec(
        "COS-3",
        "back or camera glass not cracked",
        "Check the back glass and every camera lens cover for cracks or chips under a bright "
        "light.",
        _S.MAJOR,
        _MOBILE,
    ),
    CheckpointSpec(
        "PRES-1",
        "clean, no third-party engravings",
        "Check the device is clean and free of stickers, glue residue, asset tags and "
        "third-party engravings.",
        _S.MINOR,
        _ALL,
    ),
    CheckpointSpec(
        "LAP-KB-1",
        "keyboard layout matches the listing",
        "Compare the printed keyboard layout (e.g. UK, US, AZERTY, QWERTZ) with the layout "
        "named on the listing.",
        _S.MINOR,
        _LAPTOP,
    ),
    CheckpointSpec(
        CABLE_CODE,
        "charging cable present (major if missing), plug for the buyer's country",
        "Confirm the box holds a working charging cable (a laptop's power adapter) and that "
        "any plug fits the sockets of the buyer's country.",
        _S.MINOR,
        _ALL,
    ),
    CheckpointSpec(
        "PACK-1",
        "protective packaging, warranty insert",
        "Check the device arrived in packaging that kept it from moving and that the warranty "
        "insert is in the box.",
        _S.MINOR,
        _ALL,
    ),
    CheckpointSpec(
        "LOG-1",
        "delivered on time with tracking (feeds delivery metrics, not the device verdict)",
        "Compare the delivery date with the date promised at order time and check the tracking "
        "number showed the parcel's progress.",
        _S.MINOR,
        _ALL,
    ),
)


def checkpoints_for(category: str) -> tuple[CheckpointSpec, ...]:
    """Return the catalog's checkpoints for a device category, in form order."""
    try:
        wanted = DeviceCategory(category)
    except ValueError:
        known = ", ".join(c.value for c in DeviceCategory)
        raise ValueError(
            f"unknown device category {category!r}; expected one of: {known}"
        ) from None
    return tuple(spec for spec in CATALOG if wanted in spec.categories)
