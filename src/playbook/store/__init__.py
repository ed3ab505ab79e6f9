"""Run-mode storage: cases, their pinned playbook, facts, stage and audit log.

``open_store(location)`` picks the implementation from the location; everything else talks to
the :class:`~playbook.store.base.Store` interface.

Location, in order: the ``--store`` option, ``PLAYBOOK_STORE``, else
``$XDG_DATA_HOME/playbook/store.sqlite`` (``~/.local/share/playbook/store.sqlite``).
A location is a file path or ``sqlite:///path``; ``postgresql://`` is reserved for a server
store (not available yet).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import PlaybookError, Problem
from .base import CaseRecord, LogEntry, PlaybookSnapshot, Store, Waiver

__all__ = ["CaseRecord", "LogEntry", "PlaybookSnapshot", "Store", "Waiver", "default_location",
           "open_store", "resolve_location"]

ENV_VAR = "PLAYBOOK_STORE"


def default_location() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "playbook", "store.sqlite")


def resolve_location(location: str | None) -> str:
    if location is not None and not location.strip():
        raise PlaybookError([Problem("--store is empty", None,
                                     "give the path of a store file, or leave --store out to use "
                                     f"{ENV_VAR} or the default ({default_location()})")])
    return location or os.environ.get(ENV_VAR) or default_location()


def open_store(location: str | None = None, *, create: bool = True) -> Store:
    """Open the store at ``location`` (see the module docstring), creating it on first use. With
    ``create=False`` (commands that only read) a store named explicitly -- ``location`` or
    ``PLAYBOOK_STORE`` -- must exist: a mistyped path is an error, not a new empty store."""
    explicit = bool(location or os.environ.get(ENV_VAR))
    where = resolve_location(location)
    scheme, sep, rest = where.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        raise PlaybookError([Problem(f"store {where!r}: PostgreSQL stores are not available yet", None,
                                     "use a SQLite file path for --store / PLAYBOOK_STORE")])
    if sep and scheme != "sqlite":
        raise PlaybookError([Problem(f"store {where!r}: unknown store kind {scheme!r}", None,
                                     "give a file path or sqlite:///path")])
    path = Path(rest if sep else where).expanduser()  # sqlite:///abs/path -> /abs/path
    if not create and explicit and not path.exists():
        raise PlaybookError([Problem(f"no store at {path}", None,
                                     "give the store `playbook run` wrote to (--store, or "
                                     f"{ENV_VAR}; default {default_location()})")])
    from .sqlite import SQLiteStore

    return SQLiteStore(path)
