"""Run mode's own sentences, in every supported language. Reasons are stored as a code plus
parameters (and their English text), so history can be shown in any language later."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..messages import Catalog

CATALOG: dict[str, dict[str, str]] = {
    # why an event was rejected
    "closed": {"en": "the case is closed (outcome {outcome}) and accepts no more events",
               "zh": "案例已结束（结局：{outcome}），不再接受事件"},
    "wrong_stage": {"en": "the event is for stage {expected} but the case is in {actual}; it was not applied",
                    "zh": "事件针对阶段 {expected}，但案例当前处于 {actual}，未执行"},
    "other_playbook": {"en": "case {case} runs playbook {case_playbook}, not {playbook}",
                       "zh": "案例 {case} 使用的打法是 {case_playbook}，而不是 {playbook}"},
    "unknown_case": {"en": "unknown case {case}: start it with `playbook run PLAYBOOK EVENTS`",
                     "zh": "未知案例 {case}：请先用 `playbook run PLAYBOOK EVENTS` 建立"},
    "unknown_stage": {"en": "unknown stage {stage} (stages: {stages})", "zh": "未知阶段 {stage}（可用阶段：{stages}）"},
    "blocked": {"en": "cannot advance to {to}: blocked by {criteria} (pass them or waive them)",
                "zh": "无法推进到 {to}：被 {criteria} 卡住（需满足或豁免）"},
    "back_needs_reason": {"en": "moving back to {to} needs a reason", "zh": "退回到 {to} 需要填写原因"},
    "unknown_criterion": {"en": "cannot waive {criterion}: playbook {playbook} has no such criterion",
                          "zh": "无法豁免 {criterion}：打法 {playbook} 中没有这一条件"},
    "not_required": {"en": "cannot waive {criterion}: it is recommended, not required (only required criteria block gates)",
                     "zh": "无法豁免 {criterion}：它是推荐项而非必需项（只有必需项会卡关口）"},
    "waiver_expired": {"en": "the waiver of {criterion} ends {until}, before the evaluation date {today}",
                       "zh": "{criterion} 的豁免截止于 {until}，早于评估日期 {today}"},
    # labels
    "not_entered": {"en": "(not entered)", "zh": "（未进入）"},
    "summary": {"en": "events: {read} read, {applied} applied, {duplicate} already recorded, {rejected} rejected, {bad} bad",
                "zh": "事件：读取 {read}，执行 {applied}，此前已处理 {duplicate}，拒绝 {rejected}，格式错误 {bad}"},
    "store": {"en": "store", "zh": "存储"},
    "transitions": {"en": "Transitions", "zh": "阶段转换"},
    "actions_fired": {"en": "Actions fired", "zh": "已触发的动作"},
    "rejected_events": {"en": "Rejected events", "zh": "被拒绝的事件"},
    "bad_lines": {"en": "Bad lines", "zh": "格式错误的行"},
    "more": {"en": "... and {count} more (see --format json)", "zh": "……另有 {count} 条（见 --format json）"},
    "closed_with": {"en": "closed: {outcome}", "zh": "结束：{outcome}"},
    "case": {"en": "Case", "zh": "案例"},
    "playbook": {"en": "Playbook", "zh": "打法"},
    "pinned_note": {"en": "pinned; installed version is {installed}", "zh": "已固定；已安装版本为 {installed}"},
    "stage": {"en": "Stage", "zh": "阶段"},
    "since": {"en": "since {since} ({days} days", "zh": "自 {since} 起（{days} 天"},
    "of_max": {"en": ", max {max_days}", "zh": "，上限 {max_days}"},
    "stalled": {"en": "STALLED", "zh": "停滞"},
    "status": {"en": "Status", "zh": "状态"},
    "open": {"en": "open", "zh": "进行中"},
    "ready": {"en": "ready to advance to {next}", "zh": "可以推进到 {next}"},
    "complete": {"en": "last stage reached", "zh": "已到最后阶段"},
    "blocking": {"en": "What blocks the gate", "zh": "卡住关口的条件"},
    "waivers": {"en": "Waivers", "zh": "豁免"},
    "regressed": {"en": "Gates behind the current stage that no longer pass",
                  "zh": "当前阶段之前、现已不再满足的关口条件"},
    "waiver_line": {"en": "{criterion}: {reason} (approved by {approver}, until {until}{expired})",
                    "zh": "{criterion}：{reason}（批准人 {approver}，有效至 {until}{expired}）"},
    "expired": {"en": ", expired", "zh": "，已过期"},
    "events_count": {"en": "Events applied", "zh": "已执行事件"},
    "no_cases": {"en": "no cases", "zh": "没有案例"},
    "moved": {"en": "{case}: {frm} -> {to}", "zh": "{case}：{frm} -> {to}"},
    "stayed": {"en": "{case}: stays in {stage}", "zh": "{case}：仍在 {stage}"},
    "advance_rejected": {"en": "rejected: {reason}", "zh": "已拒绝：{reason}"},
    "duplicate": {"en": "event {id} of case {case} was already applied; nothing changed",
                  "zh": "案例 {case} 的事件 {id} 已执行过，未作改动"},
    "duplicate_rejected": {"en": "event {id} of case {case} was rejected earlier ({reason}); nothing changed -- "
                                 "give a new --id to try again",
                           "zh": "案例 {case} 的事件 {id} 此前已被拒绝（{reason}），未作改动——如需重试请换一个新的 --id"},
    "line": {"en": "line {line}", "zh": "第 {line} 行"},
    "waived_list": {"en": " (waived: {criteria})", "zh": "（已豁免：{criteria}）"},
    "gate_passed": {"en": "gate passed", "zh": "关口已通过"},
    "outcome_reached": {"en": "outcome reached", "zh": "已达成结局"},
    "cannot_check": {"en": "cannot be checked here: see the warning", "zh": "此处无法检查：见警告"},
}


rmsg = Catalog(CATALOG)


@dataclass(frozen=True)
class Reason:
    """Why an event was rejected: a catalog code and its parameters."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        return rmsg(self.code, lang, **self.params)

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {"code": self.code, "message": self.text(lang), "params": self.params}
