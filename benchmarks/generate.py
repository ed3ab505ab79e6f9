"""A deterministic synthetic portfolio of key-account sales cases (same seed, same bytes).

Each case is drawn at a random depth in the six-step sales process (customer analysis ...
follow-up service) with the facts a real account team would have recorded by then —
stakeholders with roles, relationships and styles, visits, needs, a proposal, a contract,
service, receivables — plus gaps (a missing coach, an unresolved complaint), some declared
stages (a few ahead of what the facts support), outcomes, and names and notes for a realistic
record size (~1.5 kB of JSON). Used by ``benchmarks/run.py``; run alone::

    python benchmarks/generate.py --cases 100000 --out /tmp/portfolio.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from collections.abc import Iterator
from typing import Any

TODAY = dt.date(2026, 3, 1)  # the benchmarks evaluate as of this date (--today)
STAGES = ["customer-analysis", "build-trust", "uncover-needs", "present-value", "win-commitment", "follow-up-service"]
INDUSTRIES = ["energy", "banking", "telecom", "manufacturing", "healthcare", "government", "retail", "logistics"]
REGIONS = ["Jiangsu", "Zhejiang", "Guangdong", "Shandong", "Sichuan", "Hubei", "Beijing", "Shanghai"]
SURNAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun"]
GIVEN = ["Wei", "Fang", "Lei", "Jing", "Min", "Qiang", "Yan", "Hui", "Jun", "Li", "Ping", "Tao"]
ROLES = ["decision_maker", "technical", "finance", "user", "procurement", "influencer"]
LEVELS = ["executive", "senior", "middle", "junior"]
STYLES = ["analytical", "expressive", "amiable", "driver"]
RELATIONS = ["none", "liking", "meeting", "trust", "alliance"]
PRIORITIES = ["high", "medium", "low"]


def _date(rng: random.Random, back_from: int, back_to: int) -> str:
    return (TODAY - dt.timedelta(days=rng.randint(back_from, back_to))).isoformat()


def _person(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"


def make_case(rng: random.Random, index: int) -> dict[str, Any]:
    depth = rng.choices(range(7), weights=[14, 22, 18, 16, 12, 10, 8])[0]  # stages fully worked
    ok = rng.random  # each gate fact is present with a probability that grows with depth
    case: dict[str, Any] = {
        "id": f"case-{index:07d}",
        "account": {
            "name": f"{rng.choice(REGIONS)} {rng.choice(INDUSTRIES).title()} Group No. {index}",
            "industry": rng.choice(INDUSTRIES),
            "region": rng.choice(REGIONS),
            "size": rng.choice(["large", "medium", "small"]),
            "owner": _person(rng),
            "is_target": depth > 0 or ok() < 0.6,
        },
    }
    if depth >= 1 or ok() < 0.3:
        profile = {}
        for kind in ("background", "current_use", "organisation", "personal", "competitors"):
            if ok() < 0.55 + 0.1 * depth:
                profile[kind] = {"notes": f"{kind.replace('_', ' ')} notes for account {index}"}
        case["account"]["profile"] = profile
    opp: dict[str, Any] = {
        "name": f"Project {index % 997}",
        "identified": depth >= 1 or ok() < 0.4,
        "need_clear": depth >= 1 or ok() < 0.3,
        "funded": ok() < 0.4 + 0.1 * depth,
        "amount": rng.choice([50_000, 120_000, 480_000, 1_500_000, 9_000_000]),
        "currency": "CNY",
        "budget_confirmed": ok() < 0.2 + 0.12 * depth,
        "credit_checked": ok() < 0.2 + 0.13 * depth,
    }
    case["opportunity"] = opp
    stakeholders = []
    for n in range(rng.randint(1, 7)):
        rel_floor = 3 if depth >= 2 and n == 0 else 0
        person = {
            "name": _person(rng),
            "title": rng.choice(["Chief engineer", "CFO", "IT director", "Procurement head", "Plant manager"]),
            "role": "decision_maker" if n == 0 and (depth >= 1 or ok() < 0.5) else rng.choice(ROLES[1:]),
            "level": rng.choice(LEVELS),
            "attitude": rng.choices(["support", "neutral", "oppose"], weights=[5, 4, 1])[0],
            "relationship": RELATIONS[max(rel_floor, rng.randint(0, min(4, depth + 1)))],
        }
        if ok() < 0.7:
            person["style"] = rng.choice(STYLES)
        if ok() < (0.7 if depth >= 1 else 0.2):
            person["is_coach"] = n == 1 or ok() < 0.2
        stakeholders.append(person)
    case["stakeholders"] = stakeholders
    case["activities"] = [
        {"date": _date(rng, 0, 90), "type": rng.choice(["visit", "meeting", "call", "email"]),
         "notes": "Discussed the retrofit plan"}
        for _ in range(rng.randint(0, 6))
    ]
    if depth >= 2 or ok() < 0.2:
        case["needs"] = {
            "organisational": [
                {"text": "Reduce unplanned downtime", "priority": rng.choice(PRIORITIES), "latent": ok() < 0.4}
                for _ in range(rng.randint(0 if depth < 3 else 1, 3))
            ],
            "personal": [{"stakeholder": stakeholders[0]["name"], "text": "A safe, visible success",
                          "priority": rng.choice(PRIORITIES)} for _ in range(rng.randint(0, 2))],
            "purchase_criteria": [{"text": "Proven references", "favours_us": ok() < 0.6}
                                  for _ in range(rng.randint(0, 3))],
            "spin": {k: ok() < 0.3 + 0.12 * depth for k in ("situation", "problem", "implication", "need_payoff")},
        }
    if depth >= 3 or ok() < 0.1:
        opp["proposal"] = {
            "presented": depth >= 4 or ok() < 0.5,
            "reviewed_by_decision_maker": depth >= 4 or ok() < 0.3,
            "sections": {k: ok() < 0.85 for k in ("background", "problems", "solution", "quotation", "credentials")},
        }
        case["value_proposition"] = {
            "fab": [{"feature": "Redundant controllers", "advantage": "Hot swap", "benefit": "No trips"}
                    for _ in range(rng.randint(0, 2))],
            "differentiators": ["Proven 40-day retrofit"] if ok() < 0.6 else [],
        }
        case["competitors"] = [
            {"name": f"Competitor {c}", "strengths": ["Incumbent"] if ok() < 0.8 else [],
             "weaknesses": ["Slow service"] if ok() < 0.8 else []}
            for c in "ABC"[: rng.randint(0, 3)]
        ]
    if depth >= 4 or ok() < 0.05:
        signed = depth >= 5 or ok() < 0.3
        opp["contract"] = {"signed": signed, **({"date": _date(rng, 30, 200)} if signed else {})}
        case["negotiation"] = {"team_roles_assigned": ok() < 0.8, "interests_mapped": ok() < 0.7,
                               **({"walk_away_point": "17.5 million CNY"} if ok() < 0.7 else {})}
    if depth >= 5:
        case["service"] = {
            "delivery": {"done": True, "on_time": ok() < 0.7},
            "acceptance": {"passed": ok() < 0.75},
            "satisfaction": {"score": rng.randint(2, 5), "date": _date(rng, 0, 60)},
            "complaints": [{"text": "Engineer changed twice", "resolved": ok() < 0.6} for _ in range(rng.randint(0, 2))],
            "referral_asked": ok() < (0.9 if depth == 6 else 0.3),
        }
        case["receivables"] = [
            {"invoice": f"INV-{index}-{r}", "amount": rng.choice([60_000, 250_000, 5_370_000]),
             "days_overdue": rng.randint(0, 150), "cause": rng.choice(["unwilling", "unknown", "our_fault"])}
            for r in range(rng.randint(0, 2))
        ]
        if ok() < 0.6:
            opp["status"] = "won"
    elif ok() < 0.06:
        opp["status"] = rng.choice(["lost", "dropped"])
    if ok() < 0.1:  # a declared stage: usually where the facts are, sometimes ahead of them
        case["stage"] = STAGES[min(5, max(0, depth - 1) + (1 if ok() < 0.4 else 0))]
    return case


def generate(n: int, seed: int = 2026) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        yield make_case(rng, i)


def write_jsonl(n: int, path: str, seed: int = 2026) -> int:
    """Write ``n`` cases to ``path``; returns the bytes written."""
    size = 0
    with open(path, "w", encoding="utf-8") as fh:
        for case in generate(n, seed):
            line = json.dumps(case, ensure_ascii=False, separators=(",", ":")) + "\n"
            size += len(line)
            fh.write(line)
    return size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default="-")
    args = parser.parse_args(argv)
    if args.out == "-":
        for case in generate(args.cases, args.seed):
            sys.stdout.write(json.dumps(case, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        write_jsonl(args.cases, args.out, args.seed)


if __name__ == "__main__":
    main()
