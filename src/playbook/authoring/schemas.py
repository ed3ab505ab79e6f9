"""The schemas ``playbook schema`` prints: the playbook schema as shipped, and the case schema
as one document (core sections + sections registered by plugins + a playbook's ``facts:``)."""

from __future__ import annotations

import copy
from typing import Any

from ..model import CompiledPlaybook
from ..resources import load_schema
from .factpaths import load_registered


def playbook_schema() -> dict[str, Any]:
    return copy.deepcopy(load_schema("playbook"))


def case_schema(registry: Any, pb: CompiledPlaybook | None = None) -> dict[str, Any]:
    """The core case schema with the top-level sections of plugin schemas and of ``pb.facts``
    added under ``properties`` (a plugin's ``$defs`` are copied under ``$defs/<schema name>``
    with its ``$ref``s rewritten, so every reference still resolves in the one document)."""
    schema = copy.deepcopy(load_schema("case"))
    props = schema.setdefault("properties", {})
    defs = schema.setdefault("$defs", {})
    for name, (value, _plugin) in sorted((registry.schemas or {}).items()):
        if name == "core.case":
            continue
        try:
            loaded = load_registered(value)
        except (OSError, ValueError):
            continue
        if not isinstance(loaded, dict):
            continue
        prefix = f"#/$defs/{name}/"
        loaded = _rewrite_refs(copy.deepcopy(loaded), prefix)
        if loaded.get("$defs"):
            defs[name] = loaded["$defs"]
        for key, sub in (loaded.get("properties") or {}).items():
            props.setdefault(key, sub)
    if pb is not None:
        for key, sub in pb.facts_schema.items():
            props[key] = copy.deepcopy(sub)
        schema["title"] = f"{schema.get('title', 'Case')} (playbook {pb.id})"
    return schema


def _rewrite_refs(value: Any, prefix: str) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite_refs(v, prefix) for k, v in value.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = prefix + ref[len("#/$defs/"):]
        return out
    if isinstance(value, list):
        return [_rewrite_refs(v, prefix) for v in value]
    return value
