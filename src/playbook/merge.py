"""Merging a child playbook (``extends``) or a plugin extension into its base.

Entries of ``stages``, ``derive``, ``scorecards``, ``tables`` and ``outcomes`` are matched by
``id``: same id -> merged (the child's keys win; a stage's ``entry``, ``exit`` and ``actions``
are merged by id in turn), new id -> appended (a new stage may say ``after: <stage-id>``),
``remove: true`` on a criterion or action drops the inherited one. Every other top-level key
of the child replaces the base's; ``facts`` mappings are merged.
"""

from __future__ import annotations

from typing import Any

LIST_KEYS = ("derive", "scorecards", "tables", "outcomes")
STAGE_LISTS = ("entry", "exit", "actions")


class Locations:
    """Where each mapping and value came from, keyed by object identity (survives merging)."""

    def __init__(self) -> None:
        self.of_obj: dict[int, Any] = {}
        self.of_key: dict[tuple[int, str], Any] = {}
        self._keep: list[Any] = []  # keep objects alive so their ids stay unique
        self.read: list[Any] = []  # the files read (paths), for the compiled-playbook cache

    def add_doc(self, doc: Any) -> None:
        from .sourcefile import iter_json_paths

        self._keep.append(doc.data)
        for path, value in iter_json_paths(doc.data):
            if isinstance(value, (dict, list)):
                self.of_obj[id(value)] = doc.locate(path)
                if isinstance(value, dict):
                    for key in value:
                        sub = (*path, key)
                        self.of_key[(id(value), key)] = (
                            doc.locate(sub),
                            sub in doc.quoted,
                            sub in doc.blocks,
                        )

    def alias(self, new: Any, old: Any) -> None:
        """``new`` (a merged copy) is located where ``old`` was; keys fall back to old's."""
        self._keep.append(new)
        if id(old) in self.of_obj:
            self.of_obj[id(new)] = self.of_obj[id(old)]
        if isinstance(new, dict) and isinstance(old, dict):
            for key in old:
                if (id(old), key) in self.of_key:
                    self.of_key[(id(new), key)] = self.of_key[(id(old), key)]

    def obj(self, value: Any) -> Any:
        return self.of_obj.get(id(value))

    def key(self, value: Any, key: str) -> tuple[Any, bool, bool]:
        found = self.of_key.get((id(value), key))
        if found is None:
            return (self.obj(value), False, False)
        return found


def _merge_by_id(base: list[dict[str, Any]], child: list[dict[str, Any]], locs: Locations,
                 deep: bool = False) -> list[dict[str, Any]]:
    result = list(base)
    positions = {item.get("id"): i for i, item in enumerate(result)}
    for item in child:
        item_id = item.get("id")
        if item_id in positions:
            i = positions[item_id]
            if item.get("remove"):
                result[i] = None  # type: ignore[call-overload]
                continue
            merged = _merge_stage(result[i], item, locs) if deep else {**result[i], **item}
            locs.alias(merged, result[i])
            locs.alias(merged, item)  # the child's keys are located in the child
            result[i] = merged
        elif not item.get("remove"):
            after = item.get("after") if deep else None
            if after is not None and after in positions:
                insert_at = positions[after] + 1
                result.insert(insert_at, item)
                positions = {it.get("id"): j for j, it in enumerate(result) if it is not None}
            else:
                result.append(item)
                positions[item_id] = len(result) - 1
    return [item for item in result if item is not None]


def _merge_stage(base: dict[str, Any], child: dict[str, Any], locs: Locations) -> dict[str, Any]:
    merged = {**base, **{k: v for k, v in child.items() if k not in STAGE_LISTS}}
    for key in STAGE_LISTS:
        if key in child:
            merged[key] = _merge_by_id(base.get(key) or [], child[key], locs)
    return merged


def merge_playbook(base: dict[str, Any], child: dict[str, Any], locs: Locations) -> dict[str, Any]:
    """A new document: ``child`` applied on top of ``base``."""
    merged = {k: v for k, v in base.items()}
    for key, value in child.items():
        if key == "extends":
            continue
        if key == "stages":
            merged["stages"] = _merge_by_id(base.get("stages") or [], value, locs, deep=True)
        elif key in LIST_KEYS:
            merged[key] = _merge_by_id(base.get(key) or [], value, locs)
        elif key == "facts":
            merged["facts"] = {**(base.get("facts") or {}), **value}
        else:
            merged[key] = value
    locs.alias(merged, base)
    return merged

