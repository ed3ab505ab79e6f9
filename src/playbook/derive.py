"""The derive phase: scorecards and decision tables declared as playbook data.

A scorecard adds up indicator scores (on a declared scale, optionally weighted) per dimension
and overall, and places each sum in a band. A missing or off-scale score is reported as such
and the dimension gets no band: it is never counted as zero. A decision table maps conditions
to outcomes with the hit policy ``first`` or ``collect``.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable
from typing import Any

from .criteria.compiler import CompiledExpression
from .criteria.runtime import MISS, resolve_path

DEFAULT_SCALE = [{"value": -1}, {"value": 0}, {"value": 1}]


def pick_band(bands: list[dict[str, Any]] | None, score: float) -> str | None:
    """The first band whose ``min`` is at most ``score`` (a band without ``min`` always fits)."""
    for band in bands or []:
        if "min" not in band or score >= band["min"]:
            return band["id"]
    return None


def _path_parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def scale_range(values: list[float], weight: float) -> tuple[float, float]:
    lo, hi = min(values) * weight, max(values) * weight
    return (min(lo, hi), max(lo, hi))


def build_scorecard(spec: dict[str, Any]) -> Callable[[dict[str, Any], dict[str, Any], Any], dict[str, Any]]:
    """Return ``compute(facts, derived, ctx)`` for a scorecard definition (validated already)."""
    input_path = _path_parts(spec.get("input", "scores"))
    scales = {"scale": [e["value"] for e in spec.get("scale") or DEFAULT_SCALE]}
    for name, entries in (spec.get("scales") or {}).items():
        scales[name] = [e["value"] for e in entries]
    total_bands = spec.get("bands")

    dimensions = []
    for dim in spec["dimensions"]:
        factors = []
        lo_dim = hi_dim = 0.0
        for factor in dim["factors"]:
            indicators = []
            for ind in factor["indicators"]:
                allowed = scales[ind.get("scale", "scale")]
                weight = ind.get("weight", 1)
                lo, hi = scale_range(allowed, weight)
                lo_dim += lo
                hi_dim += hi
                indicators.append((ind["id"], set(allowed), weight))
            factors.append((factor["id"], indicators))
        dimensions.append((dim["id"], factors, dim.get("bands"), dim.get("weight", 1), lo_dim, hi_dim))

    def compute(facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
        try:
            scores = resolve_path(facts, derived, input_path)
        except MISS:
            scores = None
        if not isinstance(scores, dict):
            scores = {}
        result_dims: dict[str, Any] = {}
        all_missing: list[str] = []
        all_invalid: list[str] = []
        indicator_values: dict[str, Any] = {}
        total = 0.0
        for dim_id, factors, bands, dim_weight, lo, hi in dimensions:
            dim_score = 0.0
            dim_missing: list[str] = []
            factor_results: dict[str, Any] = {}
            for factor_id, indicators in factors:
                f_score = 0.0
                f_missing: list[str] = []
                for ind_id, allowed, weight in indicators:
                    value = scores.get(ind_id)
                    if value is None or isinstance(value, bool):
                        f_missing.append(ind_id)
                        continue
                    if not isinstance(value, (int, float)) or value not in allowed:
                        all_invalid.append(ind_id)
                        f_missing.append(ind_id)
                        continue
                    indicator_values[ind_id] = value
                    f_score += value * weight
                factor_results[factor_id] = {
                    "score": _num(f_score),
                    "missing": f_missing,
                    "complete": not f_missing,
                }
                dim_score += f_score
                dim_missing += f_missing
            dim_score *= dim_weight
            complete = not dim_missing
            result_dims[dim_id] = {
                "score": _num(dim_score),
                "band": pick_band(bands, dim_score) if complete else None,
                "complete": complete,
                "missing": dim_missing,
                "min": _num(lo * dim_weight),
                "max": _num(hi * dim_weight),
                "factors": factor_results,
            }
            total += dim_score
            all_missing += dim_missing
        complete = not all_missing
        return {
            "total": _num(total),
            "band": pick_band(total_bands, total) if complete and total_bands else None,
            "complete": complete,
            "missing": all_missing,
            "invalid": all_invalid,
            "dimensions": result_dims,
            "indicators": indicator_values,
        }

    return compute


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 6)


class MissingOutcome(LookupError):
    """A decision table with hit policy ``first`` matched no row and has no default."""


def build_table(
    spec: dict[str, Any], rules: list[tuple[CompiledExpression, dict[str, Any], str | None]]
) -> Callable[[dict[str, Any], dict[str, Any], Any], Any]:
    """Return ``compute(facts, derived, ctx)`` for a decision table with compiled row conditions."""
    hit = spec.get("hit", "first")
    default = spec.get("default")
    for_each = _path_parts(spec["for_each"]) if spec.get("for_each") else None

    def matches(scope: Any, derived: dict[str, Any], ctx: Any) -> list[dict[str, Any]]:
        out = []
        for expr, then, row_id in rules:
            try:
                ok = expr.fn(scope, derived, ctx)
            except Exception:  # noqa: BLE001 - a row that cannot be evaluated does not match
                ok = False
            if ok:
                out.append({**then, **({"row": row_id} if row_id else {})})
                if hit == "first":
                    break
        return out

    def decide(scope: Any, derived: dict[str, Any], ctx: Any) -> Any:
        found = matches(scope, derived, ctx)
        if hit == "collect":
            return {"matches": found, "count": len(found)}
        if found:
            return found[0]
        if default is not None:
            return {**default, "row": "default"}
        raise MissingOutcome("no row of the table matched and it has no default")

    def compute(facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> Any:
        if for_each is None:
            return decide(facts, derived, ctx)
        items = resolve_path(facts, derived, for_each)
        if not isinstance(items, list):
            raise TypeError(f"{'.'.join(for_each)} is not a list")
        results = []
        for i, item in enumerate(items):
            scope = ChainMap(item, facts) if isinstance(item, dict) else facts
            try:
                results.append({"index": i, **decide(scope, derived, ctx)})
            except MissingOutcome:
                results.append({"index": i, "row": None})
        return results

    return compute
