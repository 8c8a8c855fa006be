"""The paper's index over communities: weighting modes, weighted and dimension scores, closeness, rank."""

from __future__ import annotations

import math

import pytest

from anju.evaluation.errors import EvaluationError
from anju.evaluation.paper import Weighting, check_configured, evaluate_paper
from anju.evaluation.systems import paper_system

from .conftest import with_facts

A = with_facts(
    "A",
    {
        "SE11.1": True,
        "SE11.2": 3,
        "SE11.3": True,
        "SE32.1": 2,
        "SE32.2": ["residents", "property", "volunteers", "enterprises"],
    },
    "甲社区",
)
B = with_facts("B", {"SE21.1": True, "SE21.2": 0}, "乙社区")


def test_two_communities_get_equal_weights_and_say_so() -> None:
    r = evaluate_paper(paper_system(), [A, B])
    assert r.weighting is Weighting.equal
    assert "少于 3 个" in r.weighting_note
    assert all(w == pytest.approx(1 / 32) for w in r.weights.values())
    a, b = r.communities
    # A: SE11 = 45 + 3 x 10 + 25 = 100, SE32 = 52 + 4 x 8 = 84; score = (100 + 84) / 32 = 5.75
    assert a.indicators["SE11"] == 100 and a.indicators["SE32"] == 84
    assert a.score == pytest.approx(5.75)
    # dimensions, equal weights inside: SM = 100 / 5 = 20; EP = (0 + 84) / 2 = 42
    assert a.dimensions["SM"] == pytest.approx(20) and a.dimensions["EP"] == pytest.approx(42)
    # B: SE21 = 50 + (50 - 0) = 100; score 100 / 32 = 3.125; PS = 100 / 3
    assert b.score == pytest.approx(3.125) and b.dimensions["PS"] == pytest.approx(100 / 3)
    # TOPSIS, w = 1/32: normalised columns SE11 (1, 0), SE21 (0, 1), SE32 (1, 0)
    # A: D+ = w, D- = w√2 -> √2 / (1 + √2); B: D+ = w√2, D- = w -> 1 / (1 + √2)
    assert a.closeness == pytest.approx(math.sqrt(2) / (1 + math.sqrt(2)), abs=1e-12)
    assert b.closeness == pytest.approx(1 / (1 + math.sqrt(2)), abs=1e-12)
    assert (a.rank, b.rank) == (1, 2)


def test_three_communities_get_critic_weights() -> None:
    # SE21 = 100, 50, 0 and SE54 = 0, 50, 100; every other indicator 0 everywhere (constant)
    # hand-worked in test_critic_topsis: perfectly opposed columns of equal spread weigh 1/2 each
    cs = [
        with_facts("A", {"SE21.1": True, "SE21.2": 0}),
        with_facts("B", {"SE21.1": True, "SE54.1": True}),
        with_facts("C", {"SE54.1": True, "SE54.2": True}),
    ]
    r = evaluate_paper(paper_system(), cs)
    assert r.weighting is Weighting.critic
    assert r.weights["SE21"] == pytest.approx(0.5) and r.weights["SE54"] == pytest.approx(0.5)
    assert sum(r.weights.values()) == pytest.approx(1.0)
    assert "30 个指标在各社区得分相同，权重为 0" in r.weighting_note
    # every score 0.5 x 100 = 0.5 x 50 + 0.5 x 50 = 50; every closeness 1/2 (hand-worked: D+ = D-)
    for c in r.communities:
        assert c.score == pytest.approx(50)
        assert c.closeness == pytest.approx(0.5)
        assert c.rank == 1
    # a dimension whose indicators all weigh 0 falls back to their plain mean: SM is 0 here
    assert r.communities[0].dimensions["SM"] == 0
    # PS = SE21 alone carries weight inside PS: A's PS is 100
    assert r.communities[0].dimensions["PS"] == pytest.approx(100)


def test_equal_on_request_and_configured() -> None:
    cs = [
        with_facts(c, {"SE11.1": i % 2 == 0, "SE21.1": i > 0, "SE54.1": i == 2}) for i, c in enumerate("XYZ")
    ]
    r = evaluate_paper(paper_system(), cs, weighting=Weighting.equal)
    assert r.weighting is Weighting.equal and r.weighting_note == "按要求采用等权重"
    conf = check_configured(paper_system(), {"SE11": 3, "SE21": 1}, "w.yaml")
    assert conf["SE11"] == 0.75 and conf["SE21"] == 0.25 and conf["SE72"] == 0
    r2 = evaluate_paper(paper_system(), cs, configured=conf)
    assert r2.weighting is Weighting.configured
    # X: SE11 = 45, SE21 = 0 -> 0.75 x 45 = 33.75
    assert r2.communities[0].score == pytest.approx(33.75)


def test_configured_weights_errors() -> None:
    with pytest.raises(EvaluationError, match="SE99"):
        check_configured(paper_system(), {"SE99": 1}, "w.yaml")
    with pytest.raises(EvaluationError, match=r"SE11 = -1: expected a weight ≥ 0"):
        check_configured(paper_system(), {"SE11": -1}, "w.yaml")
    with pytest.raises(EvaluationError, match="at least one weight above 0"):
        check_configured(paper_system(), {"SE11": 0}, "w.yaml")


def test_one_community_has_no_closeness_but_a_score() -> None:
    r = evaluate_paper(paper_system(), [A])
    (a,) = r.communities
    assert a.closeness is None and a.rank == 1
    assert a.score == pytest.approx(5.75)


def test_scores_carry_their_evidence() -> None:
    d = evaluate_paper(paper_system(), [A, B]).to_dict()
    assert d["weighting"] == "equal" and set(d["weights"]) == {i.code for i in paper_system().indicators}
    a = d["communities"][0]
    assert set(a) >= {"indicators", "dimensions", "score", "closeness", "rank", "criteria", "missing"}
    ev = a["criteria"]["SE32.2"]["evidence"]
    assert ev["source"] == "input_file" and ev["references"] == ["test#SE32.2"]
    assert ev["value"] == ["residents", "property", "volunteers", "enterprises"]
    assert a["criteria"]["SE12.1"]["evidence"] is None and "SE12.1" in a["missing"]
