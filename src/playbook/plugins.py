"""Plugin discovery and the registry of what plugins add.

Discovery: the core plugin (``playbook.builtin``), entry points in the group ``playbook``,
modules named by ``-p`` / ``PLAYBOOK_PLUGINS``; ``PLAYBOOK_DISABLE_PLUGINS`` (comma-separated
names, or ``*`` for all entry-point plugins) switches plugins off. A plugin that fails to import
or raises inside a hook is recorded in ``Registry.errors`` with its name and skipped: the rest
keeps working.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .criteria.compiler import FunctionSpec

ENTRY_POINT_GROUP = "playbook"
HOOK_NAMES = [
    "register_rules",
    "register_functions",
    "register_actions",
    "register_derivations",
    "register_schemas",
    "register_playbooks",
    "register_playbook_extensions",
]


@dataclass(frozen=True)
class RuleSpec:
    name: str
    func: Callable[..., Any]
    schema: dict[str, Any] | None = None
    prepare: Callable[..., Any] | None = None
    title: Any = None
    description: str = ""
    plugin: str = "core"


@dataclass(frozen=True)
class ActionSpec:
    name: str
    func: Callable[..., Any]
    schema: dict[str, Any] | None = None
    prepare: Callable[..., Any] | None = None
    title: Any = None
    description: str = ""
    plugin: str = "core"


@dataclass(frozen=True)
class DerivationSpec:
    name: str
    func: Callable[..., Any]
    schema: dict[str, Any] | None = None
    description: str = ""
    plugin: str = "core"


@dataclass(frozen=True)
class PlaybookSource:
    path: Path
    plugin: str


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str | None
    hooks: list[str]
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class PluginProblem:
    plugin: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} ({self.where}): {self.message}"


@dataclass
class Registry:
    rules: dict[str, RuleSpec] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    actions: dict[str, ActionSpec] = field(default_factory=dict)
    derivations: dict[str, DerivationSpec] = field(default_factory=dict)
    schemas: dict[str, tuple[Any, str]] = field(default_factory=dict)
    playbooks: list[PlaybookSource] = field(default_factory=list)
    extensions: dict[str, list[PlaybookSource]] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    errors: list[PluginProblem] = field(default_factory=list)
    _playbook_index: dict[str, PlaybookSource] | None = None

    # -- registration callbacks (bound to a plugin name) ----------------------------------
    def _claim(self, kind: str, table: dict[str, Any], name: str, plugin: str) -> bool:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{kind} name must be a non-empty string")
        if plugin != "core" and "." not in name:
            raise ValueError(f"{kind} {name!r} must be namespaced as '<prefix>.{name}'")
        if name in table:
            owner = table[name].plugin if hasattr(table[name], "plugin") else table[name][1]
            self.errors.append(
                PluginProblem(plugin, f"{kind} {name}", f"already registered by plugin {owner!r}; ignored")
            )
            return False
        return True

    def register_rule(self, plugin: str, name: str, func: Callable[..., Any], *, schema: dict[str, Any] | None = None,
                      prepare: Callable[..., Any] | None = None, title: Any = None, description: str = "") -> None:
        if self._claim("rule", self.rules, name, plugin):
            self.rules[name] = RuleSpec(name, func, schema, prepare, title, description, plugin)

    def register_function(self, plugin: str, name: str, func: Callable[..., Any], *, needs_context: bool = False,
                          description: str = "", handles_missing: bool = False) -> None:
        if self._claim("function", self.functions, name, plugin):
            self.functions[name] = FunctionSpec(name, func, needs_context, plugin, description, handles_missing)

    def register_action(self, plugin: str, name: str, func: Callable[..., Any], *, schema: dict[str, Any] | None = None,
                        prepare: Callable[..., Any] | None = None, title: Any = None, description: str = "") -> None:
        if self._claim("action", self.actions, name, plugin):
            self.actions[name] = ActionSpec(name, func, schema, prepare, title, description, plugin)

    def register_derivation(self, plugin: str, name: str, func: Callable[..., Any], *,
                            schema: dict[str, Any] | None = None, description: str = "") -> None:
        if self._claim("derivation", self.derivations, name, plugin):
            self.derivations[name] = DerivationSpec(name, func, schema, description, plugin)

    def register_schema(self, plugin: str, name: str, schema: Any) -> None:
        if self._claim("schema", self.schemas, name, plugin):
            self.schemas[name] = (schema, plugin)

    def register_playbook(self, plugin: str, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"playbook file not found: {p}")
        self.playbooks.append(PlaybookSource(p, plugin))
        self._playbook_index = None

    def register_extension(self, plugin: str, playbook_id: str, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"playbook extension file not found: {p}")
        self.extensions.setdefault(playbook_id, []).append(PlaybookSource(p, plugin))

    # -- playbook lookup -------------------------------------------------------------------
    def playbook_index(self) -> dict[str, PlaybookSource]:
        """Installed playbooks by id (reads each file's id; bad files are recorded as errors)."""
        if self._playbook_index is None:
            from .errors import PlaybookError
            from .sourcefile import read_document

            index: dict[str, PlaybookSource] = {}
            for src in self.playbooks:
                try:
                    data = read_document(src.path).data
                except PlaybookError as exc:
                    self.errors.append(PluginProblem(src.plugin, "playbook", str(exc)))
                    continue
                pid = data.get("id") if isinstance(data, dict) else None
                if not isinstance(pid, str):
                    self.errors.append(PluginProblem(src.plugin, "playbook", f"{src.path}: no id"))
                    continue
                if pid in index:
                    self.errors.append(PluginProblem(
                        src.plugin, "playbook", f"{pid!r} already provided by plugin {index[pid].plugin!r}; ignored"))
                    continue
                index[pid] = src
            self._playbook_index = index
        return self._playbook_index

    def find_playbook(self, playbook_id: str) -> PlaybookSource | None:
        # Fast path: a bundled file named after its id (avoids reading every playbook).
        if self._playbook_index is None:
            for src in self.playbooks:
                if src.path.stem == playbook_id:
                    if _declared_id(src.path) == playbook_id:
                        return src
                    break
        return self.playbook_index().get(playbook_id)


_ID_LINE = re.compile(r"""^(?:id|"id")\s*:\s*["']?([A-Za-z0-9_-]+)""", re.MULTILINE)


def _declared_id(path: Path) -> str | None:
    """The top-level id of a playbook file, read cheaply (no full parse)."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            head = fh.read(65536)
    except OSError:
        return None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
        except (OSError, ValueError):
            return None
        return data.get("id") if isinstance(data, dict) else None
    match = _ID_LINE.search(head)
    return match.group(1) if match else None


def _plugin_version(module: Any) -> str | None:
    version = getattr(module, "__version__", None)
    return str(version) if version else None


def _split_env(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


@dataclass(frozen=True)
class EntryPoint:
    name: str
    value: str
    dist: str
    version: str

    def load(self) -> Any:
        module_name, _, attr = self.value.partition(":")
        obj = importlib.import_module(module_name.strip())
        for part in filter(None, attr.strip().split(".")):
            obj = getattr(obj, part)
        return obj


def iter_entry_points(group: str) -> list[EntryPoint]:
    """Entry points of ``group`` from the installed distributions' metadata on ``sys.path``.

    Reads ``*.dist-info/entry_points.txt`` directly: importing ``importlib.metadata`` costs
    ~75 ms (it pulls in the ``email`` package), a third of a one-case check's start-up.
    The first distribution of a name on ``sys.path`` wins, as with importlib.metadata.
    """
    import sys

    found: dict[str, EntryPoint] = {}
    seen_dists: set[str] = set()
    for entry in sys.path:
        folder = Path(entry or ".")
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in sorted(names):
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            stem = name.rsplit(".", 1)[0]
            dist, _, version = stem.partition("-")
            key = dist.lower().replace("_", "-")
            if key in seen_dists:
                continue
            seen_dists.add(key)
            try:
                text = (folder / name / "entry_points.txt").read_text(encoding="utf-8")
            except OSError:
                continue
            section = None
            for raw in text.splitlines():
                line = raw.strip()
                if not line or line.startswith(("#", ";")):
                    continue
                if line.startswith("[") and line.endswith("]"):
                    section = line[1:-1].strip()
                elif section == group and "=" in line:
                    ep_name, _, value = line.partition("=")
                    found.setdefault(ep_name.strip(), EntryPoint(ep_name.strip(), value.strip(), dist, version))
    return sorted(found.values(), key=lambda e: e.name)


def create_plugin_manager(extra_modules: Iterable[str] = (), *, entry_points: bool = True,
                          problems: list[PluginProblem] | None = None) -> pluggy.PluginManager:
    """A PluginManager with the core plugin, entry-point plugins and local modules registered."""
    problems = problems if problems is not None else []
    pm = pluggy.PluginManager("playbook")
    pm.add_hookspecs(hookspecs)
    from . import builtin

    pm.register(builtin, name="core")
    disabled = set(_split_env("PLAYBOOK_DISABLE_PLUGINS"))
    if entry_points and "*" not in disabled:
        for ep in iter_entry_points(ENTRY_POINT_GROUP):
            if ep.name in disabled or pm.has_plugin(ep.name):
                continue
            try:
                module = ep.load()
                pm.register(module, name=ep.name)
                if not getattr(module, "__version__", None):
                    pm._playbook_versions = getattr(pm, "_playbook_versions", {})  # type: ignore[attr-defined]
                    pm._playbook_versions[ep.name] = ep.version  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the CLI down
                problems.append(PluginProblem(ep.name, "import", f"{type(exc).__name__}: {exc}"))
    for name in [*_split_env("PLAYBOOK_PLUGINS"), *extra_modules]:
        if name in disabled or pm.has_plugin(name):
            continue
        try:
            module = importlib.import_module(name)
            pm.register(module, name=name)
        except Exception as exc:  # noqa: BLE001
            problems.append(PluginProblem(name, "import", f"{type(exc).__name__}: {exc}"))
    return pm


_CALLBACKS = {
    "register_rules": ("rules", Registry.register_rule),
    "register_functions": ("functions", Registry.register_function),
    "register_actions": ("actions", Registry.register_action),
    "register_derivations": ("derivations", Registry.register_derivation),
    "register_schemas": ("schemas", Registry.register_schema),
    "register_playbooks": ("playbooks", Registry.register_playbook),
    "register_playbook_extensions": ("extensions", Registry.register_extension),
}


def build_registry(pm: pluggy.PluginManager, problems: list[PluginProblem] | None = None) -> Registry:
    """Call every registration hook of every plugin, each in isolation."""
    registry = Registry(errors=list(problems or []))
    order = [name for name, _ in pm.list_name_plugin()]
    versions = getattr(pm, "_playbook_versions", {})
    infos: dict[str, PluginInfo] = {}
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(c.name for c in (pm.get_hookcallers(plugin) or []))
        infos[name] = PluginInfo(
            name=name,
            module=getattr(plugin, "__name__", type(plugin).__name__),
            version=_plugin_version(plugin) or versions.get(name),
            hooks=hooks,
        )
    for hook_name in HOOK_NAMES:
        kind, method = _CALLBACKS[hook_name]
        caller = getattr(pm.hook, hook_name)
        impls = sorted(caller.get_hookimpls(), key=lambda i: order.index(i.plugin_name))
        for impl in impls:
            plugin_name = impl.plugin_name

            def register(*args: Any, _m: Any = method, _p: str = plugin_name, _k: str = kind,
                         _h: str = hook_name, **kwargs: Any) -> None:
                try:
                    _m(registry, _p, *args, **kwargs)
                except (TypeError, ValueError) as exc:
                    registry.errors.append(PluginProblem(_p, _h, str(exc)))
                    return
                label = str(args[0]) if args else "?"
                infos[_p].registered.setdefault(_k, []).append(label)

            try:
                impl.function(register)
            except Exception as exc:  # noqa: BLE001 - isolate each plugin
                registry.errors.append(PluginProblem(plugin_name, hook_name, f"{type(exc).__name__}: {exc}"))
    registry.plugins = [infos[n] for n in order]
    return registry


_cache: dict[tuple[str, ...], Registry] = {}


def get_registry(extra_modules: Iterable[str] = ()) -> Registry:
    """The process-wide registry (built once per set of extra modules)."""
    key = (
        *extra_modules,
        "|",
        os.environ.get("PLAYBOOK_PLUGINS", ""),
        os.environ.get("PLAYBOOK_DISABLE_PLUGINS", ""),
    )
    if key not in _cache:
        problems: list[PluginProblem] = []
        pm = create_plugin_manager(extra_modules, problems=problems)
        _cache[key] = build_registry(pm, problems)
        _cache[key].plugin_manager = pm  # type: ignore[attr-defined]
    return _cache[key]


def reset_registry() -> None:
    _cache.clear()
