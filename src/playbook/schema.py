"""JSON-Schema validation with errors that point at file:line:col."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from .errors import Problem
from .resources import load_schema
from .sourcefile import SourceDoc


@cache
def validator_for(name: str, relaxed: bool = False) -> Any:
    """A compiled Draft 2020-12 validator for a bundled schema (``relaxed``: no top-level required)."""
    import jsonschema

    schema = load_schema(name)
    if relaxed:
        schema = copy.deepcopy(schema)
        schema.pop("required", None)
        schema.pop("anyOf", None)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def validator_for_schema(schema: dict[str, Any]) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(schema)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_error(error: Any) -> str:
    """A one-line, human explanation of a jsonschema ValidationError."""
    from jsonschema.exceptions import best_match

    if error.context:
        deepest = best_match(error.context)
        if deepest is not None and list(deepest.absolute_path) != list(error.absolute_path):
            return describe_error(deepest)
        is_criterion = any("when" in (sub.get("required") or []) for sub in error.validator_value
                           if isinstance(sub, dict))
        if error.validator == "oneOf" and isinstance(error.instance, dict) and is_criterion:
            keys = set(error.instance)
            if {"when", "rule"} <= keys:
                return "give either `when` or `rule`, not both"
            if not keys & {"when", "rule", "remove"}:
                return "a criterion needs `when` (an expression) or `rule` (a plugin rule)"
    kind = error.validator
    if kind == "not" and isinstance(error.instance, dict) and {"when", "rule"} <= set(error.instance):
        return "give either `when` or `rule`, not both"
    if kind == "oneOf" and isinstance(error.instance, dict) and set(error.instance) - {"zh", "en"}:
        extra = sorted(set(error.instance) - {"zh", "en"})
        return f"a text is a string or {{zh: …, en: …}}; unexpected key(s) {', '.join(map(repr, extra))}"
    if kind == "required":
        missing = [m for m in error.validator_value if m not in (error.instance or {})]
        return f"missing required key {', '.join(repr(m) for m in missing)}"
    if kind == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        extra = [k for k in error.instance if k not in allowed]
        return f"unknown key {', '.join(repr(k) for k in extra)} (allowed: {', '.join(allowed)})"
    if kind == "enum":
        return f"{_short(error.instance)} is not one of {', '.join(repr(v) for v in error.validator_value)}"
    if kind == "type":
        return f"expected {error.validator_value}, got {_short(error.instance)}"
    if kind in ("maxLength", "minLength"):  # jsonschema's message starts with the whole text
        size = "longer" if kind == "maxLength" else "shorter"
        bound = error.validator_value
        return f"{_short(error.instance)} is {size} than {bound} character{'s' if bound != 1 else ''}"
    if kind == "minItems" and error.validator_value == 1:
        return "must not be empty"
    if kind in ("maxItems", "minItems") and isinstance(error.instance, list):
        bound = "at most" if kind == "maxItems" else "at least"
        return f"needs {bound} {error.validator_value} item(s) ({len(error.instance)} given)"
    if kind == "pattern":
        return f"{_short(error.instance)} does not match {error.validator_value!r}"
    return error.message if len(error.message) < 200 else error.message[:199] + "…"


def _path_text(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def schema_problems(validator: Any, doc: SourceDoc, base_path: tuple[Any, ...] = (),
                    instance: Any = None, what: str = "") -> list[Problem]:
    """Validate ``instance`` (default: the whole document) and locate every error."""
    target = doc.data if instance is None else instance
    problems = []
    for error in validator.iter_errors(target):
        path = (*base_path, *error.absolute_path)
        if error.context and error.validator in ("oneOf", "anyOf"):
            from jsonschema.exceptions import best_match

            deepest = best_match(error.context)
            if deepest is not None and list(deepest.absolute_path):
                path = (*base_path, *deepest.absolute_path)  # absolute: already includes error's path
        label = f"{what}{_path_text(list(path))}"
        where = path
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # point at the (first) unknown key's line, not at the start of its mapping
            extra = [k for k in error.instance if k not in (error.schema.get("properties") or {})]
            where = (*path, extra[0]) if extra else path
        problem = Problem(f"{label}: {describe_error(error)}", doc.locate(where))
        if problem not in problems:  # e.g. one `required` error per missing key, each naming all
            problems.append(problem)
    problems.sort(key=lambda p: (p.location.line or 0, p.location.column or 0) if p.location else (0, 0))
    return problems


SCHEMA_KEYWORDS = frozenset(["$schema", "$id", "$ref", "$defs", "$comment", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties", "required", "dependentRequired", "properties", "patternProperties", "additionalProperties", "propertyNames", "items", "prefixItems", "contains", "unevaluatedItems", "unevaluatedProperties", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "format", "contentEncoding", "contentMediaType", "contentSchema"])
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SUBSCHEMA_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains",
                  "propertyNames", "unevaluatedProperties", "unevaluatedItems", "contentSchema")
_SUBSCHEMA_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")


def unknown_keywords(schema: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Keys of a schema fragment that are not JSON-Schema keywords (usually a typo, or a comma
    inside a YAML flow mapping that split a description into junk keys)."""
    found: list[tuple[tuple[Any, ...], str]] = []
    if not isinstance(schema, dict):
        return found
    for key, value in schema.items():
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                found += unknown_keywords(sub, (*path, key, name))
        elif key in _SUBSCHEMA_ONE:
            found += unknown_keywords(value, (*path, key))
        elif key in _SUBSCHEMA_LIST and isinstance(value, list):
            for i, sub in enumerate(value):
                found += unknown_keywords(sub, (*path, key, i))
        elif key not in SCHEMA_KEYWORDS and not key.startswith("x-"):
            found.append(((*path, key), key))
    return found


def facts_problems(doc: SourceDoc) -> list[Problem]:
    """Check the playbook's `facts:` fragments: valid JSON Schema, no unknown keywords."""
    import jsonschema

    problems: list[Problem] = []
    facts = doc.data.get("facts") if isinstance(doc.data, dict) else None
    for section, fragment in (facts or {}).items():
        base = ("facts", section)
        try:
            jsonschema.Draft202012Validator.check_schema(fragment)
        except jsonschema.SchemaError as exc:
            path = (*base, *exc.absolute_path)
            problems.append(Problem(f"facts.{section}: not a valid JSON Schema: {describe_error(exc)}",
                                    doc.locate(path)))
        for path, key in unknown_keywords(fragment):
            problems.append(Problem(
                f"facts.{section}: unknown schema keyword {key!r}",
                doc.locate((*base, *path)),
                "check the spelling; in a YAML flow mapping {…} a comma inside a description "
                "splits it — quote the description",
            ))
    return problems
