"""`anju qr`: issue and print QR doorplates for an estate, revoke and re-issue them."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from enum import StrEnum
from html import escape
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from anju.config import Settings
from anju.registry.doorplates import (
    KIND_EN,
    KIND_ZH,
    TARGET_KINDS,
    DoorplateError,
    Doorplates,
    Plate,
    render_png,
    render_svg,
)
from anju.security.admin_cli import AdminError, actor
from anju.services import Services, open_services

qr_app = typer.Typer(help="QR doorplates · 二维码门牌: generate, revoke, reissue", no_args_is_help=True)

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, soft_wrap=True)
_UNSAFE = re.compile(r"[^\w\-.]+")  # \w is Unicode: Chinese addresses stay readable as file names
_NAME_MAX = 80


class Format(StrEnum):
    svg = "svg"
    png = "png"
    both = "both"


def _services() -> Services:
    return open_services(Settings.from_env())


def _fail(exc: DoorplateError) -> AdminError:
    return AdminError(f"{exc.en} · {exc.zh}")


def safe_name(text: str) -> str:
    """A file-name stem from a label: no separators, no control characters, no leading dots."""
    text = unicodedata.normalize("NFKC", text)
    stem = _UNSAFE.sub("_", text).strip("._-")[:_NAME_MAX]
    return stem or "door"


def file_stems(plates: list[Plate]) -> list[str]:
    """One stem per plate, `<kind>_<label>`; labels that repeat (two gates both called 东门) get the
    doorplate ID, so that the names are unique and the same on every run."""
    stems = [f"{p.doorplate.target_kind}_{safe_name(p.label)}" for p in plates]
    repeated = {s for s, n in Counter(stems).items() if n > 1}
    return [f"{s}_{p.doorplate.id}" if s in repeated else s for s, p in zip(stems, plates, strict=True)]


def _check_base_url(base_url: str | None) -> str:
    if not base_url:
        raise AdminError(
            "give --base-url, the address residents' phones reach (e.g. https://anju.example.cn), "
            "or set ANJU_PUBLIC_URL · 请用 --base-url 指定居民手机可访问的平台地址"
        )
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", base_url):
        raise AdminError(f"--base-url {base_url!r}: expected http(s)://host[/path] · 平台地址格式不正确")
    return base_url.rstrip("/")


def index_html(estate: str, rows: list[tuple[Plate, str, str]]) -> str:
    """The print sheet: every doorplate with its label, kind and ID, cards that never split over pages."""
    cards = []
    for plate, image, url in rows:
        d = plate.doorplate
        cards.append(
            '<figure class="plate">'
            f'<img src="{escape(image)}" alt="{escape(plate.label)}">'
            f"<figcaption><strong>{escape(plate.label)}</strong><br>"
            f"{escape(KIND_ZH[d.target_kind])} · {escape(KIND_EN[d.target_kind])}<br>"
            f'<span class="id">{escape(d.id)} · v{d.version}</span><br>'
            f'<span class="url">{escape(url)}</span></figcaption></figure>'
        )
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>门牌二维码 {escape(estate)} · QR doorplates</title>"
        "<style>"
        "@page{size:A4;margin:10mm}"
        "body{font-family:sans-serif;margin:0;padding:8px}"
        "h1{font-size:18px}"
        ".sheet{display:grid;grid-template-columns:repeat(3,1fr);gap:8mm}"
        ".plate{margin:0;padding:4mm;border:1px dashed #999;text-align:center;break-inside:avoid;"
        "page-break-inside:avoid}"
        ".plate img{width:100%;height:auto}"
        "figcaption{font-size:12px;line-height:1.4}"
        ".id,.url{color:#555;font-size:10px;word-break:break-all}"
        "@media print{h1{display:none}.plate{border-color:#ccc}}"
        "</style></head><body>"
        f"<h1>小区 {escape(estate)} 门牌二维码（{len(rows)} 个）· QR doorplates</h1>"
        f'<div class="sheet">{"".join(cards)}</div></body></html>\n'
    )


@qr_app.command("generate")
def generate(
    estate: Annotated[str, typer.Option("--estate", help="estate code 小区编码")],
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the images and index.html")],
    fmt: Annotated[Format, typer.Option("--format", help="svg, png or both")] = Format.both,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", envvar="ANJU_PUBLIC_URL", help="the platform's public address"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Issue doorplates for every door of an estate and write them for printing.

    Gates, buildings, units and houses without a doorplate get one; existing ones keep their tokens, so
    earlier prints stay valid. Writes one image per door, named by kind and label, and index.html."""
    base = _check_base_url(base_url)
    svc = _services()
    try:
        result = Doorplates(svc).issue_for_estate(estate, actor=actor())
    except DoorplateError as exc:
        raise _fail(exc) from None
    finally:
        svc.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[Plate, str, str]] = []
    written = 0
    with Progress(
        TextColumn("生成门牌 rendering"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("render", total=len(result.plates))
        for plate, stem in zip(result.plates, file_stems(result.plates), strict=True):
            url = plate.url(base)
            caption = f"{KIND_ZH[plate.doorplate.target_kind]} · {plate.doorplate.id}"
            if fmt in (Format.svg, Format.both):
                (out_dir / f"{stem}.svg").write_bytes(render_svg(url, plate.label, caption=caption))
                written += 1
            if fmt in (Format.png, Format.both):
                (out_dir / f"{stem}.png").write_bytes(render_png(url, plate.label))
                written += 1
            rows.append((plate, f"{stem}.{'png' if fmt == Format.png else 'svg'}", url))
            progress.advance(task)
    (out_dir / "index.html").write_text(index_html(estate, rows), encoding="utf-8")
    counts = result.counts()
    if as_json:
        report = {
            "estate": estate,
            "created": result.created,
            "kept": result.kept,
            "revoked": result.revoked,
            "by_kind": counts,
            "files": written,
            "out": str(out_dir),
        }
        out.print_json(json.dumps(report, ensure_ascii=False))
        return
    table = Table("门 door", "数量 count")
    for kind in TARGET_KINDS:
        table.add_row(f"{KIND_ZH[kind]} {KIND_EN[kind]}", str(counts[kind]))
    out.print(table)
    out.print(
        f"{len(result.plates)} doorplates ({result.created} new, {result.kept} kept"
        + (f", {result.revoked} revoked and skipped" if result.revoked else "")
        + f"); {written} files and index.html in {out_dir}"
    )


@qr_app.command("revoke")
def revoke(
    doorplate_id: Annotated[str, typer.Argument(help="the doorplate's ID (printed under its code)")],
    reason: Annotated[str, typer.Option("--reason", help="why 撤销原因")],
) -> None:
    """Revoke a doorplate: its printed code stops working. `anju qr reissue` makes a new one.

    An ID may begin with "-": put it after `--` (anju qr revoke --reason … -- ID)."""
    svc = _services()
    try:
        plate, changed = Doorplates(svc).revoke(doorplate_id, reason=reason, actor=actor())
    except DoorplateError as exc:
        raise _fail(exc) from None
    finally:
        svc.close()
    if changed:
        out.print(f"revoked doorplate {plate.id} ({KIND_ZH[plate.target_kind]} {plate.target_id}) · 已撤销")
    else:
        out.print(f"doorplate {plate.id} was already revoked ({plate.revoke_reason}) · 此前已撤销")


@qr_app.command("reissue")
def reissue(
    doorplate_id: Annotated[str, typer.Argument(help="the doorplate's ID")],
) -> None:
    """Issue a new version of a doorplate; every earlier print stops working. Run `generate` to print it."""
    svc = _services()
    try:
        plate = Doorplates(svc).reissue(doorplate_id, actor=actor())
    except DoorplateError as exc:
        raise _fail(exc) from None
    finally:
        svc.close()
    out.print(f"doorplate {plate.id} is now version {plate.version}; print it again · 已重新制发")
