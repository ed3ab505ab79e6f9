"""The CLI's own sentences in every supported language (playbook texts carry their own)."""

from __future__ import annotations

from typing import Any

CATALOG: dict[str, dict[str, str]] = {
    "met": {"en": "met", "zh": "已满足"},
    "not_met": {"en": "not met", "zh": "未满足"},
    "not_met_values": {"en": "not met: {values}", "zh": "未满足：{values}"},
    "missing": {"en": "missing fact: {path}", "zh": "缺少事实：{path}"},
    "missing_item": {"en": "missing field {path} in a list item", "zh": "列表项中缺少字段 {path}"},
    "null": {"en": "fact is empty (null): {path}", "zh": "事实为空（null）：{path}"},
    "type": {"en": "type mismatch: {detail}", "zh": "类型不匹配：{detail}"},
    "empty": {"en": "nothing to evaluate: {detail}", "zh": "没有可计算的值：{detail}"},
    "zero": {"en": "division by zero", "zh": "除数为零"},
    "overflow": {"en": "number too large to compute (beyond about 1.8e308)", "zh": "数值过大，无法计算（超过约 1.8e308）"},
    "value": {"en": "invalid value: {detail}", "zh": "无效的值：{detail}"},
    "limit": {"en": "expression exceeds its limits: {detail}", "zh": "表达式超出限制：{detail}"},
    "error": {"en": "could not be evaluated: {detail}", "zh": "无法计算：{detail}"},
    "skipped_gate": {
        "en": "declared stage {declared!r} ({declared_title}) is ahead of the inferred stage {inferred!r} "
              "({inferred_title}): gates skipped ({criteria})",
        "zh": "声明的阶段“{declared_title}”（{declared}）超前于推断阶段“{inferred_title}”（{inferred}）："
              "跳过了关口（{criteria}）",
    },
    "derive_error": {"en": "derivation {id!r} failed: {detail}", "zh": "推导“{id}”失败：{detail}"},
    "action_error": {"en": "action {id!r} failed: {detail}", "zh": "动作“{id}”执行失败：{detail}"},
    # text report
    "playbook": {"en": "Playbook", "zh": "打法"},
    "case": {"en": "Case", "zh": "案例"},
    "date": {"en": "as of", "zh": "评估日期"},
    "stage_now": {"en": "Current stage", "zh": "当前阶段"},
    "inferred": {"en": "inferred", "zh": "推断"},
    "declared": {"en": "declared", "zh": "声明"},
    "not_entered": {
        "en": "Not entered: the case does not meet the entry criteria of the first stage.",
        "zh": "未进入：该案例尚未满足第一阶段的进入条件。",
    },
    "complete": {"en": "Complete: every gate passes.", "zh": "已完成：所有关口均已通过。"},
    "ready": {"en": "Ready to advance to {next}.", "zh": "可以推进到“{next}”。"},
    "blocked": {"en": "Blocked: {count} criterion(s) hold the gate.", "zh": "受阻：有 {count} 项条件卡住了关口。"},
    "outcome": {"en": "Outcome reached: {outcome} ({title})", "zh": "已到达结局：{title}（{outcome}）"},
    "ready_last": {
        "en": "The last stage's exit criteria pass, but earlier gates were skipped (see the warnings).",
        "zh": "最后阶段的退出条件已满足，但之前有关口被跳过（见警告）。",
    },
    "progress": {"en": "Progress", "zh": "阶段进度"},
    "entry": {"en": "entry", "zh": "进入条件"},
    "exit": {"en": "exit", "zh": "退出条件"},
    "blocking": {"en": "What blocks the gate", "zh": "卡住关口的条件"},
    "todo": {"en": "To do", "zh": "怎么做"},
    "recommended": {"en": "Advice (recommended, not blocking)", "zh": "建议（推荐项，不卡关口）"},
    "next_actions": {"en": "Next actions", "zh": "下一步行动"},
    "guidance": {"en": "Guidance", "zh": "阶段要领"},
    "derived": {"en": "Derived facts", "zh": "推导结果"},
    "warnings": {"en": "Warnings", "zh": "警告"},
    "errors": {"en": "Errors", "zh": "错误"},
    "status_passed": {"en": "passed", "zh": "已通过"},
    "status_current": {"en": "current", "zh": "当前"},
    "status_pending": {"en": "pending", "zh": "未开始"},
    "status_skipped": {"en": "gate skipped (not met)", "zh": "关口被跳过（未满足）"},
    "level_required": {"en": "required", "zh": "必需"},
    "level_recommended": {"en": "recommended", "zh": "推荐"},
}


class Catalog:
    """Sentences by key and language (missing languages fall back to English), filled with
    ``str.format`` parameters. Each area keeps its own catalog; all look them up the same way."""

    def __init__(self, entries: dict[str, dict[str, str]]):
        self.entries = entries

    def __call__(self, key: str, lang: str, **params: Any) -> str:
        entry = self.entries[key]
        template = entry.get(lang) or entry["en"]
        return template.format(**params) if params else template


msg = Catalog(CATALOG)
