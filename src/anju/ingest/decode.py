"""Decoders: HTTP bodies (JSON array or NDJSON), NDJSON, CSV and XLSX files, into Items.

Decoders never raise on content: a line or body that cannot be decoded becomes an Item whose `issues` say
why, so that the pipeline quarantines it with its raw bytes. Files are read lazily, in batches, so memory
stays flat however long the file is.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

import orjson

from anju.ingest.items import UNDECODABLE, Item
from anju.standard.issues import make_issue, render

MAX_RECORD_BYTES = 16 * 1024 * 1024


def _json_error(index: int, raw: bytes, exc: Exception) -> Item:
    detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    zh, en = render("json_invalid", detail=detail)
    return Item(index, raw, UNDECODABLE, [make_issue("json_invalid", zh, en)])


def decode_line(index: int, line: bytes) -> Item:
    if len(line) > MAX_RECORD_BYTES:
        zh, en = render("line_too_long", actual=len(line), limit=MAX_RECORD_BYTES)
        return Item(index, line, UNDECODABLE, [make_issue("line_too_long", zh, en)])
    try:
        return Item(index, line, orjson.loads(line))
    except (orjson.JSONDecodeError, RecursionError) as exc:
        return _json_error(index, line, exc)


def iter_ndjson(lines: Iterable[bytes], *, first_index: int = 1) -> Iterator[Item]:
    """One record per line; blank lines are skipped; the index is the line number."""
    for n, line in enumerate(lines, start=first_index):
        stripped = line.strip()
        if stripped:
            yield decode_line(n, stripped)


def decode_body(body: bytes) -> list[Item]:
    """An HTTP body: a JSON array of records, or NDJSON (one object per line; a single object is NDJSON)."""
    head = body.lstrip()[:1]
    if head != b"[":
        return list(iter_ndjson(body.splitlines(), first_index=0))
    try:
        parsed = orjson.loads(body)
    except (orjson.JSONDecodeError, RecursionError) as exc:
        return [_json_error(0, body, exc)]
    if not isinstance(parsed, list):  # pragma: no cover - a body starting with "[" parses to a list
        return [Item(0, body, parsed)]
    return [_element(i, obj, body) for i, obj in enumerate(parsed)]


def _element(index: int, obj: Any, body: bytes) -> Item:
    """An array element with its own raw form, so that it can be quarantined and replayed on its own."""
    try:
        return Item(index, orjson.dumps(obj), obj)
    except (orjson.JSONEncodeError, TypeError):
        pass  # orjson refuses nesting deeper than 254 levels; the standard library goes further
    try:
        return Item(index, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(), obj)
    except RecursionError:
        zh, en = render("json_invalid", detail="nesting too deep")
        return Item(index, body, UNDECODABLE, [make_issue("json_invalid", zh, en)])


def _cell(value: Any) -> Any:
    """Spreadsheet cells: keep text and whole numbers; integral floats (Excel's phone numbers) become ints."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    return value


def _row_item(index: int, header: list[str], cells: list[Any]) -> Item:
    obj = {h: _cell(v) for h, v in zip(header, cells, strict=False) if h and v is not None and v != ""}
    if len(cells) > len(header):
        obj.update({f"列{len(header) + i + 1}": _cell(v) for i, v in enumerate(cells[len(header) :]) if v})
    return Item(index, orjson.dumps(obj, default=str), obj)


def iter_csv(stream: IO[str]) -> Iterator[Item]:
    """CSV with a header row of field codes or Chinese names; the index is the file's row number."""
    reader = csv.reader(stream)
    header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    for n, cells in enumerate(reader, start=2):
        if any(c.strip() for c in cells):
            yield _row_item(n, header, cells)


def iter_xlsx(path: Path) -> Iterator[Item]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = wb.active.iter_rows(values_only=True) if wb.active is not None else iter(())
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        for n, cells in enumerate(rows, start=2):
            values = list(cells)
            if any(v not in (None, "") for v in values):
                yield _row_item(n, header, values)
    finally:
        wb.close()


def open_text(path: Path, encoding: str) -> IO[str]:
    return io.open(path, encoding=encoding, newline="")  # noqa: UP020 - io.open documents the text-mode intent
