"""Hand-worked points of every criterion kind of Table C-1 (expected values written out with their sums)."""

from __future__ import annotations

import pytest

from anju.evaluation.criteria import score_criterion
from anju.evaluation.errors import EvaluationError
from anju.evaluation.evidence import Evidence, SourceKind
from anju.evaluation.inputs import check_value
from anju.evaluation.paper import indicator_scores
from anju.evaluation.systems import paper_system

from .conftest import with_facts


def points(key: str, value: object) -> float:
    c = paper_system().criteria[key]
    ev = Evidence(check_value(key, value, "test"), SourceKind.input_file, "test")
    return score_criterion(c, ev).points


def test_flag() -> None:
    assert points("SE11.1", True) == 45  # met: its 45 points
    assert points("SE11.1", False) == 0
    assert points("SE12.3", True) == 10


def test_missing_fact_scores_nothing() -> None:
    s = score_criterion(paper_system().criteria["SE21.2"], None)
    assert s.points == 0 and s.missing  # no evidence of "no accident": no points


def test_per_occurrence_capped() -> None:
    assert points("SE11.2", 0) == 0
    assert points("SE11.2", 2) == 20  # 2 meetings x 10
    assert points("SE11.2", 3) == 30  # 3 x 10 = 30, the cap
    assert points("SE11.2", 7) == 30  # 70, capped at 30
    assert points("SE41.2", 5) == 25  # 5 uploads x 5
    assert points("SE72.2", 5) == 24  # 5 x 5 = 25, capped at 24
    assert points("SE62.3", 6) == 30  # 6 x 5


def test_per_item_list_and_count() -> None:
    # the acceptance of issue 9: a drill with participants of four categories scores SE32.2 = 32
    assert points("SE32.2", ["residents", "enterprises", "volunteers", "property"]) == 32  # 4 x 8
    assert points("SE32.2", 4) == 32
    assert points("SE32.2", 6) == 48  # all six: 6 x 8 = 48
    # Chinese or English names count as the item, and an item named twice counts once
    assert points("SE32.2", ["居民", "residents", "volunteers"]) == 16  # 2 distinct x 8
    assert points("SE42.2", 10) == 35  # 10 x 3.5
    assert points("SE42.2", 3) == pytest.approx(10.5)  # 3 x 3.5
    assert points("SE66.1", ["fire", "公安", "housing"]) == 30  # 3 departments x 10
    assert points("SE71.1", 7) == 28  # 7 channels x 4


def test_per_item_open_list() -> None:
    # SE52.4 names four systems "and so on": further systems count, up to 36 (6 x 6)
    assert points("SE52.4", ["smart_visitor", "smart_access", "电梯困人监测"]) == 18  # 3 x 6
    assert points("SE52.4", 9) == 36  # 54, capped at 36
    with pytest.raises(EvaluationError, match=r"SE32\.2"):
        check_value("SE32.2", ["residents", "aliens"], "test")  # a closed list refuses other items
    with pytest.raises(EvaluationError, match="between 0 and 6"):
        check_value("SE32.2", 7, "test")


def test_deduction_floor() -> None:
    assert points("SE21.2", 0) == 50  # no accident
    assert points("SE21.2", 2) == 30  # 50 - 2 x 10
    assert points("SE21.2", 6) == 0  # 50 - 60 -> not below 0
    assert points("SE22.2", 3) == 15  # 30 - 3 x 5


def test_threshold() -> None:
    assert points("SE32.1", 1) == 0  # one exercise: below the minimum of 2
    assert points("SE32.1", 2) == 52
    assert points("SE32.1", 5) == 52
    assert points("SE45.4", 29) == 0  # retention 29 days
    assert points("SE45.4", 30) == 20  # "no less than 30 days"


def test_indicator_score_is_the_sum_of_its_criteria() -> None:
    c = with_facts(
        "A", {"SE32.1": 2, "SE32.2": ["residents", "property", "volunteers"], "SE11.1": True, "SE11.2": 1}
    )
    criteria, indicators = indicator_scores(paper_system(), c)
    assert indicators["SE32"] == 76  # 52 + 3 x 8
    assert indicators["SE11"] == 55  # 45 + 1 x 10 (+ SE11.3 missing: 0)
    assert indicators["SE12"] == 0
    assert criteria["SE32.2"].evidence is not None
    assert criteria["SE32.2"].evidence.references == ("test#SE32.2",)


def test_bad_values_name_the_field() -> None:
    with pytest.raises(EvaluationError, match=r"facts\.SE11\.1 = 'yes': expected true or false"):
        check_value("SE11.1", "yes", "f.yaml")
    with pytest.raises(EvaluationError, match=r"facts\.SE11\.2 = -1"):
        check_value("SE11.2", -1, "f.yaml")
    with pytest.raises(EvaluationError, match="whole number"):
        check_value("SE21.2", 1.5, "f.yaml")
