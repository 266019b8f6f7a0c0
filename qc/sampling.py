"""Sampling of mystery test orders (pure). The sampling states of DESIGN.md section 4."""

from __future__ import annotations

from enum import StrEnum


class SamplingState(StrEnum):
    """How often a labelled seller is tested; no state while the label is not in force."""

    ONBOARDING = "onboarding"
    NORMAL = "normal"
    REDUCED = "reduced"
    TIGHTENED = "tightened"
