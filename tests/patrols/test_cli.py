"""`anju patrols` through typer's runner over a SQLite file: checkpoints and a route from YAML (unquoted
HH:MM windows included), a shift whose window has ended with checkpoint B skipped, reported by `check` as
one patrol_missed alarm, once; mistakes as one `error:` line naming the field, exit code 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from anju.cli import app
from anju.services import open_services
from tests.conftest import make_settings, migrated_sqlite_url
from tests.emergency.conftest import add_regions

runner = CliRunner()

ROUTE = """
estate: E1
name: 夜间一号线
stops: [A, B, C]
windows:
  - {start: 19:00, end: "21:00"}
  - {start: "08:30", end: "09:30"}
"""


def setup(tmp_path: Path) -> dict[str, str]:
    url = migrated_sqlite_url(tmp_path / "anju.db")
    svc = open_services(make_settings(tmp_path, url))
    try:
        add_regions(svc)
    finally:
        svc.close()
    return {"ANJU_DATABASE_URL": url, "ANJU_DATA_DIR": str(tmp_path / "data")}


def anju(env: dict[str, str], *args: str) -> Result:
    result = runner.invoke(app, ["patrols", *args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def ok(env: dict[str, str], *args: str) -> Any:
    result = anju(env, *args, "--json")
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.stdout)


def refused(env: dict[str, str], *args: str) -> str:
    result = anju(env, *args)
    assert result.exit_code == 2, (args, result.output)
    assert result.stdout == "" and "Traceback" not in result.output
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line, result.stderr
    return line


def test_the_patrols_command_line(tmp_path: Path) -> None:
    env = setup(tmp_path)
    for i, code in enumerate("ABC"):
        added = anju(
            env,
            "checkpoints",
            "add",
            "--estate",
            "E1",
            "--code",
            code,
            "--name",
            f"{code}号巡更点",
            "--lon",
            str(114.30 + i / 1000),
            "--lat",
            "30.60",
            "--qr",
            f"QR-E1-{code}",
        )
        assert added.exit_code == 0, added.output
    assert [c["code"] for c in ok(env, "checkpoints", "list", "--estate", "E1")] == ["A", "B", "C"]
    route_file = tmp_path / "route.yaml"
    route_file.write_text(ROUTE, encoding="utf-8")
    route = ok(env, "routes", "add", str(route_file))
    assert [c["code"] for c in route["checkpoints"]] == ["A", "B", "C"] and route["ordered"]
    assert route["windows"] == [{"start": "19:00", "end": "21:00"}, {"start": "08:30", "end": "09:30"}]
    [listed] = ok(env, "routes", "list")
    assert listed["id"] == route["id"]

    # A shift that ended an hour ago: A by QR, C by code, B never visited.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    end = start + timedelta(hours=2)
    shift = ok(
        env,
        "shifts",
        "add",
        "--route",
        str(route["id"]),
        "--guard",
        "王建国",
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
    )
    assert shift["guard"] != "王建国" and shift["status"] == "ended"
    sid = str(shift["id"])
    first = ok(env, "check-in", sid, "--qr", "QR-E1-A", "--method", "qr", "--at", _at(start, 10))
    assert first["counted"] and first["in_order"] and first["checkpoint"] == "A"
    third = anju(env, "check-in", sid, "--checkpoint", "C", "--method", "manual", "--at", _at(start, 40))
    assert third.exit_code == 0 and "counted" in third.stdout
    status = ok(env, "status", sid)
    assert [s["checked_at"] is not None for s in status["stops"]] == [True, False, True]

    checked = ok(env, "check")
    assert checked["judged"] == [shift["id"]]
    [alarm] = checked["alarms"]
    assert alarm["shift"] == shift["id"] and alarm["missed"] == ["B"] and alarm["alarm"] is not None
    again = anju(env, "check")
    assert again.exit_code == 0 and "no shift ended" in again.stdout  # judged once
    table = anju(env, "status", sid)
    assert table.exit_code == 0 and "漏巡 missed" in table.stdout
    assert ok(env, "shifts", "list", "--estate", "E1")[0]["missed"] == ["B"]

    # Mistakes: one line naming the field and what is expected, exit code 2, no traceback.
    line = refused(env, "check-in", sid, "--checkpoint", "B", "--method", "walk")
    assert line.startswith("error: method='walk': expected qr, nfc, device or manual")
    assert "at=" in refused(env, "check-in", sid, "--checkpoint", "B", "--method", "qr")  # window over
    assert "shift_id=999: no such patrol shift" in refused(env, "status", "999")
    assert "ends_at" in refused(
        env, "shifts", "add", "--route", str(route["id"]), "--guard", "李", "--start", end.isoformat(),
        "--end", start.isoformat(),
    )  # fmt: skip
    route_file.write_text(ROUTE.replace("[A, B, C]", "[A, D]").replace("一号", "二号"), encoding="utf-8")
    assert "checkpoints[1]='D'" in refused(env, "routes", "add", str(route_file))
    route_file.write_text(ROUTE.replace("19:00", "25:00"), encoding="utf-8")
    assert "windows[0]" in refused(env, "routes", "add", str(route_file))


def _at(start: datetime, minutes: int) -> str:
    return (start + timedelta(minutes=minutes)).isoformat()
