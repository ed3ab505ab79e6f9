"""JSON for the store: orjson when it is importable (the optional ``playbook[fast]`` extra), else
the standard library.

Both write compact UTF-8 JSON with sorted keys that reads back to the same values (orjson is
about five times faster; a few floats are spelled differently, e.g. ``1e16`` for ``1e+16``).
What orjson cannot write -- keys that are not strings, integers beyond 64 bits -- falls back to
``json``, so nothing is refused or changed. NaN and infinities are not JSON: no event can carry
them (events are read with ``loads_finite``); orjson writes them as ``null`` should a plugin
action produce one.
Reading falls back to ``json`` too: for a store written without orjson (it may hold ``NaN``),
and for integers beyond 64 bits, which orjson would read as floats.
"""

from __future__ import annotations

import json
import math
from typing import Any


def _std_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by test_store's fallback test via monkeypatch
    _orjson = None  # type: ignore[assignment]

FAST = _orjson is not None


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON text (the form stored in every JSON column)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(value, option=_orjson.OPT_SORT_KEYS).decode("utf-8")
        except TypeError:  # orjson.JSONEncodeError: non-str keys, big ints ... -> json decides
            pass
    return _std_dumps(value)


def canonical(value: Any) -> Any:
    """``loads(dumps(value))`` -- a JSON value as the store reads it back: the keys of every object
    in sorted order -- without the text in between where orjson can (what it writes, it reads back
    exactly: integers up to 64 bits, shortest-repr floats)."""
    if _orjson is not None:
        try:
            return _orjson.loads(_orjson.dumps(value, option=_orjson.OPT_SORT_KEYS))
        except TypeError:  # orjson.JSONEncodeError: non-str keys, big ints ... -> json decides
            pass
    return json.loads(_std_dumps(value))


# orjson reads integers beyond 64 bits as floats (10**30 -> 1e+30): text with a run of 19 or
# more digits is read by json, which keeps them exact (rarely true). The scan maps every ASCII
# digit to 1 and every other byte to 0 and looks for 19 ones in a row: a few microseconds for
# a case's facts, where a regular expression took ~40 (it tries every position).
_DIGIT_MAP = bytes(1 if 0x30 <= b <= 0x39 else 0 for b in range(256))
_NINETEEN = b"\x01" * 19


def _long_digits(text: str | bytes) -> bool:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return len(data) >= 19 and _NINETEEN in data.translate(_DIGIT_MAP)


def loads(text: str | bytes) -> Any:
    """Parse JSON text exactly as ``json.loads`` would (orjson when that is the same)."""
    if _orjson is not None and not _long_digits(text):
        try:
            return _orjson.loads(text)
        except ValueError:  # orjson.JSONDecodeError: NaN/Infinity written by json -> json reads them
            pass
    return json.loads(text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number: give a finite number or null")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"{text} is too large for a number: give a finite number or null")
    return value


def loads_finite(text: str | bytes) -> Any:
    """``loads`` that refuses NaN, Infinity and numbers beyond the range of a float (ValueError).
    orjson refuses them itself; the standard library (the fallback) reads them, but the store
    could not keep them (they would be written as ``null``), so an event that carries one would
    not read back as it was applied."""
    if _orjson is not None and not _long_digits(text):
        try:
            return _orjson.loads(text)
        except ValueError:
            pass
    value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    if ("\\ud" in text or "\\uD" in text) if isinstance(text, str) else (b"\\ud" in text or b"\\uD" in text):
        _refuse_lone_surrogates(value)
    return value


def _refuse_lone_surrogates(value: Any) -> None:
    """A ``\\ud800``-style escape without its pair reads as a lone surrogate, which is not text:
    no UTF-8 file or database column can hold it (orjson refuses it; json reads it)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a \\u escape stands for half a character (a lone surrogate): give the whole "
                         "character") from None
