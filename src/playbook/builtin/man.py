"""The MAN rule (Money, Authority, Need) as a derivation any playbook can use.

Each of the three facts is a boolean; capital letter = has it, lower case = lacks it. The eight
classes and their strategies come from the customer-identification method (DOMAIN.md §7);
m+A+n is missing in the source and completed as "track long-term".
"""

from __future__ import annotations

from typing import Any

from ..criteria.runtime import MissingValue, resolve_path

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "money": {"type": "string", "description": "case path of the Money boolean"},
        "authority": {"type": "string", "description": "case path of the Authority boolean"},
        "need": {"type": "string", "description": "case path of the Need boolean"},
    },
}

DEFAULT_PATHS = {
    "money": "qualification.money",
    "authority": "qualification.authority",
    "need": "qualification.need",
}

# class -> (action, strategy)
STRATEGIES: dict[str, tuple[str, dict[str, str]]] = {
    "M+A+N": ("sell", {"en": "Ideal prospect: sell now.", "zh": "理想客户：立即推进成交。"}),
    "M+A+n": ("track-until-need", {
        "en": "Keep in touch; sell as soon as a need appears.",
        "zh": "保持跟踪，一旦出现需求立即跟进销售。"}),
    "M+a+N": ("find-decision-maker", {
        "en": "Go deeper to find who actually decides.",
        "zh": "深入接触，找到真正有决定权的人。"}),
    "m+A+N": ("offer-financing", {
        "en": "Offer financing or instalments in line with the customer's credit.",
        "zh": "结合客户信用，提供融资或分期方案。"}),
    "m+a+N": ("track-long-term", {
        "en": "Track over the long term until the customer qualifies.",
        "zh": "长期跟踪，等待客户具备条件。"}),
    "M+a+n": ("cultivate", {
        "en": "Keep tracking and cultivate the relationship.",
        "zh": "持续跟踪，培育关系。"}),
    "m+A+n": ("track-long-term", {
        "en": "Track over the long term (not covered by the source; a configurable completion).",
        "zh": "长期跟踪（原资料未列出此组合，为可调整的补充）。"}),
    "m+a+n": ("drop", {"en": "Not a customer: drop it.", "zh": "非目标客户：放弃。"}),
}


def man_class(money: bool, authority: bool, need: bool) -> str:
    return "+".join(
        letter.upper() if has else letter
        for letter, has in (("m", money), ("a", authority), ("n", need))
    )


def derive_man(facts: dict[str, Any], derived: dict[str, Any], params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    flags: dict[str, bool] = {}
    for key, default in DEFAULT_PATHS.items():
        path = params.get(key, default)
        try:
            value = resolve_path(facts, derived, tuple(path.split(".")))
        except (KeyError, IndexError, TypeError):
            raise MissingValue(f"missing fact {path}", path) from None
        if value is None:
            raise MissingValue(f"fact {path} is null", path)
        if not isinstance(value, bool):
            raise TypeError(f"{path} must be true or false, got {value!r}")
        flags[key] = value
    cls = man_class(flags["money"], flags["authority"], flags["need"])
    action, strategy = STRATEGIES[cls]
    return {"class": cls, **flags, "action": action, "strategy": strategy}
