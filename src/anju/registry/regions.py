"""The region tree: district → street → community → estate. Scopes of role bindings are its nodes.

Codes follow GB/T 2260 down to the county (district); below it the deployment's own codes. The registry
(buildings, units, houses) hangs off the estates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Column, DateTime, Engine, Index, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from anju.db.engine import WRITE_OPTIONS
from anju.standard.dictionaries import Dictionary, load_dictionaries

if TYPE_CHECKING:
    from anju.security.audit import AuditLog

LEVELS = ("district", "street", "community", "estate")
LEVEL_ZH = {"district": "区", "street": "街道", "community": "社区", "estate": "小区"}


def region_table(metadata: MetaData) -> Table:
    table = Table(
        "region",
        metadata,
        Column("code", String(40), primary_key=True),
        Column("name", String(100), nullable=False),
        Column("level", String(12), nullable=False),
        Column("parent", String(40), nullable=True),
        Column("created_at", DateTime, nullable=False),
        comment="Region tree nodes: districts, streets, communities, estates",
    )
    Index(None, table.c.parent)
    return table


@cache
def _xzqh() -> Dictionary:
    return load_dictionaries()["XZQH"]


def _is_county(code: str) -> bool:
    """A current county-level GB/T 2260 code (the XZQH dictionary the standard's checks use)."""
    entry = _xzqh().get(code)
    return entry is not None and entry.level == "county" and _xzqh().current(code)


class RegionRefused(ValueError):
    """A node that cannot be added; `code` is `parent_unknown` or `region_exists`."""

    def __init__(self, code: str, field: str, value: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.code, self.field, self.value, self.zh, self.en = code, field, value, zh, en


class RegionTree:
    """Parent links of the region tree, cached briefly: every scoped request asks for them."""

    TTL_SECONDS = 5.0

    def __init__(self, engine: Engine, table: Table) -> None:
        self.engine = engine
        self.table = table
        self._lock = threading.Lock()
        self._children: dict[str, list[str]] = {}
        self._parent: dict[str, str | None] = {}
        self._loaded_at = -1e9

    def add(
        self, audit: AuditLog, *, code: str, name: str, level: str, parent: str | None, actor: str
    ) -> None:
        """Add a node under an existing parent, audited in the same transaction."""
        t = self.table
        if level == "district" and code.isdigit() and len(code) == 6 and not _is_county(code):
            raise RegionRefused(
                "not_gb2260",
                "code",
                code,
                f"区级编码 {code!r} 不是现行 GB/T 2260 县级行政区划代码",
                f"district code {code!r} is not a current GB/T 2260 county-level code",
            )
        try:
            with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
                if (
                    parent is not None
                    and conn.execute(select(t.c.code).where(t.c.code == parent)).first() is None
                ):
                    raise RegionRefused(
                        "parent_unknown",
                        "parent",
                        parent,
                        f"上级区划 {parent!r} 不存在",
                        f"parent region {parent!r} does not exist",
                    )
                conn.execute(
                    insert(t).values(
                        code=code,
                        name=name,
                        level=level,
                        parent=parent,
                        created_at=datetime.now(UTC).replace(tzinfo=None),
                    )
                )
                audit.append(conn, actor=actor, action="regions.create", target=code)
        except IntegrityError:
            raise RegionRefused(
                "region_exists", "code", code, f"区划编码 {code!r} 已存在", f"region {code!r} exists"
            ) from None
        self.invalidate()

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = -1e9

    def _load(self) -> None:
        now = time.monotonic()
        if now - self._loaded_at < self.TTL_SECONDS:
            return
        with self._lock:
            if now - self._loaded_at < self.TTL_SECONDS:
                return
            children: dict[str, list[str]] = {}
            parent: dict[str, str | None] = {}
            with self.engine.connect() as conn:
                for code, up in conn.execute(select(self.table.c.code, self.table.c.parent)):
                    parent[code] = up
                    if up is not None:
                        children.setdefault(up, []).append(code)
            self._children, self._parent = children, parent
            self._loaded_at = time.monotonic()

    def descendants(self, codes: Iterable[str]) -> set[str]:
        """The nodes themselves and every node under them. Unknown codes stand for themselves."""
        self._load()
        seen: set[str] = set()
        stack = list(codes)
        while stack:
            code = stack.pop()
            if code in seen:
                continue
            seen.add(code)
            stack.extend(self._children.get(code, ()))
        return seen

    def ancestors(self, code: str) -> list[str]:
        """The node and the nodes above it, nearest first."""
        self._load()
        out: list[str] = []
        node: str | None = code
        while node is not None and node not in out:
            out.append(node)
            node = self._parent.get(node)
        return out
