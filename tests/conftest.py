"""Shared fixtures: a real SQLite file and a real PostgreSQL database for every storage test.

PostgreSQL tests use a fresh database on the server named by ANJU_TEST_PG_URL (default
postgresql://127.0.0.1:5432/test). Without a reachable server they skip with the reason, unless
ANJU_REQUIRE_SERVICES=1 (as in CI), where they fail.

Migrating a database takes about half a second on SQLite and well over a second on PostgreSQL, and a
thousand tests each want a fresh one. So the migrations run once per session into a template (a SQLite
file copied per test; a PostgreSQL database cloned with CREATE DATABASE … TEMPLATE), and each test starts
from a copy of that: still a database the real migrations made, just not made again every time.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from anju.config import Settings
from anju.services import Services, open_services

PG_URL = os.environ.get("ANJU_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")


def services_required() -> bool:
    return os.environ.get("ANJU_REQUIRE_SERVICES") == "1"


def _pg_admin() -> object:
    import psycopg

    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = (
            f"PostgreSQL not reachable at {PG_URL} ({str(exc).strip().splitlines()[0]}); set ANJU_TEST_PG_URL"
        )
        if services_required():
            pytest.fail(reason)
        pytest.skip(reason)


def _migrate(url: str) -> None:
    from anju.db.database import Database

    db = Database(url)
    try:
        db.upgrade()
    finally:
        db.dispose()  # a template must have no open connection when it is copied


_templates: dict[str, str] = {}  # "sqlite" -> template file, "postgresql" -> template database name


def _sqlite_template() -> Path:
    if "sqlite" not in _templates:
        folder = Path(tempfile.mkdtemp(prefix="anju-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        _migrate(f"sqlite:///{path}")
        _templates["sqlite"] = str(path)
    return Path(_templates["sqlite"])


def migrated_sqlite_url(path: Path) -> str:
    """URL of a new SQLite file at `path` holding the migrated, empty schema."""
    shutil.copyfile(_sqlite_template(), path)
    return f"sqlite:///{path}"


def _drop_pg_template() -> None:
    import psycopg

    name = _templates.get("postgresql")
    if name is None:
        return
    with contextlib.suppress(psycopg.Error), psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_template(admin: object) -> str:
    from sqlalchemy.engine import make_url

    if "postgresql" not in _templates:
        name = f"anju_tpl_{uuid.uuid4().hex[:10]}"
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
        _templates["postgresql"] = name
        atexit.register(_drop_pg_template)
        _migrate(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    return _templates["postgresql"]


@contextmanager
def fresh_pg_database(*, migrated: bool = True) -> Iterator[str]:
    """URL of a fresh PostgreSQL database holding the migrated, empty schema (or nothing at all, with
    `migrated=False`), dropped afterwards."""
    from sqlalchemy.engine import make_url

    admin = _pg_admin()
    name = f"anju_t_{uuid.uuid4().hex[:10]}"
    template = f' TEMPLATE "{_pg_template(admin)}"' if migrated else ""
    admin.execute(f'CREATE DATABASE "{name}"{template}')  # type: ignore[attr-defined]
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@contextmanager
def fresh_database(like_url: str, tmp_path: Path, tag: str) -> Iterator[str]:
    """A second empty database of the same kind as `like_url`."""
    if like_url.startswith("sqlite"):
        yield migrated_sqlite_url(tmp_path / f"{tag}.db")
        return
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return migrated_sqlite_url(tmp_path / "anju.db")
    url: str = request.getfixturevalue("pg_url")
    return url


def make_settings(tmp_path: Path, database_url: str) -> Settings:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    return Settings(data_dir=data, database_url=database_url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = open_services(settings)
    try:
        yield svc
    finally:
        svc.close()


@pytest.fixture
def sqlite_services(tmp_path: Path) -> Iterator[Services]:
    """SQLite only: for behaviour that does not depend on the database."""
    svc = open_services(make_settings(tmp_path, migrated_sqlite_url(tmp_path / "anju.db")))
    try:
        yield svc
    finally:
        svc.close()


# ---- signed-in HTTP clients ----------------------------------------------------------------------------
_PASSWORD = "correct horse battery staple"


def signed_in_client(
    svc: Services,
    username: str = "operator",
    bindings: tuple[tuple[str, str | None], ...] = (("platform_admin", None), ("community_police", None)),
    **client_options: object,
) -> TestClient:
    """A test client over a real app that sends the bearer token of a user holding `bindings` (created
    on first use). The default user may do everything the API offers except read the audit log."""
    from anju.security.identity import IdentityError
    from anju.web.app import create_app

    role, scope = bindings[0]
    with contextlib.suppress(IdentityError):  # already created by an earlier call
        svc.identity.create_user(username, _PASSWORD, role, scope)
    for role, scope in bindings[1:]:
        svc.identity.bind(username, role, scope)
    client = TestClient(create_app(svc), **client_options)  # type: ignore[arg-type]
    token = svc.identity.issue(svc.identity.authenticate(username, _PASSWORD))[0]
    client.headers["Authorization"] = f"Bearer {token}"
    return client
