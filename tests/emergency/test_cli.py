"""`anju emergency`: plans imported from YAML (created, then revised only when changed), published; a drill
recorded from YAML; supplies checked; shelters and evacuation routes listed; errors as one line."""

from __future__ import annotations

from pathlib import Path

from anju.emergency.shelters import save_graph, save_shelter
from anju.emergency.supplies import add_item, create_store
from anju.services import open_services
from tests.conftest import make_settings, migrated_sqlite_url
from tests.emergency.conftest import add_regions
from tests.emergency.test_routing import EDGES, NODES
from tests.test_cli import make_env, ok_json, run

PLAN = """
plans:
  - region: C1
    hazard: fire
    title: 幸福社区火灾应急预案
    contents:
      organization: 社区应急领导小组
      risk_list: 电动车充电
      disposal_process: 发现—报告—疏散—处置
      contacts: 社区值班室 027-00000000
      rescue_team: 应急救援队 20 人
"""

DRILL = """
region: E1
title: 消防疏散演练
hazard: fire
scenario: 3 栋 5 楼厨房起火
held_at: "2026-01-15T09:30:00+08:00"
participants:
  - {category: residents, headcount: 120}
  - {category: property, headcount: 8}
followups:
  - {action: 更换 3 栋疏散指示灯, owner: 物业, due_on: 2026-02-01}
"""


def test_the_emergency_command_line(tmp_path: Path) -> None:
    url = migrated_sqlite_url(tmp_path / "anju.db")
    svc = open_services(make_settings(tmp_path, url))
    try:
        add_regions(svc)
        save_graph(svc, "E1", NODES, EDGES, actor="t")
        for ident, capacity in (("S1", 80), ("S2", 200)):
            save_shelter(
                svc,
                id=ident,
                estate="E1",
                name=ident,
                type="emergency",
                capacity=capacity,
                lon=114.3,
                lat=30.6,
                actor="t",
            )
        store = create_store(svc, estate="E1", name="储备点", location="1栋", custodian="欧阳建华", actor="t")
        item = add_item(svc, store, name="灭火器", unit="具", quantity=2, minimum=6, actor="t")
    finally:
        svc.close()
    env = make_env(tmp_path)
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(PLAN, encoding="utf-8")
    [created] = ok_json(env, "emergency", "plans", "import", str(plan_file), "--json")
    assert created["action"] == "created" and created["version"] == 1
    [again] = ok_json(env, "emergency", "plans", "import", str(plan_file), "--json")
    assert again == {**created, "action": "unchanged"}
    plan_file.write_text(PLAN.replace("20 人", "25 人"), encoding="utf-8")
    [revised] = ok_json(env, "emergency", "plans", "import", str(plan_file), "--json")
    assert (revised["action"], revised["version"]) == ("revised", 2)
    assert run(env, "emergency", "plans", "publish", str(created["id"])).returncode == 0
    [listed] = ok_json(env, "emergency", "plans", "list", "--region", "C1", "--json")
    assert listed["published_version"] == 2

    drill_file = tmp_path / "drill.yaml"
    drill_file.write_text(DRILL, encoding="utf-8")
    drill = ok_json(env, "emergency", "drills", "record", str(drill_file), "--json")
    assert [p["category"] for p in drill["participants"]] == ["residents", "property"]
    assert drill["followups"][0]["due_on"] == "2026-02-01"

    checked = ok_json(env, "emergency", "supplies", "check", "--json")
    assert checked["raised"] == [{"type": "supply_below_minimum", "supply_item": item}]
    [listed_store] = ok_json(env, "emergency", "supplies", "list", "--estate", "E1", "--json")
    assert listed_store["custodian"] != "欧阳建华"
    assert [s["id"] for s in ok_json(env, "emergency", "shelters", "list", "--json")] == ["S1", "S2"]
    table = run(env, "emergency", "evacuation", "E1")
    assert table.returncode == 0 and "B4 → J3 → J2 → S2" in table.stdout

    # Mistakes: one line naming the field and what is expected, exit 2, no traceback.
    drill_file.write_text(DRILL.replace("hazard: fire", "hazard: meteor"), encoding="utf-8")
    bad = run(env, "emergency", "drills", "record", str(drill_file))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "hazard='meteor': expected one of" in bad.stderr
    missing = run(env, "emergency", "evacuation", "E3")
    assert missing.returncode == 2 and "no such path graph" in missing.stderr
