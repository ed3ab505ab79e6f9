"""The only module that touches durable_rules: a playbook compiled to a flowchart, and the
driver that moves one case through it.

Flowchart per playbook snapshot: a start stage ``$new`` (not entered yet), one stage per
playbook stage, and one terminal stage ``$end:<outcome>`` per outcome. The transitions are the
moves a case can make, and no others: from ``$new`` into the first stage (and a restore into
any stage, see below), from each stage to the next one, back to any earlier stage (``via ==
"back"``), and to the end of each outcome open in that stage (``from_stages``). Each is guarded
by the message: ``kind == "move"``, ``to == <stage>``, ``frm == <stage left>`` and ``approved
== true`` -- the approval is the gate decision our evaluator (plus waivers) made; durable_rules
never evaluates criteria, but it refuses a move the playbook does not have (skipping a stage, an
outcome closed where it is not open). Fewer transitions also make every message cheaper to
match (measured: ~10-15 us per event on a six-stage playbook against a transition between every
pair of stages). Entering a stage runs its function, which fires the playbook's exit actions of
the stage left and enter actions of the stage entered.

The known traps of durable_rules 2.0.28 (docs/run-mode.md, DESIGN.md), and how they are contained:

- at most 1024 live sessions per ruleset (then MemoryError and a segfault): a session lives
  for one event -- restore the case's stage and post the approved moves as one batch, check
  the stages it went through, ``delete_state`` (in ``finally``) -- or, in a stream, until an
  event of another case (see ``Chart.drive``). Never more than one session is alive.
- exceptions in actions are swallowed into ``state["exception"]``: the state is checked after
  every post and the original exception re-raised as :class:`RunModeError`.
- a message that matches no transition is queued and fires later: only approved moves out of
  the stage the session is known to be in are posted; each names the stage it leaves (part of
  its guard), so it can fire in that stage only; the stages the session went through must equal
  the moves, else it is an error and the session is discarded, so nothing stays queued.
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


class _Drive:
    """One session being driven: its hooks, the stages it entered (in order) and the first error."""

    __slots__ = ("hooks", "trace")

    def __init__(self, hooks: Hooks):
        self.hooks = hooks
        self.trace: list[str] = []


@dataclass
class _Held:
    """The session kept after a drive for the case of a stream's last event (see Chart.drive)."""

    chart: str
    sid: str
    case: str
    stage: str


_lock = threading.Lock()
_host: Any = None
_charts: dict[str, Chart] = {}
_charts_by_key: dict[tuple[str, int, str], Chart] = {}
_active: dict[str, _Drive] = {}
_held: _Held | None = None
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


def _driven(c: Any) -> _Drive:
    drive = _active.get(c.s.sid)
    if drive is None:
        raise RuntimeError(f"no driver for durable_rules session {c.s.sid}")
    return drive


def _from(m: dict[str, Any]) -> str | None:
    frm = m.get("frm")
    return None if frm == START else frm


def _stage_function(stage: str) -> Callable[[Any], None]:
    def run(c: Any) -> None:
        m = _message(c)
        drive = _driven(c)
        if drive.hooks.error is not None:
            return  # a move of this batch failed: fire nothing more (the drive raises it)
        if m.get("kind") == "move":
            try:
                drive.hooks.entered(stage, _from(m), m.get("via", "gate"))
            except BaseException as exc:
                drive.hooks.error = exc
                raise
        drive.trace.append(stage)
        c.s.stage = stage

    return run


def _end_function(outcome: str) -> Callable[[Any], None]:
    def run(c: Any) -> None:
        m = _message(c)
        drive = _driven(c)
        if drive.hooks.error is not None:
            return
        try:
            drive.hooks.closed(outcome, _from(m))
        except BaseException as exc:
            drive.hooks.error = exc
            raise
        drive.trace.append(END_PREFIX + outcome)
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
        self._moves = {here: frozenset(self._targets(here)) for here in (START, *self.stage_ids)}
        self._open = {here: frozenset(self._closes(here)) for here in (START, *self.stage_ids)}
        self._register()

    def _register(self) -> None:
        _, lang = load_durable()
        m = lang.m
        stages = self.stage_ids

        def moves(here: str) -> None:
            # Every move names the stage it leaves (``frm``): a message matches in exactly one
            # stage, so a batch of moves fires in its one possible order, whatever order
            # durable_rules takes the messages in. A flowchart keeps one transition per target
            # stage, so restoring a case into its stage (only out of START) shares the guard
            # with the approved move.
            if here == START:  # a restore goes into any stage; a move only into the first one
                for target in stages:
                    guard = m.kind == "restore"
                    if (target, False) in self._moves[START]:
                        guard = guard | ((m.kind == "move") & (m.approved == True) & (m.frm == START))  # noqa: E712
                    lang.to(target).when_all((m.to == target) & guard)
            for target, back in self._targets(here) if here != START else ():
                guard = (m.kind == "move") & (m.approved == True) & (m.frm == here)  # noqa: E712
                if back:
                    guard = guard & (m.via == "back")
                lang.to(target).when_all((m.to == target) & guard)
            for outcome in self._closes(here):
                lang.to(END_PREFIX + outcome).when_all((m.kind == "close") & (m.outcome == outcome) & (m.frm == here))

        with lang.flowchart(self.name):
            with lang.stage(START):
                moves(START)
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

    def _targets(self, here: str) -> list[tuple[str, bool]]:
        """The stages a move out of ``here`` may go to, each with whether it is a back move:
        from START into the first stage (a restore goes anywhere: ``messages``), from a stage
        to the next one, and back to any earlier one."""
        stages = self.stage_ids
        if here == START:
            return [(stages[0], False)] if stages else []
        position = stages.index(here)
        forward = [(stages[position + 1], False)] if position + 1 < len(stages) else []
        return forward + [(earlier, True) for earlier in stages[:position]]

    def _closes(self, here: str) -> list[str]:
        """The outcomes a case in ``here`` may close on: those open in it (``from_stages``)."""
        return [o.id for o in self.pb.outcomes
                if here == START or o.from_stages is None or here in o.from_stages]

    def _check(self, current: str, step: Step) -> None:
        """Refuse a move the flowchart does not have before durable_rules sees it: a batch with
        a message no transition takes raises MessageNotHandledException, leaves the whole batch
        pending, and deleting that session then crashes the process (durable_rules 2.0.28
        frees an invalid pointer). The evaluator never asks for such a move."""
        if current not in self._moves:
            raise RunModeError(f"{self.pb.id}: the flowchart has no stage {current!r}")
        if step.close:
            if step.to not in self._open[current]:
                raise RunModeError(f"{self.pb.id}: outcome {step.to!r} is not open in stage {current!r}"
                                   " (the flowchart has no such move)")
            return
        if (step.to, step.via == "back") not in self._moves[current]:
            kind = "back move" if step.via == "back" else "move"
            raise RunModeError(f"{self.pb.id}: the flowchart has no {kind} from {current!r} to {step.to!r}")

    @classmethod
    def for_playbook(cls, pb: CompiledPlaybook, playbook_hash: str) -> Chart:
        key = (pb.id, pb.version, playbook_hash)
        chart = _charts_by_key.get(key)  # once per event: no name to build
        if chart is None:
            name = ruleset_name(pb, playbook_hash)
            with _lock:
                chart = _charts.get(name)
                if chart is None:
                    chart = _charts[name] = cls(pb, playbook_hash)
                _charts_by_key[key] = chart
        return chart

    def messages(self, start: str | None, steps: list[Step], *, restore: bool = True
                 ) -> tuple[list[dict[str, Any]], list[str]]:
        """The messages that restore a case into ``start`` (unless ``restore`` is false: the
        session is in ``start`` already) and make ``steps``, and the stages the session must go
        through, in order, when durable_rules applies them."""
        out: list[dict[str, Any]] = []
        expect: list[str] = []
        current = START
        if start is not None:
            if restore:
                out.append({"kind": "restore", "to": start})
                expect.append(start)
            current = start
        for step in steps:
            self._check(current, step)
            if step.close:
                out.append({"kind": "close", "outcome": step.to, "frm": current})
                expect.append(END_PREFIX + step.to)
            else:
                out.append({"kind": "move", "to": step.to, "frm": current, "via": step.via, "approved": True})
                expect.append(step.to)
            current = step.to
        return out, expect

    def drive(self, start: str | None, steps: list[Step], hooks: Hooks, *, keep: str | None = None) -> None:
        """Run ``steps`` for one case whose stage is ``start`` (None: not entered).

        The restore and the moves are posted as one batch, then the stages the session went
        through are checked against the steps (so nothing is left queued), and the session is
        deleted. With ``keep`` (the case id, when a stream of events is applied) the session is
        kept instead, and the next drive of the same case reuses it if the case is still in the
        stage the session is in -- a session in stage S with nothing queued is exactly what a
        restore into S gives. At most one session is kept; any other drive, an error, or
        :func:`release` deletes it."""
        global _held
        if not steps:
            return
        engine, _ = load_durable()
        host = _get_host()
        with _lock:
            held = _held
            reuse = (held is not None and keep is not None and held.chart == self.name and held.case == keep
                     and held.stage == start)
            messages, expect = self.messages(start, steps, restore=not reuse)  # raises before any change
            if reuse:
                assert held is not None
                _held = None
                sid = held.sid
            else:
                _release_held(host)
                sid = f"s{next(_sids)}"
            for message in messages:  # unique ids: identical messages would be refused as observed
                message["sid"] = sid
                message["id"] = f"{sid}.{next(_sids)}"
            drive = _active[sid] = _Drive(hooks)
            kept = False
            try:
                try:
                    state = host.post_batch(self.name, messages)
                except engine.MessageNotHandledException:
                    # _check lets no such batch through; should one get here, its session is
                    # left alone: deleting it crashes durable_rules 2.0.28 (see _check)
                    kept = True
                    raise RunModeError(f"durable_rules has no transition for the moves {expect} from {start!r}"
                                       " (it would have queued them)") from None
                except engine.MessageObservedException as exc:
                    raise RunModeError(f"durable_rules refused {messages}: {getattr(exc, 'message', exc)}") from None
                if hooks.error is not None:
                    error, hooks.error = hooks.error, None
                    if isinstance(error, PlaybookError):
                        raise error
                    raise RunModeError(f"stage function failed in {self.name}: {type(error).__name__}: {error}") \
                        from error
                if state and state.get("exception"):
                    raise RunModeError(f"durable_rules swallowed an exception in {self.name}: {state['exception']}")
                if drive.trace != expect:
                    pending = [e for e in host.get_pending_events(self.name, sid) if "kind" in e]
                    raise RunModeError(f"durable_rules did not apply the moves {expect} (went through {drive.trace};"
                                       f" it would have queued: {pending})")
                if state is None or state.get("stage") != expect[-1]:
                    raise RunModeError(f"durable_rules is in stage {(state or {}).get('stage')!r} after {messages},"
                                       f" expected {expect[-1]!r}")
                if keep is not None and not expect[-1].startswith(END_PREFIX):
                    _held = _Held(self.name, sid, keep, expect[-1])
                    kept = True
            finally:
                del _active[sid]
                if not kept:
                    _delete(host, self.name, sid)


def _delete(host: Any, chart: str, sid: str) -> None:
    try:
        host.delete_state(chart, sid)
    except Exception as exc:  # noqa: BLE001 - a leaked session would count toward the cap
        raise RunModeError(f"durable_rules could not release session {sid}: {exc}") from None


def _release_held(host: Any) -> None:
    global _held
    held, _held = _held, None
    if held is not None:
        _delete(host, held.chart, held.sid)


def release() -> None:
    """Delete the session kept for the last case, if any (the end of a stream of events, or
    its transaction did not commit: the store stays the only truth)."""
    if _held is None:
        return
    with _lock:
        _release_held(_get_host())


def live_sessions() -> int:
    """Live durable_rules sessions: being driven now, or kept for the last case of a stream
    (0 between events of single applies, and after a stream)."""
    return len(_active) + (_held is not None)
