"""The audit chain on a real SQLite file and a real PostgreSQL database: appends, triggers, tampering
behind the application's back (triggers dropped by hand), concurrent writers, anchors and the CLI."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from anju.config import Settings
from anju.db.database import Database, alembic_config
from anju.db.engine import WRITE_OPTIONS
from anju.security.audit import (
    GENESIS,
    Anchor,
    AnchorError,
    AuditConflict,
    AuditLog,
    VerifyReport,
)
from anju.security.audit_cli import audit_app
from anju.security.crypto import hmac_sm3, sm3
from anju.security.keys import load_or_create

KEY = bytes(range(32))
START = datetime(2026, 11, 21, 0, 0, 0, 123456, tzinfo=UTC)


def stepping_clock(start: datetime = START, step: timedelta = timedelta(minutes=1)) -> Callable[[], datetime]:
    """A clock that moves one step per call, so that every entry has a known time."""
    state = {"now": start - step}

    def clock() -> datetime:
        state["now"] += step
        return state["now"]

    return clock


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def log(db: Database) -> AuditLog:
    return AuditLog(db.engine, KEY, clock=stepping_clock())


def fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.record(
            actor=f"user:u{i % 3}", action="records.ingest", target=f"access_swipe#{i}", detail={"n": i}
        )


def drop_triggers(engine: Engine) -> None:
    """What someone with the database account does before tampering with the log."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update_delete ON audit_log"))
            conn.execute(text("DROP TRIGGER audit_log_no_truncate ON audit_log"))


def tamper(engine: Engine, *statements: str) -> None:
    drop_triggers(engine)
    with engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))


SWAP_4_5 = (
    "UPDATE audit_log SET seq = -1 WHERE seq = 4",
    "UPDATE audit_log SET seq = 4 WHERE seq = 5",
    "UPDATE audit_log SET seq = 5 WHERE seq = -1",
)


def broken(report: VerifyReport) -> tuple[int, str]:
    assert not report.ok
    assert report.broken is not None
    assert report.broken.message_zh and report.broken.message_en
    return report.broken.seq, report.broken.kind


# ---- appending and verifying ---------------------------------------------------------------------------
def test_chain_follows_the_documented_formula(log: AuditLog) -> None:
    first = log.record(actor="cli:root", action="users.create", target="alice", detail={"role": "auditor"})
    second = log.record(actor="user:alice", action="login", detail={"说明": "中文", "n": 1.5, "ok": True})
    assert sm3(b"anju-audit-genesis").hex() == GENESIS

    def expected(prev: str, content: dict[str, object]) -> str:
        body = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hmac_sm3(KEY, bytes.fromhex(prev) + body.encode("utf-8")).hex()

    assert first.prev_hash == GENESIS
    assert first.hash == expected(
        GENESIS,
        {
            "seq": 1,
            "at": "2026-11-21T00:00:00.123456Z",
            "actor": "cli:root",
            "action": "users.create",
            "target": "alice",
            "detail": {"role": "auditor"},
        },
    )
    assert second.seq == 2 and second.prev_hash == first.hash
    assert second.hash == expected(first.hash, second.content())
    assert log.head() == (2, second.hash)
    # What is read back is exactly what was written (times to the microsecond, detail as given).
    assert log.tail(5) == [first, second]
    report = log.verify()
    assert report.ok and report.checked == 2 and report.head_seq == 2 and report.head_hash == second.hash
    assert report.to_json()["broken"] is None


def test_empty_log_verifies(log: AuditLog) -> None:
    report = log.verify()
    assert report.ok and report.checked == 0 and (report.head_seq, report.head_hash) == (0, GENESIS)
    assert log.head() == (0, GENESIS)
    assert log.tail() == []


def test_verify_walks_in_chunks(log: AuditLog) -> None:
    fill(log, 23)
    seen: list[int] = []
    report = log.verify(chunk=5, progress=seen.append)
    assert report.ok and report.checked == 23
    assert seen == [5, 10, 15, 20, 23]


def test_append_commits_and_rolls_back_with_the_callers_transaction(log: AuditLog, db: Database) -> None:
    with (
        pytest.raises(RuntimeError),
        db.engine.connect().execution_options(**WRITE_OPTIONS) as conn,
        conn.begin(),
    ):
        log.append(conn, actor="user:bob", action="records.ingest", target="access_swipe")
        raise RuntimeError("the audited write failed")
    assert log.count() == 0
    with db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
        entry = log.append(conn, actor="user:bob", action="records.ingest", target="access_swipe")
    assert entry.seq == 1 and log.count() == 1 and log.verify().ok


def test_append_refuses_what_it_cannot_store(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="actor must not be empty"):
        log.record(actor="", action="login")
    with pytest.raises(ValueError, match="JSON object"):
        log.record(actor="system", action="x", detail={"when": datetime.now(UTC)})
    with pytest.raises(ValueError, match="larger than"):
        log.record(actor="system", action="x", detail={"blob": "x" * 10_000})
    with pytest.raises(ValueError, match="at most 64"):
        log.record(actor="system", action="x" * 65)
    assert log.count() == 0


def test_second_appender_on_a_stale_head_cannot_fork_the_chain(db: Database, log: AuditLog) -> None:
    """Two entries after the same head: the unique prev_hash refuses the second, as AuditConflict."""
    fill(log, 2)
    with db.engine.begin() as conn:
        row = conn.execute(text("SELECT * FROM audit_log WHERE seq = 2")).mappings().one()
    stale = AuditLog(db.engine, KEY)
    # A head read before entry 2 was appended, as a snapshot-isolated transaction would see it.
    stale.head = lambda conn=None: (1, str(row["prev_hash"]))  # type: ignore[method-assign]
    with pytest.raises(AuditConflict, match="roll this transaction back"):
        stale.record(actor="system", action="x")
    assert log.count() == 2 and log.verify().ok


# ---- triggers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET target = 'other' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
def test_triggers_refuse_changes(log: AuditLog, db: Database, sql: str) -> None:
    if sql.startswith("TRUNCATE") and db.dialect == "sqlite":
        pytest.skip("SQLite has no TRUNCATE; DELETE without WHERE is covered")
    fill(log, 3)
    with pytest.raises(DBAPIError) as info, db.engine.begin() as conn:
        conn.execute(text(sql))
    message = str(info.value)
    assert "审计日志只能追加" in message and "append-only" in message
    assert log.count() == 3 and log.verify().ok


def test_migration_downgrade_removes_table_and_triggers(db: Database) -> None:
    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert "audit_log" not in inspect(db.engine).get_table_names()
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT to_regproc('audit_log_append_only')")).scalar() is None
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    log = AuditLog(db.engine, KEY)
    fill(log, 2)
    with pytest.raises(DBAPIError), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))


# ---- tampering behind the application's back ---------------------------------------------------------
@pytest.mark.parametrize(
    ("statements", "seq", "kind", "checked"),
    [
        (("UPDATE audit_log SET target = 'someone-else' WHERE seq = 4",), 4, "edited", 3),
        (("UPDATE audit_log SET detail = '{\"n\": 999}' WHERE seq = 7",), 7, "edited", 6),
        (("UPDATE audit_log SET actor = 'user:nobody' WHERE seq = 1",), 1, "edited", 0),
        (("UPDATE audit_log SET detail = 'not json' WHERE seq = 2",), 2, "edited", 1),
        ((f"UPDATE audit_log SET prev_hash = '{'0' * 64}' WHERE seq = 5",), 5, "edited", 4),
        (("UPDATE audit_log SET hash = prev_hash WHERE seq = 10",), 10, "edited", 9),
        (("DELETE FROM audit_log WHERE seq = 6",), 6, "deleted", 5),
        (("DELETE FROM audit_log WHERE seq IN (3, 4, 5)",), 3, "deleted", 2),
        (("DELETE FROM audit_log WHERE seq = 1",), 1, "deleted", 0),
        # Deleted, then the later entries renumbered to close the gap.
        (
            ("DELETE FROM audit_log WHERE seq = 5", "UPDATE audit_log SET seq = seq - 1 WHERE seq > 5"),
            5,
            "deleted",
            4,
        ),
        (SWAP_4_5, 4, "reordered", 3),
        # The contents of two entries swapped while their seq stay in place.
        (
            (
                "UPDATE audit_log SET seq = -1 WHERE seq = 8",
                "UPDATE audit_log SET seq = 8 WHERE seq = 9",
                "UPDATE audit_log SET seq = 9 WHERE seq = -1",
            ),
            8,
            "reordered",
            7,
        ),
    ],
)
def test_verify_names_the_first_broken_entry(
    log: AuditLog, db: Database, statements: tuple[str, ...], seq: int, kind: str, checked: int
) -> None:
    fill(log, 10)
    assert log.verify().ok
    tamper(db.engine, *statements)
    report = log.verify()
    assert broken(report) == (seq, kind)
    assert report.checked == checked
    assert report.to_json()["broken"]["seq"] == seq
    assert f"{seq}" in report.broken.message_en  # type: ignore[union-attr]


def test_a_wrong_key_fails_verification(log: AuditLog, db: Database) -> None:
    fill(log, 3)
    report = AuditLog(db.engine, b"another key" * 3).verify()
    assert broken(report) == (1, "edited")
    assert "audit key" in report.broken.message_en  # type: ignore[union-attr]


# ---- anchors -------------------------------------------------------------------------------------------
def test_anchor_detects_deleted_newest_entries(log: AuditLog, db: Database, tmp_path: Path) -> None:
    fill(log, 10)
    path = tmp_path / "anchor.json"
    log.anchor().save(path)
    anchor = log.load_anchor(path)
    assert (anchor.seq, anchor.hash) == log.head()
    assert log.verify(anchor).ok

    fill(log, 2)  # entries after the anchor are fine
    assert log.verify(anchor).ok

    tamper(db.engine, "DELETE FROM audit_log WHERE seq >= 9")
    assert log.verify().ok, "without an anchor a cut-back chain is a valid shorter chain"
    report = log.verify(anchor)
    assert broken(report) == (9, "deleted")
    assert report.checked == 8 and "anchor" in report.broken.message_en  # type: ignore[union-attr]

    fill(log, 3)  # the chain grown again past the anchor has another hash at the anchor's seq
    assert log.verify().ok
    assert broken(log.verify(anchor)) == (10, "deleted")


def test_anchor_file_cannot_be_moved_back(log: AuditLog, tmp_path: Path) -> None:
    fill(log, 5)
    path = tmp_path / "anchor.json"
    log.anchor().save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["seq"] = 3
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(AnchorError, match="edited or written with another audit key"):
        log.load_anchor(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(AnchorError, match="cannot read"):
        log.load_anchor(path)
    log.anchor().save(path)
    with pytest.raises(AnchorError, match="another audit key"):
        AuditLog(log.engine, b"other" * 8).load_anchor(path)
    assert isinstance(log.load_anchor(path), Anchor)


# ---- reading -------------------------------------------------------------------------------------------
def test_tail_and_query(log: AuditLog) -> None:
    fill(log, 12)  # at START + 0..11 minutes; actors u0, u1, u2 in turn
    assert [e.seq for e in log.tail(3)] == [10, 11, 12]
    assert [e.seq for e in log.query(actor="user:u1")] == [2, 5, 8, 11]
    assert [e.seq for e in log.query(action="login")] == []
    assert [e.seq for e in log.query(target="access_swipe#4")] == [5]
    window = log.query(since=START + timedelta(minutes=3), until=START + timedelta(minutes=6))
    assert [e.seq for e in window] == [4, 5, 6]
    assert [e.seq for e in log.query(after_seq=9, limit=2)] == [10, 11]
    assert [e.seq for e in log.query(before_seq=4, newest_first=True)] == [3, 2, 1]
    assert [e.seq for e in log.query(limit=2, offset=3)] == [4, 5]
    entry = log.tail(1)[0].to_json()
    assert entry["at"] == "2026-11-21T00:11:00.123456Z"
    assert entry["detail"] == {"n": 11} and len(entry["hash"]) == 64
    json.dumps(entry)


# ---- concurrent writers --------------------------------------------------------------------------------
def test_two_threads_append_one_valid_chain(log: AuditLog, db: Database) -> None:
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            start.wait()
            for i in range(200):
                if i % 2:
                    log.record(actor=f"user:{name}", action="login", target=str(i))
                else:  # an audited write: the entry commits with the caller's transaction
                    with db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
                        log.append(conn, actor=f"user:{name}", action="records.ingest", target=str(i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    _assert_two_writers(log, "user:a", "user:b")


def _append_many(url: str, key: bytes, actor: str, n: int) -> None:
    database = Database(url)
    try:
        log = AuditLog(database.engine, key)
        for i in range(n):
            log.record(actor=actor, action="records.ingest", target=str(i))
    finally:
        database.dispose()


def test_two_processes_append_one_valid_chain(log: AuditLog, database_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_append_many, args=(database_url, KEY, f"device:{n}", 200)) for n in ("p", "q")
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0, 0]
    _assert_two_writers(log, "device:p", "device:q")


def _assert_two_writers(log: AuditLog, a: str, b: str) -> None:
    report = log.verify()
    assert report.ok, report.broken
    assert report.checked == 400 and report.head_seq == 400
    entries = log.query(limit=1000)
    assert [e.seq for e in entries] == list(range(1, 401))
    for actor in (a, b):
        assert [e.target for e in entries if e.actor == actor] == [str(i) for i in range(200)]


# ---- the command line ----------------------------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ANJU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANJU_DATABASE_URL", database_url)
    for name in ("ANJU_KEYS_FILE", "ANJU_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    return Settings.from_env()


@pytest.fixture
def cli_log(cli_env: Settings) -> Iterator[AuditLog]:
    database = Database(cli_env.database_url)
    database.upgrade()
    try:
        yield AuditLog(database.engine, load_or_create(cli_env.keys_file).audit_key, clock=stepping_clock())
    finally:
        database.dispose()


runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(audit_app, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("statements", "seq", "kind", "zh"),
    [
        (
            ("UPDATE audit_log SET target = 'someone-else' WHERE seq = 3",),
            3,
            "edited",
            "第 3 条的内容与其哈希不符",
        ),
        (("DELETE FROM audit_log WHERE seq = 5",), 5, "deleted", "第 5 条缺失"),
        (SWAP_4_5, 4, "reordered", "第 4 条不在原来的位置"),
    ],
)
def test_cli_verify_passes_untouched_and_fails_naming_the_entry(
    cli_log: AuditLog, cli_env: Settings, statements: tuple[str, ...], seq: int, kind: str, zh: str
) -> None:
    fill(cli_log, 8)
    code, output = invoke("verify")
    assert code == 0, output
    assert "audit chain intact" in output and "8 entries" in output
    code, output = invoke("verify", "--json")
    assert code == 0 and json.loads(output)["ok"] is True

    tamper(cli_log.engine, *statements)
    code, output = invoke("verify")
    assert code == 1, output
    assert f"at seq {seq} ({kind})" in output and zh in output
    code, output = invoke("verify", "--json")
    report = json.loads(output)
    assert code == 1 and report["ok"] is False
    assert report["broken"]["seq"] == seq and report["broken"]["kind"] == kind


def test_cli_tail(cli_log: AuditLog) -> None:
    code, output = invoke("tail")
    assert code == 0 and "empty" in output
    fill(cli_log, 25)
    code, output = invoke("tail", "-n", "3")
    assert code == 0, output
    assert "Asia/Shanghai" in output
    # Entry 25 was written at 00:24 UTC: 08:24 in Shanghai.
    assert "2026-11-21 08:24:00" in output and "access_swipe#24" in output and "user:u0" in output
    assert "access_swipe#21" not in output
    code, output = invoke("tail", "--json")
    entries = json.loads(output)
    assert code == 0 and [e["seq"] for e in entries] == list(range(6, 26))


def test_cli_anchor_catches_a_cut_back_chain(cli_log: AuditLog, cli_env: Settings) -> None:
    fill(cli_log, 6)
    code, output = invoke("anchor")
    assert code == 0 and "seq 6" in output
    assert (cli_env.data_dir / "audit-anchor.json").exists()
    code, output = invoke("verify")
    assert code == 0 and "anchor" in output

    tamper(cli_log.engine, "DELETE FROM audit_log WHERE seq = 6")
    code, output = invoke("verify")
    assert code == 1 and "at seq 6 (deleted)" in output
    code, output = invoke("verify", "--anchor", str(cli_env.data_dir / "missing.json"))
    assert code == 2 and "error:" in output and "cannot read the audit anchor" in output


def test_cli_refuses_to_verify_without_the_key_that_wrote_the_log(
    cli_log: AuditLog, cli_env: Settings
) -> None:
    fill(cli_log, 2)
    cli_env.keys_file.unlink()
    code, output = invoke("verify")
    assert code == 2 and "error:" in output and "no key file" in output


def test_cli_reports_an_unreadable_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text("not json", encoding="utf-8")
    keys.chmod(0o600)
    monkeypatch.setenv("ANJU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANJU_DATABASE_URL", f"sqlite:///{tmp_path / 'anju.db'}")
    monkeypatch.setenv("ANJU_KEYS_FILE", str(keys))
    code, output = invoke("verify")
    assert code == 2 and "error:" in output and "cannot read the key file" in output
