"""`anju notices` through typer's runner over a SQLite file: a general notice drafted, published, confirmed
and listed; a policy notice refused until another account approves it; a scheduled notice published by
`publish-due`; mistakes as one `error:` line naming the field, exit code 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import Result
from sqlalchemy import update
from typer.testing import CliRunner

from anju.cli import app
from anju.services import open_services
from tests.conftest import make_settings, migrated_sqlite_url
from tests.emergency.conftest import add_regions

runner = CliRunner()

POLICY = """
region: C1
title: 关于垃圾分类新规的通知
body: 自 12 月 1 日起执行。
category: policy
channels: [portal_website]
lon: 114.301
lat: 30.602
"""


def setup(tmp_path: Path) -> dict[str, str]:
    url = migrated_sqlite_url(tmp_path / "anju.db")
    svc = open_services(make_settings(tmp_path, url))
    try:
        add_regions(svc)
    finally:
        svc.close()
    (tmp_path / "data" / "notice_channels.yaml").write_text(
        "position: {lon: 114.30, lat: 30.60}\n", encoding="utf-8"
    )
    return {
        "ANJU_DATABASE_URL": url,
        "ANJU_DATA_DIR": str(tmp_path / "data"),
        "LOGNAME": "wy-staff",
        "USER": "wy-staff",
    }


def _set(env: dict[str, str], notice_id: int, **values: datetime) -> None:
    svc = open_services(make_settings(Path(env["ANJU_DATA_DIR"]).parent, env["ANJU_DATABASE_URL"]))
    try:
        t = svc.db.table("notice")
        with svc.db.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == notice_id).values(**values))
    finally:
        svc.close()


def anju(env: dict[str, str], *args: str) -> Result:
    result = runner.invoke(app, ["notices", *args], env=env)
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


def test_the_notices_command_line(tmp_path: Path) -> None:
    env = setup(tmp_path)
    catalog = ok(env, "catalog")
    screen = next(c for c in catalog["channels"] if c["key"] == "electronic_screen")
    assert screen["adapter"] == "screen" and screen["code"] == "02"
    assert {c["key"] for c in catalog["content_types"]} == {"general", "policy"}

    # A general notice: drafted from options, published at once on a screen and a bulletin board.
    draft = ok(
        env,
        "create",
        "--region",
        "E1",
        "--title",
        "停水通知",
        "--body",
        "明日 9:00-12:00 停水。",
        "--category",
        "property",
        "-c",
        "electronic_screen",
        "-c",
        "bulletin_board",
    )
    assert (draft["status"], draft["content_type"]["key"]) == ("draft", "general")
    assert draft["created_by"] == "cli:wy-staff" and (draft["lon"], draft["lat"]) == (114.30, 30.60)
    published = ok(env, "publish", str(draft["id"]))
    assert published["status"] == "published"
    assert {d["channel"]: d["status"] for d in published["deliveries"]} == {
        "electronic_screen": "sent",
        "bulletin_board": "pending_confirmation",
    }
    confirmed = anju(env, "confirm", str(draft["id"]), "bulletin_board")
    assert confirmed.exit_code == 0 and "confirmed" in confirmed.stdout
    [listed] = ok(env, "list", "--region", "C1", "--status", "published")
    assert listed["id"] == draft["id"] and listed["title"] == "停水通知"
    table = anju(env, "list")
    assert table.exit_code == 0 and "停水通知" in table.stdout and "已发布" in table.stdout
    shown = ok(env, "show", str(draft["id"]))
    assert {d["channel"]: d["status"] for d in shown["deliveries"]}["bulletin_board"] == "confirmed"

    # A policy notice from a file: refused until approved, and not by its drafter.
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY, encoding="utf-8")
    policy = ok(env, "create", "--file", str(policy_file))
    assert policy["content_type"]["key"] == "policy"
    line = refused(env, "publish", str(policy["id"]))
    assert "content_type='policy'" in line and "must be approved" in line and "审核" in line
    assert "self_approval" not in line
    assert "someone other than its drafter" in refused(env, "approve", str(policy["id"]))
    police = {**env, "LOGNAME": "sq-police", "USER": "sq-police"}
    assert ok(police, "approve", str(policy["id"]))["approved_by"] == "cli:sq-police"
    assert ok(env, "publish", str(policy["id"]))["status"] == "published"

    # Scheduled, then its time comes (moved here rather than waited for); the general notice's expiry
    # passes too: publish-due does both, as the alarm clock would, and a second run finds nothing.
    later = ok(env, "create", "--file", str(policy_file), "--category", "general", "--title", "通知")
    scheduled = ok(env, "publish", str(later["id"]), "--at", "2999-01-01T08:00:00+08:00")
    assert scheduled["status"] == "scheduled"
    assert ok(env, "publish-due") == {"published": [], "expired": []}
    past = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    _set(env, later["id"], publish_at=past)
    _set(env, draft["id"], expires_at=past)
    assert ok(env, "publish-due") == {"published": [later["id"]], "expired": [draft["id"]]}
    assert anju(env, "publish-due").stdout == ""  # nothing due: quiet for cron
    assert anju(env, "withdraw", str(later["id"]), "--reason", "改期").exit_code == 0
    assert ok(env, "show", str(later["id"]))["status"] == "withdrawn"
    assert "status='withdrawn'" in refused(env, "withdraw", str(later["id"]))

    # Mistakes: one line naming the field and what is expected, exit code 2, no traceback.
    line = refused(env, "create", "--file", str(policy_file), "--category", "gossip")
    assert line.startswith("error: category='gossip': expected one of general, property")
    assert "publish_at='tomorrow': expected an ISO 8601 time" in refused(
        env, "publish", str(draft["id"]), "--at", "tomorrow"
    )
    assert "status='lost'" in refused(env, "list", "--status", "lost")
    assert "notice_id=999: no such notice" in refused(env, "show", "999")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("region: C1\ncolour: red\n", encoding="utf-8")
    assert "colour: unknown key" in refused(env, "create", "--file", str(bad_yaml))
