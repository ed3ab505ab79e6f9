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
from .errors import Location, PlaybookError, Problem

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


def check_scorecard(spec: dict[str, Any], location: Location | None = None) -> list[Problem]:
    """Problems the schema cannot see: unknown named scales, duplicate indicators, bands that
    can never be reached (``min`` must fall from band to band; only the last may omit it)."""
    sid = spec["id"]
    problems: list[Problem] = []
    known = {"scale", *(spec.get("scales") or {})}
    seen: set[str] = set()
    for dim in spec["dimensions"]:
        for factor in dim["factors"]:
            for ind in factor["indicators"]:
                if ind.get("scale", "scale") not in known:
                    problems.append(Problem(
                        f"scorecard {sid!r}: indicator {ind['id']!r} uses unknown scale {ind['scale']!r}",
                        location, f"declare it under `scales:` (known: {', '.join(sorted(known))})"))
                if ind["id"] in seen:
                    problems.append(Problem(
                        f"scorecard {sid!r}: indicator id {ind['id']!r} appears twice",
                        location, "indicator ids must be unique in a scorecard: they are the keys of the scores"))
                seen.add(ind["id"])
    for where, bands in [("bands", spec.get("bands")),
                         *((f"dimension {d['id']!r} bands", d.get("bands")) for d in spec["dimensions"])]:
        previous: float | None = None
        for i, band in enumerate(bands or []):
            last = i == len(bands or []) - 1
            if "min" not in band and not last:
                problems.append(Problem(
                    f"scorecard {sid!r}: {where}: band {band['id']!r} has no `min`, so the bands after it "
                    "can never apply", location, "give it a `min`, or move it to the end as the floor"))
            if "min" in band:
                if previous is not None and band["min"] >= previous:
                    problems.append(Problem(
                        f"scorecard {sid!r}: {where}: band {band['id']!r} (min {band['min']}) can never apply "
                        f"after a band with min {previous}", location, "list bands from the highest `min` down"))
                previous = band["min"]
    return problems


def _labels(entries: list[dict[str, Any]]) -> dict[float, Any]:
    return {e["value"]: e["label"] for e in entries if "label" in e}


def build_scorecard(spec: dict[str, Any], location: Location | None = None
                    ) -> Callable[[dict[str, Any], dict[str, Any], Any], dict[str, Any]]:
    """Return ``compute(facts, derived, ctx)`` for a scorecard definition (validated already).

    The result carries the titles of dimensions, factors, indicators and bands and the label of
    each score, so that reports and actions can explain a scorecard without its definition.
    """
    problems = check_scorecard(spec, location)
    if problems:
        raise PlaybookError(problems)
    input_path = _path_parts(spec.get("input", "scores"))
    scale_entries = {"scale": spec.get("scale") or DEFAULT_SCALE, **(spec.get("scales") or {})}
    scales = {name: [e["value"] for e in entries] for name, entries in scale_entries.items()}
    labels = {name: _labels(entries) for name, entries in scale_entries.items()}
    total_bands = spec.get("bands")
    band_titles = {b["id"]: b["title"] for b in total_bands or [] if "title" in b}

    dimensions = []
    for dim in spec["dimensions"]:
        factors = []
        lo_dim = hi_dim = 0.0
        for factor in dim["factors"]:
            indicators = []
            for ind in factor["indicators"]:
                scale_name = ind.get("scale", "scale")
                allowed = scales[scale_name]
                weight = ind.get("weight", 1)
                lo, hi = scale_range(allowed, weight)
                lo_dim += lo
                hi_dim += hi
                indicators.append((ind["id"], set(allowed), weight, ind.get("title"), labels[scale_name]))
            factors.append((factor["id"], factor.get("title"), indicators))
        bands = dim.get("bands")
        dimensions.append((dim["id"], dim.get("title"), factors, bands,
                           {b["id"]: b["title"] for b in bands or [] if "title" in b},
                           dim.get("weight", 1), lo_dim, hi_dim))

    def compute(facts: dict[str, Any], derived: dict[str, Any], ctx: Any) -> dict[str, Any]:
        try:
            scores = resolve_path(facts, derived, input_path)
        except MISS:
            scores = None
        if scores is None:
            scores = {}
        elif not isinstance(scores, dict):
            raise TypeError(f"{'.'.join(input_path)} must be a mapping of indicator id -> score, "
                            f"got {type(scores).__name__}")
        result_dims: dict[str, Any] = {}
        all_missing: list[str] = []
        all_invalid: list[str] = []
        indicator_values: dict[str, Any] = {}
        total = 0.0
        for dim_id, dim_title, factors, bands, dim_band_titles, dim_weight, lo, hi in dimensions:
            dim_score = 0.0
            dim_missing: list[str] = []
            dim_invalid: list[str] = []
            factor_results: dict[str, Any] = {}
            for factor_id, factor_title, indicators in factors:
                f_score = 0.0
                f_missing: list[str] = []
                f_invalid: list[str] = []
                f_indicators: dict[str, Any] = {}
                for ind_id, allowed, weight, ind_title, ind_labels in indicators:
                    value = scores.get(ind_id)
                    entry: dict[str, Any] = {"score": None}
                    if ind_title is not None:
                        entry["title"] = ind_title
                    f_indicators[ind_id] = entry
                    if value is None:
                        f_missing.append(ind_id)
                        continue
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in allowed:
                        # Off the scale (or not a number): unusable, so reported and not counted.
                        entry["invalid"] = value if isinstance(value, (str, int, float, bool)) else str(value)
                        f_invalid.append(ind_id)
                        f_missing.append(ind_id)
                        continue
                    entry["score"] = value
                    if value in ind_labels:
                        entry["label"] = ind_labels[value]
                    if weight != 1:
                        entry["weight"] = weight
                    indicator_values[ind_id] = value
                    f_score += value * weight
                factor_results[factor_id] = {
                    "score": _num(f_score),
                    "missing": f_missing,
                    "invalid": f_invalid,
                    "complete": not f_missing,
                    "indicators": f_indicators,
                    **({"title": factor_title} if factor_title is not None else {}),
                }
                dim_score += f_score
                dim_missing += f_missing
                dim_invalid += f_invalid
            dim_score *= dim_weight
            complete = not dim_missing
            band = pick_band(bands, dim_score) if complete else None
            result_dims[dim_id] = {
                "score": _num(dim_score),
                "band": band,
                "complete": complete,
                "missing": dim_missing,
                "invalid": dim_invalid,
                "min": _num(lo * dim_weight),
                "max": _num(hi * dim_weight),
                "factors": factor_results,
                **({"title": dim_title} if dim_title is not None else {}),
                **({"band_title": dim_band_titles[band]} if band in dim_band_titles else {}),
            }
            total += dim_score
            all_missing += dim_missing
            all_invalid += dim_invalid
        complete = not all_missing
        total_band = pick_band(total_bands, total) if complete and total_bands else None
        return {
            "total": _num(total),
            "band": total_band,
            **({"band_title": band_titles[total_band]} if total_band in band_titles else {}),
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
        try:
            items = resolve_path(facts, derived, for_each)
        except (KeyError, IndexError):  # the case has no such list: no items to decide
            items = []
        if items is None:
            items = []
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
