"""Input readers: files -> a stream of raw records, each tagged with its source and line.

Nothing here holds more than one record (or one read buffer) at a time, so memory stays flat
whatever the input size. Parsing is left to the workers where it can be (JSONL lines travel as
bytes, CSV rows as lists of cells, case files as paths), so it runs in parallel.

A record is a tuple ``(source index, line, kind, payload)``:

=====  ==========================================================  ==============
kind   payload                                                     from
=====  ==========================================================  ==============
``j``  bytes of one JSON document                                  JSONL
``d``  an already parsed JSON value                                JSON array
``c``  a list of CSV cells (the header is ``Source.header``)       CSV
``f``  the path of a YAML/JSON case file                           directory
``x``  a message: the reader could not read this part of a file   any
=====  ==========================================================  ==============
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import PlaybookError, Problem

Record = tuple[int, int, str, Any]

FORMATS = ("auto", "jsonl", "json", "csv", "dir")
CASE_SUFFIXES = (".yaml", ".yml", ".json")
READ_SIZE = 1 << 20
SNIFF_SIZE = 1 << 16  # bytes looked at before the run to tell a file saved in another encoding
LEGACY_LINES = 3  # ... and how many lines in it must fail UTF-8 before the whole file is refused
MAX_DOCUMENT = 64 << 20  # one element of a JSON array larger than this is rejected
# Text is decoded with ``surrogateescape``: a byte that is not UTF-8 becomes one of these, so the
# record holding it is rejected with its line and the rest of the file is still read.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
NOT_UTF8 = "not UTF-8 text (save the file as UTF-8)"
PORTFOLIO_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".tsv", ".jsonl.gz", ".ndjson.gz", ".csv.gz", ".tsv.gz",
                      ".json.gz")
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".numbers", ".et")
GZIP_MAGIC = b"\x1f\x8b"
# a workbook renamed to .csv/.jsonl would be rejected line by line as "not UTF-8": say it once
SAVE_AS_CSV = ("save the sheet as CSV UTF-8 (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)'; "
               "WPS: 另存为 CSV UTF-8) with dotted column headers like opportunity.amount")
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # xlsx/ods (ZIP), xls (OLE2)
# CSV separators recognised from the header line: Excel writes ; where the decimal mark is a comma
CSV_DELIMITERS = (",", ";", "\t")
# A CSV cell may be as large as a JSON document; beyond that it is almost always a " never closed
CSV_FIELD_LIMIT = MAX_DOCUMENT
HeaderCheck = Callable[[list[str]], "str | None"]


@dataclass
class Source:
    """One input: its display name and how to read it."""

    index: int
    name: str  # as given on the command line ("-" for stdin)
    format: str  # jsonl | json | csv | dir
    path: Path | None
    size: int | None = None  # bytes, when known (progress)
    header: list[str] | None = field(default=None, repr=False)  # CSV column names


class Meter:
    """How much input has been read (bytes of known-size files, records); for the progress bar."""

    __slots__ = ("bytes", "total_bytes", "records")

    def __init__(self, total_bytes: int | None):
        self.bytes = 0
        self.total_bytes = total_bytes
        self.records = 0


def _strip_gz(name: str) -> str:
    return name[:-3] if name.endswith(".gz") else name


def detect_format(path: Path) -> str:
    """The input format from the file name (``.gz`` allowed), sniffing ``.json`` files."""
    if path.is_dir():
        return "dir"
    name = _strip_gz(path.name.lower())
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):  # the separator is read from the header line
        return "csv"
    if name.endswith(".json"):
        with _open_binary(path) as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"["):
            return "json"
        first, newline, _ = head.partition(b"\n")
        if head.startswith(b"{") and newline:
            try:
                json.loads(first)
            except ValueError:  # one object over several lines: not JSONL (the JSON reader says so)
                return "json"
        return "jsonl"
    if name.endswith(SPREADSHEET_SUFFIXES):
        raise PlaybookError([Problem(
            f"{path}: a spreadsheet workbook is not read directly",
            None,
            SAVE_AS_CSV,
        )])
    raise PlaybookError([Problem(
        f"{path}: cannot tell the input format from the file name",
        None,
        "use .jsonl, .json, .csv or a directory of case files, or give --input-format",
    )])


def open_sources(names: tuple[str, ...] | list[str], fmt: str = "auto") -> list[Source]:
    """Check every input exists before anything runs (a typo must not cost an hour's batch)."""
    sources: list[Source] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}  # real path -> the name it was first given as
    for index, name in enumerate(names):
        if name == "-" and "-" in names[:index]:
            problems.append(Problem("- (stdin) is given twice", None, "stdin can be read once; give it one --input -"))
            continue
        if name == "-":
            sources.append(Source(index, "<stdin>", "jsonl" if fmt in ("auto", "dir") else fmt, None))
            continue
        path = Path(name)
        if not path.exists():
            problems.append(Problem(f"{name}: no such file or directory", None,
                                    "give JSONL, JSON, CSV files or a directory of case files"))
            continue
        real = os.path.realpath(path)
        if real in seen:  # every case would be counted twice in the funnel
            problems.append(Problem(f"{name}: given twice (also as {seen[real]})", None, "give each input once"))
            continue
        seen[real] = name
        problem = _not_text(path)
        if problem is not None:
            problems.append(problem)
            continue
        try:
            this_fmt = detect_format(path) if fmt == "auto" else fmt
        except PlaybookError as exc:
            problems.extend(exc.problems)
            continue
        except (OSError, EOFError) as exc:
            problems.append(Problem(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}"))
            continue
        if (this_fmt == "dir") != path.is_dir():
            problems.append(Problem(f"{name}: --input-format {this_fmt} does not fit "
                                    f"{'a directory' if path.is_dir() else 'a file'}"))
            continue
        problem = _legacy_encoding(path, this_fmt) if this_fmt != "dir" else None
        if problem is not None:
            problems.append(problem)
            continue
        size = path.stat().st_size if path.is_file() and not name.endswith(".gz") else None
        sources.append(Source(index, name, this_fmt, path, size))
    if problems:
        raise PlaybookError(problems)
    return sources


def _not_text(path: Path) -> Problem | None:
    """An input file that cannot be what its name says -- a ``.gz`` that is not gzip data, a
    spreadsheet workbook under a text name: said once before anything runs, not line by line."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        return Problem(f"{path}: cannot read: {exc.strerror or exc}")
    if path.name.endswith(".gz"):
        if magic[:2] == GZIP_MAGIC:
            return None
        what = "is empty (an interrupted copy or download?)" if not magic else "is not gzip-compressed"
        return Problem(f"{path}: {what}, though its name ends in .gz", None,
                       "copy it again, or rename it without .gz if it is plain text")
    if magic.startswith(WORKBOOK_MAGIC):
        return Problem(f"{path}: is a spreadsheet workbook or ZIP archive, not text", None,
                       SAVE_AS_CSV)
    return None


def _legacy_encoding(path: Path, fmt: str) -> Problem | None:
    """A whole file in another encoding than UTF-8 (GBK/GB18030: Excel's "CSV" on Chinese
    Windows) would be rejected record by record; said once instead, with the way out. Decided on
    the first 64 KB: at least ``LEGACY_LINES`` lines with non-ASCII bytes, and (nearly) all of
    them fail UTF-8. A UTF-8 file with a damaged record or two keeps its other records, each bad
    one rejected with its line."""
    if not path.is_file():
        return None
    try:
        with _open_binary(path) as fh:
            head = fh.read(SNIFF_SIZE)
    except (OSError, EOFError):
        return None  # reported when the file is read
    lines = head.splitlines()
    if len(head) == SNIFF_SIZE:
        lines = lines[:-1]  # may end inside a character
    foreign = [line for line in lines if not line.isascii()]
    failing = 0
    for line in foreign:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            failing += 1
    if failing < LEGACY_LINES or failing < 0.9 * len(foreign):
        return None
    try:
        head.decode("gb18030")
    except UnicodeDecodeError:
        return Problem(f"{path}: not UTF-8 text (a legacy encoding?)", None, "save or convert it as UTF-8")
    excel = ", as Excel saves 'CSV' on Chinese Windows" if fmt == "csv" else ""
    return Problem(f"{path}: not UTF-8 text (it looks like GBK/GB18030{excel})", None,
                   "save it as 'CSV UTF-8' (Excel: File > Save As), or convert it: "
                   f"iconv -f GB18030 -t UTF-8 {path} > utf8-{path.name}" if fmt == "csv" else
                   f"convert it: iconv -f GB18030 -t UTF-8 {path} > utf8-{path.name}")


def total_size(sources: list[Source]) -> int | None:
    sizes = [s.size for s in sources]
    return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def iter_records(sources: list[Source], meter: Meter | None = None,
                 header_check: HeaderCheck | None = None) -> Iterator[Record]:
    """Every record of every source, in order. ``header_check`` may refuse a CSV header (e.g. a
    column the case schema cannot place); the file is then skipped with that reason."""
    meter = meter or Meter(None)
    for source in sources:
        try:
            if source.format == "csv":
                yield from _csv(source, meter, header_check)
            elif source.format == "json":
                yield from _json_array(source, meter)
            elif source.format == "dir":
                yield from _directory(source, meter)
            else:
                yield from _jsonl(source, meter)
        except OSError as exc:  # unreadable mid-way (permissions, disk): reported, batch goes on
            yield (source.index, 0, "x", f"cannot read: {exc.strerror or exc}")
        except EOFError:  # gzip: the compressed file stops short (an interrupted copy or download)
            yield (source.index, 0, "x", "the compressed file is truncated; the rest of the file is lost "
                   "(copy or download it again)")
        except UnicodeDecodeError as exc:
            yield (source.index, 0, "x", f"not UTF-8 text ({exc.reason}); the rest of the file is skipped")


def _jsonl(source: Source, meter: Meter) -> Iterator[Record]:
    fh = sys.stdin.buffer if source.path is None else _open_binary(source.path)
    index = source.index
    readline = fh.readline
    try:
        line_no = 0
        while True:
            line = readline(MAX_DOCUMENT)  # bounded: a file without newlines must not fill memory
            if not line:
                break
            line_no += 1
            meter.bytes += len(line)
            if line_no == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if len(line) >= MAX_DOCUMENT - 3 and not line.endswith(b"\n"):
                while True:  # skip to the end of this line, a buffer at a time
                    more = readline(READ_SIZE)
                    meter.bytes += len(more)
                    if not more or more.endswith(b"\n"):
                        break
                meter.records += 1
                yield (index, line_no, "x", f"a line longer than {MAX_DOCUMENT >> 20} MB is not one case; it is "
                       "skipped (one case per line; a JSON array of cases belongs in a .json file)")
                continue
            if not line or line.isspace():
                continue
            meter.records += 1
            yield (index, line_no, "j", line)
    finally:
        if source.path is not None:
            fh.close()


class _NotJson(ValueError):
    """NaN / Infinity: Python's json reads them, but they are not JSON (orjson, other tools refuse)."""


def _no_constant(name: str) -> Any:
    raise _NotJson(name)


def _json_array(source: Source, meter: Meter) -> Iterator[Record]:
    """Stream the elements of one top-level JSON array, with the line each element starts on."""
    strict = json.JSONDecoder(parse_constant=_no_constant)
    lenient = json.JSONDecoder()  # only to find where an element with NaN ends, to skip just it
    index = source.index
    raw = sys.stdin.buffer if source.path is None else _open_binary(source.path)
    fh = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape")
    try:
        buf = ""
        dirty = False  # a byte that is not UTF-8 was read
        pos = 0  # parse position in buf
        line = 1  # line number at ``counted``
        counted = 0  # position in buf up to which newlines are counted
        eof = False

        def fill() -> bool:
            nonlocal buf, pos, counted, eof, line, dirty
            chunk = fh.read(READ_SIZE)
            if not chunk:
                eof = True
                return False
            meter.bytes += len(chunk.encode("utf-8", "surrogateescape")) if source.size else 0
            dirty = dirty or _NOT_UTF8.search(chunk) is not None
            line += buf.count("\n", counted, pos)
            buf = buf[pos:] + chunk
            counted = 0
            pos = 0
            return True

        def skip_ws() -> str | None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf):
                    return buf[pos]
                if eof or not fill():
                    return None

        def line_at(p: int) -> int:
            nonlocal line, counted
            line += buf.count("\n", counted, p)
            counted = p
            return line

        fill()
        head = skip_ws()
        if head != "[":
            got = "one JSON object (a single case: check it with `playbook check PLAYBOOK FILE`)" \
                if head == "{" else "nothing" if head is None else repr(head)
            yield (index, line_at(pos), "x", f"expected a JSON array of cases ([ {{...}}, {{...}} ]), got {got}; "
                   "for one case per line use .jsonl")
            return
        pos += 1
        first = True
        while True:
            ch = skip_ws()
            if ch is None:
                yield (index, line_at(pos), "x", "unexpected end of file: the JSON array is not closed with ]")
                return
            if ch == "]":
                pos += 1
                extra = skip_ws()
                if extra is not None:
                    yield (index, line_at(pos), "x", f"unexpected {extra!r} after the closing ] of the array; "
                           "the rest of the file is skipped (one JSON array per file)")
                return
            if not first:
                if ch != ",":
                    yield (index, line_at(pos), "x",
                           f"expected , or ] between array elements, got {ch!r}; the rest of the file is skipped")
                    return
                pos += 1
                if skip_ws() is None:
                    continue
            first = False
            start = pos
            decoder, constant = strict, None
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                    break
                except _NotJson as exc:
                    decoder, constant = lenient, str(exc)
                    continue
                except RecursionError:
                    yield (index, line_at(start), "x", "a case nested too deeply to read (thousands of levels); "
                           "the rest of the file is skipped")
                    return
                except json.JSONDecodeError as exc:
                    if not eof and len(buf) - start < MAX_DOCUMENT and fill():
                        start = pos
                        continue
                    at = line_at(min(exc.pos, len(buf)))
                    yield (index, at, "x", f"invalid JSON: {exc.msg} (column {exc.colno}); "
                           "the rest of the file is skipped")
                    return
            element_line = line_at(start)
            meter.records += 1
            pos = end
            if dirty and _NOT_UTF8.search(buf, start, end):
                yield (index, element_line, "x", NOT_UTF8)
                continue
            if constant is not None:
                yield (index, element_line, "x", f"{constant} is not a JSON value (write null for an unknown number)")
                continue
            yield (index, element_line, "d", value)
    finally:
        fh.close() if source.path is not None else fh.detach()


def check_header(header: list[str]) -> str | None:
    """A CSV header that cannot map to nested facts -> the reason; else None.

    A column without a name is allowed (spreadsheets export empty columns past the data as
    trailing separators); a record with a value in it is rejected (``csvfacts.RowConverter``)."""
    if not any(header):
        return "the first line (the header) names no columns"
    seen: set[str] = set()
    for column in header:
        if not column:
            continue
        if any(part == "" for part in column.split(".")):
            return f"empty path segment in column name {column!r}"
        if column in seen:
            return f"column {column!r} appears twice in the header"
        seen.add(column)
    for column in seen:
        parts = column.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix in seen:
                return f"column {prefix!r} is a value but {column!r} treats it as a mapping"
    return None


def sniff_delimiter(line: str) -> str:
    """The separator of a CSV file from its header line: the most frequent of , ; and tab outside
    quotes (a tie goes to the comma). Excel writes ; where the decimal mark is a comma."""
    counts = dict.fromkeys(CSV_DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(CSV_DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _csv(source: Source, meter: Meter, header_check: HeaderCheck | None = None) -> Iterator[Record]:
    index = source.index
    raw = sys.stdin.buffer if source.path is None else _open_binary(source.path)
    fh = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="", errors="surrogateescape")
    try:
        first = fh.readline(READ_SIZE)
        if not first:
            return
        if len(first) >= READ_SIZE and not first.endswith(("\n", "\r")):
            yield (index, 1, "x", f"the first line is longer than {READ_SIZE >> 20} MB: not a CSV header "
                   "(is this really a CSV file?); the file is skipped")
            return
        if csv.field_size_limit() < CSV_FIELD_LIMIT:
            csv.field_size_limit(CSV_FIELD_LIMIT)
        # strict: a quote that is never closed is an error, not the rest of the file in one cell
        reader = csv.reader(itertools.chain((first,), fh), delimiter=sniff_delimiter(first), strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield (index, 1, "x", f"invalid CSV header: {exc}; the file is skipped")
            return
        header = [h.strip() for h in header]
        problem = NOT_UTF8 if _NOT_UTF8.search("".join(header)) else check_header(header)
        if problem is None and header_check is not None:
            problem = header_check(header)
        if problem:
            yield (index, 1, "x", f"{problem}; the file is skipped (name columns like opportunity.amount)")
            return
        source.header = header
        width = len(header)
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield (index, start, "x", f"invalid CSV: {_csv_error(str(exc), start, reader.line_num)}")
                start = reader.line_num + 1
                continue
            line_no, start = start, reader.line_num + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            meter.records += 1
            if source.size:
                meter.bytes += sum(len(c) for c in row) + len(row)
            if len(row) != width:
                yield (index, line_no, "x", f"expected {width} columns as in the header, got {len(row)}")
                continue
            if _NOT_UTF8.search("".join(row)):
                yield (index, line_no, "x", NOT_UTF8)
                continue
            yield (index, line_no, "c", row)
    finally:
        fh.close() if source.path is not None else fh.detach()


def _csv_error(message: str, start: int, last: int) -> str:
    """csv's own wording -> what happened and which lines are lost (never skipped in silence)."""
    span = f"line {start}" if last <= start else f"lines {start}-{last}"
    if message == "unexpected end of data":
        return f'a quoted cell is never closed (a " is missing); the rest of the file ({span}) is skipped'
    if message.startswith("field larger than field limit"):
        return (f'a cell longer than {CSV_FIELD_LIMIT >> 20} MB starting on line {start}, most likely a " '
                f"that is never closed; {span} skipped")
    return f"{message} ({span} skipped)"


def _directory(source: Source, meter: Meter) -> Iterator[Record]:
    assert source.path is not None
    unreadable: list[OSError] = []  # os.walk skips a folder it cannot list unless told

    def lost() -> Iterator[Record]:
        while unreadable:
            exc = unreadable.pop(0)
            meter.records += 1
            yield (source.index, 0, "x", f"{exc.filename}: cannot read the folder: {exc.strerror or exc}; "
                   "its cases are not checked")

    for root, dirs, files in os.walk(source.path, onerror=unreadable.append):
        yield from lost()
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            low = name.lower()
            if not name.startswith(".") and low.endswith(PORTFOLIO_SUFFIXES):
                meter.records += 1  # a portfolio file is not one case: never skipped in silence
                yield (source.index, 0, "x", f"{os.path.join(root, name)}: a portfolio file inside a folder "
                       "is not read as cases; give it as its own --input")
                continue
            if name.startswith(".") or not low.endswith(CASE_SUFFIXES):
                continue
            meter.records += 1
            yield (source.index, 0, "f", os.path.join(root, name))
    yield from lost()
