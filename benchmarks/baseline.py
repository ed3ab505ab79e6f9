"""The 37 criteria of ``bench-sales.yaml`` written by hand in plain Python: the speed a
programmer gets without a rule engine, and the yardstick for ``playbook check``.

Same semantics as the playbook: a missing or null fact fails its criterion; the stage is
inferred the same way as ``playbook.engine.evaluate`` (``run.py`` asserts that both agree on
every criterion and stage for a sample before timing anything).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

STAGES = ["customer-analysis", "build-trust", "uncover-needs", "present-value", "win-commitment", "follow-up-service"]
# criterion order = the playbook's (stage by stage, entry then exit); R marks required ones
CRITERIA = [
    "target-locked", "clear-opportunity", "coach-developed", "five-kinds-collected", "decision-maker-identified",
    "funded", "amount-worth-it",
    "opportunity-identified", "decision-maker-trusts-us", "decision-maker-style-read", "trust-network",
    "recent-face-to-face", "coach-kept",
    "trust-established", "needs-documented", "purchase-criteria-known", "latent-need-found", "spin-complete",
    "budget-confirmed",
    "needs-on-record", "proposal-reviewed", "fab-prepared", "competitor-analysis-done", "opposition-neutralised",
    "proposal-complete", "differentiated",
    "proposal-presented", "contract-signed", "negotiation-prepared", "credit-checked",
    "order-in-hand", "customer-satisfied", "referral-asked", "acceptance-passed", "complaints-resolved",
    "receivables-under-control", "delivered-on-time",
]
# (required entry indexes, required exit indexes) per stage
GATES = [((0,), (1,)), ((7,), (8,)), ((13,), (14,)), ((19,), (20,)), ((26,), (27,)), ((30,), (31, 32))]
TRUSTED = ("trust", "alliance")
STYLES = ("analytical", "expressive", "amiable", "driver")
PRIORITIES = ("high", "medium", "low")
SECTIONS = ("background", "problems", "solution", "quotation", "credentials")
PROFILE = ("background", "current_use", "organisation", "personal", "competitors")
SPIN = ("situation", "problem", "implication", "need_payoff")


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise LookupError
    return value


def criteria(case: dict[str, Any], today: dt.date) -> list[bool]:
    out = [False] * 37
    account = case.get("account") or {}
    opp = case.get("opportunity") or {}
    profile = _get(account, "profile") or {}
    out[0] = account.get("is_target") is True
    out[1] = opp.get("identified") is True and opp.get("need_clear") is True
    out[5] = opp.get("funded") is True
    amount = opp.get("amount")
    out[6] = isinstance(amount, (int, float)) and not isinstance(amount, bool) and amount >= 100000
    out[3] = all(profile.get(k) is not None for k in PROFILE) if isinstance(profile, dict) else False
    out[7] = opp.get("identified") is True
    stakeholders = case.get("stakeholders")
    if isinstance(stakeholders, list):
        coaches = dms = dm_trust = dm_style = trusted = opposing = 0
        for s in stakeholders:
            if not isinstance(s, dict):
                continue
            role, rel = s.get("role"), s.get("relationship")
            if s.get("is_coach") is True:
                coaches += 1
            if rel in TRUSTED:
                trusted += 1
            if role == "decision_maker":
                dms += 1
                if rel in TRUSTED:
                    dm_trust += 1
                if s.get("style") in STYLES:
                    dm_style += 1
            if s.get("attitude") == "oppose" and s.get("level") in ("executive", "senior"):
                opposing += 1
        out[2] = out[12] = coaches >= 1
        out[4] = dms >= 1
        out[8] = dm_trust >= 1
        out[9] = dm_style >= 1
        out[10] = trusted >= 2
        out[13] = trusted >= 1
        out[23] = opposing == 0
    activities = case.get("activities")
    if isinstance(activities, list):
        recent = False
        for a in activities:
            if isinstance(a, dict) and a.get("type") in ("visit", "meeting"):
                try:
                    if (today - dt.date.fromisoformat(a["date"])).days <= 30:
                        recent = True
                        break
                except (KeyError, TypeError, ValueError):
                    continue
        out[11] = recent
    needs = case.get("needs")
    if isinstance(needs, dict):
        org, personal = needs.get("organisational"), needs.get("personal")
        if isinstance(org, list) and isinstance(personal, list):
            out[14] = (any(isinstance(n, dict) and n.get("priority") in PRIORITIES for n in org)
                       and any(isinstance(n, dict) and n.get("priority") in PRIORITIES for n in personal))
        pc = needs.get("purchase_criteria")
        out[15] = isinstance(pc, list) and len(pc) >= 1
        if isinstance(org, list):
            out[16] = any(isinstance(n, dict) and n.get("latent") is True for n in org)
            out[19] = len(org) >= 1
        spin = needs.get("spin")
        out[17] = isinstance(spin, dict) and all(spin.get(k) is True for k in SPIN)
    out[18] = opp.get("budget_confirmed") is True
    proposal = opp.get("proposal")
    if isinstance(proposal, dict):
        out[20] = proposal.get("presented") is True and proposal.get("reviewed_by_decision_maker") is True
        sections = proposal.get("sections")
        out[24] = isinstance(sections, dict) and all(sections.get(k) is True for k in SECTIONS)
        out[26] = proposal.get("presented") is True
    vp = case.get("value_proposition")
    if isinstance(vp, dict):
        fab, diff = vp.get("fab"), vp.get("differentiators")
        out[21] = isinstance(fab, list) and len(fab) >= 1
        out[25] = isinstance(diff, list) and len(diff) >= 1
    competitors = case.get("competitors")
    if isinstance(competitors, list) and competitors:
        out[22] = all(isinstance(c, dict) and isinstance(c.get("strengths"), list) and len(c["strengths"]) >= 1
                      and isinstance(c.get("weaknesses"), list) and len(c["weaknesses"]) >= 1 for c in competitors)
    contract = opp.get("contract")
    if isinstance(contract, dict):
        out[27] = contract.get("signed") is True and contract.get("date") is not None
        out[30] = contract.get("signed") is True
    neg = case.get("negotiation")
    if isinstance(neg, dict):
        out[28] = (neg.get("team_roles_assigned") is True and neg.get("interests_mapped") is True
                   and neg.get("walk_away_point") is not None)
    out[29] = opp.get("credit_checked") is True
    service = case.get("service")
    if isinstance(service, dict):
        score = _get(service, "satisfaction", "score")
        out[31] = isinstance(score, (int, float)) and not isinstance(score, bool) and score >= 4
        out[32] = service.get("referral_asked") is True
        out[33] = _get(service, "acceptance", "passed") is True
        complaints = service.get("complaints")
        out[34] = isinstance(complaints, list) and all(
            isinstance(c, dict) and c.get("resolved") is True for c in complaints)
        out[36] = _get(service, "delivery", "on_time") is True
    receivables = case.get("receivables")
    if isinstance(receivables, list):
        out[35] = not any(isinstance(r, dict) and isinstance(r.get("days_overdue"), (int, float))
                          and isinstance(r.get("amount"), (int, float))
                          and r["days_overdue"] > 90 and r["amount"] >= 100000 for r in receivables)
    return out


def check(case: dict[str, Any], today: dt.date) -> tuple[list[bool], bool, int, bool, bool]:
    """-> (passed, entered, inferred stage index, complete, ready at the inferred stage)."""
    return stages(criteria(case, today))


def stages(passed: list[bool]) -> tuple[list[bool], bool, int, bool, bool]:
    """Stage inference from criterion results, hand-written (shared with durable_bench)."""
    entry_ok = [all(passed[i] for i in entry) for entry, _ in GATES]
    exit_ok = [all(passed[i] for i in exit_) for _, exit_ in GATES]
    n = len(GATES)
    entered = entry_ok[0]
    inferred, complete = n - 1, entered
    if entered:
        for s in range(n):
            if not exit_ok[s] or (s + 1 < n and not entry_ok[s + 1]):
                inferred, complete = s, False
                break
    else:
        inferred = 0
    ready = entered and exit_ok[inferred] and (inferred + 1 >= n or entry_ok[inferred + 1])
    return passed, entered, inferred, complete, ready
