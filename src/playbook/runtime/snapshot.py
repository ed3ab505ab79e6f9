"""Pinning: a case runs on the playbook document it started on.

When a case starts, the merged playbook document (after ``extends`` and plugin extensions) is
stored once, keyed by the hash of its canonical JSON. Later events compile the case's playbook
from that snapshot, so installing a newer playbook version never changes cases in flight.
Playbooks it reuses as gates (``core.playbook-passes``) are stored with it and pinned too.
(Functions, rules and actions a playbook names are still looked up in the installed plugins.)
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from typing import Any

from ..errors import PlaybookError, Problem
from ..model import CompiledPlaybook
from ..plugins import Registry
from ..store.base import PlaybookSnapshot, StoreReader


def _default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default)


USES = "_uses"  # the key under which a snapshot holds the documents of the playbooks it reuses


def _uses(pb: CompiledPlaybook) -> dict[str, Any]:
    return {ref: {"document": sub.data, "plugin": sub.plugin, "uses": _uses(sub)} for ref, sub in pb.uses.items()}


def snapshot_of(pb: CompiledPlaybook) -> PlaybookSnapshot:
    """The playbook's merged document -- with the documents of the playbooks it reuses as gates
    (``core.playbook-passes``), so that those are pinned with it: a changed gate playbook makes a
    new snapshot for new cases and leaves cases in flight as they are."""
    text = canonical({**pb.data, USES: _uses(pb)} if pb.uses else pb.data)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return PlaybookSnapshot(hash=digest, playbook_id=pb.id, version=pb.version, document=json.loads(text),
                            plugin=pb.plugin)


class PlaybookCache:
    """Compiled playbooks by snapshot hash (each snapshot is compiled once per process)."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._by_hash: dict[str, CompiledPlaybook] = {}
        self._snapshots: dict[int, PlaybookSnapshot] = {}

    def snapshot(self, pb: CompiledPlaybook) -> PlaybookSnapshot:
        snap = self._snapshots.get(id(pb))
        if snap is None:
            snap = self._snapshots[id(pb)] = snapshot_of(pb)
            self._by_hash.setdefault(snap.hash, pb)
        return snap

    def get(self, playbook_hash: str, reader: StoreReader) -> CompiledPlaybook:
        compiled = self._by_hash.get(playbook_hash)
        if compiled is not None:
            return compiled
        snap = reader.get_playbook(playbook_hash)
        if snap is None:
            raise PlaybookError([Problem(f"the store has no playbook snapshot {playbook_hash[:12]}", None,
                                         "the store is damaged: restore it from a backup")])
        from ..loader import compile_document
        from ..merge import Locations

        document = copy.deepcopy(snap.document)
        uses = document.pop(USES, None)  # snapshots stored before reused playbooks were pinned have none
        try:
            compiled = compile_document(document, self.registry, Locations(), plugin=snap.plugin, pinned=uses)
        except PlaybookError as exc:
            raise PlaybookError([Problem(
                f"the pinned playbook {snap.playbook_id} v{snap.version} no longer compiles: {p.message}",
                p.location, "install the plugins it was started with") for p in exc.problems]) from None
        self._by_hash[playbook_hash] = compiled
        return compiled
