"""The words of ``playbook diff`` in both languages (``--lang``). Kinds and change codes stay
English in the JSON (``kind``, ``change``); the human lines (``details``, the text output) use
these sentences."""

from __future__ import annotations

from ..messages import Catalog

WORDS: dict[str, dict[str, str]] = {
    # kinds and changes, as shown in the text output
    "k.playbook": {"en": "playbook", "zh": "打法"},
    "k.stage": {"en": "stage", "zh": "阶段"},
    "k.criterion": {"en": "criterion", "zh": "条件"},
    "k.action": {"en": "action", "zh": "动作"},
    "k.outcome": {"en": "outcome", "zh": "结果"},
    "k.scorecard": {"en": "scorecard", "zh": "评分表"},
    "k.table": {"en": "table", "zh": "决策表"},
    "c.added": {"en": "added", "zh": "新增"},
    "c.removed": {"en": "removed", "zh": "删除"},
    "c.moved": {"en": "moved", "zh": "移动"},
    "c.changed": {"en": "changed", "zh": "修改"},
    "g.entry": {"en": "entry", "zh": "进入条件"},
    "g.exit": {"en": "exit", "zh": "完成条件"},
    "l.required": {"en": "required", "zh": "必须"},
    "l.recommended": {"en": "recommended", "zh": "建议"},
    # details
    "threshold": {"en": "threshold {pairs}: {old} → {new}", "zh": "阈值 {pairs}：{old} → {new}"},
    "expression": {"en": "expression: {old} → {new}", "zh": "表达式：{old} → {new}"},
    "check": {"en": "check: {old} → {new}", "zh": "检查方式：{old} → {new}"},
    "rule": {"en": "rule {r} {p}", "zh": "规则 {r} {p}"},
    "moved_to": {"en": "moved: {old} → {new}", "zh": "移动：{old} → {new}"},
    "where": {"en": "{stage} {gate}", "zh": "{stage} 的{gate}"},
    "level": {"en": "level: {old} → {new}", "zh": "级别：{old} → {new}"},
    "title": {"en": "title: {old!r} → {new!r}", "zh": "标题：{old!r} → {new!r}"},
    "hint": {"en": "hint reworded", "zh": "提示已改写"},
    "id": {"en": "id: {old} → {new} (two different playbooks: the ids below are compared as they are)",
           "zh": "id：{old} → {new}（两个不同的打法：以下按 id 原样比较）"},
    "version": {"en": "version: {old} → {new}", "zh": "版本：{old} → {new}"},
    "description": {"en": "description reworded", "zh": "说明已改写"},
    "was_stage": {"en": "was stage {n}: {title}", "zh": "原第 {n} 阶段：{title}"},
    "new_stage": {"en": "stage {n}: {title}", "zh": "第 {n} 阶段：{title}"},
    "same_title": {"en": "same title as the removed stage {old!r} (renamed? cases that declare the old id can "
                         "no longer be checked)",
                   "zh": "与删除的阶段 {old!r} 标题相同（改了 id？声明旧 id 的案例将无法检查）"},
    "order": {"en": "order: {old} → {new}", "zh": "顺序：{old} → {new}"},
    "max_days": {"en": "max_days: {old} → {new}", "zh": "时限（天）：{old} → {new}"},
    "effort": {"en": "effort: {old} → {new}", "zh": "投入比重：{old} → {new}"},
    "guidance": {"en": "goal/guidance reworded", "zh": "目标/工作方法已改写"},
    "was_criterion": {"en": "was {level} {where}", "zh": "原为 {where}（{level}）"},
    "new_criterion": {"en": "{level} {where}: {what}", "zh": "{where}（{level}）：{what}"},
    "of_stage": {"en": "{gate} of {stage}", "zh": "{stage} 的{gate}"},
    "same_check": {"en": "same check as the removed criterion {old!r} (renamed?)",
                   "zh": "与删除的条件 {old!r} 检查内容相同（改了 id？）"},
    "path_removed": {"en": "{path}: removed", "zh": "{path}：删除"},
    "path_added": {"en": "{path}: added {value}", "zh": "{path}：新增 {value}"},
    # text output
    "header": {"en": "{old} v{ov} → {new} v{nv}: {n} change(s)", "zh": "{old} 第 {ov} 版 → {new} 第 {nv} 版：{n} 处改动"},
    "no_change": {"en": "  (no structural change)", "zh": "  （结构无改动）"},
    "portfolio": {"en": "portfolio: {cases} case(s) checked, {affected} affected, {unchanged} unchanged, "
                        "{rejected} rejected",
                  "zh": "案例组合：检查 {cases} 个案例，受影响 {affected} 个，不变 {unchanged} 个，拒收 {rejected} 条"},
    "p.stage": {"en": "  current stage changed: {n} (forward {f}, back {b})",
                "zh": "  当前阶段改变：{n}（前进 {f}，后退 {b}）"},
    "p.ready": {"en": "  ready to advance changed: {n} (now ready {r}, no longer ready {u})",
                "zh": "  可否推进改变：{n}（变为可推进 {r}，不再可推进 {u}）"},
    "p.blocking": {"en": "  blocking set changed: {n}", "zh": "  阻塞条件改变：{n}"},
    "p.outcome": {"en": "  outcome changed: {o}; complete changed: {c}", "zh": "  结果改变：{o}；完成状态改变：{c}"},
    "x.stage": {"en": "stage {old} → {new}", "zh": "阶段 {old} → {new}"},
    "x.ready": {"en": "ready {old} → {new}", "zh": "可推进 {old} → {new}"},
    "x.blocking": {"en": "blocking", "zh": "阻塞"},
    "x.outcome": {"en": "outcome {old} → {new}", "zh": "结果 {old} → {new}"},
    "x.complete": {"en": "complete {old} → {new}", "zh": "完成 {old} → {new}"},
    "x.old_error": {"en": "cannot be checked with the old version: {e}", "zh": "旧版本无法检查：{e}"},
    "x.new_error": {"en": "cannot be checked with the new version: {e}", "zh": "新版本无法检查：{e}"},
    "more": {"en": "  … and {n} more (use --format json for all)", "zh": "  ……另有 {n} 个（--format json 可列出全部）"},
    "rejected": {"en": "  rejected {where}: {message}", "zh": "  拒收 {where}：{message}"},
}

word = Catalog(WORDS)
