"""The data files: codes, kinds and points as the seeds give them."""

from __future__ import annotations

from anju.evaluation.model import CriterionKind
from anju.evaluation.systems import fact_kinds, paper_system, shandong_system, wuhan_system


def test_paper_has_7_dimensions_32_indicators_each_100_points() -> None:
    p = paper_system()
    assert [d.code for d in p.dimensions] == ["SM", "PS", "EP", "CPS", "SI", "EM", "SPE"]
    codes = [i.code for i in p.indicators]
    assert len(codes) == 32 and codes[0] == "SE11" and codes[-1] == "SE72"
    assert codes[:5] == ["SE11", "SE12", "SE13", "SE14", "SE15"] and "SE57" in codes and "SE67" in codes
    for ind in p.indicators:
        assert sum(c.points for c in ind.criteria) == 100, ind.code
        assert [c.key for c in ind.criteria] == [f"{ind.code}.{n}" for n in range(1, len(ind.criteria) + 1)]
        assert ind.zh and ind.en


def test_paper_kinds_as_the_issue_lists_them() -> None:
    c = paper_system().criteria
    for key in (
        "SE23.2",
        "SE32.2",
        "SE42.2",
        "SE43.1",
        "SE52.4",
        "SE53.4",
        "SE55.4",
        "SE56.4",
        "SE64.1",
        "SE66.1",
        "SE71.1",
    ):
        assert c[key].kind is CriterionKind.per_item, key
    for key in ("SE11.2", "SE31.3", "SE41.2", "SE43.2", "SE62.3", "SE67.2", "SE72.2", "SE72.3"):
        assert c[key].kind is CriterionKind.per_occurrence, key
    assert {k for k, v in c.items() if v.kind is CriterionKind.deduction} == {"SE21.2", "SE22.2"}
    assert c["SE32.1"].kind is CriterionKind.threshold and c["SE32.1"].minimum == 2
    # per item / occurrence values from Table C-1 notes
    assert (c["SE32.2"].per, c["SE32.2"].points, len(c["SE32.2"].items)) == (8, 48, 6)
    assert (c["SE42.2"].per, len(c["SE42.2"].items)) == (3.5, 10)
    assert (c["SE21.2"].penalty, c["SE22.2"].penalty) == (10, 5)
    assert c["SE52.4"].open and not c["SE32.2"].open
    assert c["SE11.2"].text.endswith("Note: 10 points for each work meeting.")


def test_readings_are_written_where_the_table_is_ambiguous() -> None:
    c = paper_system().criteria
    for key in (
        "SE45.2",
        "SE52.4",
        "SE53.4",
        "SE55.4",
        "SE56.4",
        "SE64.1",
        "SE66.1",
        "SE67.2",
        "SE72.3",
        "SE45.4",
    ):
        assert c[key].reading, key


def test_wuhan_points_and_texts() -> None:
    w = wuhan_system()
    assert [(c.key, c.points) for c in w.categories] == [("smart", 70), ("safe", 30)]
    demo = w.variant("demonstration")
    assert demo.items[0].text == "小区外围院墙安装电子周界预警系统，具备侵入人员画面弹出预警功能。"
    std = w.variant("standard")
    assert std.items[5].text == "小区内所有智能感知设备采集的数据信息符合标准。"
    assert w.pass_text == "总分在90分以上可通过验收。"


def test_every_input_key_is_known_once() -> None:
    kinds = fact_kinds()
    assert len(kinds) == 95 + len(wuhan_system().facts) + len(shandong_system().facts)
    assert (
        kinds["SE32.2"] == "per_item"
        and kinds["WH.doors"] == "count"
        and kinds["SD.satisfaction_pct"] == "percent"
    )


def test_texts_are_quoted_from_the_seeds() -> None:
    import pytest

    from .conftest import SEEDS

    c1, c3 = SEEDS / "001_3b5225923e734918.txt", SEEDS / "003_92856837d449a683.txt"
    if not (c1.is_file() and c3.is_file()):
        pytest.skip(f"seeds 001/003 not found in {SEEDS}")
    table_c1 = " ".join(c1.read_text(encoding="utf-8").split())
    for c in paper_system().criteria.values():
        assert " ".join(c.text.split()) in table_c1, c.key  # Table C-1 verbatim (line breaks aside)
    annex = c3.read_text(encoding="utf-8")
    w = wuhan_system()
    assert w.pass_text in annex
    for v in w.variants:
        for item in v.items:
            assert item.text in annex, (v.key, item.no)
