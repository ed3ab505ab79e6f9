"""Where the bundled schemas and playbooks live: inside the wheel, or in the source tree."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """``schemas`` or ``playbooks``: the wheel's copy, else the checkout's top-level folder."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled {name!r} not found (broken installation?)")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A bundled JSON schema by file stem: ``playbook``, ``case``, ``report``."""
    with open(data_dir("schemas") / f"{name}.schema.json", encoding="utf-8") as fh:
        return json.load(fh)
