"""Doorplate scans over HTTP, browser-free: one house's QR token scanned by an anonymous visitor, a
resident, a grid worker and a police officer gives four different views; registrations, decisions and
deregistrations follow the seed's rules; every view is audited."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from anju.registry.addresses import normalise
from anju.registry.doorplates import Doorplates
from anju.services import Services
from anju.web.app import create_app
from anju.web.hardening import Rate, RateLimiter
from tests.conftest import signed_in_client
from tests.registry import doorplate_fixture as fx

FULL_NAMES = [p.name for p in fx.PEOPLE]
MASKED = {"householder": "王*国", "parent": "李*英", "tenant": "赵*明"}
STAFF_ONLY = {"house", "householder", "agent", "residents", "pending", "resident_counts", "patrols"}


@dataclass
class World:
    svc: Services
    estate: fx.Estate
    token: str  # house 101
    anonymous: TestClient
    clients: dict[str, TestClient]

    def client(self, who: str) -> TestClient:
        return self.anonymous if who == "anonymous" else self.clients[who]


def _world(svc: Services) -> World:
    estate = fx.build(svc)
    Doorplates(svc).issue_for_estate(fx.ESTATE, actor="test")
    Doorplates(svc).issue_for_estate(fx.OTHER_ESTATE, actor="test")
    token = fx.token_for(svc, "house", estate.houses["101"])
    clients = {name: signed_in_client(svc, name, bindings) for name, bindings in fx.USERS.items()}
    return World(svc, estate, token, TestClient(create_app(svc)), clients)


@pytest.fixture
def world(services: Services) -> Iterator[World]:
    yield _world(services)


@pytest.fixture
def sqlite_world(sqlite_services: Services) -> Iterator[World]:
    yield _world(sqlite_services)


def _registration(person: fx.Person, **changes: str) -> dict[str, str]:
    body = {
        "name": person.name,
        "id_type": "111",
        "id_number": person.id_number,
        "phone": person.phone,
        "category": person.category,
        "relation": person.relation,
        "moved_in": "2025-03-01",
    }
    body.update(changes)
    return body


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert err["code"] == code, err
    assert err["message_zh"] and err["message_en"]
    return err


def _residence(svc: Services, residence_id: str) -> dict[str, Any]:
    r = svc.db.table("residence")
    with svc.db.engine.connect() as conn:
        row = conn.execute(select(r).where(r.c.id == residence_id)).first()
    assert row is not None
    return dict(row._mapping)


# ---- the four views ------------------------------------------------------------------------------------
def test_one_token_four_views(world: World) -> None:
    url = f"/api/v1/doorplates/{world.token}"
    # The resident registers a newcomer first, so that there is something of theirs to see.
    mine = _ok(world.client("resident-1").post(f"{url}/registrations", json=_registration(fx.NEWCOMER)))
    assert mine["status"] == "pending" and mine["change"] == "created"

    views = {who: world.client(who).get(url) for who in ("anonymous", "resident-1", "grid-1", "police-1")}
    for who, response in views.items():
        assert response.status_code == 200, (who, response.text)
    anon, resident, grid, police = (
        views[w].json() for w in ("anonymous", "resident-1", "grid-1", "police-1")
    )
    texts = {who: views[who].text for who in views}
    assert [v["view"] for v in (anon, resident, grid, police)] == ["anonymous", "resident", "staff", "police"]

    # Anonymous: kind, standard address, services and the form; nobody who lives there.
    assert anon["address"] == fx.ADDRESS_101 and anon["doorplate"]["kind"] == "house"
    assert anon["services"]["services"] and {f["name"] for f in anon["registration_form"]} == {
        "name",
        "id_type",
        "id_number",
        "phone",
        "category",
        "relation",
        "moved_in",
    }
    assert [
        o["value"] for f in anon["registration_form"] if f["name"] == "category" for o in f["options"]
    ] == [
        "lodger",
        "floating",
    ]
    for masked in [*MASKED.values(), "陈*燕"]:
        assert masked not in texts["anonymous"]

    # Resident: the same plus their own registration, and only that.
    assert set(resident) - set(anon) == {"my_registrations"} and set(anon) - set(resident) == set()
    assert [(r["name"], r["status"], r["category"]) for r in resident["my_registrations"]] == [
        ("陈*燕", "pending", "floating")
    ]
    for masked in MASKED.values():
        assert masked not in texts["resident-1"]

    # Grid worker: residents with categories, the agent, the householder, pending and patrols; no marks.
    assert set(grid) - set(anon) == STAFF_ONLY
    assert {r["name"]: r["category"] for r in grid["residents"]} == {
        MASKED["householder"]: "resident",
        MASKED["parent"]: "lodger",
        MASKED["tenant"]: "floating",
    }
    assert {r["category_zh"] for r in grid["residents"]} == {"常住人口", "寄住人口", "流动人口"}
    assert grid["householder"]["name"] == MASKED["householder"]
    assert grid["agent"]["name"] == MASKED["householder"] and grid["agent"]["phone"] == "138****0001"
    assert [p["name"] for p in grid["pending"]] == ["陈*燕"]
    assert len(grid["patrols"]) == 2 and grid["patrols"][0]["patroller"] == "巡****"
    for forbidden in ("key_population", "special_category", "special", "重点", "刑满释放"):
        assert forbidden not in texts["grid-1"], forbidden
    for name in [*FULL_NAMES, fx.NEWCOMER.name, *(p.id_number for p in fx.PEOPLE)]:
        assert name not in texts["grid-1"] and name not in texts["police-1"]

    # Police: exactly the grid worker's view, plus each resident's 重点 mark and special category.
    assert set(police) == set(grid)
    marks = {r["name"]: (r["key_population"], r["special_category"]) for r in police["residents"]}
    assert marks == {
        MASKED["householder"]: (False, None),
        MASKED["parent"]: (False, None),
        MASKED["tenant"]: (True, "released_prisoner"),
    }
    tenant = next(r for r in police["residents"] if r["name"] == MASKED["tenant"])
    assert tenant["special_category_zh"] == "刑满释放人员"
    stripped = {
        k: (
            [{f: v for f, v in r.items() if not f.startswith(("key_", "special_"))} for r in v]
            if k in ("residents", "pending")
            else v
        )
        for k, v in police.items()
        if k != "view"
    }
    assert stripped == {k: v for k, v in grid.items() if k != "view"}

    # Property staff see what grid workers see.
    assert _ok(world.client("property-1").get(url))["view"] == "staff"

    # Every view is in the audit log, with its kind.
    plate = Doorplates(world.svc).resolve(world.token)
    entries = world.svc.audit.query(action="doorplate.view", target=f"doorplate:{plate.id}")
    assert [(e.actor, e.detail["view"]) for e in entries] == [
        ("anonymous", "anonymous"),
        ("user:resident-1", "resident"),
        ("user:grid-1", "staff"),
        ("user:police-1", "police"),
        ("user:property-1", "staff"),
    ]
    assert all(e.detail["kind"] == "house" and e.detail["estate"] == fx.ESTATE for e in entries)


def test_area_doorplates_show_counts(world: World) -> None:
    gate = fx.token_for(world.svc, "gate", "E1-G1")
    unit = fx.token_for(world.svc, "unit", "E1-B1-U1")
    anon = _ok(world.anonymous.get(f"/api/v1/doorplates/{gate}"))
    assert anon["counts"] == {"houses": 2} and "registration_form" not in anon
    assert anon["address"] == "武汉市江岸区幸福路1号幸福小区东门"
    grid = _ok(world.client("grid-1").get(f"/api/v1/doorplates/{unit}"))
    assert grid["counts"] == {
        "houses": 2,
        "residents": {"resident": 1, "lodger": 1, "floating": 1},
        "pending": 0,
    }
    police = _ok(world.client("police-1").get(f"/api/v1/doorplates/{unit}"))
    assert police["counts"]["key_population"] == 1
    # A grid worker of another community scanning here is just a signed-in visitor.
    assert _ok(world.client("grid-2").get(f"/api/v1/doorplates/{gate}"))["view"] == "resident"


# ---- deregistration ------------------------------------------------------------------------------------
def test_deregistration_never_of_permanent_residents(world: World) -> None:
    base = f"/api/v1/doorplates/{world.token}/residences"
    grid = world.client("grid-1")
    householder = world.estate.residences["householder"]
    err = _error(grid.post(f"{base}/{householder}/deregister"), 403, "resident_deregistration_forbidden")
    assert "不得注销常住人口信息" in err["message_zh"] and "不得注销常住人口信息" in err["message_en"]
    assert _residence(world.svc, householder)["status"] == "active"

    tenant = world.estate.residences["tenant"]
    # Outside the caller's scope the residence does not exist; without registry:edit it is forbidden.
    _error(world.client("grid-2").post(f"{base}/{tenant}/deregister"), 404, "residence_not_found")
    _error(world.client("resident-1").post(f"{base}/{tenant}/deregister"), 403, "forbidden")
    _error(world.anonymous.post(f"{base}/{tenant}/deregister"), 401, "unauthenticated")

    done = _ok(grid.post(f"{base}/{tenant}/deregister", json={"note": "已搬离", "moved_out": "2025-06-01"}))
    assert done["status"] == "ended" and done["moved_out"] == "2025-06-01"
    row = _residence(world.svc, tenant)
    assert row["status"] == "ended" and row["moved_out"] is not None and row["decided_by"] == "user:grid-1"
    _error(grid.post(f"{base}/{tenant}/deregister"), 409, "residence_not_active")
    # A residence of another house is not reachable through this doorplate.
    other = fx.token_for(world.svc, "house", world.estate.houses["102"])
    parent = world.estate.residences["parent"]
    _error(
        grid.post(f"/api/v1/doorplates/{other}/residences/{parent}/deregister"), 404, "residence_not_found"
    )

    view = _ok(grid.get(f"/api/v1/doorplates/{world.token}"))
    assert MASKED["tenant"] not in {r["name"] for r in view["residents"]}
    audit = world.svc.audit.query(action="doorplate.deregister")
    assert [(e.actor, e.target) for e in audit] == [("user:grid-1", f"residence:{tenant}")]


# ---- self-registration and decisions -------------------------------------------------------------------
def test_self_registration_pending_confirm_active(world: World) -> None:
    url = f"/api/v1/doorplates/{world.token}/registrations"
    resident = world.client("resident-1")
    first = _ok(resident.post(url, json=_registration(fx.NEWCOMER)))
    residence_id = first["residence_id"]
    again = _ok(resident.post(url, json=_registration(fx.NEWCOMER, id_number=fx.NEWCOMER.id_number.lower())))
    assert (again["change"], again["residence_id"], again["status"]) == ("unchanged", residence_id, "pending")
    r, p = world.svc.db.table("residence"), world.svc.db.table("person")
    with world.svc.db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(r)).scalar_one() == 4
        assert conn.execute(select(func.count()).select_from(p)).scalar_one() == 4
    row = _residence(world.svc, residence_id)
    assert (row["status"], row["source"], row["category"], row["house_id"]) == (
        "pending",
        "doorplate",
        "floating",
        world.estate.houses["101"],
    )
    assert row["submitted_by"] is not None and row["verified_at"] is None
    assert row["_bi_address"] == world.svc.registry.sealer.blind("address", normalise(fx.ADDRESS_101))

    pending = _ok(world.client("grid-1").get("/api/v1/registry/registrations"))
    assert [x["residence_id"] for x in pending["registrations"]] == [residence_id]
    assert (
        pending["registrations"][0]["name"] == "陈*燕"
        and pending["registrations"][0]["address"] == fx.ADDRESS_101
    )
    assert _ok(world.client("grid-2").get("/api/v1/registry/registrations"))["registrations"] == []
    _error(world.client("resident-1").get("/api/v1/registry/registrations"), 403, "forbidden")

    confirm = f"/api/v1/registry/registrations/{residence_id}/confirm"
    _error(world.client("grid-2").post(confirm), 404, "residence_not_found")
    done = _ok(world.client("grid-1").post(confirm))
    assert done == {
        "residence_id": residence_id,
        "status": "active",
        "verified": True,
        "linked_account": True,
    }
    _error(world.client("grid-1").post(confirm), 409, "registration_not_pending")
    row = _residence(world.svc, residence_id)
    assert (
        row["status"] == "active" and row["verified_by"] == "user:grid-1" and row["verified_at"] is not None
    )
    up = world.svc.db.table("user_person")
    with world.svc.db.engine.connect() as conn:
        links = conn.execute(select(up.c.person_id)).scalars().all()
    assert links == [row["person_id"]]
    mine = _ok(resident.get(f"/api/v1/doorplates/{world.token}"))["my_registrations"]
    assert [(m["status"], m["verified"]) for m in mine] == [("active", True)]
    # Submitting again once active changes nothing.
    assert _ok(resident.post(url, json=_registration(fx.NEWCOMER)))["change"] == "unchanged"

    # An anonymous registration, rejected with a reason.
    stranger = fx.Person("s", "刘洋", fx.id_number("42010220000101005"), "13700000005", "lodger", "8")
    anon = _ok(world.anonymous.post(url, json=_registration(stranger)))
    assert "residence_id" not in anon and anon["status"] == "pending"
    pending = _ok(world.client("grid-1").get("/api/v1/registry/registrations"))["registrations"]
    stranger_id = pending[0]["residence_id"]
    reject = f"/api/v1/registry/registrations/{stranger_id}/reject"
    _error(world.client("grid-1").post(reject, json={}), 422, "request_invalid")
    assert _ok(world.client("grid-1").post(reject, json={"note": "查无此人"}))["status"] == "rejected"
    assert _residence(world.svc, stranger_id)["decision_note"] == "查无此人"

    actions = [e.action for e in world.svc.audit.query(target=f"residence:{residence_id}")]
    assert actions == ["doorplate.register", "doorplate.register", "doorplate.confirm", "doorplate.register"]
    assert [e.action for e in world.svc.audit.query(target=f"residence:{stranger_id}")] == [
        "doorplate.register",
        "doorplate.reject",
    ]


def test_registration_field_errors(sqlite_world: World) -> None:
    w = sqlite_world
    url = f"/api/v1/doorplates/{w.token}/registrations"
    bad_checksum = fx.NEWCOMER.id_number[:-1] + ("0" if fx.NEWCOMER.id_number[-1] != "0" else "1")
    body = _registration(
        fx.NEWCOMER, id_number=bad_checksum, category="resident", phone="", moved_in="2999-01-01"
    )
    err = _error(w.anonymous.post(url, json=body), 422, "registration_invalid")
    problems = {p["field"]: p["code"] for p in err["problems"]}
    assert problems == {
        "id_number": "id_checksum",
        "phone": "required",
        "category": "category_needs_staff",
        "moved_in": "date_future",
    }
    assert err["field"] == "id_number" and "证件号码" in err["message_zh"]
    err = _error(w.anonymous.post(url, json={"name": "x1"}), 422, "registration_invalid")
    assert {p["field"] for p in err["problems"]} == {
        "name",
        "id_number",
        "phone",
        "category",
        "relation",
        "moved_in",
    }
    passport = _registration(fx.NEWCOMER, id_type="414", id_number="E12345678", relation="99")
    assert {
        p["field"]
        for p in _error(w.anonymous.post(url, json=passport), 422, "registration_invalid")["problems"]
    } == {"relation"}
    gate = fx.token_for(w.svc, "gate", "E1-G1")
    _error(
        w.anonymous.post(f"/api/v1/doorplates/{gate}/registrations", json=_registration(fx.NEWCOMER)),
        409,
        "registration_needs_house",
    )
    r = w.svc.db.table("residence")
    with w.svc.db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(r)).scalar_one() == 3


def test_registration_is_rate_limited(sqlite_world: World) -> None:
    w = sqlite_world
    limited = TestClient(
        create_app(w.svc, limiter=RateLimiter({"doorplate_register": Rate(6, 2)}, clock=lambda: 0.0))
    )
    url = f"/api/v1/doorplates/{w.token}/registrations"
    for _ in range(2):
        _ok(limited.post(url, json=_registration(fx.NEWCOMER)))
    _error(limited.post(url, json=_registration(fx.NEWCOMER)), 429, "rate_limited")


# ---- revoked and forged tokens -------------------------------------------------------------------------
def test_revoked_and_tampered_tokens(sqlite_world: World) -> None:
    w = sqlite_world
    plate = Doorplates(w.svc).resolve(w.token)
    tampered = w.token[:5] + ("A" if w.token[5] != "A" else "B") + w.token[6:]
    _error(w.anonymous.get(f"/api/v1/doorplates/{tampered}"), 404, "doorplate_not_found")
    page = w.anonymous.get(f"/d/{tampered}")
    assert page.status_code == 404 and "没有这个门牌二维码" in page.text

    revoke = f"/api/v1/doorplates/{plate.id}/revoke"
    _error(w.client("grid-2").post(revoke, json={"reason": "x"}), 404, "doorplate_not_found")
    _error(w.client("resident-1").post(revoke, json={"reason": "x"}), 403, "forbidden")
    done = _ok(w.client("grid-1").post(revoke, json={"reason": "门牌被涂改"}))
    assert done["active"] is False and done["revoke_reason"] == "门牌被涂改" and done["changed"] is True
    err = _error(w.anonymous.get(f"/api/v1/doorplates/{w.token}"), 404, "doorplate_revoked")
    assert "已作废" in err["message_zh"] and "revoked" in err["message_en"]
    page = w.anonymous.get(f"/d/{w.token}")
    assert page.status_code == 404 and "已作废" in page.text and "revoked" in page.text
    _error(
        w.anonymous.post(f"/api/v1/doorplates/{w.token}/registrations", json=_registration(fx.NEWCOMER)),
        404,
        "doorplate_revoked",
    )
    assert [e.actor for e in w.svc.audit.query(action="doorplate.revoke")] == ["user:grid-1"]


# ---- the page ------------------------------------------------------------------------------------------
def test_page_in_chinese_for_each_viewer(sqlite_world: World) -> None:
    w = sqlite_world
    page = w.anonymous.get(f"/d/{w.token}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert '<html lang="zh-CN">' in html and fx.ADDRESS_101 in html
    assert "流动人口自主登记" in html and "Self-registration" in html and "办事指南" in html
    assert 'name="id_number"' in html and "/registrations" in html
    assert "http://" not in html and "https://" not in html  # no CDN, no external fonts
    for masked in MASKED.values():
        assert masked not in html
    grid = w.client("grid-1").get(f"/d/{w.token}").text
    assert "居住人员" in grid and MASKED["tenant"] in grid and "注销" in grid and "巡查记录" in grid
    assert "重点" not in grid and "刑满释放" not in grid
    police = w.client("police-1").get(f"/d/{w.token}").text
    assert "重点人口" in police and "刑满释放人员" in police


def test_session_cookie_scans(sqlite_world: World) -> None:
    """A page visitor signed in by cookie is recognised; a stale cookie is just a visitor; a live one
    must send the CSRF token with a registration; a wrong bearer token is refused."""
    w = sqlite_world
    browser = TestClient(create_app(w.svc))
    login = browser.post("/api/v1/auth/login", json={"username": "resident-1", "password": fx.PASSWORD})
    assert login.status_code == 200, login.text
    csrf = login.json()["csrf_token"]
    assert _ok(browser.get(f"/api/v1/doorplates/{w.token}"))["view"] == "resident"
    url = f"/api/v1/doorplates/{w.token}/registrations"
    _error(browser.post(url, json=_registration(fx.NEWCOMER)), 403, "csrf_failed")
    assert "residence_id" in _ok(
        browser.post(url, json=_registration(fx.NEWCOMER), headers={"X-CSRF-Token": csrf})
    )

    stale = TestClient(create_app(w.svc), cookies={"anju_session": "expired-or-made-up"})
    assert _ok(stale.get(f"/api/v1/doorplates/{w.token}"))["view"] == "anonymous"
    assert stale.get(f"/d/{w.token}").status_code == 200
    _error(
        w.anonymous.get(f"/api/v1/doorplates/{w.token}", headers={"Authorization": "Bearer wrong"}),
        401,
        "unauthenticated",
    )


def test_json_has_no_personal_values_for_staff(world: World) -> None:
    """The ID numbers and phones of the fixture never appear in any view, masked views only."""
    texts = [
        world.client(who).get(f"/api/v1/doorplates/{world.token}").text for who in ("grid-1", "police-1")
    ]
    for text in texts:
        for person in fx.PEOPLE:
            assert person.id_number not in text and person.phone not in text
        orjson.loads(text)
