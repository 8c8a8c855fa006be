"""Sign-in, sessions, CSRF, lockout, rate limits, hardening headers and device credentials, over HTTP.

Real databases (the SQLite file; device ingestion also PostgreSQL) and the real app through FastAPI's test
client. Passwords are hashed with argon2id, so every test creates its users once and signs in sparingly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from anju.security.identity import IdentityError
from anju.services import Services, open_services
from anju.standard.samples import mixed_records
from anju.web.app import create_app
from anju.web.hardening import Rate, RateLimiter
from tests.conftest import make_settings

PASSWORD = "Pa55word-for-tests-\u5b89\u5c45"
WRONG = "Wr0ng-password-guess-zz"
TOKEN_URL = "/api/v1/auth/token"
LOGIN_URL = "/api/v1/auth/login"
LOGOUT_URL = "/api/v1/auth/logout"
ME_URL = "/api/v1/auth/me"
SLUG = "access_swipe"
RECORDS_URL = f"/api/v1/records/{SLUG}"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


# ---- helpers -------------------------------------------------------------------------------------------
@dataclass
class MutableClock:
    """A wall clock the test moves by hand (for the identity's lockout and token expiry)."""

    now: datetime = field(default_factory=lambda: datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Ticker:
    """A monotonic clock for the rate limiter."""

    t: float = 1000.0

    def __call__(self) -> float:
        return self.t


def client(svc: Services, limiter: RateLimiter | None = None) -> TestClient:
    # A generous limiter unless the test is about rate limits: sign-in tests sign in many times.
    return TestClient(create_app(svc, limiter=limiter or RateLimiter({})))


def add_user(svc: Services, username: str, role: str = "platform_admin", scope: str | None = None) -> None:
    svc.identity.create_user(username, PASSWORD, role, scope)


def sign_in(c: TestClient, username: str, password: str = PASSWORD, url: str = TOKEN_URL) -> Response:
    response: Response = c.post(url, json={"username": username, "password": password})
    return response


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert err["code"] == code, err
    assert isinstance(err["message_zh"], str) and err["message_zh"]
    assert isinstance(err["message_en"], str) and err["message_en"]
    assert "Traceback" not in response.text
    return err


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def row_ids(svc: Services) -> dict[str, str | None]:
    t = svc.db.table(f"rec_{SLUG}")
    with svc.db.engine.connect() as conn:
        return {r.id: r._estate for r in conn.execute(select(t.c.id, t.c._estate))}


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[tuple[Services, MutableClock]]:
    clock = MutableClock()
    svc = open_services(make_settings(tmp_path, f"sqlite:///{tmp_path / 'anju.db'}"), clock=clock)
    try:
        yield svc, clock
    finally:
        svc.close()


# ---- bearer tokens -------------------------------------------------------------------------------------
def test_token_sign_in_me_and_sign_out(clocked: tuple[Services, MutableClock]) -> None:
    svc, clock = clocked
    add_user(svc, "alice", "grid_worker", "E1")
    c = client(svc)

    r = sign_in(c, "alice")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["token_type"] == "bearer"
    token = answer["access_token"]
    assert isinstance(token, str) and len(token) >= 40
    assert answer["roles"] == [{"role": "grid_worker", "scope": "E1"}]
    assert datetime.fromisoformat(answer["expires_at"]) == clock.now + timedelta(hours=12)
    # the token itself is not stored, only its digest
    t = svc.db.table("auth_token")
    with svc.db.engine.connect() as conn:
        stored = [tuple(str(v) for v in row) for row in conn.execute(select(t))]
    assert stored and not any(token in v for row in stored for v in row)

    me = c.get(ME_URL, headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json() == {
        "kind": "user",
        "name": "alice",
        "via": "bearer",
        "roles": [{"role": "grid_worker", "scope": "E1"}],
    }
    # The token grants what the role grants: records:view over E1, but not users:view.
    assert c.get(RECORDS_URL, headers=bearer(token)).status_code == 200
    assert_error(c.get("/api/v1/users", headers=bearer(token)), 403, "forbidden")

    anonymous = c.get(ME_URL)
    assert_error(anonymous, 401, "unauthenticated")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert_error(c.get(ME_URL, headers=bearer(token + "x")), 401, "unauthenticated")
    assert_error(c.get(ME_URL, headers={"Authorization": f"Basic {token}"}), 401, "unauthenticated")

    # it expires after 12 hours
    clock.advance(hours=12)
    assert_error(c.get(ME_URL, headers=bearer(token)), 401, "unauthenticated")

    # sign out revokes the token used
    token2 = sign_in(c, "alice").json()["access_token"]
    assert c.get(ME_URL, headers=bearer(token2)).status_code == 200
    out = c.post(LOGOUT_URL, headers=bearer(token2))
    assert out.status_code == 200 and out.json() == {"signed_out": True}
    assert_error(c.get(ME_URL, headers=bearer(token2)), 401, "unauthenticated")
    assert [e.actor for e in svc.audit.query(action="logout")] == ["user:alice"]


def test_wrong_password_and_unknown_user_answer_alike(sqlite_services: Services) -> None:
    svc = sqlite_services
    add_user(svc, "bob")
    c = client(svc)
    wrong = sign_in(c, "bob", WRONG)
    unknown = sign_in(c, "nobody-here", WRONG)
    for r in (wrong, unknown):
        err = assert_error(r, 401, "login_failed")
        assert r.headers["www-authenticate"] == "Bearer"
        assert "value" not in err  # nothing echoed back
    assert wrong.json() == unknown.json()
    assert "bob" not in wrong.text and "nobody-here" not in unknown.text
    assert WRONG not in wrong.text
    # and a correct sign-in afterwards still works (two failures do not lock)
    assert sign_in(c, "bob").status_code == 200


def test_five_failures_lock_the_account_until_the_lockout_ends(
    clocked: tuple[Services, MutableClock],
) -> None:
    svc, clock = clocked
    add_user(svc, "carol")
    add_user(svc, "dave")
    c = client(svc)

    for _ in range(5):
        assert_error(sign_in(c, "carol", WRONG), 401, "login_failed")
    locked = sign_in(c, "carol")  # the right password no longer helps
    err = assert_error(locked, 429, "account_locked")
    assert locked.headers["retry-after"] == str(err["retry_after"])
    assert 15 * 60 - 5 <= int(locked.headers["retry-after"]) <= 15 * 60 + 1
    assert_error(sign_in(c, "carol", WRONG), 429, "account_locked")
    assert_error(sign_in(c, "carol", url=LOGIN_URL), 429, "account_locked")
    # the lock is per account
    assert sign_in(c, "dave").status_code == 200

    clock.advance(minutes=10)
    later = sign_in(c, "carol")
    assert_error(later, 429, "account_locked")
    assert 5 * 60 - 5 <= int(later.headers["retry-after"]) <= 5 * 60 + 1

    clock.advance(minutes=5, seconds=1)
    assert sign_in(c, "carol").status_code == 200
    # a success clears the count: four more failures do not lock again
    for _ in range(4):
        assert_error(sign_in(c, "carol", WRONG), 401, "login_failed")
    assert sign_in(c, "carol").status_code == 200

    reasons = [e.detail.get("reason") for e in svc.audit.query(action="login_failed", limit=1000)]
    assert reasons.count("locked") == 4 and reasons.count("bad_credentials") == 9


def test_disabled_user_cannot_sign_in_and_their_tokens_stop(sqlite_services: Services) -> None:
    svc = sqlite_services
    add_user(svc, "erin")
    c = client(svc)
    token = sign_in(c, "erin").json()["access_token"]
    session = TestClient(create_app(svc, limiter=RateLimiter({})))
    assert sign_in(session, "erin", url=LOGIN_URL).status_code == 200
    assert c.get(ME_URL, headers=bearer(token)).status_code == 200
    assert session.get(ME_URL).status_code == 200

    svc.identity.disable("erin")
    assert svc.identity.get_user("erin").disabled
    assert_error(c.get(ME_URL, headers=bearer(token)), 401, "unauthenticated")
    assert_error(session.get(ME_URL), 401, "unauthenticated")
    refused = sign_in(c, "erin")
    assert_error(refused, 401, "login_failed")
    # indistinguishable from a wrong password
    assert refused.json() == sign_in(c, "erin", WRONG).json()
    failed = svc.audit.query(action="login_failed", target="user:erin")
    assert [e.detail["reason"] for e in failed] == ["disabled", "disabled"]


def test_login_rate_limit(sqlite_services: Services) -> None:
    svc = sqlite_services
    add_user(svc, "frank")
    ticker = Ticker()
    c = client(svc, RateLimiter({"login": Rate(per_minute=6, burst=3)}, clock=ticker))

    assert sign_in(c, "frank").status_code == 200
    assert_error(sign_in(c, "frank", WRONG), 401, "login_failed")
    assert_error(sign_in(c, "frank", WRONG, url=LOGIN_URL), 401, "login_failed")
    limited = sign_in(c, "frank")
    err = assert_error(limited, 429, "rate_limited")
    assert limited.headers["retry-after"] == str(err["retry_after"])
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert_error(sign_in(c, "frank", url=LOGIN_URL), 429, "rate_limited")
    # the refusal happens before the password is checked: no audit entry, no lockout count
    assert len(svc.audit.query(action="login", target="user:frank")) == 1
    assert len(svc.audit.query(action="login_failed", target="user:frank")) == 2

    ticker.t += int(limited.headers["retry-after"])  # 6 a minute: one token back every 10 s
    assert sign_in(c, "frank").status_code == 200
    assert_error(sign_in(c, "frank"), 429, "rate_limited")


def test_control_characters_in_credentials_are_refused_cleanly(services: Services) -> None:
    """NUL in a username, device id or cookie is an ordinary refusal (PostgreSQL rejects NUL in text:
    it must never reach a query), and a name with a trailing newline is not a valid new username."""
    svc = services
    add_user(svc, "judy")
    with pytest.raises(IdentityError):
        svc.identity.create_user("judy\n", PASSWORD, "resident")
    with pytest.raises(IdentityError):
        svc.identity.create_device_credential("SB001\n", "E1")
    with pytest.raises(IdentityError):
        svc.identity.disable("judy\x00")
    c = client(svc)
    nul = sign_in(c, "judy\x00", PASSWORD)
    assert_error(nul, 401, "login_failed")
    assert nul.json() == sign_in(c, "judy", WRONG).json()
    assert_error(sign_in(c, "judy\n"), 401, "login_failed")
    assert_error(c.get(ME_URL, headers={"Authorization": "Bearer dev.SB\x00.secret"}), 401, "unauthenticated")
    assert_error(c.get(ME_URL, headers={"Cookie": "anju_session=a\x00b"}), 401, "unauthenticated")
    targets = [e.target for e in svc.audit.query(action="login_failed")]
    assert all("\x00" not in t and "\n" not in t for t in targets), targets
    assert sign_in(c, "judy").status_code == 200


# ---- cookie sessions and CSRF --------------------------------------------------------------------------
def _set_cookies(response: Response) -> dict[str, str]:
    out = {}
    for header in response.headers.get_list("set-cookie"):
        out[header.split("=", 1)[0]] = header
    return out


def test_session_cookie_csrf_and_logout(sqlite_services: Services) -> None:
    svc = sqlite_services
    add_user(svc, "grace", "platform_admin")
    c = client(svc)

    r = sign_in(c, "grace", url=LOGIN_URL)
    assert r.status_code == 200, r.text
    answer = r.json()
    csrf = answer["csrf_token"]
    assert answer["username"] == "grace" and isinstance(csrf, str) and len(csrf) >= 24
    cookies = _set_cookies(r)
    session_header = cookies["anju_session"].lower()
    assert "httponly" in session_header
    assert "samesite=strict" in session_header
    assert "path=/" in session_header
    csrf_header = cookies["anju_csrf"].lower()
    assert "httponly" not in csrf_header and "samesite=strict" in csrf_header
    session = c.cookies["anju_session"]
    assert c.cookies["anju_csrf"] == csrf
    assert session != csrf

    # a GET with the cookie alone works
    me = c.get(ME_URL)
    assert me.status_code == 200 and me.json()["via"] == "session" and me.json()["name"] == "grace"
    assert c.get("/api/v1/regions").status_code == 200

    # a change with the cookie needs the CSRF header, and the right one
    region = {"code": "D1", "name": "江岸区", "level": "district"}
    assert_error(c.post("/api/v1/regions", json=region), 403, "csrf_failed")
    assert_error(
        c.post("/api/v1/regions", json=region, headers={"X-CSRF-Token": "x" + csrf}), 403, "csrf_failed"
    )
    assert_error(c.post("/api/v1/regions", json=region, headers={"X-CSRF-Token": ""}), 403, "csrf_failed")
    non_ascii = {"X-CSRF-Token": "é".encode()}  # any header text: refused, not a 500
    assert_error(c.post("/api/v1/regions", json=region, headers=non_ascii), 403, "csrf_failed")
    assert c.get("/api/v1/regions").json()["count"] == 0  # nothing was created
    created = c.post("/api/v1/regions", json=region, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    assert [x["code"] for x in c.get("/api/v1/regions").json()["regions"]] == ["D1"]

    # session and bearer tokens are not interchangeable
    fresh = client(svc)
    assert_error(fresh.get(ME_URL, headers=bearer(session)), 401, "unauthenticated")
    bearer_token = sign_in(fresh, "grace").json()["access_token"]
    fresh.cookies.set("anju_session", bearer_token)
    assert_error(fresh.get(ME_URL), 401, "unauthenticated")

    # sign-out is a change too; then the session is dead even if the cookie is replayed
    assert_error(c.post(LOGOUT_URL), 403, "csrf_failed")
    out = c.post(LOGOUT_URL, headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200 and out.json() == {"signed_out": True}
    assert "anju_session" in _set_cookies(out)  # told to forget it
    replay = client(svc)
    replay.cookies.set("anju_session", session)
    assert_error(replay.get(ME_URL), 401, "unauthenticated")
    assert_error(
        replay.post("/api/v1/regions", json={**region, "code": "D2"}, headers={"X-CSRF-Token": csrf}),
        401,
        "unauthenticated",
    )
    assert [e.actor for e in svc.audit.query(action="logout")] == ["user:grace"]


# ---- hardening -----------------------------------------------------------------------------------------
def _assert_hardened(response: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.status_code, name, dict(response.headers))
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    if response.request.url.path.startswith("/api/"):
        assert response.headers.get("cache-control") == "no-store", dict(response.headers)


def test_security_headers_on_every_response(sqlite_services: Services) -> None:
    svc = sqlite_services
    add_user(svc, "heidi")
    c = client(svc)
    ok = sign_in(c, "heidi")
    token = ok.json()["access_token"]

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    responses = [
        ok,
        sign_in(c, "heidi", WRONG),
        c.get(ME_URL),
        c.get(ME_URL, headers=bearer(token)),
        c.get(RECORDS_URL, headers=bearer(token)),
        c.get("/api/v1/records/no_such_type", headers=bearer(token)),
        c.get("/api/v1/nothing-here"),
        c.delete(TOKEN_URL),
        c.post(TOKEN_URL, content=b"{", headers={"content-type": "application/json"}),
        c.post(TOKEN_URL, content=b" " * 9000, headers={"content-type": "application/json"}),
        c.post(TOKEN_URL, content=chunks(), headers={"content-type": "application/json"}),
        c.get("/api/v1/standard"),
        c.get("/healthz"),
    ]
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 401, 401, 200, 200, 404, 404, 405, 422, 413, 413, 200, 200]
    for r in responses:
        _assert_hardened(r)


def test_oversized_sign_in_body_is_refused(sqlite_services: Services) -> None:
    svc = sqlite_services
    c = client(svc)
    padding = "x" * 9000
    big = c.post(TOKEN_URL, json={"username": "someone", "password": "p", "padding": padding})
    err = assert_error(big, 413, "body_too_large")
    assert err["field"] == "body"

    def chunks() -> Iterator[bytes]:
        yield b'{"username": "someone", "password": "'
        for _ in range(9):
            yield b"y" * 1000
        yield b'"}'

    assert_error(
        c.post(TOKEN_URL, content=chunks(), headers={"content-type": "application/json"}),
        413,
        "body_too_large",
    )
    assert_error(
        c.post(LOGIN_URL, content=b"z" * (8 * 1024 + 1), headers={"content-type": "application/json"}),
        413,
        "body_too_large",
    )
    # just under the limit is read and answered normally
    small = c.post(TOKEN_URL, json={"username": "someone", "password": "p", "padding": "x" * 7000})
    assert_error(small, 401, "login_failed")
    assert not svc.audit.query(action="login", limit=5)


# ---- device credentials --------------------------------------------------------------------------------
def _device_records(n: int, seed: int, device: str = "SB001") -> list[dict[str, Any]]:
    records = [r for r, _ in mixed_records(SLUG, n, seed=seed, defect_rate=0)]
    for rec in records:
        rec["SB_BH"] = device
    return records


def test_device_credential_ingests_only_its_own_records(services: Services) -> None:
    svc = services
    credential = svc.identity.create_device_credential("SB001", "E1")
    assert credential.startswith("dev.SB001.")
    c = client(svc)
    auth = bearer(credential)

    records = _device_records(3, seed=21)
    r = c.post(RECORDS_URL, json=records, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 3
    stored = row_ids(svc)
    assert {rec["ID"]: "E1" for rec in records} == stored

    # one record of another device: the whole batch is refused, nothing stored
    batch = _device_records(3, seed=22)
    batch[1]["SB_BH"] = "SB999"
    err = assert_error(c.post(RECORDS_URL, json=batch, headers=auth), 403, "device_mismatch")
    assert err["field"] == "SB_BH" and err["value"] == "SB999" and err["index"] == 1
    missing = _device_records(1, seed=23)
    del missing[0]["SB_BH"]
    assert_error(c.post(RECORDS_URL, json=missing, headers=auth), 403, "device_mismatch")
    assert row_ids(svc) == stored

    # only into its own estate
    assert_error(
        c.post(RECORDS_URL, params={"estate": "E2"}, json=_device_records(1, seed=24), headers=auth),
        403,
        "scope_denied",
    )
    # a type without a device field is refused
    assert_error(c.post("/api/v1/records/notice", json=[{}], headers=auth), 403, "device_type_denied")
    assert row_ids(svc) == stored

    # nothing else
    me = c.get(ME_URL, headers=auth)
    assert me.status_code == 200 and me.json()["kind"] == "device" and me.json()["via"] == "device"
    for method, url in [
        ("GET", RECORDS_URL),
        ("GET", f"{RECORDS_URL}/{records[0]['ID']}"),
        ("GET", f"{RECORDS_URL}/export"),
        ("GET", "/api/v1/quarantine"),
        ("GET", "/api/v1/regions"),
        ("POST", "/api/v1/regions"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/audit"),
        ("POST", "/api/v1/devices/SB002/credential?estate=E1"),
    ]:
        body = {"code": "X1", "name": "x", "level": "district"} if url == "/api/v1/regions" else None
        if url == "/api/v1/users":
            body = {"username": "mallory", "password": PASSWORD, "role": "platform_admin"}
        answer = c.request(method, url, headers=auth, json=body)
        assert_error(answer, 403, "forbidden")


def test_forged_or_replaced_device_credentials_are_refused(sqlite_services: Services) -> None:
    svc = sqlite_services
    credential = svc.identity.create_device_credential("SB001", "E1")
    svc.identity.create_device_credential("SB002", "E1")
    c = client(svc)
    prefix, device, secret = credential.split(".")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    records = _device_records(1, seed=31)
    for forged in (
        f"{prefix}.{device}.{flipped}",
        f"{prefix}.SB002.{secret}",  # the secret of another device
        f"{prefix}.{device}.",
        f"{prefix}.{device}",
        f"{credential}.extra",
        "dev.SB001.",
    ):
        assert_error(c.post(RECORDS_URL, json=records, headers=bearer(forged)), 401, "unauthenticated")
    assert c.post(RECORDS_URL, json=records, headers=bearer(credential)).status_code == 200

    # a new credential for the device replaces the old one
    renewed = svc.identity.create_device_credential("SB001", "E1")
    assert_error(c.get(ME_URL, headers=bearer(credential)), 401, "unauthenticated")
    assert c.get(ME_URL, headers=bearer(renewed)).status_code == 200


# ---- the audit log -------------------------------------------------------------------------------------
def test_sign_ins_are_audited_without_passwords(
    sqlite_services: Services, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    svc = sqlite_services
    add_user(svc, "ivan")
    c = client(svc)
    assert sign_in(c, "ivan").status_code == 200
    assert sign_in(c, "ivan", url=LOGIN_URL).status_code == 200
    assert sign_in(c, "ivan", WRONG).status_code == 401
    assert sign_in(c, "unknown-user", WRONG).status_code == 401

    logins = svc.audit.query(action="login")
    assert [(e.actor, e.target) for e in logins] == [("user:ivan", "user:ivan")] * 2
    failed = svc.audit.query(action="login_failed")
    assert [(e.actor, e.target, e.detail["reason"]) for e in failed] == [
        ("anonymous", "user:ivan", "bad_credentials"),
        ("anonymous", "user:unknown-user", "bad_credentials"),
    ]
    assert all(e.detail.get("client") == "testclient" for e in logins + failed)
    assert svc.audit.verify().ok

    t = svc.db.table("audit_log")
    with svc.db.engine.connect() as conn:
        table_text = "\n".join(repr(tuple(row)) for row in conn.execute(select(t)))
        assert conn.execute(select(func.count()).select_from(t)).scalar_one() >= 5
    assert "user:ivan" in table_text  # the dump is the real table
    for secret in (PASSWORD, WRONG, "Pa55word", "Wr0ng"):
        assert secret not in table_text
        assert secret not in caplog.text
    # nor anywhere in the database files
    for path in tmp_path.rglob("anju.db*"):
        raw = path.read_bytes()
        for secret in (PASSWORD, WRONG):
            assert secret.encode() not in raw, path
