"""Load a playbook and keep where each of its values came from.

``load_playbook`` throws the ``Locations`` map away once compiled; lint needs it to point at
outcomes, table rows and checklist items, which the compiled model does not locate. This
module runs the loader's own steps (read + validate, ``extends``, plugin extensions, compile)
and keeps the map, so positions stay right even through ``extends``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Location, PlaybookError
from ..loader import _apply_extensions, _load_document, compile_document, resolve_ref
from ..merge import Locations
from ..model import CompiledPlaybook
from ..plugins import Registry


@dataclass
class LocatedPlaybook:
    pb: CompiledPlaybook
    locs: Locations
    path: Path
    plugin: str | None

    def where(self, obj: Any, key: str | None = None) -> Location:
        """Location of a mapping/list of the merged document (or of one of its keys)."""
        found = self.locs.key(obj, key)[0] if key is not None else self.locs.obj(obj)
        return found or Location(str(self.path))


def resolve_path(ref: str, registry: Registry) -> tuple[Path, str | None]:
    """The file behind ``ref``; an unknown id or a missing file is unusable input (exit 2)."""
    path, plugin = resolve_ref(ref, registry)
    if path.is_dir():
        raise PlaybookError("is a folder: give a playbook file (.yaml, .yml or .json) or an installed id",
                            Location(str(path)))
    if not path.is_file():
        raise PlaybookError(f"no such playbook file: {path}", Location(str(path)))
    return path, plugin


def load_located(ref: str, registry: Registry) -> LocatedPlaybook:
    """Load ``ref`` like ``playbook.loader.load_playbook`` does, keeping locations."""
    path, plugin = resolve_path(ref, registry)
    locs = Locations()
    data = _load_document(path, registry, locs, ())
    data = _apply_extensions(data, registry, locs)
    pb = compile_document(data, registry, locs, path=path, plugin=plugin)
    return LocatedPlaybook(pb, locs, path, plugin)
