"""Scorecards as playbook data (src/playbook/derive.py): sums, weights, named scales, bands at
their edges, missing and off-scale scores, use in criteria, load-time checks."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest

from playbook.derive import build_scorecard, pick_band
from playbook.engine import evaluate
from playbook.errors import PlaybookError
from playbook.loader import load_playbook

TODAY = dt.date(2026, 3, 1)

# A small project-value scorecard: two dimensions, a named risk scale, one weighted indicator.
PLAYBOOK = """
id: scorecard-test
version: 1
title: {zh: 评分表测试, en: Scorecard test}
scorecards:
  - id: project_score
    title: {zh: 项目评分, en: Project score}
    input: bank.scores
    scale:
      - {value: -1, label: {zh: 差, en: poor}}
      - {value: 0, label: {zh: 一般, en: average}}
      - {value: 1, label: {zh: 良好, en: good}}
    scales:
      risk:
        - {value: -1, label: {zh: 高, en: high}}
        - {value: 0, label: {zh: 中, en: medium}}
        - {value: 1, label: {zh: 低, en: low}}
    bands:
      - {id: strong, min: 4, title: {zh: 强, en: strong}}
      - {id: weak, title: {zh: 弱, en: weak}}
    dimensions:
      - id: value
        title: {zh: 值不值得做, en: Worth doing}
        factors:
          - id: contribution
            title: {zh: 项目贡献度, en: Contribution}
            indicators:
              - {id: roi, title: {zh: 投资回报, en: ROI}, weight: 2}
              - {id: demo, title: {zh: 示范效应, en: Demonstration effect}}
          - id: risk
            indicators:
              - {id: credit, title: {zh: 资信状况, en: Credit standing}, scale: risk}
        bands:
          - {id: high, min: 3, title: {zh: 高, en: high}}
          - {id: medium, min: 1, title: {zh: 一般, en: medium}}
          - {id: low, title: {zh: 低, en: low}}
      - id: feasibility
        weight: 2
        factors:
          - id: relationship
            indicators:
              - {id: with_us}
              - {id: with_others}
        bands:
          - {id: high, min: 2}
          - {id: low}
tables:
  - id: grade
    rules:
      - when: 'derived.project_score.dimensions.value.band == "high" and derived.project_score.dimensions.feasibility.band == "high"'
        then: {grade: A}
      - when: 'derived.project_score.dimensions.value.band == "low" or derived.project_score.dimensions.feasibility.band == "low"'
        then: {grade: C}
      - when: "derived.project_score.complete"
        then: {grade: B}
    default: {grade: null}
stages:
  - id: analyse
    title: Analyse
    entry:
      - {id: scored, when: "derived.project_score.complete"}
    exit:
      - {id: grade-ok, when: 'derived.grade.grade in ["A", "B"]'}
      - {id: value-not-low, when: 'derived.project_score.dimensions.value.band != "low"'}
"""

FULL = {"roi": 1, "demo": 1, "credit": 1, "with_us": 1, "with_others": 1}


@pytest.fixture(scope="module")
def pb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("pb") / "scorecard-test.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return load_playbook(path)


def run(pb: Any, scores: Any) -> Any:
    facts = {"bank": {"scores": scores}} if scores is not ... else {}
    return evaluate(pb, facts, today=TODAY)


def card(pb: Any, scores: Any) -> dict[str, Any]:
    return run(pb, scores).derived["project_score"]


# -- sums, weights, named scales ----------------------------------------------------------


def test_full_scores_sum_with_weights_and_dimension_weight(pb: Any) -> None:
    result = card(pb, FULL)
    value = result["dimensions"]["value"]
    # roi weighted 2: 2*1 + 1 + 1 = 4
    assert value["score"] == 4
    assert value["factors"]["contribution"]["score"] == 3
    assert value["factors"]["risk"]["score"] == 1
    # feasibility: (1 + 1) * dimension weight 2 = 4
    assert result["dimensions"]["feasibility"]["score"] == 4
    assert result["total"] == 8
    assert result["complete"] is True
    assert result["missing"] == [] and result["invalid"] == []
    assert result["band"] == "strong"
    assert result["band_title"] == {"zh": "强", "en": "strong"}


def test_range_reported_per_dimension(pb: Any) -> None:
    dims = card(pb, FULL)["dimensions"]
    assert (dims["value"]["min"], dims["value"]["max"]) == (-4, 4)
    assert (dims["feasibility"]["min"], dims["feasibility"]["max"]) == (-4, 4)


def test_negative_scores_and_named_scale_labels(pb: Any) -> None:
    result = card(pb, {"roi": -1, "demo": 0, "credit": -1, "with_us": 0, "with_others": -1})
    value = result["dimensions"]["value"]
    assert value["score"] == -3
    indicators = value["factors"]["contribution"]["indicators"]
    assert indicators["roi"] == {"score": -1, "title": {"zh": "投资回报", "en": "ROI"},
                                 "label": {"zh": "差", "en": "poor"}, "weight": 2}
    credit = value["factors"]["risk"]["indicators"]["credit"]
    assert credit["label"] == {"zh": "高", "en": "high"}  # the risk scale, not the default one
    assert result["dimensions"]["feasibility"]["score"] == -2
    assert result["band"] == "weak"


def test_titles_are_carried_into_the_result(pb: Any) -> None:
    value = card(pb, FULL)["dimensions"]["value"]
    assert value["title"] == {"zh": "值不值得做", "en": "Worth doing"}
    assert value["band_title"] == {"zh": "高", "en": "high"}
    assert value["factors"]["contribution"]["title"] == {"zh": "项目贡献度", "en": "Contribution"}
    assert "title" not in value["factors"]["risk"]  # no title given: none invented


# -- bands at their edges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "band"),
    [
        ({"roi": 1, "demo": 1, "credit": 0}, "high"),      # 3: exactly the high edge
        ({"roi": 1, "demo": 0, "credit": 0}, "medium"),    # 2
        ({"roi": 0, "demo": 1, "credit": 0}, "medium"),    # 1: exactly the medium edge
        ({"roi": 0, "demo": 0, "credit": 0}, "low"),       # 0: just below medium
        ({"roi": -1, "demo": -1, "credit": -1}, "low"),    # -4: the floor
        ({"roi": 1, "demo": 1, "credit": 1}, "high"),      # 4: the top
    ],
)
def test_value_bands_at_their_edges(pb: Any, scores: dict[str, int], band: str) -> None:
    result = card(pb, {**scores, "with_us": 0, "with_others": 0})
    assert result["dimensions"]["value"]["band"] == band


@pytest.mark.parametrize(("with_us", "with_others", "score", "band"),
                         [(1, 0, 2, "high"), (0, 0, 0, "low"), (1, -1, 0, "low"), (1, 1, 4, "high")])
def test_dimension_weight_applies_before_banding(pb: Any, with_us: int, with_others: int, score: int,
                                                 band: str) -> None:
    dim = card(pb, {**FULL, "with_us": with_us, "with_others": with_others})["dimensions"]["feasibility"]
    assert (dim["score"], dim["band"]) == (score, band)


def test_total_band_edge(pb: Any) -> None:
    # value 1 (roi 0, demo 1, credit 0) + feasibility (1 + 0) * 2 = 3 -> below 4 -> weak
    assert card(pb, {"roi": 0, "demo": 1, "credit": 0, "with_us": 1, "with_others": 0})["band"] == "weak"
    # value 2 + feasibility 2 = 4 -> strong
    assert card(pb, {"roi": 1, "demo": 0, "credit": 0, "with_us": 1, "with_others": 0})["band"] == "strong"


def test_pick_band_directly() -> None:
    bands = [{"id": "high", "min": 10}, {"id": "medium", "min": 6}, {"id": "low"}]
    assert [pick_band(bands, s) for s in (10, 9.5, 6, 5.99, -100)] == ["high", "medium", "medium", "low", "low"]
    assert pick_band([{"id": "only", "min": 0}], -1) is None  # below every band and no floor
    assert pick_band(None, 3) is None


# -- missing and off-scale scores ------------------------------------------------------------


def test_missing_score_is_reported_not_counted_as_zero(pb: Any) -> None:
    scores = dict(FULL)
    del scores["demo"]
    result = card(pb, scores)
    value = result["dimensions"]["value"]
    assert value["missing"] == ["demo"]
    assert value["complete"] is False
    assert value["band"] is None  # not "high" although the known scores alone would reach it
    assert value["factors"]["contribution"]["missing"] == ["demo"]
    assert value["factors"]["contribution"]["indicators"]["demo"]["score"] is None
    assert result["missing"] == ["demo"]
    assert result["complete"] is False
    assert result["band"] is None
    assert "demo" not in result["indicators"]
    # the other dimension is unaffected
    assert result["dimensions"]["feasibility"]["band"] == "high"


def test_null_score_counts_as_missing(pb: Any) -> None:
    result = card(pb, {**FULL, "with_us": None})
    assert result["dimensions"]["feasibility"]["missing"] == ["with_us"]
    assert result["dimensions"]["feasibility"]["band"] is None


def test_no_scores_at_all(pb: Any) -> None:
    for facts in ({}, {"bank": {}}, {"bank": {"scores": None}}):
        result = evaluate(pb, facts, today=TODAY).derived["project_score"]
        assert result["complete"] is False
        assert result["missing"] == ["roi", "demo", "credit", "with_us", "with_others"]
        assert all(d["band"] is None for d in result["dimensions"].values())


@pytest.mark.parametrize("bad", [2, -2, 0.5, "1", True, [1]])
def test_off_scale_score_is_invalid_and_not_counted(pb: Any, bad: Any) -> None:
    result = card(pb, {**FULL, "credit": bad})
    value = result["dimensions"]["value"]
    assert result["invalid"] == ["credit"]
    assert value["invalid"] == ["credit"]
    assert "credit" in value["missing"]
    assert value["band"] is None
    assert value["score"] == 3  # roi 2 + demo 1; the bad score is not added
    entry = value["factors"]["risk"]["indicators"]["credit"]
    assert entry["score"] is None
    assert "invalid" in entry


def test_scores_that_are_not_a_mapping_are_a_derive_error(pb: Any) -> None:
    result = run(pb, [1, 0, 1])
    assert "project_score" not in result.derived
    assert result.derive_errors and result.derive_errors[0][0] == "project_score"
    report = result.to_dict("en")
    assert any("project_score" in e and "mapping" in e for e in report["errors"]), report["errors"]
    # criteria that use the scorecard fail with a message; nothing crashes
    assert result.passed == [False, False, False]


# -- use in criteria and decision tables ----------------------------------------------------


def test_grade_table_and_criteria_on_derived(pb: Any) -> None:
    a = run(pb, FULL)
    assert a.derived["grade"]["grade"] == "A"
    assert a.passed == [True, True, True]
    assert a.complete

    c = run(pb, {**FULL, "roi": -1, "demo": 0, "credit": 0})  # value -2 -> low
    assert c.derived["grade"]["grade"] == "C"
    assert c.passed == [True, False, False]
    assert c.blocking_ids() == ["grade-ok", "value-not-low"]

    b = run(pb, {**FULL, "roi": 0, "demo": 1, "credit": 0})  # value 1 -> medium
    assert b.derived["grade"]["grade"] == "B"
    assert b.passed == [True, True, True]


def test_incomplete_scorecard_gives_no_grade_and_blocks(pb: Any) -> None:
    result = run(pb, {"roi": 1, "demo": 1})
    assert result.derived["grade"] == {"grade": None, "row": "default"}
    assert result.entered is False
    report = result.to_dict("en")
    assert report["derived"]["project_score"]["missing"] == ["credit", "with_us", "with_others"]


def test_report_resolves_titles_to_the_language(pb: Any) -> None:
    report = run(pb, FULL).to_dict("zh")
    value = report["derived"]["project_score"]["dimensions"]["value"]
    assert value["title"] == "值不值得做"
    assert value["factors"]["contribution"]["indicators"]["roi"]["label"] == "良好"


# -- defaults and load-time checks -----------------------------------------------------------


def test_default_scale_is_minus_one_to_one() -> None:
    compute = build_scorecard({"id": "s", "dimensions": [
        {"id": "d", "factors": [{"id": "f", "indicators": [{"id": "x"}, {"id": "y"}]}]}]})
    assert compute({"scores": {"x": -1, "y": 1}}, {}, None)["total"] == 0
    assert compute({"scores": {"x": 2, "y": 1}}, {}, None)["invalid"] == ["x"]


def test_input_path_may_point_into_derived() -> None:
    compute = build_scorecard({"id": "s", "input": "derived.pre", "dimensions": [
        {"id": "d", "factors": [{"id": "f", "indicators": [{"id": "x"}]}]}]})
    assert compute({}, {"pre": {"x": 1}}, None)["total"] == 1


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


BAD_HEAD = """
id: bad
version: 1
title: Bad
stages: [{id: s}]
scorecards:
  - id: card
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("""    dimensions:
      - id: d
        factors: [{id: f, indicators: [{id: x, scale: risk}]}]
""", "unknown scale 'risk'"),
        ("""    dimensions:
      - id: d
        factors: [{id: f, indicators: [{id: x}, {id: x}]}]
""", "indicator id 'x' appears twice"),
        ("""    dimensions:
      - id: d
        factors: [{id: f, indicators: [{id: x}]}]
        bands: [{id: low}, {id: high, min: 1}]
""", "band 'low' has no `min`"),
        ("""    dimensions:
      - id: d
        factors: [{id: f, indicators: [{id: x}]}]
        bands: [{id: medium, min: 0}, {id: high, min: 1}, {id: low}]
""", "band 'high' (min 1) can never apply"),
    ],
)
def test_bad_scorecards_are_load_errors_with_location(tmp_path: Path, body: str, expected: str) -> None:
    path = _write(tmp_path, BAD_HEAD + body)
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    problems = info.value.problems
    assert any(expected in p.message for p in problems), [str(p) for p in problems]
    located = [p for p in problems if expected in p.message][0]
    assert located.location is not None and located.location.file.endswith("bad.yaml")
    assert located.location.line == 7  # the scorecard's own line
