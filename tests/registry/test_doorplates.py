"""QR doorplates: signed tokens, idempotent issuing, revocation and re-issue, rendering and `anju qr`."""

from __future__ import annotations

import re
import string
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anju.cli import app
from anju.config import Settings
from anju.registry.doorplates import (
    DoorplateError,
    Doorplates,
    TokenSigner,
    png_title,
    render_png,
    render_svg,
)
from anju.services import Services
from tests.registry import doorplate_fixture as fx

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ALPHABET = string.ascii_letters + string.digits + "-_"
BASE = "https://anju.example.cn"


# ---- tokens --------------------------------------------------------------------------------------------
def test_token_opens_only_as_signed() -> None:
    signer = TokenSigner(b"k" * 32)
    token = signer.sign("AbCdEfGhIjKlMnOp", 3)
    assert re.fullmatch(r"[A-Za-z0-9_-]{38}", token)
    assert signer.open(token) == ("AbCdEfGhIjKlMnOp", 3)
    # Every single-character change is refused: ID, version and tag are all covered by the tag.
    for i, ch in enumerate(token):
        for other in (c for c in ALPHABET if c != ch):
            assert signer.open(token[:i] + other + token[i + 1 :]) is None, (i, other)
    assert signer.open(token[:-1]) is None
    assert signer.open(token + "A") is None
    assert signer.open("") is None
    assert signer.open("../" + token[3:]) is None
    assert TokenSigner(b"j" * 32).open(token) is None  # another platform's key
    assert signer.sign("AbCdEfGhIjKlMnOp", 4) != token
    with pytest.raises(ValueError):
        signer.sign("not an id", 1)


# ---- issuing -------------------------------------------------------------------------------------------
def test_issue_covers_every_door_and_is_idempotent(services: Services) -> None:
    fx.build(services)
    plates = Doorplates(services)
    first = plates.issue_for_estate(fx.ESTATE, actor="test")
    assert (first.created, first.kept, first.revoked) == (5, 0, 0)
    assert first.counts() == {"gate": 1, "building": 1, "unit": 1, "house": 2}
    labels = [p.label for p in first.plates]
    assert labels == [
        "武汉市江岸区幸福路1号幸福小区东门",
        "武汉市江岸区幸福路1号幸福小区1栋",
        "武汉市江岸区幸福路1号幸福小区1栋1单元",
        fx.ADDRESS_101,
        fx.ADDRESS_102,
    ]
    again = plates.issue_for_estate(fx.ESTATE, actor="test")
    assert (again.created, again.kept) == (0, 5)
    assert [p.token for p in again.plates] == [p.token for p in first.plates]
    # Only the run that created doorplates is a write to audit.
    issued = services.audit.query(action="doorplate.issue", target=f"estate:{fx.ESTATE}")
    assert [e.detail["created"] for e in issued] == [5]
    for plate in first.plates:
        assert plates.resolve(plate.token) == plate.doorplate
    with pytest.raises(DoorplateError) as exc:
        plates.issue_for_estate("NOWHERE", actor="test")
    assert exc.value.code == "estate_unknown"


def test_revoke_and_reissue(services: Services) -> None:
    fx.build(services)
    plates = Doorplates(services)
    house = next(
        p for p in plates.issue_for_estate(fx.ESTATE, actor="test").plates if p.label == fx.ADDRESS_101
    )
    old_token = house.token
    revoked, changed = plates.revoke(house.doorplate.id, reason="门牌损坏", actor="user:admin")
    assert changed and not revoked.active and revoked.revoke_reason == "门牌损坏"
    with pytest.raises(DoorplateError) as exc:
        plates.resolve(old_token)
    assert (exc.value.status, exc.value.code) == (404, "doorplate_revoked")
    assert "撤销" in exc.value.zh and "revoked" in exc.value.en
    assert plates.revoke(house.doorplate.id, reason="again", actor="user:admin")[1] is False
    # A revoked doorplate stays revoked when the estate is issued again, and is not printed.
    rerun = plates.issue_for_estate(fx.ESTATE, actor="test")
    assert (rerun.created, rerun.kept, rerun.revoked) == (0, 4, 1)
    assert house.doorplate.id not in {p.doorplate.id for p in rerun.plates}

    fresh = plates.reissue(house.doorplate.id, actor="user:admin")
    assert fresh.version == 2 and fresh.active
    new_token = plates.token(fresh)
    assert new_token != old_token
    assert plates.resolve(new_token).version == 2
    with pytest.raises(DoorplateError) as exc:
        plates.resolve(old_token)  # the old print stops working after a re-issue
    assert exc.value.code == "doorplate_revoked" and "重新制发" in exc.value.zh

    with pytest.raises(DoorplateError) as exc:
        plates.revoke(house.doorplate.id, reason="x", actor="user:a", estates=frozenset({fx.OTHER_ESTATE}))
    assert exc.value.code == "doorplate_not_found"
    with pytest.raises(DoorplateError) as exc:
        plates.revoke(house.doorplate.id, reason="  ", actor="user:a")
    assert exc.value.code == "reason_invalid"
    actions = [e.action for e in services.audit.query(target=f"doorplate:{house.doorplate.id}")]
    assert actions == ["doorplate.revoke", "doorplate.reissue"]


# ---- rendering -----------------------------------------------------------------------------------------
def test_render_svg_and_png() -> None:
    label = "武汉市江岸区幸福路1号<幸福小区>1栋1单元101室 & more"
    svg = render_svg(f"{BASE}/d/{'A' * 38}", label, caption="入户门 · X")
    root = ET.fromstring(svg)
    texts = "".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert label.replace(" ", "") in texts.replace(" ", "")
    assert root.find("{http://www.w3.org/2000/svg}svg") is not None  # the code itself
    png = render_png(f"{BASE}/d/{'A' * 38}", label)
    assert png.startswith(PNG_MAGIC)
    assert png_title(png) == label


# ---- the command ---------------------------------------------------------------------------------------
def _env(settings: Settings) -> dict[str, str]:
    return {
        "ANJU_DATA_DIR": str(settings.data_dir),
        "ANJU_DATABASE_URL": settings.database_url,
        "ANJU_PUBLIC_URL": "",
    }


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_qr_generate_and_revoke(services: Services, settings: Settings, tmp_path: Path) -> None:
    fx.build(services)
    runner = CliRunner()
    env = _env(settings)
    out = tmp_path / "plates"
    args = ["qr", "generate", "--estate", fx.ESTATE, "--out", str(out), "--base-url", BASE, "--json"]
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    files = _files(out)
    svgs = sorted(n for n in files if n.endswith(".svg"))
    pngs = sorted(n for n in files if n.endswith(".png"))
    assert len(svgs) == len(pngs) == 5 and "index.html" in files
    assert sorted(n.split("_", 1)[0] for n in svgs) == ["building", "gate", "house", "house", "unit"]
    assert "house_武汉市江岸区幸福路1号幸福小区1栋1单元101室.svg" in svgs
    for name in pngs:
        assert files[name].startswith(PNG_MAGIC)
    for name in svgs:
        ET.fromstring(files[name])
    tokens = {p.token for p in Doorplates(services).plates(fx.ESTATE)}
    index = files["index.html"].decode("utf-8")
    assert {m for m in re.findall(r"/d/([A-Za-z0-9_-]{38})", index)} == tokens
    assert "http" not in index.replace(BASE, "")  # the sheet prints offline: nothing fetched

    # Again: the same doorplates, the same tokens, byte for byte the same files.
    again = runner.invoke(app, args, env=env)
    assert again.exit_code == 0, again.output
    assert _files(out) == files

    house = next(p for p in Doorplates(services).plates(fx.ESTATE) if p.label == fx.ADDRESS_102)
    # A doorplate ID may begin with "-": it goes after "--".
    revoked = runner.invoke(app, ["qr", "revoke", "--reason", "住户搬离", "--", house.doorplate.id], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in revoked.output
    third = runner.invoke(app, [*args[:-1]], env=env)
    assert third.exit_code == 0, third.output
    assert "4 doorplates" in third.output and "1 revoked" in third.output
    assert house.token not in (out / "index.html").read_text(encoding="utf-8")
    audit = services.audit.query(action="doorplate.revoke", target=f"doorplate:{house.doorplate.id}")
    assert len(audit) == 1 and audit[0].actor.startswith("cli:")

    svg_only = tmp_path / "svg-only"
    runner.invoke(app, [*args[:4], "--out", str(svg_only), "--format", "svg", "--base-url", BASE], env=env)
    assert all(n.endswith((".svg", ".html")) for n in _files(svg_only))

    no_base = runner.invoke(app, args[:6], env=env)
    assert no_base.exit_code != 0 and "--base-url" in str(no_base.exception)
