"""Shared fixtures: the plugin registered in isolation, the example cases, an evaluation date."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

import playbook_telecom

PLAYBOOK_ID = "consultative-sales"
PACKAGE = Path(playbook_telecom.__file__).resolve().parent
EXAMPLES = PACKAGE / "playbooks" / "examples" / PLAYBOOK_ID
TODAY = dt.date(2026, 3, 2)


def example(name: str) -> dict[str, Any]:
    """The ``case`` of an example file, as a fresh copy."""
    with open(EXAMPLES / f"{name}.yaml", encoding="utf-8") as fh:
        return copy.deepcopy(yaml.safe_load(fh)["case"])


class Ctx:
    """What rules and actions receive at run time: the pinned date."""

    today = TODAY


@pytest.fixture
def kit(playbook_kit: Any) -> Any:
    """The telecom plugin alone (no other entry-point plugins), through the core's testing kit."""
    return playbook_kit(playbook_telecom, entry_points=False)


@pytest.fixture
def complete() -> dict[str, Any]:
    return example("20-complete-won")


@pytest.fixture
def ctx() -> Ctx:
    return Ctx()
