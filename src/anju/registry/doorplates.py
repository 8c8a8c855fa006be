"""QR doorplates (二维码门牌): one per gate, building door, unit door and house door of an estate.

A doorplate's QR code holds `{base_url}/d/{token}`. The token is base64url of the doorplate ID (12 random
bytes), its version (4 bytes) and a 96-bit HMAC-SM3 tag over both, under a key derived from the keyring's
signing key: 38 characters, so the code stays small enough to scan from a worn outdoor plate at error
correction level H. A token cannot be forged or edited, and it names a version: re-issuing a doorplate
bumps the version, so every earlier print stops working at once, and revoking it stops the current one.

Issuing is idempotent: running it again for an estate keeps every existing doorplate (and so its token
and its prints) and adds doorplates only for doors that have none.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import secrets
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import segno
from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from anju.db.engine import WRITE_OPTIONS
from anju.registry.addresses import normalise
from anju.security.crypto import hmac_sm3
from anju.security.masking import mask_embedded_identifiers

if TYPE_CHECKING:
    from anju.services import Services

TARGET_KINDS = ("gate", "building", "unit", "house")
KIND_ZH = {"gate": "小区大门", "building": "楼栋门", "unit": "单元门", "house": "入户门"}
KIND_EN = {"gate": "estate gate", "building": "building door", "unit": "unit door", "house": "house door"}
# H restores up to 30 % of the modules: outdoor plates get dirty, scratched and partly covered.
ERROR_LEVEL = "h"

_ID_BYTES = 12
_VERSION = struct.Struct(">I")
_TAG_BYTES = 12
_TOKEN_BYTES = _ID_BYTES + _VERSION.size + _TAG_BYTES
_TOKEN_CHARS = -(-_TOKEN_BYTES * 4 // 3)  # unpadded base64
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{_TOKEN_CHARS}}}")
_DOORPLATE_ID = re.compile(r"[A-Za-z0-9_-]{16}")
# The signing key also digests sign-in tokens (identity.py): a derived key keeps the two uses apart.
_KEY_LABEL = b"anju/doorplate-token/v1"
_ATTEMPTS = 3
_CHUNK = 500


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DoorplateError(Exception):
    """A doorplate request that cannot be carried out: `code` says why, `status` the HTTP answer."""

    def __init__(
        self, status: int, code: str, zh: str, en: str, *, field: str | None = None, value: Any = None
    ) -> None:
        super().__init__(en)
        self.status, self.code, self.zh, self.en, self.field, self.value = status, code, zh, en, field, value


def unknown_doorplate(field: str = "token") -> DoorplateError:
    """Also the answer to a forged or edited token: a bad signature reveals nothing more."""
    return DoorplateError(
        404,
        "doorplate_not_found",
        "没有这个门牌二维码：请确认扫描的是本平台制发的门牌",
        "no such doorplate: check that the code scanned is a doorplate issued by this platform",
        field=field,
    )


def revoked_doorplate(plate: Doorplate | None, superseded: bool) -> DoorplateError:
    if superseded:
        zh = "此门牌二维码已作废：门牌已重新制发，请扫描新门牌"
        en = "this doorplate code was revoked: the doorplate has been reissued; scan the new plate"
    else:
        zh = "此门牌二维码已作废（已撤销），请联系物业或社区"
        en = "this doorplate code was revoked; please contact the property office or the community"
    return DoorplateError(
        404, "doorplate_revoked", zh, en, field="token", value=plate.id if plate is not None else None
    )


@dataclass(frozen=True, slots=True)
class Doorplate:
    id: str
    estate: str
    target_kind: str
    target_id: str
    version: int
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_row(cls, row: Row[Any] | Mapping[str, Any]) -> Doorplate:
        m = row._mapping if isinstance(row, Row) else row
        return cls(
            id=m["id"],
            estate=m["estate"],
            target_kind=m["target_kind"],
            target_id=m["target_id"],
            version=int(m["version"]),
            issued_at=m["issued_at"],
            issued_by=m["issued_by"],
            revoked_at=m["revoked_at"],
            revoked_by=m["revoked_by"],
            revoke_reason=m["revoke_reason"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "estate": self.estate,
            "kind": self.target_kind,
            "kind_zh": KIND_ZH.get(self.target_kind, self.target_kind),
            "kind_en": KIND_EN.get(self.target_kind, self.target_kind),
            "target_id": self.target_id,
            "version": self.version,
            "issued_at": self.issued_at.isoformat(),
            "issued_by": self.issued_by,
            "active": self.active,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason,
        }


class TokenSigner:
    """Signs and opens doorplate tokens; see the module's docstring for the layout."""

    def __init__(self, signing_key: bytes) -> None:
        self._key = hmac_sm3(signing_key, _KEY_LABEL)

    def _tag(self, id_raw: bytes, version: int) -> bytes:
        return hmac_sm3(self._key, id_raw + _VERSION.pack(version))[:_TAG_BYTES]

    def sign(self, doorplate_id: str, version: int) -> str:
        if not _DOORPLATE_ID.fullmatch(doorplate_id):
            raise ValueError(f"not a doorplate ID: {doorplate_id!r}")
        id_raw = _b64d(doorplate_id)
        return _b64e(id_raw + _VERSION.pack(version) + self._tag(id_raw, version))

    def open(self, token: str) -> tuple[str, int] | None:
        """(doorplate ID, version) of a genuine token; None for anything else."""
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            return None
        try:
            raw = _b64d(token)
        except (binascii.Error, ValueError):
            return None
        # Base64 lets the last character's spare bits vary: only the canonical spelling is accepted, so
        # that one doorplate has exactly one token per version.
        if len(raw) != _TOKEN_BYTES or _b64e(raw) != token:
            return None
        id_raw, rest = raw[:_ID_BYTES], raw[_ID_BYTES:]
        (version,) = _VERSION.unpack(rest[: _VERSION.size])
        if not secrets.compare_digest(rest[_VERSION.size :], self._tag(id_raw, version)):
            return None
        return _b64e(id_raw), version


@dataclass(frozen=True, slots=True)
class Target:
    """A door: what it belongs to and the text printed under its code."""

    kind: str
    id: str
    estate: str
    label: str  # the standard address of a house; estate, building and unit names otherwise
    building_id: str | None = None
    unit_id: str | None = None


@dataclass(frozen=True, slots=True)
class Plate:
    doorplate: Doorplate
    target: Target
    token: str

    @property
    def label(self) -> str:
        return self.target.label

    def url(self, base_url: str) -> str:
        return doorplate_url(base_url, self.token)


@dataclass(frozen=True, slots=True)
class IssueResult:
    estate: str
    created: int
    kept: int
    revoked: int  # doorplates left revoked: re-issuing one is a deliberate act (`reissue`)
    plates: list[Plate]  # the active ones, in print order

    def counts(self) -> dict[str, int]:
        by_kind = {kind: 0 for kind in TARGET_KINDS}
        for plate in self.plates:
            by_kind[plate.doorplate.target_kind] += 1
        return by_kind


def _join(base: str, part: str | None) -> str:
    """`base` followed by `part`, unless it already ends with it (building records often repeat it)."""
    base = (base or "").strip()
    part = (part or "").strip()
    if not part or (base and normalise(base).endswith(normalise(part))):
        return base
    return base + part


def estate_name(conn: Connection, tables: Mapping[str, Any], estate: str) -> str:
    e, r = tables["estate"], tables["region"]
    name = conn.execute(select(e.c.name).where(e.c.code == estate)).scalar()
    if name is None:
        name = conn.execute(select(r.c.name).where(r.c.code == estate)).scalar()
    return str(name) if name else estate


def targets_of_estate(conn: Connection, tables: Mapping[str, Any], estate: str) -> list[Target]:
    """Every door of an estate that gets a doorplate, in print order (gates, buildings, units, houses)."""
    g, b, u, h = tables["gate"], tables["building"], tables["unit"], tables["house"]
    e = tables["estate"]
    name = estate_name(conn, tables, estate)
    estate_address = conn.execute(select(e.c.address).where(e.c.code == estate)).scalar() or name
    out: list[Target] = []
    for row in conn.execute(select(g.c.id, g.c.name).where(g.c.estate == estate).order_by(g.c.name, g.c.id)):
        out.append(Target("gate", row.id, estate, _join(estate_address, row.name)))
    building_labels: dict[str, str] = {}
    for row in conn.execute(
        select(b.c.id, b.c.name, b.c.address).where(b.c.estate == estate).order_by(b.c.code, b.c.id)
    ):
        label = _join(row.address or estate_address, row.name)
        building_labels[row.id] = label
        out.append(Target("building", row.id, estate, label, building_id=row.id))
    for row in conn.execute(
        select(u.c.id, u.c.name, u.c.building_id)
        .where(u.c.estate == estate)
        .order_by(u.c.building_id, u.c.id)
    ):
        base = building_labels.get(row.building_id, estate_address)
        out.append(Target("unit", row.id, estate, _join(base, row.name), row.building_id, row.id))
    for row in conn.execute(
        select(h.c.id, h.c.address, h.c.building_id, h.c.unit_id)
        .where(h.c.estate == estate)
        .order_by(h.c.building_id, h.c.unit_id, h.c.address, h.c.id)
    ):
        out.append(Target("house", row.id, estate, row.address, row.building_id, row.unit_id))
    return out


def target_of(conn: Connection, tables: Mapping[str, Any], kind: str, target_id: str) -> Target | None:
    """One door by kind and ID, labelled as `targets_of_estate` labels it."""
    if kind not in TARGET_KINDS:
        return None
    table = tables[kind]
    row = conn.execute(select(table).where(table.c.id == target_id)).first()
    if row is None:
        return None
    m = row._mapping
    estate = str(m["estate"])
    if kind == "house":
        return Target(kind, target_id, estate, str(m["address"]), m["building_id"], m["unit_id"])
    e = tables["estate"]
    name = estate_name(conn, tables, estate)
    estate_address = conn.execute(select(e.c.address).where(e.c.code == estate)).scalar() or name
    if kind == "gate":
        return Target(kind, target_id, estate, _join(estate_address, m["name"]))
    if kind == "building":
        return Target(kind, target_id, estate, _join(m["address"] or estate_address, m["name"]), target_id)
    b = tables["building"]
    building = conn.execute(select(b.c.name, b.c.address).where(b.c.id == m["building_id"])).first()
    base = _join(building.address or estate_address, building.name) if building else estate_address
    return Target(kind, target_id, estate, _join(base, m["name"]), m["building_id"], target_id)


class Doorplates:
    """Issue, look up, revoke and re-issue doorplates; every write is audited in its own transaction."""

    def __init__(self, svc: Services, *, clock: Callable[[], datetime] | None = None) -> None:
        self.svc = svc
        self.tables = svc.db.metadata.tables
        self.table = self.tables["doorplate"]
        self.signer = TokenSigner(svc.keyring.signing_key)
        self.clock = clock or utcnow

    def _now(self) -> datetime:
        now = self.clock()
        return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo is not None else now

    # ---- reading -----------------------------------------------------------------------------------
    def token(self, plate: Doorplate) -> str:
        return self.signer.sign(plate.id, plate.version)

    def get(self, doorplate_id: str, conn: Connection | None = None) -> Doorplate | None:
        if not _DOORPLATE_ID.fullmatch(doorplate_id or ""):
            return None
        query = select(self.table).where(self.table.c.id == doorplate_id)
        if conn is None:
            with self.svc.db.engine.connect() as own:
                row = own.execute(query).first()
        else:
            row = conn.execute(query).first()
        return Doorplate.from_row(row) if row is not None else None

    def for_target(self, kind: str, target_id: str) -> Doorplate | None:
        t = self.table
        with self.svc.db.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.target_kind == kind, t.c.target_id == target_id)).first()
        return Doorplate.from_row(row) if row is not None else None

    def resolve(self, token: str, conn: Connection | None = None) -> Doorplate:
        """The active doorplate a scanned token stands for; DoorplateError (404) for anything else."""
        opened = self.signer.open(token)
        if opened is None:
            raise unknown_doorplate()
        doorplate_id, version = opened
        plate = self.get(doorplate_id, conn)
        if plate is None:
            raise unknown_doorplate()
        if version < plate.version:
            raise revoked_doorplate(plate, superseded=True)
        if version != plate.version:
            raise unknown_doorplate()  # a version never issued: only a key holder could have signed it
        if not plate.active:
            raise revoked_doorplate(plate, superseded=False)
        return plate

    def plates(self, estate: str) -> list[Plate]:
        """The active doorplates of an estate with their labels and tokens, in print order."""
        t = self.table
        with self.svc.db.engine.connect() as conn:
            targets = targets_of_estate(conn, self.tables, estate)
            rows = conn.execute(select(t).where(t.c.estate == estate)).all()
        by_target = {(r.target_kind, r.target_id): Doorplate.from_row(r) for r in rows}
        out = []
        for target in targets:
            plate = by_target.get((target.kind, target.id))
            if plate is not None and plate.active:
                out.append(Plate(plate, target, self.token(plate)))
        return out

    # ---- writing -----------------------------------------------------------------------------------
    def issue_for_estate(self, estate: str, *, actor: str) -> IssueResult:
        """A doorplate for every door of the estate that has none; existing ones are kept as they are."""
        for attempt in range(_ATTEMPTS):
            try:
                return self._issue(estate, actor)
            except IntegrityError:
                # Another process issued some of the same doors meanwhile: run again and keep theirs.
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _issue(self, estate: str, actor: str) -> IssueResult:
        t = self.table
        now = self._now()
        created = kept = revoked = 0
        with self.svc.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            targets = targets_of_estate(conn, self.tables, estate)
            known_estate = conn.execute(
                select(func.count())
                .select_from(self.tables["estate"])
                .where(self.tables["estate"].c.code == estate)
            ).scalar_one()
            if not targets and not known_estate:
                raise DoorplateError(
                    404,
                    "estate_unknown",
                    f"没有小区 {estate!r} 的登记信息（大门、楼栋、单元或房屋）",
                    f"the registry holds nothing for estate {estate!r} (gates, buildings, units or houses)",
                    field="estate",
                    value=estate,
                )
            existing = self._existing(conn, targets)
            for target in targets:
                plate = existing.get((target.kind, target.id))
                if plate is None:
                    row = {
                        "id": _b64e(secrets.token_bytes(_ID_BYTES)),
                        "estate": estate,
                        "target_kind": target.kind,
                        "target_id": target.id,
                        "version": 1,
                        "issued_at": now,
                        "issued_by": actor,
                    }
                    conn.execute(insert(t).values(**row))
                    existing[(target.kind, target.id)] = Doorplate.from_row(
                        {**row, "revoked_at": None, "revoked_by": None, "revoke_reason": None}
                    )
                    created += 1
                elif plate.active:
                    kept += 1
                else:
                    revoked += 1
            if created:
                self.svc.audit.append(
                    conn,
                    actor=actor,
                    action="doorplate.issue",
                    target=f"estate:{estate}",
                    detail={"created": created, "kept": kept, "revoked": revoked},
                )
        plates = [
            Plate(p, target, self.token(p))
            for target in targets
            if (p := existing[(target.kind, target.id)]).active
        ]
        return IssueResult(estate, created, kept, revoked, plates)

    def _existing(self, conn: Connection, targets: Iterable[Target]) -> dict[tuple[str, str], Doorplate]:
        t = self.table
        ids: dict[str, list[str]] = {}
        for target in targets:
            ids.setdefault(target.kind, []).append(target.id)
        found: dict[tuple[str, str], Doorplate] = {}
        for kind, kind_ids in ids.items():
            for i in range(0, len(kind_ids), _CHUNK):
                chunk = kind_ids[i : i + _CHUNK]
                for row in conn.execute(select(t).where(t.c.target_kind == kind, t.c.target_id.in_(chunk))):
                    found[(kind, row.target_id)] = Doorplate.from_row(row)
        return found

    def _locked(self, conn: Connection, doorplate_id: str, estates: frozenset[str] | None) -> Doorplate:
        plate = self.get(doorplate_id, conn)
        if plate is None or (estates is not None and plate.estate not in estates):
            raise DoorplateError(
                404,
                "doorplate_not_found",
                f"没有门牌 {doorplate_id[:40]!r}",
                f"no doorplate {doorplate_id[:40]!r}",
                field="doorplate_id",
                value=doorplate_id[:40],
            )
        return plate

    def revoke(
        self, doorplate_id: str, *, reason: str, actor: str, estates: frozenset[str] | None = None
    ) -> tuple[Doorplate, bool]:
        """Revoke a doorplate (its prints stop working); (doorplate, whether it changed). `estates` limits
        which doorplates the caller may touch (None: all); others are answered as unknown."""
        reason = (reason or "").strip()
        if not reason or len(reason) > 200:
            raise DoorplateError(
                422,
                "reason_invalid",
                "请填写撤销原因（1-200 字）",
                "give the reason for revoking (1-200 characters)",
                field="reason",
            )
        now = self._now()
        with self.svc.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            plate = self._locked(conn, doorplate_id, estates)
            if not plate.active:
                return plate, False
            conn.execute(
                update(self.table)
                .where(self.table.c.id == plate.id)
                .values(revoked_at=now, revoked_by=actor, revoke_reason=reason)
            )
            self.svc.audit.append(
                conn,
                actor=actor,
                action="doorplate.revoke",
                target=f"doorplate:{plate.id}",
                # Free text typed by staff: phone- and ID-shaped runs are masked before the log keeps them.
                detail={
                    "estate": plate.estate,
                    "kind": plate.target_kind,
                    "version": plate.version,
                    "reason": mask_embedded_identifiers(reason),
                },
            )
            refreshed = self.get(plate.id, conn)
        assert refreshed is not None
        return refreshed, True

    def reissue(self, doorplate_id: str, *, actor: str, estates: frozenset[str] | None = None) -> Doorplate:
        """A new version of a doorplate (active again): every earlier print stops working."""
        now = self._now()
        with self.svc.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            plate = self._locked(conn, doorplate_id, estates)
            conn.execute(
                update(self.table)
                .where(self.table.c.id == plate.id)
                .values(
                    version=plate.version + 1,
                    issued_at=now,
                    issued_by=actor,
                    revoked_at=None,
                    revoked_by=None,
                    revoke_reason=None,
                )
            )
            self.svc.audit.append(
                conn,
                actor=actor,
                action="doorplate.reissue",
                target=f"doorplate:{plate.id}",
                detail={"estate": plate.estate, "kind": plate.target_kind, "version": plate.version + 1},
            )
            refreshed = self.get(plate.id, conn)
        assert refreshed is not None
        return refreshed


# ---- rendering -----------------------------------------------------------------------------------------
def doorplate_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/d/{token}"


def _lines(text: str, width: int) -> list[str]:
    """Break a label into lines of at most `width` characters (addresses have no spaces to break at)."""
    text = " ".join(text.split())
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


def render_svg(url: str, label: str, *, caption: str = "", scale: int = 8) -> bytes:
    """The QR code with its label printed underneath, as a standalone SVG document.

    Text uses the generic sans-serif family: the sheet must print offline, without fetched fonts."""
    qr = segno.make(url, error=ERROR_LEVEL, micro=False)
    width, height = qr.symbol_size(scale=scale, border=4)
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True, nl=False, title=label)
    code = buf.getvalue().decode("utf-8")
    font = max(12, scale * 2)
    per_line = max(4, int(width / (font * 1.05)))
    lines = _lines(label, per_line)
    small = max(9, int(font * 0.7))
    total = height + len(lines) * int(font * 1.3) + (int(small * 1.6) if caption else 0) + font // 2
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" '
        f'viewBox="0 0 {width} {total}">',
        f"<title>{escape(label)}</title>",
        f'<rect width="{width}" height="{total}" fill="#fff"/>',
        code,
    ]
    y = height
    for line in lines:
        y += int(font * 1.3)
        parts.append(
            f'<text x="{width // 2}" y="{y}" font-family="sans-serif" font-size="{font}" '
            f'text-anchor="middle" fill="#000">{escape(line)}</text>'
        )
    if caption:
        y += int(small * 1.6)
        parts.append(
            f'<text x="{width // 2}" y="{y}" font-family="sans-serif" font-size="{small}" '
            f'text-anchor="middle" fill="#444">{escape(caption)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts).encode("utf-8")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def render_png(url: str, label: str, *, scale: int = 10, dpi: int = 300) -> bytes:
    """The QR code as PNG. Drawing text would need a font rasteriser (Pillow); the label travels as an
    iTXt "Title" chunk instead, and the print sheet writes it under the image."""
    qr = segno.make(url, error=ERROR_LEVEL, micro=False)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=4, dpi=dpi)
    png = buf.getvalue()
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 bytes of data, CRC
    title = b"Title\x00\x00\x00\x00\x00" + label.encode("utf-8")  # keyword, no compression, no language
    return png[:ihdr_end] + _chunk(b"iTXt", title) + png[ihdr_end:]


def png_title(png: bytes) -> str | None:
    """The label written by render_png, read back (for tests and tools)."""
    pos = 8
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"iTXt" and data.startswith(b"Title\x00"):
            return data.split(b"\x00", 5)[-1].decode("utf-8")
        pos += 12 + length
    return None
