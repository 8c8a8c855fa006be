"""Authorization-matrix cases of the notices and patrols APIs (issue 10, items 1 and 2). Each call makes its
own object inside (E1, under the callers' C1) or outside (E2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from anju.notices import publishing
from anju.patrols import plans
from tests.web.matrix_support import Call, Case, World, estate

NOTICES = "/api/v1/notices"
PATROLS = "/api/v1/patrols"
POS = {"lon": 114.3, "lat": 30.6}


def _notice(
    w: World, where: str, *, category: str = "general", channels: tuple[str, ...] = ("portal_website",)
) -> int:
    return publishing.create_notice(
        w.svc,
        region=estate(where),
        title="通知",
        body="内容",
        category=category,
        audience="all_residents",
        channels=list(channels),
        actor="matrix-drafter",
        **POS,
    )


def _published(w: World, where: str, channels: tuple[str, ...]) -> int:
    notice_id = _notice(w, where, channels=channels)
    publishing.publish(w.svc, notice_id, actor="matrix-publisher")
    return notice_id


def _checkpoint(w: World, where: str) -> str:
    code = w.unique("CP")
    plans.add_checkpoint(w.svc, estate=estate(where), code=code, name=code, actor="m", **POS)
    return code


def _route(w: World, where: str) -> int:
    return plans.create_route(
        w.svc, estate=estate(where), name=w.unique("R"), checkpoints=[_checkpoint(w, where)], actor="m"
    )


def _shift(w: World, where: str) -> int:
    now = w.svc.pipeline.clock()
    return plans.create_shift(
        w.svc,
        route_id=_route(w, where),
        guard_name="张三",
        starts_at=now.replace(year=now.year - 1),
        ends_at=now.replace(year=now.year + 1),
        actor="m",
    )


def _get(url: Callable[[World, str], str]) -> Call:
    return lambda w, h, where: w.client.get(url(w, where), headers=h)


def _post(url: Callable[[World, str], str], body: Callable[[World, str], Any] | None = None) -> Call:
    def call(w: World, h: dict[str, str], where: str) -> httpx.Response:
        target = url(w, where)
        return w.client.post(target, json=body(w, where) if body else None, headers=h)

    return call


def _checkin(w: World, h: dict[str, str], where: str) -> httpx.Response:
    shift_id = _shift(w, where)
    code = plans.shift_view(w.svc, shift_id)["stops"][0]["code"]
    return w.client.post(
        f"{PATROLS}/shifts/{shift_id}/checkins", json={"method": "qr", "checkpoint": code}, headers=h
    )


def _new_shift(w: World, h: dict[str, str], where: str) -> httpx.Response:
    route = _route(w, where)
    return w.client.post(
        f"{PATROLS}/shifts",
        json={
            "route_id": route,
            "guard_name": "李四",
            "starts_at": "2026-01-01T20:00:00+08:00",
            "ends_at": "2026-01-01T22:00:00+08:00",
        },
        headers=h,
    )


def _new_route(w: World, h: dict[str, str], where: str) -> httpx.Response:
    code = _checkpoint(w, where)
    return w.client.post(
        f"{PATROLS}/routes",
        json={"estate": estate(where), "name": w.unique("R"), "checkpoints": [code]},
        headers=h,
    )


SAME = {"inside": 200, "outside": 200}
READ = {"inside": 200, "outside": 404}
MADE = {"inside": 201, "outside": 403}

CASES: list[Case] = [
    Case("GET", f"{NOTICES}/channels", "notices:view", _get(lambda w, _: f"{NOTICES}/channels"), SAME),
    Case(
        "GET",
        NOTICES,
        "notices:view",
        _get(lambda w, where: f"{NOTICES}?region={estate(where)}"),
        {"inside": 200, "outside": 403},
    ),
    Case(
        "POST",
        NOTICES,
        "notices:edit",
        _post(
            lambda w, _: NOTICES,
            lambda w, where: {
                "region": estate(where),
                "title": "停电通知",
                "body": "明日检修",
                "category": "property",
                "channels": ["electronic_screen"],
                **POS,
            },
        ),
        MADE,
    ),
    Case(
        "GET",
        f"{NOTICES}/{{notice_id}}",
        "notices:view",
        _get(lambda w, where: f"{NOTICES}/{_notice(w, where)}"),
        READ,
    ),
    Case(
        "POST",
        f"{NOTICES}/{{notice_id}}/approve",
        "notices:approve",
        _post(lambda w, where: f"{NOTICES}/{_notice(w, where, category='policy')}/approve"),
        READ,
    ),
    Case(
        "POST",
        f"{NOTICES}/{{notice_id}}/publish",
        "notices:publish",
        _post(lambda w, where: f"{NOTICES}/{_notice(w, where)}/publish"),
        READ,
    ),
    Case(
        "POST",
        f"{NOTICES}/{{notice_id}}/withdraw",
        "notices:publish",
        _post(lambda w, where: f"{NOTICES}/{_notice(w, where)}/withdraw", lambda w, _: {"reason": "有误"}),
        READ,
    ),
    Case(
        "POST",
        f"{NOTICES}/{{notice_id}}/deliveries/{{channel}}/confirm",
        "notices:publish",
        _post(
            lambda w, where: (
                f"{NOTICES}/{_published(w, where, ('bulletin_board',))}/deliveries/bulletin_board/confirm"
            )
        ),
        READ,
    ),
    Case(
        "POST",
        f"{NOTICES}/{{notice_id}}/receipts",
        "authenticated",
        _post(
            lambda w, where: f"{NOTICES}/{_published(w, where, ('mobile_app',))}/receipts",
            lambda w, _: {"channel": "mobile_app"},
        ),
        {},
    ),
    Case("GET", f"{PATROLS}/checkpoints", "patrols:view", _get(lambda w, _: f"{PATROLS}/checkpoints"), SAME),
    Case(
        "POST",
        f"{PATROLS}/checkpoints",
        "patrols:edit",
        _post(
            lambda w, _: f"{PATROLS}/checkpoints",
            lambda w, where: {"estate": estate(where), "code": w.unique("CP"), "name": "东门", **POS},
        ),
        MADE,
    ),
    Case("GET", f"{PATROLS}/routes", "patrols:view", _get(lambda w, _: f"{PATROLS}/routes"), SAME),
    Case("POST", f"{PATROLS}/routes", "patrols:edit", _new_route, MADE),
    Case("GET", f"{PATROLS}/shifts", "patrols:view", _get(lambda w, _: f"{PATROLS}/shifts"), SAME),
    Case("POST", f"{PATROLS}/shifts", "patrols:edit", _new_shift, {"inside": 201, "outside": 404}),
    Case(
        "GET",
        f"{PATROLS}/shifts/{{shift_id}}",
        "patrols:view",
        _get(lambda w, where: f"{PATROLS}/shifts/{_shift(w, where)}"),
        READ,
    ),
    Case(
        "POST",
        f"{PATROLS}/shifts/{{shift_id}}/checkins",
        "patrols:edit",
        _checkin,
        {"inside": 201, "outside": 404},
    ),
]
