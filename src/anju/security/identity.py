"""Who is asking: users with argon2id passwords and lockout, bearer tokens, cookie sessions, devices.

Tokens are random (256 bits) and stored only as HMAC-SM3 under the signing key, so a copy of the table
gives nobody a usable token. A device credential is `dev.<device id>.<secret>`; it authorises ingesting
that device's own records and nothing else.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from anju.security.crypto import hmac_sm3
from anju.security.keys import Keyring
from anju.security.roles import get_role

USERNAME = re.compile(r"^[A-Za-z0-9_.@\-]{2,64}$")
SCOPE = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
BEARER_TTL = timedelta(hours=12)
SESSION_TTL = timedelta(hours=8)
DEVICE_PREFIX = "dev."


class IdentityError(ValueError):
    """A request about users or credentials that cannot be carried out; `field` names what was wrong."""

    def __init__(self, code: str, zh: str, en: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(en)
        self.code, self.zh, self.en, self.field, self.value = code, zh, en, field, value


class LoginFailed(Exception):
    """Sign-in refused. The message never says whether the username exists."""

    def __init__(self, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # bad_credentials | locked
        self.retry_after = retry_after


class AuditSink(Protocol):
    def record(
        self, *, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None
    ) -> Any: ...


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and what it holds."""

    kind: str  # user | device
    name: str
    user_pk: int | None = None
    bindings: tuple[tuple[str, str], ...] = ()  # (role, scope); scope "" = whole platform
    device_id: str | None = None
    estate: str | None = None
    via: str = "bearer"  # bearer | session | device
    csrf: str | None = None
    _perms: dict[str, tuple[bool, frozenset[str]]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def roles(self) -> set[str]:
        return {role for role, _ in self.bindings}

    def grant(self, permission: str) -> tuple[bool, frozenset[str]]:
        """(whole platform?, scope codes) over which this caller holds `permission`."""
        cached = self._perms.get(permission)
        if cached is None:
            everywhere = False
            scopes: set[str] = set()
            for role, scope in self.bindings:
                if permission in get_role(role).permissions:
                    if scope == "":
                        everywhere = True
                    else:
                        scopes.add(scope)
            cached = self._perms[permission] = (everywhere, frozenset(scopes))
        return cached

    def can(self, permission: str) -> bool:
        everywhere, scopes = self.grant(permission)
        return everywhere or bool(scopes)


@dataclass(frozen=True)
class UserInfo:
    username: str
    display_name: str | None
    disabled: bool
    locked_until: datetime | None
    created_at: datetime
    bindings: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "disabled": self.disabled,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "created_at": self.created_at.isoformat(),
            "roles": [{"role": r, "scope": s or None} for r, s in self.bindings],
        }


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


class Identity:
    def __init__(
        self,
        engine: Engine,
        tables: Mapping[str, Table],
        keyring: Keyring,
        *,
        audit: AuditSink | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.engine = engine
        self.users = tables["app_user"]
        self.bindings = tables["role_binding"]
        self.tokens = tables["auth_token"]
        self.devices = tables["device_credential"]
        self.keyring = keyring
        self.audit = audit
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def _dummy_hash(self) -> str:
        """Verified against when the username is unknown, so that timing does not reveal which exist.
        Made at first need: an argon2 hash costs tens of milliseconds, and most processes that build an
        `Identity` (the CLI, workers) never sign anyone in."""
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_hex(8))
        return self._dummy

    def _audit(self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> None:
        if self.audit is not None:
            self.audit.record(actor=actor, action=action, target=target, detail=detail)

    def _digest(self, token: str) -> str:
        return hmac_sm3(self.keyring.signing_key, token.encode("utf-8")).hex()

    # ---- users -------------------------------------------------------------------------------------
    @staticmethod
    def check_username(username: str) -> str:
        if not USERNAME.fullmatch(username):
            raise IdentityError(
                "username_invalid",
                f"用户名 {username[:80]!r} 无效：应为 2-64 位字母、数字或 _ . @ -",
                f"username {username[:80]!r} is invalid: expected 2-64 letters, digits or _ . @ -",
                field="username",
                value=username[:80],
            )
        return username

    @staticmethod
    def check_password(password: str) -> str:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise IdentityError(
                "password_weak",
                f"密码长度应为 {MIN_PASSWORD}-{MAX_PASSWORD} 个字符（收到 {len(password)} 个）",
                f"password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters long (got {len(password)})",
                field="password",
            )
        return password

    @staticmethod
    def check_binding(role: str, scope: str | None) -> tuple[str, str]:
        try:
            get_role(role)
        except ValueError as exc:
            raise IdentityError(
                "role_unknown", f"未知角色 {role!r}", str(exc), field="role", value=role
            ) from None
        if scope is not None and not SCOPE.fullmatch(scope):
            raise IdentityError(
                "scope_invalid",
                f"范围 {scope[:80]!r} 无效：应为区划或小区编码（1-40 位字母、数字、_ 或 -）",
                f"scope {scope[:80]!r} is invalid: expected a region or estate code (1-40 letters, digits, _ or -)",
                field="scope",
                value=scope[:80],
            )
        return role, scope or ""

    def create_user(
        self,
        username: str,
        password: str,
        role: str,
        scope: str | None = None,
        *,
        display_name: str | None = None,
        actor: str = "system",
    ) -> UserInfo:
        self.check_username(username)
        self.check_password(password)
        role, scope_code = self.check_binding(role, scope)
        now = _naive(self.clock())
        try:
            with self.engine.begin() as conn:
                pk = conn.execute(
                    insert(self.users)
                    .values(
                        username=username,
                        display_name=display_name,
                        password_hash=self.hasher.hash(password),
                        disabled=False,
                        failed_logins=0,
                        created_at=now,
                        password_changed_at=now,
                    )
                    .returning(self.users.c.pk)
                ).scalar_one()
                conn.execute(
                    insert(self.bindings).values(user_pk=pk, role=role, scope=scope_code, created_at=now)
                )
        except IntegrityError:
            raise IdentityError(
                "username_taken",
                f"用户名 {username!r} 已存在",
                f"username {username!r} already exists",
                field="username",
                value=username,
            ) from None
        self._audit(actor, "users.create", f"user:{username}", {"role": role, "scope": scope_code or None})
        return self.get_user(username)

    def bind(self, username: str, role: str, scope: str | None, *, actor: str = "system") -> UserInfo:
        role, scope_code = self.check_binding(role, scope)
        pk = self._user_pk(username)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(self.bindings).values(
                        user_pk=pk, role=role, scope=scope_code, created_at=_naive(self.clock())
                    )
                )
        except IntegrityError:
            pass  # already held: granting twice changes nothing
        else:
            self._audit(actor, "users.bind", f"user:{username}", {"role": role, "scope": scope_code or None})
        return self.get_user(username)

    def _user_pk(self, username: str) -> int:
        pk = None
        if USERNAME.fullmatch(username):  # never look up text PostgreSQL would refuse (NUL)
            with self.engine.connect() as conn:
                pk = conn.execute(select(self.users.c.pk).where(self.users.c.username == username)).scalar()
        if pk is None:
            raise IdentityError(
                "user_unknown",
                f"没有用户 {username!r}",
                f"no user {username!r}",
                field="username",
                value=username,
            )
        return int(pk)

    def get_user(self, username: str) -> UserInfo:
        users = self.list_users(username)
        if not users:
            self._user_pk(username)  # raises user_unknown, with the same guards as every look-up
        return users[0]

    def list_users(self, username: str | None = None) -> list[UserInfo]:
        """Every user, or only `username`, with their bindings."""
        u, b = self.users, self.bindings
        user_filter = [u.c.username == username] if username is not None else []
        with self.engine.connect() as conn:
            binds: dict[int, list[tuple[str, str]]] = {}
            for user_pk, role, scope in conn.execute(
                select(b.c.user_pk, b.c.role, b.c.scope)
                .join(u, u.c.pk == b.c.user_pk)
                .where(*user_filter)
                .order_by(b.c.pk)
            ):
                binds.setdefault(user_pk, []).append((role, scope))
            rows = conn.execute(
                select(u.c.pk, u.c.username, u.c.display_name, u.c.disabled, u.c.locked_until, u.c.created_at)
                .where(*user_filter)
                .order_by(u.c.username)
            ).all()
        return [
            UserInfo(
                r.username,
                r.display_name,
                bool(r.disabled),
                r.locked_until,
                r.created_at,
                tuple(binds.get(r.pk, ())),
            )
            for r in rows
        ]

    def set_password(self, username: str, password: str, *, actor: str = "system") -> None:
        """A new password; unlocks the account and revokes the user's tokens and sessions."""
        self.check_password(password)
        pk = self._user_pk(username)
        now = _naive(self.clock())
        with self.engine.begin() as conn:
            conn.execute(
                update(self.users)
                .where(self.users.c.pk == pk)
                .values(
                    password_hash=self.hasher.hash(password),
                    password_changed_at=now,
                    failed_logins=0,
                    locked_until=None,
                )
            )
            conn.execute(
                update(self.tokens)
                .where(self.tokens.c.user_pk == pk, self.tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        self._audit(actor, "users.password", f"user:{username}")

    def disable(self, username: str, *, actor: str = "system") -> None:
        pk = self._user_pk(username)
        now = _naive(self.clock())
        with self.engine.begin() as conn:
            conn.execute(update(self.users).where(self.users.c.pk == pk).values(disabled=True))
            conn.execute(
                update(self.tokens)
                .where(self.tokens.c.user_pk == pk, self.tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        self._audit(actor, "users.disable", f"user:{username}")

    # ---- sign-in -----------------------------------------------------------------------------------
    def authenticate(self, username: str, password: str, *, client: str = "") -> Principal:
        now = self.clock()
        u = self.users
        row = None
        # A name no user can have is not looked up: PostgreSQL refuses text holding NUL with an error.
        if USERNAME.fullmatch(username):
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(
                        u.c.pk, u.c.password_hash, u.c.disabled, u.c.failed_logins, u.c.locked_until
                    ).where(u.c.username == username)
                ).first()
        target = "user:" + "".join(ch if ch.isprintable() else "\ufffd" for ch in username[:64])
        if row is None:
            self._verify(self._dummy_hash(), password)
            self._audit("anonymous", "login_failed", target, {"reason": "bad_credentials", "client": client})
            raise LoginFailed("bad_credentials")
        if row.locked_until is not None and row.locked_until > _naive(now):
            retry = int((row.locked_until - _naive(now)).total_seconds()) + 1
            self._audit("anonymous", "login_failed", target, {"reason": "locked", "client": client})
            raise LoginFailed("locked", retry_after=retry)
        ok = self._verify(row.password_hash, password) and not row.disabled
        with self.engine.begin() as conn:
            if not ok:
                failed = (row.failed_logins or 0) + 1
                locked = _naive(now + LOCKOUT) if failed >= MAX_FAILED_LOGINS else None
                conn.execute(
                    update(u)
                    .where(u.c.pk == row.pk)
                    .values(failed_logins=0 if locked else failed, locked_until=locked)
                )
            else:
                conn.execute(update(u).where(u.c.pk == row.pk).values(failed_logins=0, locked_until=None))
        if not ok:
            reason = "disabled" if row.disabled else "bad_credentials"
            self._audit("anonymous", "login_failed", target, {"reason": reason, "client": client})
            raise LoginFailed("bad_credentials")
        self._audit(f"user:{username}", "login", target, {"client": client})
        return self._principal(int(row.pk), username, "bearer")

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _principal(self, user_pk: int, username: str, via: str, csrf: str | None = None) -> Principal:
        b = self.bindings
        with self.engine.connect() as conn:
            binds = tuple(
                (r, s)
                for r, s in conn.execute(
                    select(b.c.role, b.c.scope).where(b.c.user_pk == user_pk).order_by(b.c.pk)
                )
            )
        return Principal("user", username, user_pk=user_pk, bindings=binds, via=via, csrf=csrf)

    # ---- tokens and sessions -----------------------------------------------------------------------
    def issue(self, principal: Principal, kind: str = "bearer") -> tuple[str, str | None, datetime]:
        """A new bearer token or session for a signed-in user: (token, csrf token or None, expiry)."""
        assert principal.user_pk is not None
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24) if kind == "session" else None
        now = self.clock()
        expires = now + (SESSION_TTL if kind == "session" else BEARER_TTL)
        with self.engine.begin() as conn:
            conn.execute(
                insert(self.tokens).values(
                    token_hash=self._digest(token),
                    kind=kind,
                    user_pk=principal.user_pk,
                    csrf=csrf,
                    created_at=_naive(now),
                    expires_at=_naive(expires),
                )
            )
        return token, csrf, expires

    def resolve(self, token: str, kind: str) -> Principal | None:
        """The principal a presented token stands for, or None if unknown, expired, revoked or disabled."""
        if kind == "bearer" and token.startswith(DEVICE_PREFIX):
            return self.resolve_device(token)
        if not token or len(token) > 200:
            return None
        t, u = self.tokens, self.users
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.c.user_pk, t.c.csrf, t.c.expires_at, t.c.revoked_at, u.c.username, u.c.disabled)
                .join(u, u.c.pk == t.c.user_pk)
                .where(t.c.token_hash == self._digest(token), t.c.kind == kind)
            ).first()
        if (
            row is None
            or row.revoked_at is not None
            or row.disabled
            or row.expires_at <= _naive(self.clock())
        ):
            return None
        return self._principal(int(row.user_pk), row.username, kind, row.csrf)

    def revoke(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(self.tokens)
                .where(self.tokens.c.token_hash == self._digest(token), self.tokens.c.revoked_at.is_(None))
                .values(revoked_at=_naive(self.clock()))
            )

    def purge_expired(self) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                delete(self.tokens).where(self.tokens.c.expires_at < _naive(self.clock()))
            ).rowcount

    # ---- devices -----------------------------------------------------------------------------------
    def create_device_credential(self, device_id: str, estate: str, *, actor: str = "system") -> str:
        """A new secret for a device (replacing any earlier one); shown once, stored only as a digest."""
        if not SCOPE.fullmatch(device_id):
            raise IdentityError(
                "device_invalid",
                f"设备编号 {device_id[:80]!r} 无效：应为 1-40 位字母、数字、_ 或 -",
                f"device id {device_id[:80]!r} is invalid: expected 1-40 letters, digits, _ or -",
                field="device_id",
                value=device_id[:80],
            )
        self.check_binding("device", estate)
        token = f"{DEVICE_PREFIX}{device_id}.{secrets.token_urlsafe(32)}"
        d = self.devices
        now = _naive(self.clock())
        with self.engine.begin() as conn:
            conn.execute(delete(d).where(d.c.device_id == device_id))
            conn.execute(
                insert(d).values(
                    device_id=device_id, estate=estate, secret_hash=self._digest(token), created_at=now
                )
            )
        self._audit(actor, "devices.credential", f"device:{device_id}", {"estate": estate})
        return token

    def resolve_device(self, token: str) -> Principal | None:
        parts = token.split(".")
        if len(parts) != 3 or len(token) > 200 or not SCOPE.fullmatch(parts[1]):
            return None
        d = self.devices
        with self.engine.connect() as conn:
            row = conn.execute(
                select(d.c.estate, d.c.secret_hash, d.c.revoked_at).where(d.c.device_id == parts[1])
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        if not secrets.compare_digest(row.secret_hash, self._digest(token)):
            return None
        return Principal(
            "device",
            parts[1],
            bindings=(("device", row.estate),),
            device_id=parts[1],
            estate=row.estate,
            via="device",
        )
