"""Acceptance of issue 10 item 1 over HTTP on SQLite and PostgreSQL: a policy notice cannot be published by
property staff until a community administrator or community police officer (not its drafter) approves it;
a general notice can be published at once; both emit valid `notice` records and nothing is quarantined."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from anju.services import Services
from tests.conftest import signed_in_client

API = "/api/v1/notices"
POSITION = {"lon": 114.301, "lat": 30.602}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _draft(client: TestClient, content: str, **extra: Any) -> dict[str, Any]:
    body = {
        "region": "C1",
        "title": "关于垃圾分类新规的通知" if content == "policy" else "停水通知",
        "body": "自 12 月 1 日起执行。",
        "category": "policy" if content == "policy" else "property",
        "audience": "all_residents",
        "channels": ["bulletin_board", "electronic_screen"],
        **POSITION,
        **extra,
    }
    return _ok(client.post(API, json=body), 201)  # type: ignore[no-any-return]


def _records(svc: Services) -> list[Any]:
    t = svc.db.table("rec_notice")
    with svc.db.engine.connect() as conn:
        return conn.execute(select(t).order_by(t.c.id)).all()


def _quarantined(svc: Services) -> int:
    q = svc.db.table("quarantine")
    with svc.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(q)).scalar_one())


def test_policy_needs_approval_by_community_general_does_not(nsvc: Services) -> None:
    staff = signed_in_client(nsvc, "wy-staff", (("property_staff", "E1"), ("property_staff", "C1")))
    admin = signed_in_client(nsvc, "sq-admin", (("community_admin", "C1"),))
    police = signed_in_client(nsvc, "sq-police", (("community_police", "C1"),))
    with staff, admin, police:
        policy = _draft(staff, "policy")
        assert policy["content_type"]["key"] == "policy" and policy["status"] == "draft"
        refused = staff.post(f"{API}/{policy['id']}/publish")
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "approval_required" and error["field"] == "content_type"
        assert "审核" in error["message_zh"] and "approved" in error["message_en"]
        # property staff lack notices:approve altogether
        assert staff.post(f"{API}/{policy['id']}/approve").status_code == 403
        assert _records(nsvc) == []

        general = _draft(staff, "general")
        published = _ok(staff.post(f"{API}/{general['id']}/publish"))
        assert published["status"] == "published" and published["published_by"] == "user:wy-staff"

        # an administrator's own policy draft needs another approver (four eyes)
        own = _draft(admin, "policy")
        assert admin.post(f"{API}/{own['id']}/approve").json()["error"]["code"] == "self_approval"
        approved = _ok(police.post(f"{API}/{own['id']}/approve"))
        assert approved["status"] == "approved" and approved["approved_by"] == "user:sq-police"

        _ok(admin.post(f"{API}/{policy['id']}/approve"))
        after = _ok(staff.post(f"{API}/{policy['id']}/publish"))
        assert after["status"] == "published"
        assert {d["channel"]: d["status"] for d in after["deliveries"]} == {
            "bulletin_board": "pending_confirmation",
            "electronic_screen": "sent",
        }

    rows = _records(nsvc)
    assert {r.id for r in rows} == {
        f"NOTICE-{general['id']}-02",
        f"NOTICE-{general['id']}-03",
        f"NOTICE-{policy['id']}-02",
        f"NOTICE-{policy['id']}-03",
    }
    assert _quarantined(nsvc) == 0
    by_id = {r.id: r for r in rows}
    policy_row = by_id[f"NOTICE-{policy['id']}-03"]
    assert policy_row.fb_fsdm == "03" and policy_row.fb_lx.startswith("政策性内容")
    assert policy_row.fb_nr.startswith("关于垃圾分类新规的通知")
    assert abs(policy_row.dqjd - 114.301) < 1e-6 and abs(policy_row.dqwd - 30.602) < 1e-6
    # the publisher's name is personal: sealed, never in clear
    assert policy_row.fbr_xm is not None and "wy-staff" not in policy_row.fbr_xm
    actions = [e.action for e in nsvc.audit.tail(30)]
    assert "notices.notice.approve" in actions and "notices.notice.publish" in actions


def test_scope_and_clear_errors(nsvc: Services) -> None:
    staff = signed_in_client(nsvc, "wy-e1", (("property_staff", "C1"),))
    with staff:
        outside = staff.post(API, json={**_body("C2"), **POSITION})
        assert outside.status_code == 403 and outside.json()["error"]["field"] == "region"
        bad = staff.post(API, json={**_body("C1"), "channels": ["fax"], **POSITION})
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "channels[0]" and bad.json()["error"]["value"] == "fax"
        assert staff.get(f"{API}/999999").status_code == 404


def _body(region: str) -> dict[str, Any]:
    return {
        "region": region,
        "title": "t",
        "body": "b",
        "category": "general",
        "channels": ["portal_website"],
    }
