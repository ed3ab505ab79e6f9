"""The only module that touches durable_rules: a playbook compiled to a flowchart, and the
driver that moves one case through it.

Flowchart per playbook snapshot: a start stage ``$new`` (not entered yet), one stage per
playbook stage, and one terminal stage ``$end:<outcome>`` per outcome. Every stage has a
transition to every other stage, guarded by the message: ``kind == "move"``, ``to == <stage>``
and ``approved == true`` -- the approval is the gate decision our evaluator (plus waivers)
made; durable_rules never evaluates criteria. Entering a stage runs its function, which fires
the playbook's exit actions of the stage left and enter actions of the stage entered.

The known traps of durable_rules 2.0.28 (docs/run-mode.md, DESIGN.md), and how they are contained:

- at most 1024 live sessions per ruleset (then MemoryError and a segfault): a session lives
  for one event only -- restore the case's stage, post the approved moves, read the state,
  ``delete_state`` (always, in ``finally``). Never more than one session is alive.
- exceptions in actions are swallowed into ``state["exception"]``: the state is checked after
  every post and the original exception re-raised as :class:`RunModeError`.
- a message that matches no transition is queued and fires later: only approved moves out of
  the stage the session is known to be in are posted, and a post that fires nothing is an
  error (the session is discarded, so nothing stays queued).
- identical messages raise ``MessageObservedException``: every message carries a unique id;
  the exception is wrapped anyway.
- a ruleset cannot be registered twice: one ruleset per playbook snapshot (id, version, hash
  of the document), registered once per process.
- the timer/dispatch threads race synchronous posts (whole batches were lost): our host does
  not start them. Stage deadlines come from the store (``playbook cases --stalled``), not timers.
- 32-bit identity hashes: each drive uses a fresh session id, and only one session is alive.
- it is imported lazily (only ``run``/``advance`` pay for it) and its absence (Python 3.13)
  is reported as a clear error.
"""

from __future__ import annotations

import itertools
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import PlaybookError, Problem
from ..model import CompiledPlaybook

START = "$new"
END_PREFIX = "$end:"


class RunModeError(PlaybookError):
    """durable_rules failed or did not do what the adapter asked (never silently ignored)."""


class RunModeUnavailable(PlaybookError):
    """durable_rules cannot be imported here."""


_durable: tuple[Any, Any] | None = None


def load_durable() -> tuple[Any, Any]:
    """Import ``durable.engine`` and ``durable.lang`` (lazily; a clear error if impossible)."""
    global _durable
    if _durable is None:
        try:
            from durable import engine, lang
        except Exception as exc:  # noqa: BLE001 - ImportError, or a broken C extension
            version = ".".join(map(str, sys.version_info[:3]))
            raise RunModeUnavailable([Problem(
                f"run mode needs durable_rules, which cannot be imported on Python {version}: "
                f"{type(exc).__name__}: {exc}", None,
                "durable_rules 2.0.28 installs on Python 3.10-3.12 (on 3.13 it fails to import); "
                "use Python 3.12 or older, or build it as docs/run-mode.md describes. "
                "check/test/status/history/cases work without it")]) from None
        _durable = (engine, lang)
    return _durable


@dataclass(frozen=True)
class Step:
    """One approved move (or closing on an outcome) for the driver to post."""

    to: str  # a stage id, or an outcome id when ``close``
    close: bool = False
    via: str = "gate"  # gate (auto-advance) | manual (advance) | back (moving back)


class Hooks:
    """What a drive calls back into while durable_rules runs a stage's function."""

    error: BaseException | None = None

    def entered(self, stage: str, from_stage: str | None, via: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def closed(self, outcome: str, from_stage: str | None) -> None:  # pragma: no cover - interface
        raise NotImplementedError


_lock = threading.Lock()
_host: Any = None
_charts: dict[str, Chart] = {}
_active: dict[str, Hooks] = {}
_sids = itertools.count(1)


def _get_host() -> Any:
    global _host
    if _host is None:
        engine, _ = load_durable()

        class QuietHost(engine.Host):  # type: ignore[misc, name-defined]
            """A host without the background dispatch/timer threads (they race our posts)."""

            def _run(self) -> None:
                return None

        _host = QuietHost()
    return _host


def _message(c: Any) -> dict[str, Any]:
    m = c.m
    return getattr(m, "_d", m) if m is not None else {}


def _stage_function(stage: str) -> Callable[[Any], None]:
    def run(c: Any) -> None:
        m = _message(c)
        hooks = _active.get(c.s.sid)
        if hooks is None:
            raise RuntimeError(f"no driver for durable_rules session {c.s.sid}")
        if m.get("kind") == "move":
            try:
                hooks.entered(stage, m.get("frm"), m.get("via", "gate"))
            except BaseException as exc:
                hooks.error = exc
                raise
        c.s.stage = stage

    return run


def _end_function(outcome: str) -> Callable[[Any], None]:
    def run(c: Any) -> None:
        m = _message(c)
        hooks = _active.get(c.s.sid)
        if hooks is None:
            raise RuntimeError(f"no driver for durable_rules session {c.s.sid}")
        try:
            hooks.closed(outcome, m.get("frm"))
        except BaseException as exc:
            hooks.error = exc
            raise
        c.s.stage = END_PREFIX + outcome

    return run


def ruleset_name(pb: CompiledPlaybook, playbook_hash: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"pb_{pb.id}_v{pb.version}_{playbook_hash[:16]}")


class Chart:
    """One playbook snapshot as a registered durable_rules flowchart."""

    def __init__(self, pb: CompiledPlaybook, playbook_hash: str):
        self.pb = pb
        self.name = ruleset_name(pb, playbook_hash)
        self.stage_ids = [s.id for s in pb.stages]
        self.outcome_ids = [o.id for o in pb.outcomes]
        self._register()

    def _register(self) -> None:
        _, lang = load_durable()
        m = lang.m
        stages = self.stage_ids

        def moves(exclude: str | None) -> None:
            # A flowchart keeps one transition per target stage, so restoring a case into its
            # stage (only out of START) shares the guard with the approved move.
            for target in stages:
                if target == exclude:
                    continue
                guard = (m.kind == "move") & (m.approved == True)  # noqa: E712
                if exclude is None:
                    guard = guard | (m.kind == "restore")
                lang.to(target).when_all((m.to == target) & guard)
            for outcome in self.outcome_ids:
                lang.to(END_PREFIX + outcome).when_all((m.kind == "close") & (m.outcome == outcome))

        with lang.flowchart(self.name):
            with lang.stage(START):
                moves(None)
            for sid in stages:
                with lang.stage(sid, _stage_function(sid)):
                    moves(sid)
            for outcome in self.outcome_ids:
                with lang.stage(END_PREFIX + outcome, _end_function(outcome)):
                    pass
        # Take the definition out of durable.lang's global registry (so nobody else's
        # get_host() registers it) and register it on our own host.
        full_name, definition = lang._rulesets.pop(self.name).define()
        _get_host().register_rulesets({full_name: definition})

    @classmethod
    def for_playbook(cls, pb: CompiledPlaybook, playbook_hash: str) -> Chart:
        name = ruleset_name(pb, playbook_hash)
        with _lock:
            chart = _charts.get(name)
            if chart is None:
                chart = _charts[name] = cls(pb, playbook_hash)
        return chart

    def _post(self, host: Any, sid: str, message: dict[str, Any], expect: str) -> None:
        engine, _ = load_durable()
        message = {**message, "sid": sid, "id": f"{sid}.{next(_sids)}"}
        hooks = _active[sid]
        try:
            state = host.post(self.name, message)
        except (engine.MessageObservedException, engine.MessageNotHandledException) as exc:
            raise RunModeError(f"durable_rules refused {message}: {getattr(exc, 'message', exc)}") from None
        if hooks.error is not None:
            error, hooks.error = hooks.error, None
            if isinstance(error, PlaybookError):
                raise error
            raise RunModeError(f"stage function failed in {self.name}: {type(error).__name__}: {error}") from error
        if state is None:
            pending = host.get_pending_events(self.name, sid)
            raise RunModeError(f"durable_rules did not apply {message} (it would have queued it: {pending})")
        if state.get("exception"):
            raise RunModeError(f"durable_rules swallowed an exception in {self.name}: {state['exception']}")
        if state.get("stage") != expect:
            raise RunModeError(f"durable_rules is in stage {state.get('stage')!r} after {message}, expected {expect!r}")

    def drive(self, start: str | None, steps: list[Step], hooks: Hooks) -> None:
        """Run ``steps`` for one case whose stage is ``start`` (None: not entered) in a
        session that exists only for this call."""
        if not steps:
            return
        host = _get_host()
        with _lock:
            sid = f"s{next(_sids)}"
            _active[sid] = hooks
            posted = False
            try:
                current = start
                if start is not None:
                    posted = True
                    self._post(host, sid, {"kind": "restore", "to": start}, start)
                for step in steps:
                    posted = True
                    if step.close:
                        self._post(host, sid, {"kind": "close", "outcome": step.to, "frm": current},
                                   END_PREFIX + step.to)
                    else:
                        self._post(host, sid, {"kind": "move", "to": step.to, "frm": current, "via": step.via,
                                               "approved": True}, step.to)
                    current = step.to
            finally:
                del _active[sid]
                if posted:
                    try:
                        host.delete_state(self.name, sid)
                    except Exception as exc:  # noqa: BLE001 - a leaked session would count toward the cap
                        raise RunModeError(f"durable_rules could not release session {sid}: {exc}") from None


def live_sessions() -> int:
    """Sessions being driven right now (0 between events)."""
    return len(_active)
