"""Shared fixtures. The `playbook_kit` fixture itself comes from the core (pytest11 entry point
`playbook.testing`), so a plugin's tests need nothing more than `pip install playbook`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import playbook_banking.plugin as banking_plugin

TODAY = "2026-03-01"


@pytest.fixture
def kit(playbook_kit: Callable[..., Any]) -> Any:
    """A kit with only the core and this plugin registered (installed entry points ignored),
    so the tests check this source tree, whatever else is installed."""
    made = playbook_kit(banking_plugin, entry_points=False)
    assert made.errors == [], made.errors
    return made


@pytest.fixture
def core_only(playbook_kit: Callable[..., Any]) -> Any:
    """The core alone, as an installation without this plugin sees it."""
    return playbook_kit(entry_points=False)


def scores(**overrides: int) -> dict[str, int]:
    """A full grade-A score sheet (value 7, feasibility 4) with some indicators changed."""
    base = {
        "roi": 1, "capability_lift": 1, "demonstration": 1, "relationship_effect": 0,
        "profitability": 1, "operating": 0, "solvency": 1, "growth": 0, "cash_flow": 0,
        "credit_risk": 1, "guarantee_risk": 0, "resource_risk": 0, "policy_fit": 1,
        "relationship_with_us": 1, "relationship_with_others": 0, "risk_policy": 1,
        "advantaged_products": 1, "bank_resources": 0, "fit_our_products": 1,
        "fit_existing_products": 0, "fit_other_bank_products": 0,
    }
    base.update(overrides)
    return base


def opportunity_case(**bank: Any) -> dict[str, Any]:
    """A case past the first step (target locked, project identified), in the opportunity analysis."""
    return {
        "id": "test",
        "account": {"name": "测试客户", "is_target": True},
        "opportunity": {"name": "项目", "identified": True, "amount": 1_000_000},
        "bank": {
            "prospecting": {"channel": "existing_customer", "customer_clear": True, "need_clear": True},
            "selection": {"fits_risk_policy": True, "economic_benefit": True},
            "needs": [{"kind": "purchasing"}],
            **bank,
        },
    }
