from __future__ import annotations
from datetime import date
from qc.buyers import BuyerInput
from qc.services.plan_settings import current_settings

def active_buyers() -> list[BuyerInput]:
    return [BuyerInput(i + 1, a) for i, a in enumerate(current_settings().accounts)]

def recent_buyers(period_start: date) -> dict[int, frozenset[int]]:
    return {}
