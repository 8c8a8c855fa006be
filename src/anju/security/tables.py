"""Tables of the security core: users, role bindings, tokens and sessions, device credentials."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)


def security_tables(metadata: MetaData) -> None:
    Table(
        "app_user",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("username", String(64), nullable=False, unique=True),
        Column("display_name", String(100), nullable=True),
        Column("password_hash", String(200), nullable=False),  # argon2id, with its own salt and parameters
        Column("disabled", Boolean, nullable=False, default=False),
        Column("failed_logins", Integer, nullable=False, default=0),
        Column("locked_until", DateTime, nullable=True),
        Column("created_at", DateTime, nullable=False),
        Column("password_changed_at", DateTime, nullable=False),
        comment="People who sign in: staff, police, residents, auditors",
    )
    Table(
        "role_binding",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("user_pk", Integer, ForeignKey("app_user.pk", ondelete="CASCADE"), nullable=False),
        Column("role", String(40), nullable=False),
        # A region-tree node code; empty string means the whole platform (NULLs would defeat the
        # uniqueness constraint on both databases).
        Column("scope", String(40), nullable=False, default=""),
        Column("created_at", DateTime, nullable=False),
        UniqueConstraint("user_pk", "role", "scope"),
        comment="A role held over a scope of the region tree",
    )
    token = Table(
        "auth_token",
        metadata,
        # HMAC-SM3 of the token under the signing key: a stolen table does not yield usable tokens.
        Column("token_hash", String(64), primary_key=True),
        Column("kind", String(10), nullable=False),  # bearer | session
        Column("user_pk", Integer, ForeignKey("app_user.pk", ondelete="CASCADE"), nullable=False),
        Column("csrf", String(64), nullable=True),
        Column("created_at", DateTime, nullable=False),
        Column("expires_at", DateTime, nullable=False),
        Column("revoked_at", DateTime, nullable=True),
        comment="Bearer tokens (API) and cookie sessions (pages)",
    )
    Index(None, token.c.user_pk)
    Table(
        "device_credential",
        metadata,
        Column("device_id", String(40), primary_key=True),
        Column("estate", String(40), nullable=False),
        Column("secret_hash", String(64), nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("revoked_at", DateTime, nullable=True),
        comment="One secret per device, good only for ingesting that device's own records",
    )
