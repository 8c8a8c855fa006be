"""Hand-made acceptance material for each kind of finding, with what must NOT be flagged beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from anju.evaluation.claims import check_document, read_claims
from anju.evaluation.claims.notice import parse_notice
from anju.evaluation.claims.structured import parse_structured
from anju.evaluation.errors import EvaluationError
from anju.evaluation.systems import shandong_system


def community(name: str, tier: str, rows: dict[int, Any]) -> dict[str, Any]:
    """A table of `tier` whose rows carry the tier's own requirement and the given completion text
    (a string, or a dict overriding requirement/status)."""
    t = shandong_system().tier(tier)
    out = []
    for no, spec in rows.items():
        ind = t.indicator(no)
        assert ind is not None
        row = {"number": no, "name": ind.zh, "requirement": ind.requirement, "status": "达标"}
        row.update({"text": spec} if isinstance(spec, str) else spec)
        out.append(row)
    return {"name": name, "tier": tier, "indicators": out}


def findings(*communities: dict[str, Any]) -> set[tuple[str, int, str]]:
    doc = parse_structured({"communities": list(communities)}, "test.yaml")
    return {(f.community, f.indicator_no, f.kind.value) for f in check_document(doc)}


def test_arithmetic_rate_against_its_numbers() -> None:
    got = findings(
        community(
            "甲社区",
            "growth",
            {
                # 800/1000 = 80%, stated 90%: wrong
                1: "家庭千兆光纤网络覆盖率达到90%，其中具备千兆接入能力的家庭数800户，社区家庭总数1000户。",
                # 833/1000 = 83.3%: "83%" is rounding, fine
                3: "广播电视覆盖率达到83%，其中具备有线广播电视或交互式网络电视（IPTV）接入能力的家庭数833户，社区家庭总数1000户。",
                # 838/1000 = 83.8%: "83%" truncated, fine
                7: "家庭能源自动化采集设施安装率达到83%，远程能源智能监控表数量838个，社区家庭总数1000户。",
                # areas to 0.1 km²: 1.6/1.6 may be 1.55/1.65 = 94% ... 1.65/1.55 = 106%, so 97% stands
                2: "5G网络覆盖率达到97%，其中5G信号覆盖的区域面积是1.6平方公里，社区总面积是1.6平方公里。",
            },
        ),
        community(
            "乙社区",
            "growth",
            {
                # 3.84/4 km²: at best 3.845/3.5 = 110%, at worst 3.835/4.5 = 85%: 80% is impossible
                2: "5G网络覆盖率达到80%，其中5G信号覆盖的区域面积是3.84平方公里，社区总面积是4平方公里。",
            },
        ),
    )
    assert got == {("甲社区", 1, "arithmetic"), ("乙社区", 2, "arithmetic")}


def test_arithmetic_share_of_estates() -> None:
    got = findings(
        community(
            "甲社区",
            "growth",
            {
                6: "社区内共6个小区，每个小区拥有电动自行车集中停放场所和智能安全充电设施。",
                13: "1.能够提供线上缴费服务。\n2.社区内80%小区实现垃圾分类监控设备全覆盖。",  # 4.8 of 6: wrong
                19: "1.社区内83.33%小区实现消防通道占用等情况的自动化识别和上报；\n2.社区内100%小区实现电动车进电梯智能识别、自动报警。",
            },
        ),
        # without the number of estates nothing can be said about "80%"
        community("乙社区", "growth", {13: "2.社区内80%小区实现垃圾分类监控设备全覆盖。"}),
    )
    assert got == {("甲社区", 13, "arithmetic")}


def test_below_threshold_only_when_marked_达标() -> None:
    got = findings(
        community(
            "甲社区",
            "growth",
            {
                5: "智能照明设施安装率达到50%，其中社区内智能照明设备数50个，社区内公共照明设备总数100个。",
                28: "居民满意度达到80%",  # above 70%
                25: "每年开展2次智慧社区宣传普及活动",  # exactly the 2 asked
            },
        ),
        community(
            "乙社区",
            "growth",
            {
                5: {
                    "text": "智能照明设施安装率达到40%，其中社区内智能照明设备数40个，社区内公共照明设备总数100个。",
                    "status": "未达标",
                }
            },
        ),
        community(
            "丙社区",
            "basic",
            {
                12: "社区内封闭式小区 13 个，5个小区出入口部署了智能门禁系统。8个无主小区，未配备智能门禁",
                8: "社区60岁及以上老年人占比35%，超过30%，提供1种社区养老服务，为助医",  # > 30% needs 2
                14: "社区内19层及以上住宅\n0栋，均实现高空抛物监控报警",  # none to monitor
            },
        ),
        community(
            "丁社区", "basic", {8: "社区60岁及以上老年人占比26%，未超过30%，提供1种社区养老服务，为助医"}
        ),
    )
    assert got == {
        ("甲社区", 5, "below_threshold"),
        ("丙社区", 12, "below_threshold"),
        ("丙社区", 8, "below_threshold"),
    }


def test_blank() -> None:
    got = findings(
        community(
            "甲社区",
            "growth",
            {
                10: "2.社区60岁及以上老年人占比12%，未超过30%，提供种社区养老服务，分别为信息查询、社区服务。",
                17: "社区内12层及以上住宅  栋，均实现高空抛物监控报警。",
                27: "依托县级智慧社区综合信息平台，形成  项在市级层面推广的创新应用场景。",
                9: "服务形式包括    、    、人工窗口、“爱山东”网上办事体验区等。",
                28: {"text": "居民满意度达到90%", "status": None},  # no verdict
            },
        ),
        community(
            "乙社区",
            "basic",
            {
                22: "依托县级智慧社区综合信息平台，打造      创新应用场景,场景围绕停车难问题。",
                14: "社区内19层及以上住宅\n4栋，均实现高空抛物监控报警。",  # the number on the next line: filled
                8: "社区60岁及以上老年人占比13%，未超过30%，提供2 种社区养老服务，分别为助医、助餐。",
                9: "社区内按需配备智能便民服务设施，包括智能快件箱、、空调等。",  # a stray separator, no empty slot
            },
        ),
        community(
            "丙社区",
            "basic",
            {22: "依托县级智慧社区综合信息平台，打造居民上报事件创新应用场景。"},  # named, not a blank
        ),
    )
    assert got == {
        ("甲社区", 10, "blank"),
        ("甲社区", 17, "blank"),
        ("甲社区", 27, "blank"),
        ("甲社区", 9, "blank"),
        ("甲社区", 28, "blank"),
        ("乙社区", 22, "blank"),
    }


def test_template_remnant() -> None:
    got = findings(
        community(
            "甲社区",
            "growth",
            {
                10: "2.社区60岁及以上老年人占比12%，是/否超过30%，提供2种社区养老服务，分别为助医、助餐。",
                4: "1.…摄像机完好率均达到95%或者关键位置的覆盖率95%，联网率95%，摄像机完好率95%；\n2.公共视频资源出图率达到95%；\n3.合规率达到95%。",
                14: "依托市级或区县级智慧社区综合信息平台，实现治安防范预警信息发布。",  # a statement, not flagged
            },
        ),
        community(
            "乙社区",
            "growth",
            {
                4: "1.关键位置的覆盖率、联网率、摄像机完好率均达到96%；\n2.公共视频资源出图率达到90%；\n3.合规率达到96%。"
            },
        ),
    )
    assert got == {("甲社区", 10, "template_remnant"), ("甲社区", 4, "template_remnant")}


def test_count_mismatch() -> None:
    got = findings(
        community(
            "甲社区",
            "basic",
            {8: "社区60岁及以上老年人占比13%，未超过30%，提供3种社区养老服务，分别为助医、助餐。"},
        ),
        community(
            "乙社区",
            "basic",
            {8: "社区60岁及以上老年人占比13%，未超过30%，提供2种社区养老服务，分别为助医、助餐。"},
        ),
        community(
            "丙社区",
            "growth",
            {
                6: "社区内共8个小区，每个小区拥有电动自行车集中停放场所。",
                15: "社区内封闭式小区9个，出入口部署智能门禁系统，实现人员和车辆的通行认证。",
                16: "社区内封闭式小区8个，均通过周界防护设施实现入侵检测报警。",  # 8 of 8: fine
            },
        ),
    )
    assert got == {("甲社区", 8, "count_mismatch"), ("丙社区", 15, "count_mismatch")}


def test_copy_paste() -> None:
    same = "家庭千兆光纤网络覆盖率达到100%，其中具备千兆接入能力的家庭数5373户，社区家庭总数5373户。"
    small = "社区内封闭式小区6个，出入口部署智能门禁系统，实现人员和车辆的通行认证。"
    got = findings(
        community(
            "甲社区",
            "growth",
            {
                1: same,
                15: small,
                2: "5G网络覆盖率达到100%，其中5G信号覆盖的区域面积是1.2平方公里，社区总面积是1.2平方公里。",
                10: "2.社区60岁及以上老年人占比26 %，未超过30%，提供种社区养老服务，分别为家政服务、 康复服务 、 文体服务 。",
            },
        ),
        community(
            "乙社区",
            "growth",
            {
                1: same,  # 5373 households in both, word for word
                15: small,  # 6 closed estates in both: small counts coincide, not flagged
                2: "5G网络覆盖率达到100%，其中5G信号覆盖的区域面积是1.2平方公里，社区总面积是1.2 平方公里。",  # other wording
                10: "2.社区60岁及以上老年人占比26 %，是/否超过30%，提供种社区养老服务，分别为家政服务、 康复服务 、 文体服务 。",
            },
        ),
        community("丙社区", "growth", {1: same.replace("5373", "4031")}),
    )
    copy = {f for f in got if f[2] == "copy_paste"}
    assert copy == {
        ("甲社区", 1, "copy_paste"),
        ("乙社区", 1, "copy_paste"),
        ("甲社区", 10, "copy_paste"),
        ("乙社区", 10, "copy_paste"),
    }


def test_threshold_text_mismatch() -> None:
    got = findings(
        community(
            "甲社区",
            "growth",
            {
                1: {
                    "requirement": "家庭千兆光纤网络覆盖率达到60%",
                    "text": "家庭千兆光纤网络覆盖率达到100%。",
                },
                # the same text with other line breaks and spaces is the same requirement
                4: {
                    "requirement": shandong_system()
                    .tier("growth")
                    .indicator(4)
                    .requirement.replace("\n", " \n "),  # type: ignore[union-attr]
                    "text": "1.关键位置的覆盖率、联网率、摄像机完好率均达到96%。",
                },
            },
        ),
        # a basic table quoting the growth requirement for its indicator 1
        community(
            "乙社区", "basic", {1: {"requirement": "家庭千兆光纤网络覆盖率达到80%", "text": "达到100%。"}}
        ),
    )
    assert got == {("甲社区", 1, "threshold_text_mismatch"), ("乙社区", 1, "threshold_text_mismatch")}


NOTICE = (
    "某县智慧社区建设验收结果公示\n\n"
    "某街道甲社区智慧社区建设指标（基础型）\n"
    "\t一级指标\n\t序号\n\t二级指标\n\t指标释义\n\t标准要求\n\t本社区完成情况\n\n"
    "\t基础设施\n\t1\n\t有线宽带网络\n\t社区内有线宽带网络覆盖情况\n家庭千兆光纤网络覆盖率=具备千兆接入能力的家庭数/社区家庭总数\n"
    "\t家庭千兆光纤网络覆盖率达到70%\n\t达标。\n家庭千兆光纤网络覆盖率达到90%，其中具备千兆接入能力的家庭数800户，社区家庭总数1000户。\n\n"
    "\t\n\t2\n\t移动通信网络\n\t社区内5G网络覆盖情况\n\t5G网络覆盖率达到80%\n\t未达标。5G网络覆盖率达到60%。\n\n"
    " 某镇乙社区智慧社区建设指标（成长型）\n"
    "\t一级指标\n\t序号\n\t二级指标\n\t指标释义\n\t标准要求\n\t本社区完成情况\n"
    "\t居民体验\n\t28\n\t居民体验调查\n\t通过调查问卷等方式评价\n\t居民满意度达到70%\n\t居民满意度达到60%\n"
)


def test_notice_parser() -> None:
    doc = parse_notice(NOTICE, "n.txt")
    a, b = doc.communities
    assert (a.street, a.name, a.tier, a.tier_label) == ("某街道", "甲社区", "basic", "基础型")
    assert [(r.no, r.name, r.status) for r in a.indicators] == [
        (1, "有线宽带网络", "达标"),
        (2, "移动通信网络", "未达标"),
    ]
    assert a.indicators[0].definition.endswith("/社区家庭总数")
    assert a.indicators[0].text.startswith("家庭千兆光纤网络覆盖率达到90%")
    assert (b.street, b.name, b.tier) == ("某镇", "乙社区", "growth")
    assert b.indicators[0].status is None and b.indicators[0].text == "居民满意度达到60%"
    got = {(f.community, f.indicator_no, f.kind.value) for f in check_document(doc)}
    # 1: 800/1000 is 80%, not 90%; 2: not claimed 达标, so no below_threshold; 28: no verdict
    assert got == {("甲社区", 1, "arithmetic"), ("乙社区", 28, "blank")}
    with pytest.raises(EvaluationError, match="no community table found"):
        parse_notice("nothing here", "x.txt")


def test_xlsx_and_yaml_forms(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["社区", "等级", "序号", "二级指标", "标准要求", "结论", "本社区完成情况"])
    ws.append(
        [
            "甲社区",
            "基础型",
            8,
            "养老服务",
            "60岁及以上常住老年人占比超过30%的社区提供2种社区养老服务",
            "达标",
            "社区60岁及以上老年人占比13%，未超过30%，提供1种社区养老服务，分别为助医、助餐",
        ]
    )
    ws.append(
        [
            "甲社区",
            "基础型",
            20,
            "宣传普及",
            "每年开展1次智慧社区宣传普及活动",
            None,
            "达标。每年开展  次智慧社区宣传普及活动",
        ]
    )
    path = tmp_path / "claims.xlsx"
    wb.save(path)
    doc = read_claims(path)
    assert doc.communities[0].indicators[1].status == "达标"  # read from the text when the column is empty
    got = {(f.community, f.indicator_no, f.kind.value) for f in check_document(doc)}
    assert got == {("甲社区", 8, "count_mismatch"), ("甲社区", 20, "blank")}

    y = tmp_path / "claims.yaml"
    y.write_text(
        "communities:\n  - name: 乙社区\n    tier: 成长型\n    indicators:\n"
        "      - number: 28\n        status: 达标\n        text: 居民满意度达到60%\n",
        encoding="utf-8",
    )
    assert {(f.indicator_no, f.kind.value) for f in check_document(read_claims(y))} == {
        (28, "below_threshold")
    }


def test_bad_forms_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match=r"tier = 'gold': expected basic, growth"):
        parse_structured(
            {"communities": [{"name": "甲", "tier": "gold", "indicators": [{"number": 1, "text": "x"}]}]}, "f"
        )
    with pytest.raises(EvaluationError, match=r"indicators\[0\]: number = 'x'"):
        parse_structured(
            {"communities": [{"name": "甲", "tier": "basic", "indicators": [{"number": "x", "text": "x"}]}]},
            "f",
        )
    with pytest.raises(EvaluationError, match=r"status = '合格': expected 达标 or 未达标"):
        parse_structured(
            {
                "communities": [
                    {
                        "name": "甲",
                        "tier": "basic",
                        "indicators": [{"number": 1, "text": "x", "status": "合格"}],
                    }
                ]
            },
            "f",
        )
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["社区", "序号", "本社区完成情况"])
    wb.save(tmp_path / "no_tier.xlsx")
    with pytest.raises(EvaluationError, match=r"column = 'tier': expected a heading 等级/类型/tier"):
        read_claims(tmp_path / "no_tier.xlsx")
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(EvaluationError, match="not a readable XLSX"):
        read_claims(tmp_path / "bad.xlsx")
