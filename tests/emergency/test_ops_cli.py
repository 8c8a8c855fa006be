"""`anju emergency ops`: duty coverage gaps (exit 1 when there are any), the risk map as GeoJSON, warnings
listed and exported as CAP, an invalid CAP import refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

from anju.emergency import risk, warning_ops
from anju.emergency.cap import validate
from anju.services import open_services
from tests.conftest import make_settings, migrated_sqlite_url
from tests.emergency.conftest import add_regions
from tests.emergency.test_ops_dispatch import ROSTER
from tests.emergency.test_ops_risk import square
from tests.test_cli import make_env, ok_json, run


def test_the_operations_command_line(tmp_path: Path) -> None:
    url = migrated_sqlite_url(tmp_path / "anju.db")
    svc = open_services(make_settings(tmp_path, url))
    try:
        add_regions(svc)
        (svc.settings.data_dir / "duty.yaml").write_text(ROSTER, encoding="utf-8")
        risk.create_zone(
            svc,
            estate="E1",
            hazard="flood",
            level="high",
            name="车库",
            geometry=square(114.3, 30.6),
            assessed_on="2026-10-01",
            reviewer="r",
            actor="t",
        )
        wid = warning_ops.issue(
            svc, region="E1", hazard="flood", headline="暴雨", description="d", instruction="i", actor="t"
        )
    finally:
        svc.close()
    env = make_env(tmp_path)
    gaps = run(
        env,
        "emergency",
        "ops",
        "coverage",
        "--estate",
        "E1",
        "--from",
        "2026-11-30",
        "--level",
        "0",
        "--json",
    )
    assert gaps.returncode == 0, gaps.stderr
    found = json.loads(gaps.stdout)
    assert {"from": "2026-11-30T20:00:00+08:00", "to": "2026-11-30T22:00:00+08:00"}.items() <= found[
        1
    ].items()
    table = run(env, "emergency", "ops", "coverage", "--estate", "E1", "--level", "0")
    assert table.returncode == 1 and "duty gaps" in table.stdout
    doc = json.loads(run(env, "emergency", "ops", "risk-map", "E1").stdout)
    assert doc["type"] == "FeatureCollection" and doc["features"][0]["properties"]["hazard"] == "flood"
    [listed] = ok_json(env, "emergency", "ops", "warnings", "list", "--region", "C1", "--json")
    assert listed["id"] == wid
    cap = run(env, "emergency", "ops", "warnings", "cap", wid)
    validate(cap.stdout.encode("utf-8"))
    bad = tmp_path / "bad.xml"
    bad.write_text(
        cap.stdout.replace("<msgType>Alert</msgType>", "<msgType>Nope</msgType>"), encoding="utf-8"
    )
    refused = run(env, "emergency", "ops", "warnings", "import", str(bad), "--region", "E1")
    assert (
        refused.returncode == 2 and refused.stderr.startswith("error:") and "Traceback" not in refused.stderr
    )
