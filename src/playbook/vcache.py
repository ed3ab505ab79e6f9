"""Remember which documents already passed JSON-Schema validation.

Validating a playbook with jsonschema costs more than the rest of a one-case check (importing
jsonschema alone is ~0.1 s). Validation is deterministic, so a digest of (schema, document)
that passed once will pass again: a marker file per digest lets later runs skip it. Only
successes are remembered; the cache is an optimisation and any failure to use it is ignored.
``PLAYBOOK_NO_CACHE=1`` switches it off; ``PLAYBOOK_CACHE_DIR`` moves it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from . import __version__


def _cache_dir() -> Path | None:
    if os.environ.get("PLAYBOOK_NO_CACHE") == "1":
        return None
    base = os.environ.get("PLAYBOOK_CACHE_DIR")
    if base:
        return Path(base) / "validated"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg) if xdg else Path.home() / ".cache"
    return root / "playbook" / "validated"


def digest(*parts: Any) -> str:
    h = hashlib.sha256(__version__.encode())
    for part in parts:
        if isinstance(part, bytes):
            h.update(part)
        elif isinstance(part, str):
            h.update(part.encode("utf-8"))
        else:
            h.update(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def seen(key: str) -> bool:
    folder = _cache_dir()
    if folder is None:
        return False
    try:
        return (folder / key).exists()
    except OSError:
        return False


def remember(key: str) -> None:
    folder = _cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / key).touch()
    except OSError:
        pass
