"""The criteria language's standard functions (registered by the core plugin).

``exists``, ``count``, ``any``, ``all``, ``sum``, ``min_of`` and ``max_of`` are special forms
handled by the compiler (their arguments are paths or per-item expressions); these are
ordinary functions of already-evaluated values.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

from .compiler import FunctionSpec
from .runtime import MISSING, EvalContext, MissingValue, as_sequence, type_name


def to_date(value: Any) -> dt.date:
    """An ISO date (or date-time) string or a date -> date. Raises TypeError/ValueError."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if value is None:
        raise MissingValue("date is null")
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO date like 2026-01-31, got {type_name(value)}")
    text = value.strip()
    try:
        if len(text) > 10:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO date: {value!r} (expected YYYY-MM-DD)") from None


def fn_today(ctx: EvalContext) -> str:
    return ctx.today_iso


def fn_date(value: Any) -> str:
    return to_date(value).isoformat()


def fn_days_since(ctx: EvalContext, value: Any) -> int:
    return (ctx.today - to_date(value)).days


def fn_days_until(ctx: EvalContext, value: Any) -> int:
    return (to_date(value) - ctx.today).days


def fn_days_between(start: Any, end: Any) -> int:
    return (to_date(end) - to_date(start)).days


def fn_len(value: Any) -> int:
    if value is None:
        raise MissingValue("value is null")
    if not isinstance(value, (str, list, tuple, dict)):
        raise TypeError(f"len() needs a list, text or mapping, got {type_name(value)}")
    return len(value)


def _values(args: tuple[Any, ...]) -> list[Any]:
    if len(args) == 1:
        return list(as_sequence(args[0]))
    return list(args)


def fn_min(*values: Any) -> Any:
    items = _values(values)
    if not items:
        raise MissingValue("min() of an empty list")
    return builtins.min(items)


def fn_max(*values: Any) -> Any:
    items = _values(values)
    if not items:
        raise MissingValue("max() of an empty list")
    return builtins.max(items)


def _number(name: str, value: Any) -> float | int:
    """``value`` when it is a number (true/false count as 1/0, as in comparisons)."""
    if value is None:
        raise MissingValue("value is null")
    if not isinstance(value, (int, float)):
        raise TypeError(f"{name}() needs a number, got {type_name(value)}")
    return value


def fn_abs(value: Any) -> Any:
    return abs(_number("abs", value))


def fn_round(value: Any, digits: int = 0) -> Any:
    if isinstance(digits, bool) or not isinstance(digits, int) or not -20 <= digits <= 20:
        raise TypeError("round() digits must be a whole number between -20 and 20")
    return round(_number("round", value), digits)


def fn_lower(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"lower() needs text, got {type_name(value)}")
    return value.lower()


def fn_upper(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"upper() needs text, got {type_name(value)}")
    return value.upper()


def fn_number(value: Any) -> float | int:
    if isinstance(value, bool) or value is None:
        raise TypeError(f"number() needs a number or numeric text, got {type_name(value)}")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and len(value) <= 50:
        text = value.strip().replace(",", "")
        try:
            return int(text)
        except ValueError:
            return float(text)
    raise TypeError(f"number() needs a number or numeric text, got {type_name(value)}")


def fn_coalesce(*values: Any) -> Any:
    for v in values:
        if v is not None and v is not MISSING:
            return v
    raise MissingValue("all values are null")


CORE_FUNCTIONS: list[FunctionSpec] = [
    FunctionSpec("today", fn_today, needs_context=True, description="the evaluation date (ISO)"),
    FunctionSpec("date", fn_date, description="normalise an ISO date or date-time to YYYY-MM-DD"),
    FunctionSpec("days_since", fn_days_since, needs_context=True, description="days from a date to today"),
    FunctionSpec("days_until", fn_days_until, needs_context=True, description="days from today to a date"),
    FunctionSpec("days_between", fn_days_between, description="days from the first date to the second"),
    FunctionSpec("len", fn_len, description="length of a list, text or mapping"),
    FunctionSpec("min", fn_min, description="smallest of the arguments, or of one list"),
    FunctionSpec("max", fn_max, description="largest of the arguments, or of one list"),
    FunctionSpec("abs", fn_abs, description="absolute value"),
    FunctionSpec("round", fn_round, description="round to N digits (default 0)"),
    FunctionSpec("lower", fn_lower, description="text in lower case"),
    FunctionSpec("upper", fn_upper, description="text in upper case"),
    FunctionSpec("number", fn_number, description="a number from numeric text ('1,200.5')"),
    FunctionSpec("coalesce", fn_coalesce, description="the first argument that is not null or missing",
                 handles_missing=True),
]
