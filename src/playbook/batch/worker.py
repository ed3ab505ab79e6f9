"""Evaluate chunks of raw records: parse, check, fold into a funnel, optionally emit JSONL.

The same code runs in-process (``--jobs 1``) and in worker processes; a worker loads the
playbook once (inherited over ``fork``, else loaded by ``init_worker``) and returns one compact
``ChunkResult`` per chunk, so memory in the main process does not grow with the number of cases.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..criteria.runtime import EvalContext
from ..engine import evaluate
from ..errors import PlaybookError
from ..model import CompiledPlaybook
from .funnel import Funnel
from .readers import NOT_UTF8

try:  # optional extra ``playbook[fast]``: JSONL parsing in less than half the time
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised when the extra is not installed
    _orjson = None

JSON_PARSER = "orjson" if _orjson is not None else "json"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (write null for an unknown number)")


def _loads_json(data: bytes | str) -> Any:
    return json.loads(data, parse_constant=_no_constant)  # NaN/Infinity: not JSON, as orjson says


if _orjson is not None:
    loads: Callable[[bytes | str], Any] = _orjson.loads

    def dumps(value: Any) -> str:
        try:
            return _orjson.dumps(value).decode("utf-8")
        except TypeError:  # e.g. integers beyond 64 bits: the standard library copes
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
else:  # pragma: no cover - exercised when the extra is not installed
    loads = _loads_json

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


Chunk = tuple[list[tuple[int, int, str, Any]], dict[int, list[str]]]  # (records, CSV headers by source)


@dataclass
class Job:
    """What every worker needs; built once in the main process."""

    playbook_ref: str
    plugins: tuple[str, ...]
    today: dt.date
    lang: str
    stage: str | None
    jsonl: bool
    source_names: list[str]
    playbook: CompiledPlaybook | None = field(default=None, repr=False)  # not sent to spawned workers


@dataclass
class ChunkResult:
    funnel: Funnel
    rejected: list[tuple[str, int, str]]  # (source, line, message) in input order; line 0: whole file
    jsonl: str | None  # the reports of the chunk's cases, one JSON document per line


class Checker:
    """One worker's state: the compiled playbook, the evaluation context, CSV converters."""

    def __init__(self, job: Job):
        if job.playbook is None:
            from ..loader import load_playbook
            from ..plugins import get_registry

            job.playbook = load_playbook(job.playbook_ref, registry=get_registry(job.plugins))
        self.job = job
        self.pb = job.playbook
        self.ctx = EvalContext(job.today)
        from ..gctune import tune_for_throughput

        tune_for_throughput()
        self._csv: dict[int, Any] = {}
        self._types: Any = None

    def _csv_converter(self, source: int, header: list[str]) -> Any:
        conv = self._csv.get(source)
        if conv is None:
            from ..resources import load_schema
            from .csvfacts import RowConverter, SchemaTypes

            if self._types is None:
                self._types = SchemaTypes(load_schema("case"), self.pb.facts_schema)
            conv = self._csv[source] = RowConverter(header, self._types)
        return conv

    def _facts(self, kind: str, payload: Any, source: int,
               headers: dict[int, list[str]]) -> tuple[Any, str | None, str | None]:
        """A raw record -> (facts, case id, declared stage) where the record format gives them
        (a case file's name, an example file's ``stage``); raises ValueError/PlaybookError."""
        if kind == "j":
            try:
                return loads(payload), None, None
            except ValueError as exc:
                if _not_utf8(payload):
                    raise ValueError(NOT_UTF8) from None
                raise ValueError(f"invalid JSON: {exc}") from None
            except RecursionError:  # the json fallback on a line nested thousands deep
                raise ValueError("invalid JSON: nested too deeply") from None
        if kind == "d":
            return payload, None, None
        if kind == "c":
            return self._csv_converter(source, headers[source])(payload), None, None
        if kind == "f":
            from ..cases import read_case

            case_input = read_case(payload)
            return case_input.facts, case_input.case_id, case_input.stage
        raise ValueError(str(payload))  # "x": the reader's own message

    def run(self, chunk: Chunk, budget: int | None = None) -> ChunkResult:
        """Check every record of ``chunk``; with a ``budget``, stop right after that many rejects."""
        items, headers = chunk
        job, pb, ctx = self.job, self.pb, self.ctx
        funnel = Funnel(len(pb.stages))
        rejected: list[tuple[str, int, str]] = []
        lines: list[str] | None = [] if job.jsonl else None
        names = job.source_names
        for source, line, kind, payload in items:
            try:
                facts, case_id, file_stage = self._facts(kind, payload, source, headers)
                if not isinstance(facts, dict):
                    hint = ("; one case per line: a JSON array of cases belongs in a .json file (or give "
                            "--input-format json)") if kind == "j" and isinstance(facts, list) else ""
                    raise ValueError(f"a case must be a JSON object (a mapping of facts), got {_kind(facts)}{hint}")
                if case_id is None:
                    raw_id = facts.get("id")
                    case_id = str(raw_id) if raw_id is not None else f"{names[source]}:{line}"
                result = evaluate(pb, facts, stage=job.stage or file_stage, case_id=case_id, ctx=ctx)
                if lines is not None:
                    lines.append(dumps(result.to_dict(job.lang)))
            except PlaybookError as exc:
                where = payload if kind == "f" else names[source]
                rejected.append((one_line(where), _problem_line(exc, line, kind), one_line(_problem_text(exc, kind))))
                if budget is not None and len(rejected) >= budget:
                    break
                continue
            except Exception as exc:  # noqa: BLE001 - a bad record never stops the batch
                text = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
                rejected.append((one_line(payload if kind == "f" else names[source]), line, one_line(text)))
                if budget is not None and len(rejected) >= budget:
                    break
                continue
            funnel.add(result)
        return ChunkResult(funnel, rejected, "".join(s + "\n" for s in lines) if lines else None)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: Any) -> str:
    """A rejected record is reported as ONE line ``SOURCE:LINE: problem``: control characters
    from file names or cells (newlines, terminal escapes) are shown escaped, never acted on."""
    text = str(text)
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _not_utf8(payload: Any) -> bool:
    if not isinstance(payload, bytes):
        return False
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false",
            type(None): "null"}.get(type(value), type(value).__name__)


def _problem_line(exc: PlaybookError, line: int, kind: str) -> int:
    if kind == "f":
        for p in exc.problems:
            if p.location is not None and p.location.line is not None:
                return p.location.line
    return line


def _problem_text(exc: PlaybookError, kind: str) -> str:
    parts = []
    for p in exc.problems:
        text = p.message
        if kind == "f" and p.location is not None and p.location.column is not None:
            text += f" (column {p.location.column})"
        if p.hint:
            text += f" ({p.hint})"
        parts.append(text)
    return "; ".join(parts)


# -- worker-process entry points ----------------------------------------------------------------
_checker: Checker | None = None
INHERITED: Job | None = None  # set by the runner before forking: workers inherit the loaded playbook


def init_worker(job: Job | None) -> None:
    global _checker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    _checker = Checker(job if job is not None else INHERITED)  # type: ignore[arg-type]


def run_chunk(chunk: Chunk) -> ChunkResult:
    assert _checker is not None, "init_worker was not called"
    return _checker.run(chunk)
