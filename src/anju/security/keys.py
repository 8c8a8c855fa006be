"""The key file: versioned field-encryption keys and the long-lived index, audit and signing keys.

One JSON file, created on first use with mode 0600 (owner only), path from ANJU_KEYS_FILE or
`keys.json` in the data directory. Encryption keys carry versions so that `anju keys rotate` can add a
new one while rows written under older versions stay readable until they are re-encrypted. The blind
index, audit and signing keys never rotate here: changing them would orphan every blind index, break the
audit chain's verification and revoke every issued token at once — each of those is its own operation.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KEY_BYTES = 16  # SM4 keys are 128 bits
MAC_KEY_BYTES = 32
FORMAT = 1


class KeyFileError(RuntimeError):
    """The key file cannot be read or does not hold a usable keyring."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str, size: int, path: Path) -> bytes:
    try:
        raw = base64.b64decode(str(text), validate=True)
    except ValueError:
        raise KeyFileError(f"{path}: {what} is not base64") from None
    if len(raw) != size:
        raise KeyFileError(f"{path}: {what} has {len(raw)} bytes, expected {size}")
    return raw


@dataclass
class Keyring:
    path: Path
    index_key: bytes
    audit_key: bytes
    signing_key: bytes
    encryption: dict[int, bytes] = field(default_factory=dict)
    created: dict[int, str] = field(default_factory=dict)
    current: int = 1
    _checked_at: float = field(default=0.0, repr=False)
    _mtime: int = field(default=0, repr=False)

    def encryption_key(self, version: int) -> bytes:
        key = self.encryption.get(version)
        if key is None:
            # Another process (`anju keys rotate`) may have added it since this one started.
            self.refresh()
            key = self.encryption.get(version)
        if key is not None:
            return key
        raise KeyFileError(
            f"{self.path}: no encryption key version {version} (have {sorted(self.encryption)})"
        )

    def refresh_if_changed(self, every_seconds: float = 5.0) -> None:
        """Cheap check, at most every few seconds, for a rotation done by another process, so that a
        long-running server starts sealing under the new version soon after `anju keys rotate`."""
        now = time.monotonic()
        if now - self._checked_at < every_seconds:
            return
        self._checked_at = now
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return
        if mtime != self._mtime:
            self._mtime = mtime
            self.refresh()

    def refresh(self) -> None:
        """Pick up versions another process added to the file, and its current version."""
        try:
            fresh = Keyring.load(self.path)
        except KeyFileError:
            return
        self.encryption.update(fresh.encryption)
        self.created.update(fresh.created)
        self.current = max(self.current, fresh.current)

    @property
    def current_key(self) -> bytes:
        return self.encryption_key(self.current)

    def rotate(self) -> int:
        """Add a fresh encryption key, make it current and save the file; returns the new version."""
        version = max(self.encryption) + 1
        self.encryption[version] = secrets.token_bytes(KEY_BYTES)
        self.created[version] = datetime.now(UTC).isoformat(timespec="seconds")
        self.current = version
        self.save()
        return version

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "current": self.current,
            "index_key": _b64(self.index_key),
            "audit_key": _b64(self.audit_key),
            "signing_key": _b64(self.signing_key),
            "encryption": {
                str(v): {"key": _b64(k), "created": self.created.get(v, "")}
                for v, k in sorted(self.encryption.items())
            },
        }

    def _write_temp(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.to_json(), fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def save(self) -> None:
        """Write atomically: a new owner-only file renamed over the old one."""
        os.replace(self._write_temp(), self.path)
        self._mtime = self.path.stat().st_mtime_ns

    @classmethod
    def create(cls, path: Path) -> Keyring:
        ring = cls(
            path=path,
            index_key=secrets.token_bytes(MAC_KEY_BYTES),
            audit_key=secrets.token_bytes(MAC_KEY_BYTES),
            signing_key=secrets.token_bytes(MAC_KEY_BYTES),
            encryption={1: secrets.token_bytes(KEY_BYTES)},
            created={1: datetime.now(UTC).isoformat(timespec="seconds")},
            current=1,
        )
        tmp = ring._write_temp()
        try:
            # Linking fails if the file appeared meanwhile (two processes starting on a fresh data
            # directory): then both must use the one that won, or one's data would be unreadable.
            os.link(tmp, path)
        except FileExistsError:
            return cls.load(path)
        finally:
            tmp.unlink()
        ring._mtime = path.stat().st_mtime_ns
        return ring

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyFileError(f"{path}: cannot read the key file ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise KeyFileError(f"{path}: not an Anju key file of format {FORMAT}")
        try:
            encryption = {
                int(v): _unb64(entry["key"], f"encryption key {v}", KEY_BYTES, path)
                for v, entry in data["encryption"].items()
            }
            created = {int(v): str(entry.get("created", "")) for v, entry in data["encryption"].items()}
            ring = cls(
                path=path,
                index_key=_unb64(data["index_key"], "index_key", MAC_KEY_BYTES, path),
                audit_key=_unb64(data["audit_key"], "audit_key", MAC_KEY_BYTES, path),
                signing_key=_unb64(data["signing_key"], "signing_key", MAC_KEY_BYTES, path),
                encryption=encryption,
                created=created,
                current=int(data["current"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KeyFileError(f"{path}: malformed key file ({exc.__class__.__name__}: {exc})") from None
        if ring.current not in ring.encryption:
            # Checked here, not through encryption_key(): its refresh would load this file again, and
            # again, until the recursion limit.
            raise KeyFileError(
                f"{path}: the current encryption key version {ring.current} is missing "
                f"(have {sorted(ring.encryption)})"
            )
        ring._mtime = path.stat().st_mtime_ns
        ring._checked_at = time.monotonic()
        return ring


def load_or_create(path: Path) -> Keyring:
    """The keyring at `path`, created on first use. Refuses a file others can read."""
    if not path.exists():
        return Keyring.create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"{path}: permissions {mode:04o} let other users read the keys; expected 0600 (chmod 600 {path})"
        )
    return Keyring.load(path)
