"""What compiled expressions may call at run time, and how failures are explained."""

from __future__ import annotations

import builtins
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

MAX_SEQUENCE = 10_000  # longest string or list an expression may build
MAX_INT_BITS = 10_000  # largest integer an expression may build (~3,000 digits)
MAX_EXPONENT = 1_000
MAX_ITEM_VISITS = 1_000_000  # list items that nested count/any/all/sum… of one form may visit


class ExpressionLimitError(ArithmeticError):
    """An expression tried to build something unboundedly large."""


class MissingValue(LookupError):
    """A value was missing or null where one was needed (``path`` names it when known)."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


MISS = (KeyError, TypeError, IndexError, AttributeError, MissingValue)


class Missing:
    """The value of a fact that is not in the case.

    Lookups return this sentinel instead of raising (exceptions cost ~0.5 µs each and most
    cases miss the facts of later stages). It is falsy, and every operation on it gives it
    back — comparisons, arithmetic, ``not`` (through ``_not``), membership, function calls —
    so an expression over a missing fact is never true: the criterion fails, and the report
    names the missing path.
    """

    __slots__ = ()
    _instance: Missing | None = None

    def __new__(cls) -> Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "MISSING"

    def get(self, key: Any, default: Any = None) -> Missing:
        return self

    def _same(self, *args: Any) -> Missing:
        return self

    __getitem__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _same  # type: ignore[assignment]
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _same
    __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = _same

    def __hash__(self) -> int:
        return 0


MISSING = Missing()


def op_not(value: Any) -> Any:
    # `not` of a missing or null fact is unknown, not true: the criterion fails and names it
    return MISSING if value is MISSING or value is None else not value


def op_neg(value: Any) -> Any:
    return -value


def op_pos(value: Any) -> Any:
    return +value


def op_in(item: Any, container: Any) -> Any:
    if item is MISSING or container is MISSING:
        return MISSING
    if container is None:
        raise MissingValue("list is null")
    if item in container:
        return True
    # not found among the known items of a written list (`x in [a.b, "A"]`): a missing item
    # might have been it, so the answer is missing rather than false
    return MISSING if type(container) is tuple and MISSING in container else False


def op_not_in(item: Any, container: Any) -> Any:
    found = op_in(item, container)
    return found if found is MISSING else not found


def make_list(*items: Any) -> Any:
    """A list written in an expression; one that holds a missing fact is missing itself."""
    for item in items:
        if item is MISSING:
            return MISSING
    return list(items)


def index(value: Any, i: Any) -> Any:
    """``x[i]`` for lists/texts (and mapping keys): out of range or missing -> MISSING."""
    if value is MISSING or i is MISSING:
        return MISSING
    if isinstance(value, dict):
        return value.get(i, MISSING)
    if isinstance(value, (list, tuple, str)):
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"list index must be a whole number, got {type_name(i)}")
        try:
            return value[i]
        except IndexError:
            return MISSING
    if value is None:
        raise MissingValue("value is null")
    raise TypeError(f"cannot index {type_name(value)}")


def call(fn: Callable[..., Any], *args: Any) -> Any:
    for arg in args:
        if arg is MISSING:
            return MISSING
    return fn(*args)


@dataclass(frozen=True)
class EvalContext:
    """Per-evaluation context: the (pinned) evaluation date."""

    today: dt.date = field(default_factory=dt.date.today)

    @property
    def today_iso(self) -> str:
        return self.today.isoformat()


def as_sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, (list, tuple)):
        return value
    if value is None:
        raise MissingValue("list is null")
    raise TypeError(f"expected a list, got {type_name(value)}")


def type_name(value: Any) -> str:
    return {
        str: "text",
        int: "number",
        float: "number",
        bool: "true/false",
        list: "list",
        dict: "mapping",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _size(value: Any) -> int | None:
    if isinstance(value, (list, tuple)):  # lists of lists: their items count too (`[[1]*n]*n`)
        return _deep_size(value, MAX_SEQUENCE * 10)
    return len(value) if isinstance(value, str) else None


def _deep_size(value: Sequence[Any], budget: int) -> int:
    """Items (and characters) in a list, its nested lists included (shared ones each time it
    is referenced), counted only up to just past ``budget``."""
    total, stack = 0, [value]
    while stack and total <= budget:
        seq = stack.pop()
        total += len(seq)
        if total <= budget:
            for item in seq:
                if isinstance(item, (list, tuple)):
                    stack.append(item)
                elif isinstance(item, str):
                    total += len(item)
    return total


_visits = threading.local()


def top_sequence(value: Any) -> Sequence[Any]:
    """The list of an outermost count/any/all/sum…: starts its budget of item visits."""
    seq = as_sequence(value)
    _visits.left = MAX_ITEM_VISITS
    return seq


def nested_sequence(value: Any) -> Sequence[Any]:
    """The list of a nested form, looped once per outer item: charged to the outer budget, so
    that ``count(xs, count(xs, count(xs, …)))`` cannot run for hours."""
    seq = as_sequence(value)
    left = getattr(_visits, "left", MAX_ITEM_VISITS) - len(seq)
    if left < 0:
        raise ExpressionLimitError(f"nested lists visit more than {MAX_ITEM_VISITS} items")
    _visits.left = left
    return seq


def safe_mul(a: Any, b: Any) -> Any:
    if a is MISSING or b is MISSING:
        return MISSING
    for seq, n in ((a, b), (b, a)):
        if _size(seq) is not None and isinstance(n, int) and _size(seq) * max(n, 0) > MAX_SEQUENCE:
            raise ExpressionLimitError(f"result longer than {MAX_SEQUENCE}")
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and a.bit_length() + b.bit_length() > MAX_INT_BITS
    ):
        raise ExpressionLimitError("number too large")
    return a * b


def safe_pow(a: Any, b: Any) -> Any:
    if a is MISSING or b is MISSING:
        return MISSING
    if isinstance(b, (int, float)) and abs(b) > MAX_EXPONENT:
        raise ExpressionLimitError(f"exponent larger than {MAX_EXPONENT}")
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() * b > MAX_INT_BITS:
        raise ExpressionLimitError("number too large")
    result = a**b
    if isinstance(result, complex):
        raise TypeError("result is not a real number")
    return result


def safe_mod(a: Any, b: Any) -> Any:
    if a is MISSING or b is MISSING:
        return MISSING
    if isinstance(a, str):  # "%s" % x is string formatting, not arithmetic
        raise TypeError("'%' is only for numbers")
    return a % b


def safe_add(a: Any, b: Any) -> Any:
    if a is MISSING or b is MISSING:
        return MISSING
    result = a + b
    if _size(result) is not None and len(result) > MAX_SEQUENCE * 10:
        raise ExpressionLimitError("result too long")
    return result


SKIP = object()


def collect(values: Any) -> list[Any]:
    return [v for v in values if v is not SKIP]


def agg_sum(values: Any) -> Any:
    return builtins.sum(collect(values))


def agg_min(values: Any) -> Any:
    items = collect(values)
    if not items:
        raise MissingValue("no values")
    return builtins.min(items)


def agg_max(values: Any) -> Any:
    items = collect(values)
    if not items:
        raise MissingValue("no values")
    return builtins.max(items)


RUNTIME_GLOBALS: dict[str, Any] = {
    "__builtins__": {},
    "_MISS": MISS,
    "_SKIP": SKIP,
    "_seq": top_sequence,
    "_seqn": nested_sequence,
    "_mul": safe_mul,
    "_pow": safe_pow,
    "_mod": safe_mod,
    "_add": safe_add,
    "_len": len,
    "_any": builtins.any,
    "_all": builtins.all,
    "_sum": builtins.sum,
    "_agg_sum": agg_sum,
    "_agg_min": agg_min,
    "_agg_max": agg_max,
    "_dict": dict,
    "_list": list,
    "_E": MappingProxyType({}),
    "_type": type,
    "_None": None,
    "_MISSING": MISSING,
    "_not": op_not,
    "_neg": op_neg,
    "_pos": op_pos,
    "_in": op_in,
    "_nin": op_not_in,
    "_lst": make_list,
    "_ix": index,
    "_call": call,
}


def detach(exc: BaseException) -> BaseException:
    """Drop what links an exception kept for reporting to the frames that raised it.

    A traceback keeps its frames alive, and each frame its locals and its caller: an error kept
    in a result would keep the whole evaluation's frames, and through them (a local holding the
    previous result, say) every earlier evaluation — an unbounded leak in a batch. Messages need
    only the exception's type and text. The chained exceptions are detached too.
    """
    exc.__traceback__ = None
    exc.__context__ = None
    exc.__cause__ = None
    return exc


class Failure:
    """A criterion that raised: kept with the exception so the report can explain it."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException):
        # The traceback would link this object back to the evaluating frame (whose `out` list
        # holds it): a reference cycle per failing criterion, left to the cyclic GC. Messages
        # need only the exception's type and text.
        detach(exc)
        self.exc = exc

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Failure({self.exc!r})"


RUNTIME_GLOBALS["_Failure"] = Failure
RUNTIME_GLOBALS["_Exception"] = Exception  # the fused evaluator has no builtins


@dataclass(frozen=True)
class Diagnosis:
    """Why an expression could not be evaluated: ``kind`` is missing | null | type | zero |
    overflow | value | empty | limit | error (each a sentence in ``playbook.messages``)."""

    kind: str
    path: str | None
    detail: str


def resolve_path(facts: dict[str, Any], derived: dict[str, Any], path: Sequence[Any]) -> Any:
    """Resolve a path; raises KeyError/IndexError/TypeError like the compiled code does."""
    value: Any = derived if path and path[0] == "derived" else facts
    for part in path[1:] if path and path[0] == "derived" else path:
        if isinstance(part, int) and not isinstance(value, (list, tuple)):
            raise TypeError("not a list")
        if isinstance(part, str) and not isinstance(value, dict):
            raise TypeError("not a mapping")
        value = value[part]
    return value


def format_path(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def diagnose(
    paths: Sequence[tuple[Any, ...]],
    facts: dict[str, Any],
    derived: dict[str, Any],
    exc: BaseException,
) -> Diagnosis:
    """Explain a failed evaluation: the first referenced path that is missing or null wins."""
    for path in paths:
        try:
            value = resolve_path(facts, derived, path)
        except (KeyError, IndexError):
            return Diagnosis("missing", format_path(path), "")
        except TypeError:
            return Diagnosis("missing", format_path(path), "parent is not a mapping")
        if value is None:
            return Diagnosis("null", format_path(path), "")
    if isinstance(exc, ExpressionLimitError):
        return Diagnosis("limit", None, str(exc))
    if isinstance(exc, MissingValue):
        if exc.path:
            return Diagnosis("missing", exc.path, "")
        return Diagnosis("empty", None, str(exc))
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else "?"
        return Diagnosis("missing", str(key), "in a list item")
    if isinstance(exc, TypeError):
        return Diagnosis("type", None, _plain_type_error(exc))
    if isinstance(exc, ZeroDivisionError):
        return Diagnosis("zero", None, str(exc))
    if isinstance(exc, OverflowError):  # e.g. 10**400 / 1: beyond what a float holds
        return Diagnosis("overflow", None, "")
    if isinstance(exc, ValueError):  # e.g. a date that is not an ISO date
        return Diagnosis("value", None, str(exc))
    if isinstance(exc, AttributeError) and "'get'" in str(exc):
        return Diagnosis("type", None, "a field was read from something that is not a mapping "
                                       "(list items and sections must be key: value mappings)")
    return Diagnosis("error", None, f"{type(exc).__name__}: {exc}")


def _plain_type_error(exc: TypeError) -> str:
    text = str(exc)
    for py, plain in (
        ("'str'", "text"),
        ("'int'", "number"),
        ("'float'", "number"),
        ("'NoneType'", "null"),
        ("'list'", "list"),
        ("'dict'", "mapping"),
        ("'bool'", "true/false"),
    ):
        text = text.replace(py, plain)
    return text


FunctionImpl = Callable[..., Any]
