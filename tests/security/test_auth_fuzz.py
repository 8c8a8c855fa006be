"""Fuzzing the sign-in endpoints and credential handling: no input may produce a 500, every error has the
uniform body, and no forged credential is ever accepted.

One app per database (SQLite file, PostgreSQL) for the whole module: hypothesis runs each test many times
and function-scoped fixtures would not be reset between its examples. The app gets a rate limiter without
limits, and its identity a cheap argon2 setting, so that the examples exercise request handling rather than
password hashing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.requests import cookie_parser

from anju.security.identity import Identity
from anju.services import Services, open_services
from anju.web.app import create_app
from anju.web.hardening import RateLimiter
from tests.conftest import fresh_pg_database, make_settings

USERNAME = "fuzz.user"
PASSWORD = "fuzzing-password-123"
LIVE_USER = "live.check"  # never fuzzed, so never locked out
AUTH_URLS = ["/api/v1/auth/token", "/api/v1/auth/login"]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Target:
    svc: Services
    client: TestClient
    bearer: str  # a valid bearer token of USERNAME (platform_admin: records:view everywhere)
    device: str  # a valid device credential
    session: str  # a valid session cookie value
    csrf: str  # its CSRF token


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp: Path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        yield from _target(f"sqlite:///{tmp / 'anju.db'}", tmp)
    else:
        with fresh_pg_database() as url:
            yield from _target(url, tmp)


def _target(url: str, tmp: Path) -> Iterator[Target]:
    svc = open_services(make_settings(tmp, url))
    svc.identity = Identity(
        svc.db.engine,
        svc.db.metadata.tables,
        svc.keyring,
        audit=svc.audit,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    try:
        svc.identity.create_user(USERNAME, PASSWORD, "platform_admin")
        svc.identity.create_user(LIVE_USER, PASSWORD, "resident")
        principal = svc.identity.authenticate(USERNAME, PASSWORD)
        bearer = svc.identity.issue(principal, "bearer")[0]
        session, csrf, _ = svc.identity.issue(principal, "session")
        assert csrf is not None
        device = svc.identity.create_device_credential("SB001", "E1")
        client = TestClient(create_app(svc, limiter=RateLimiter({})), raise_server_exceptions=False)
        yield Target(svc, client, bearer, device, session, csrf)
    finally:
        svc.close()


# ---- the property every answer must have ---------------------------------------------------------------
def check(response: Response) -> dict[str, Any] | None:
    """No 5xx; an error answer has exactly the uniform body; the hardening headers are always there.
    Returns the error object (None for a success)."""
    assert response.status_code < 500, response.text
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("cache-control") == "no-store"
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err, dict), body
    assert isinstance(err.get("code"), str) and err["code"], body
    assert isinstance(err.get("message_zh"), str) and err["message_zh"], body
    assert isinstance(err.get("message_en"), str) and err["message_en"], body
    assert "Traceback" not in response.text
    return err


# ---- strategies ----------------------------------------------------------------------------------------
# Text with every code point, lone surrogates included (JSON can carry them as \ud800 escapes).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)
huge_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=8), st.integers(1, 1200))
usernames = st.one_of(
    st.just(USERNAME),
    st.sampled_from(["", " ", "admin", "fuzz.user ", "FUZZ.USER", "fuzz.user\n", "fuzz.user\x00", "张三"]),
    any_text,
    huge_text,
)
passwords = st.one_of(st.just(PASSWORD), st.just(PASSWORD + "\x00"), any_text, huge_text)
credentials = st.fixed_dictionaries(
    {"username": st.one_of(usernames, json_values), "password": st.one_of(passwords, json_values)},
    optional={"extra": json_values},
)
content_types = st.sampled_from(
    [
        None,
        "",
        "application/json",
        "application/json; charset=utf-16",
        "application/json; charset=latin-1",
        "text/plain",
        "text/html",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "application/x-ndjson",
        "*/*",
        "application/json\x00",
        "ĵson/ŵeird",
    ]
)


def encode_json(value: Any, ascii_only: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only)
    # without ASCII escapes a lone surrogate becomes bytes that are not UTF-8 (the server must cope)
    return text.encode("utf-8", "surrogatepass")


def send(t: Target, method: str, url: str, **options: Any) -> Response:
    """One request with an empty cookie jar: a session cookie set by an earlier example's successful
    /login must not ride along on the next one."""
    t.client.cookies.clear()
    try:
        response: Response = t.client.request(method, url, **options)
        return response
    finally:
        t.client.cookies.clear()


def post(t: Target, url: str, content: bytes, content_type: str | None) -> Response:
    headers: dict[str, bytes] = {}
    if content_type is not None:
        headers["content-type"] = content_type.encode("utf-8")
    return send(t, "POST", url, content=content, headers=headers)


def test_the_fuzz_target_is_live(target: Target) -> None:
    """The fixtures really sign in: a fuzz run against a broken app would prove nothing."""
    ok = send(target, "POST", AUTH_URLS[0], json={"username": LIVE_USER, "password": PASSWORD})
    assert ok.status_code == 200, ok.text
    me = send(target, "GET", "/api/v1/auth/me", headers={"authorization": f"Bearer {target.bearer}"})
    assert me.status_code == 200 and me.json()["name"] == USERNAME
    regions = send(target, "GET", "/api/v1/regions", headers={"cookie": f"anju_session={target.session}"})
    assert regions.status_code == 200, regions.text
    assert check(send(target, "POST", AUTH_URLS[1], json={"username": LIVE_USER, "password": "x"}))


# ---- sign-in bodies ------------------------------------------------------------------------------------
@FUZZ
@given(url=st.sampled_from(AUTH_URLS), payload=json_values | credentials, ascii_only=st.booleans())
@example(url=AUTH_URLS[0], payload={"username": "\ud800", "password": "x"}, ascii_only=True)
@example(url=AUTH_URLS[1], payload={"username": USERNAME, "password": "\udfff"}, ascii_only=True)
@example(url=AUTH_URLS[0], payload={"username": "a\x00b", "password": PASSWORD}, ascii_only=True)
@example(url=AUTH_URLS[0], payload=[{"username": USERNAME, "password": PASSWORD}], ascii_only=True)
def test_sign_in_with_arbitrary_json(target: Target, url: str, payload: Any, ascii_only: bool) -> None:
    r = post(target, url, encode_json(payload, ascii_only), "application/json")
    err = check(r)
    right = (
        isinstance(payload, dict)
        and payload.get("username") == USERNAME
        and payload.get("password") == PASSWORD
    )
    if err is None:
        assert right, (payload, r.text)  # only the real credentials sign in
        assert "access_token" in r.json() or "csrf_token" in r.json()
    else:
        assert not right or r.status_code == 429, r.text
        assert err["code"] in {"login_failed", "request_invalid", "body_too_large", "account_locked"}, err


@FUZZ
@given(url=st.sampled_from(AUTH_URLS), body=st.binary(max_size=300) | huge_text, content_type=content_types)
@example(url=AUTH_URLS[0], body=b"", content_type="application/json")
@example(url=AUTH_URLS[0], body=b"\xff\xfe{", content_type="application/json")
@example(url=AUTH_URLS[1], body="x" * 9000, content_type="application/json")
@example(
    url=AUTH_URLS[1], body=b'{"username": "\\ud800\\udc00\\ud800", "password": 1e999}', content_type=None
)
def test_sign_in_with_arbitrary_bodies(
    target: Target, url: str, body: bytes | str, content_type: str | None
) -> None:
    content = body.encode("utf-8") if isinstance(body, str) else body
    err = check(post(target, url, content, content_type))
    assert err is not None  # none of these is a well-formed sign-in with the right password
    if len(content) > 8 * 1024:
        assert err["code"] == "body_too_large"


@FUZZ
@given(url=st.sampled_from(AUTH_URLS), username=usernames, password=passwords, ascii_only=st.booleans())
def test_sign_in_with_odd_usernames(
    target: Target, url: str, username: str, password: str, ascii_only: bool
) -> None:
    payload = {"username": username, "password": password}
    content = encode_json(payload, ascii_only)
    err = check(post(target, url, content, "application/json"))
    right = (username, password) == (USERNAME, PASSWORD)
    if err is None:
        assert right
    elif len(content) > 8 * 1024:
        assert err["code"] == "body_too_large"
    elif not right and 1 <= len(username) <= 64 and 1 <= len(password) <= 256:
        # well-formed but wrong (the fuzzed account may be locked by now); or not valid Unicode at all
        assert err["code"] in {"login_failed", "request_invalid", "account_locked"}, err
        if err["code"] == "account_locked":
            assert username == USERNAME


# ---- credentials in headers and cookies ----------------------------------------------------------------
def _mutate(token: str, position: int, replacement: str) -> str:
    i = position % (len(token) + 1)
    return token[:i] + replacement + token[i + 1 :]


@st.composite
def authorization(draw: st.DrawFn, valid: tuple[str, str]) -> bytes:
    token = draw(st.sampled_from(valid))
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=300))
    scheme = draw(st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Token", "", "Bearer:"]))
    if kind == 1:
        return scheme.encode() + b" " + draw(st.binary(max_size=250))
    if kind == 2:
        mutated = _mutate(token, draw(st.integers(0, 300)), draw(st.text(max_size=3)))
        return f"{scheme} {mutated}".encode()
    if kind == 3:
        parts = draw(st.lists(st.text(max_size=60), min_size=1, max_size=5))
        return f"{scheme} dev.{'.'.join(parts)}".encode()
    if kind == 4:
        # ASCII padding only: the test client re-encodes non-ASCII header bytes as UTF-8
        pad = draw(st.sampled_from(["", " ", "  ", "\t", "\x0b", "\x0c", "\x1f"]))
        return f"{scheme} {pad}{token}{pad}".encode()
    return f"{scheme} {token}".encode() * draw(st.integers(2, 40))


def _presented(header: bytes) -> tuple[str, str]:
    """(scheme, token) as an HTTP server hands the header over: Latin-1 text."""
    scheme, _, token = header.decode("latin-1").partition(" ")
    return scheme.lower(), token.strip()


@FUZZ
@given(data=st.data(), path=st.sampled_from(["/api/v1/auth/me", "/api/v1/records/access_swipe"]))
def test_random_authorization_headers(target: Target, data: st.DataObject, path: str) -> None:
    header = data.draw(authorization((target.bearer, target.device)), label="authorization")
    r = send(target, "GET", path, headers={"authorization": header})
    err = check(r)
    scheme, token = _presented(header)
    if header and scheme == "bearer" and token == target.bearer:
        assert err is None, r.text
    elif header and scheme == "bearer" and token == target.device:
        # a device may say who it is, and nothing else
        assert (err is None) if path.endswith("/me") else (err is not None and err["code"] == "forbidden")
    else:
        assert err is not None and r.status_code == 401 and err["code"] == "unauthenticated", r.text
        assert r.headers.get("www-authenticate") == "Bearer"


@FUZZ
@given(
    cookie=st.one_of(st.binary(max_size=200), st.text(max_size=60).map(str.encode)),
    use_session=st.booleans(),
    csrf=st.none() | st.text(max_size=40),
    use_csrf=st.booleans(),
    method=st.sampled_from(["GET", "POST"]),
)
def test_random_session_cookies_and_csrf_tokens(
    target: Target, cookie: bytes, use_session: bool, csrf: str | None, use_csrf: bool, method: str
) -> None:
    value = target.session.encode() if use_session else cookie
    sent_csrf = target.csrf if use_csrf else csrf
    headers: dict[str, bytes] = {"cookie": b"anju_session=" + value}
    if sent_csrf is not None:
        headers["x-csrf-token"] = sent_csrf.encode("utf-8")
    if method == "GET":
        r = send(target, "GET", "/api/v1/auth/me", headers=headers)
    else:
        # an invalid region: even a fully authorised request changes nothing
        r = send(target, "POST", "/api/v1/regions", headers=headers, json={"code": "", "level": "x"})
    err = check(r)
    valid = cookie_parser(headers["cookie"].decode("latin-1")).get("anju_session") == target.session
    if not valid:
        assert err is not None and err["code"] == "unauthenticated", r.text
    elif method == "GET":
        assert err is None and r.json()["via"] == "session", r.text
    elif sent_csrf == target.csrf:
        assert err is not None and err["code"] == "request_invalid", r.text
    else:
        assert err is not None and err["code"] == "csrf_failed", r.text
