"""Settings read from the environment (ANJU_*), with defaults for an embedded SQLite deployment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo


class SettingsError(ValueError):
    """An ANJU_* variable holds a value the platform cannot use."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a whole number ≥ {minimum}") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r}: expected a whole number ≥ {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./anju-data")
    database_url: str = "sqlite:///./anju-data/anju.db"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    # VARCHAR2 lengths are checked in bytes of this encoding; see docs/data-standard.md for why.
    length_encoding: str = "gb18030"
    blob_max_bytes: int = 2 * 1024 * 1024
    # Event times may run ahead of the server clock by this much (device clock drift), no more.
    max_future: timedelta = timedelta(hours=1)
    batch_size: int = 5000
    http_max_records: int = 10_000
    http_max_body_bytes: int = 64 * 1024 * 1024
    # Worker processes that validate NDJSON imports while the main process stores. 0 (one process) by
    # default: on this project's reference machine storage, not validation, bounds a large import, and
    # workers cost memory (docs/benchmarks.md); they pay where the database is faster than Python.
    ingest_workers: int = 0
    # None: `keys.json` inside the data directory.
    keys_file_override: Path | None = None

    @property
    def dictionaries_dir(self) -> Path:
        return self.data_dir / "dictionaries"

    @property
    def keys_file(self) -> Path:
        return self.keys_file_override or self.data_dir / "keys.json"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        data_dir = Path(env.get("ANJU_DATA_DIR") or "./anju-data")
        url = env.get("ANJU_DATABASE_URL") or f"sqlite:///{data_dir / 'anju.db'}"
        tz_name = env.get("ANJU_TIMEZONE") or "Asia/Shanghai"
        try:
            tz = ZoneInfo(tz_name)
        except (KeyError, ValueError):
            raise SettingsError(
                f"ANJU_TIMEZONE={tz_name!r}: expected an IANA zone such as Asia/Shanghai"
            ) from None
        encoding = env.get("ANJU_LENGTH_ENCODING") or "gb18030"
        try:
            "安".encode(encoding)
        except LookupError:
            raise SettingsError(
                f"ANJU_LENGTH_ENCODING={encoding!r}: expected a Python codec name such as gb18030 or utf-8"
            ) from None
        return cls(
            data_dir=data_dir,
            database_url=url,
            timezone=tz,
            length_encoding=encoding,
            blob_max_bytes=_int(env, "ANJU_BLOB_MAX_BYTES", cls.blob_max_bytes),
            max_future=timedelta(seconds=_int(env, "ANJU_MAX_FUTURE_SECONDS", 3600, minimum=0)),
            batch_size=_int(env, "ANJU_BATCH_SIZE", cls.batch_size),
            http_max_records=_int(env, "ANJU_HTTP_MAX_RECORDS", cls.http_max_records),
            http_max_body_bytes=_int(env, "ANJU_HTTP_MAX_BODY_BYTES", cls.http_max_body_bytes),
            ingest_workers=_int(env, "ANJU_INGEST_WORKERS", 0, minimum=0),
            keys_file_override=Path(env["ANJU_KEYS_FILE"]) if env.get("ANJU_KEYS_FILE") else None,
        )
