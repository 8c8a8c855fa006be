"""Code dictionaries of the data standard (XB, MZ, GJ, XZQH, ...): loading, overriding, lookup.

The shipped dictionaries live in ``anju/standard/data/dictionaries`` as ``<NAME>.yaml``; XZQH keeps its
code table in ``xzqh.csv`` next to it (one row per code and name period, so that abolished codes, which
old ID numbers still carry, stay known). A deployment overrides a dictionary by putting ``<NAME>.yaml``
(and, for a table, its CSV) into an override directory, normally ``$ANJU_DATA_DIR/dictionaries``::

    mode: extend            # or replace (the default)
    codes:
      - {code: "99", zh: 未说明, en: Not stated}

``mode: replace`` swaps the shipped codes for the override's; ``mode: extend`` adds codes to the shipped
ones, replacing those with the same code. Metadata keys given in the override (title_zh, note, ...)
replace the shipped ones; those left out are kept. An override for a name that is not shipped adds a new
dictionary. Every problem in a file raises :class:`DictionaryError` naming the file.

Nothing is cached at module level: callers load once and keep the result.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from anju.yamlfiles import load_yaml

__all__ = ["PACKAGE", "Dictionary", "DictionaryError", "Entry", "load_dictionaries"]

PACKAGE = "anju.standard.data.dictionaries"

_META_KEYS = ("title_zh", "title_en", "source", "per_deployment", "note")
_FILE_KEYS = frozenset({"name", *_META_KEYS, "codes", "file", "mode"})
_ENTRY_KEYS = frozenset({"code", "zh", "en", "valid_from", "valid_to", "level", "parent", "aliases"})
_CSV_REQUIRED = ("code", "name")
_BOUND = re.compile(r"^\d{4}(-\d{2}-\d{2})?$")
_LEVELS = frozenset({"province", "prefecture", "county"})


class DictionaryError(ValueError):
    """A dictionary file is unreadable or invalid. ``path`` names the file, ``message`` the problem."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One code. valid_from/valid_to are inclusive years ("2017") or ISO dates; None = open-ended."""

    code: str
    zh: str
    en: str
    valid_from: str | None = None
    valid_to: str | None = None
    level: str | None = None
    parent: str | None = None


class Dictionary:
    """A loaded code dictionary. Immutable after construction."""

    def __init__(
        self,
        name: str,
        *,
        title_zh: str,
        title_en: str = "",
        source: str = "",
        per_deployment: bool = False,
        note: str = "",
        rows: Mapping[str, Sequence[Entry]],
        aliases: Mapping[str, str] | None = None,
        origin: str = "",
    ) -> None:
        self.name = name
        self.title_zh = title_zh
        self.title_en = title_en
        self.source = source
        self.per_deployment = per_deployment
        self.note = note
        self.origin = origin
        self._rows: dict[str, tuple[Entry, ...]] = {c: tuple(r) for c, r in rows.items() if r}
        self._entries: dict[str, Entry] = {c: _merge(r) for c, r in self._rows.items()}
        self._aliases: dict[str, str] = dict(aliases or {})
        self._names: dict[str, list[str]] | None = None

    # -- lookup -----------------------------------------------------------------------------------------
    def __contains__(self, code: object) -> bool:
        """True if the code is known; for XZQH, valid at any time in its history."""
        return isinstance(code, str) and code in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __repr__(self) -> str:
        return f"<Dictionary {self.name} ({len(self)} codes)>"

    def get(self, code: str) -> Entry | None:
        """The entry for a code: the latest name, and validity spanning all of the code's periods."""
        return self._entries.get(code)

    def history(self, code: str) -> list[Entry]:
        """Every (name, period) row of a code, oldest first; one row for ordinary dictionaries."""
        return list(self._rows.get(code, ()))

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def label(self, code: str, lang: str = "zh") -> str | None:
        """The display name of a code in "zh" or "en" (en falls back to zh when empty); None if unknown."""
        if lang not in ("zh", "en"):
            raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
        entry = self._entries.get(code)
        if entry is None:
            return None
        return (entry.en or entry.zh) if lang == "en" else entry.zh

    def current(self, code: str, today: dt.date | None = None) -> bool:
        """True if the code is valid today: known, started, and with no end year (or an ISO end date not
        yet passed). For dictionaries without validity data this equals ``code in self``."""
        entry = self._entries.get(code)
        return entry is not None and _is_current(entry, today or dt.date.today())

    def valid_in(self, code: str, year: int) -> bool:
        """True if the code was valid at some time during the given year."""
        return any(_covers(row, year) for row in self._rows.get(code, ()))

    def code_for_name(self, name: str) -> str | None:
        """The code whose zh name is exactly ``name`` (surrounding blanks ignored). Current codes come
        first, then abolished ones, then aliases and former names. Names need not be unique (XZQH has
        several 朝阳区); use :meth:`codes_for_name` to see all."""
        codes = self._name_index().get(name.strip())
        return codes[0] if codes else None

    def codes_for_name(self, name: str) -> list[str]:
        return list(self._name_index().get(name.strip(), ()))

    def _name_index(self) -> dict[str, list[str]]:
        if self._names is None:
            index: dict[str, list[str]] = {}
            today = dt.date.today()
            ordered = sorted(self._entries.values(), key=lambda e: not _is_current(e, today))
            pairs: list[tuple[str, str]] = [(e.zh, e.code) for e in ordered]
            pairs += [(alias, code) for alias, code in self._aliases.items() if code in self._entries]
            pairs += [(r.zh, c) for c, rows in self._rows.items() if len(rows) > 1 for r in rows]
            for zh, code in pairs:
                codes = index.setdefault(zh, [])
                if code not in codes:
                    codes.append(code)
            self._names = index
        return self._names


# -- loading ----------------------------------------------------------------------------------------------


def load_dictionaries(override_dir: Path | None = None) -> dict[str, Dictionary]:
    """Load every shipped dictionary, then apply the overrides in ``override_dir`` (``*.yaml``/``*.yml``).

    A missing override directory is ignored, so callers can always pass ``$ANJU_DATA_DIR/dictionaries``.
    """
    result = dict(_shipped())
    if override_dir is None:
        return result
    override_dir = Path(override_dir)
    if not override_dir.exists():
        return result
    if not override_dir.is_dir():
        raise DictionaryError(override_dir, "override path is not a directory")
    for path in sorted([*override_dir.glob("*.yaml"), *override_dir.glob("*.yml")]):
        doc = _parse_file(path, str(path))
        result[doc.name] = _build(doc, base=result.get(doc.name), strict=False, csv_root=override_dir)
    return result


@cache
def _shipped() -> Mapping[str, Dictionary]:
    """The dictionaries in the package, read once per process: they cannot change while it runs, and
    every `Services` (and every worker process of an import) would otherwise parse them again. A
    `Dictionary` is never changed after it is built; an override builds a new one over it."""
    root = resources.files(PACKAGE)
    result: dict[str, Dictionary] = {}
    for item in sorted(root.iterdir(), key=lambda t: t.name):
        if item.name.endswith((".yaml", ".yml")) and item.is_file():
            origin = f"{PACKAGE.replace('.', '/')}/{item.name}"
            doc = _parse_file(item, origin)
            result[doc.name] = _build(doc, base=None, strict=True, csv_root=root)
    return MappingProxyType(result)


@dataclass
class _Doc:
    name: str
    origin: str
    data: dict[str, Any]


def _parse_file(item: Traversable, origin: str) -> _Doc:
    stem = item.name.rsplit(".", 1)[0]
    try:
        data = load_yaml(item.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DictionaryError(origin, f"cannot read file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise DictionaryError(origin, f"invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DictionaryError(origin, "the file must be a YAML mapping (name, title_zh, codes, ...)")
    unknown = sorted(str(k) for k in data if k not in _FILE_KEYS)
    if unknown:
        raise DictionaryError(
            origin, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FILE_KEYS))}"
        )
    name = data.get("name", stem)
    if not isinstance(name, str) or name != stem:
        raise DictionaryError(origin, f"name {name!r} does not match the file name {stem!r}")
    return _Doc(stem, origin, data)


def _build(doc: _Doc, base: Dictionary | None, *, strict: bool, csv_root: Traversable | Path) -> Dictionary:
    data, origin = doc.data, doc.origin
    mode = data.get("mode", "replace")
    if mode not in ("replace", "extend"):
        raise DictionaryError(origin, f"mode must be 'replace' or 'extend', not {mode!r}")

    meta: dict[str, Any] = {}
    for key in _META_KEYS:
        if key not in data:
            continue
        value = data[key]
        want: type = bool if key == "per_deployment" else str
        if not isinstance(value, want):
            raise DictionaryError(origin, f"{key} must be a {want.__name__}, not {type(value).__name__}")
        meta[key] = value
    if strict:
        for key in ("title_zh", "title_en", "source", "per_deployment"):
            if key not in meta:
                raise DictionaryError(origin, f"missing {key}")

    if "codes" not in data and "file" not in data:
        raise DictionaryError(origin, "no codes: give a 'codes' list or a 'file' (CSV table)")
    rows: dict[str, list[Entry]] = {}
    aliases: dict[str, str] = {}
    if "file" in data:
        rows.update(_read_csv(data["file"], origin, csv_root))
    if "codes" in data:
        for code, entry, entry_aliases in _parse_codes(data["codes"], origin, strict):
            rows[code] = [entry]
            aliases.update((a, code) for a in entry_aliases)

    if base is not None and mode == "extend":
        merged: dict[str, list[Entry]] = {c: base.history(c) for c in base}
        merged.update(rows)
        rows = merged
        aliases = {**base._aliases, **aliases}
    if base is not None:
        for key in _META_KEYS:
            meta.setdefault(key, getattr(base, key))
    return Dictionary(
        doc.name,
        title_zh=meta.get("title_zh", doc.name),
        title_en=meta.get("title_en", ""),
        source=meta.get("source", ""),
        per_deployment=meta.get("per_deployment", False),
        note=meta.get("note", ""),
        rows=rows,
        aliases=aliases,
        origin=origin,
    )


def _parse_codes(codes: object, origin: str, strict: bool) -> Iterable[tuple[str, Entry, list[str]]]:
    if not isinstance(codes, list):
        raise DictionaryError(origin, f"codes must be a list, not {type(codes).__name__}")
    seen: set[str] = set()
    for i, item in enumerate(codes, 1):
        where = f"codes[{i}]"
        if not isinstance(item, dict):
            raise DictionaryError(origin, f"{where} must be a mapping with code, zh, en")
        unknown = sorted(str(k) for k in item if k not in _ENTRY_KEYS)
        if unknown:
            raise DictionaryError(origin, f"{where}: unknown key(s) {', '.join(unknown)}")
        code = item.get("code")
        if code is None:
            raise DictionaryError(origin, f"{where}: missing code")
        if not isinstance(code, str):
            raise DictionaryError(
                origin,
                f"{where}: code {code!r} is a {type(code).__name__}, not a string; quote it",
            )
        if not code or code != code.strip():
            raise DictionaryError(origin, f"{where}: code {code!r} is empty or has surrounding blanks")
        where = f"code {code!r}"
        if code in seen:
            raise DictionaryError(origin, f"{where} appears twice")
        seen.add(code)
        zh = item.get("zh")
        if not isinstance(zh, str) or not zh.strip():
            raise DictionaryError(origin, f"{where}: missing zh (Chinese name)")
        en = item.get("en", None if strict else "")
        if not isinstance(en, str) or (strict and not en.strip()):
            raise DictionaryError(origin, f"{where}: missing en (English name)")
        level = _opt_str(item, "level", origin, where)
        if level is not None and level not in _LEVELS:
            raise DictionaryError(origin, f"{where}: level must be one of {', '.join(sorted(_LEVELS))}")
        raw_aliases = item.get("aliases", [])
        if not isinstance(raw_aliases, list) or not all(isinstance(a, str) and a for a in raw_aliases):
            raise DictionaryError(origin, f"{where}: aliases must be a list of names")
        entry = Entry(
            code,
            zh,
            en,
            _bound(item.get("valid_from"), origin, where),
            _bound(item.get("valid_to"), origin, where),
            level,
            _opt_str(item, "parent", origin, where),
        )
        _check_period(entry, origin, where)
        yield code, entry, raw_aliases


def _read_csv(file: object, origin: str, root: Traversable | Path) -> dict[str, list[Entry]]:
    if not isinstance(file, str) or not file.endswith(".csv"):
        raise DictionaryError(origin, f"file must name a .csv file next to the YAML, not {file!r}")
    where = f"{origin} -> {file}"
    try:
        text = (root / file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DictionaryError(where, f"cannot read table: {exc}") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise DictionaryError(where, "empty table")
    col = {h.strip(): i for i, h in enumerate(header)}
    missing = [c for c in _CSV_REQUIRED if c not in col]
    if missing:
        raise DictionaryError(where, f"missing column(s) {', '.join(missing)}")
    i_code, i_name = col["code"], col["name"]
    i_en, i_level, i_parent = col.get("en"), col.get("level"), col.get("parent")
    i_from, i_to = col.get("valid_from"), col.get("valid_to")
    width = len(header)
    rows: dict[str, list[Entry]] = {}
    for line, rec in enumerate(reader, 2):
        if not rec:
            continue
        if len(rec) != width:
            raise DictionaryError(where, f"line {line}: {len(rec)} fields, the header has {width}")
        code, name = rec[i_code], rec[i_name]
        if not code or not name:
            raise DictionaryError(where, f"line {line}: empty code or name")
        vf = rec[i_from] if i_from is not None and rec[i_from] else None
        vt = rec[i_to] if i_to is not None and rec[i_to] else None
        if (vf is not None and not _BOUND.match(vf)) or (vt is not None and not _BOUND.match(vt)):
            raise DictionaryError(where, f"line {line}: valid_from/valid_to must be YYYY or YYYY-MM-DD")
        level = (rec[i_level] or None) if i_level is not None else None
        if level is not None and level not in _LEVELS:
            raise DictionaryError(where, f"line {line}: unknown level {level!r}")
        entry = Entry(
            code,
            name,
            rec[i_en] if i_en is not None else "",
            vf,
            vt,
            level,
            (rec[i_parent] or None) if i_parent is not None else None,
        )
        if vf is not None and vt is not None and vf[:4] > vt[:4]:
            raise DictionaryError(where, f"line {line}: valid_from {vf} is after valid_to {vt}")
        rows.setdefault(code, []).append(entry)
    for code_rows in rows.values():
        if len(code_rows) > 1:
            code_rows.sort(key=lambda e: (e.valid_from or "", e.valid_to or "9999"))
    return rows


def _opt_str(item: Mapping[str, Any], key: str, origin: str, where: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DictionaryError(origin, f"{where}: {key} must be a string")
    return value


def _bound(value: object, origin: str, where: str) -> str | None:
    """Normalise a validity bound: YAML may give an int year or a date."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise DictionaryError(origin, f"{where}: bad validity bound {value!r}")
    if isinstance(value, int):
        value = f"{value:04d}"
    elif isinstance(value, dt.date):
        value = value.isoformat()
    if isinstance(value, str) and _BOUND.match(value):
        if len(value) > 4:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise DictionaryError(origin, f"{where}: {value!r} is not a real date") from None
        return value
    raise DictionaryError(origin, f"{where}: validity bound {value!r} must be YYYY or YYYY-MM-DD")


def _check_period(entry: Entry, origin: str, where: str) -> None:
    if entry.valid_from and entry.valid_to and _start(entry.valid_from) > _end(entry.valid_to):
        raise DictionaryError(
            origin, f"{where}: valid_from {entry.valid_from} is after valid_to {entry.valid_to}"
        )


# -- validity ---------------------------------------------------------------------------------------------


def _start(bound: str) -> dt.date:
    return dt.date(int(bound), 1, 1) if len(bound) == 4 else dt.date.fromisoformat(bound)


def _end(bound: str) -> dt.date:
    return dt.date(int(bound), 12, 31) if len(bound) == 4 else dt.date.fromisoformat(bound)


def _is_current(entry: Entry, today: dt.date) -> bool:
    if entry.valid_from is not None and _start(entry.valid_from) > today:
        return False
    if entry.valid_to is None:
        return True
    # A year-only end is the year the code was abolished: no longer current. An ISO date is the last
    # valid day, which may lie in the future.
    return len(entry.valid_to) > 4 and today <= dt.date.fromisoformat(entry.valid_to)


def _covers(entry: Entry, year: int) -> bool:
    if entry.valid_from is not None and int(entry.valid_from[:4]) > year:
        return False
    return entry.valid_to is None or int(entry.valid_to[:4]) >= year


def _merge(rows: Sequence[Entry]) -> Entry:
    """One entry for a code with several name periods: the latest name, the widest period."""
    if len(rows) == 1:
        return rows[0]
    latest = rows[-1]
    starts = [r.valid_from for r in rows]
    ends = [r.valid_to for r in rows]
    valid_from = None if None in starts else min(s for s in starts if s is not None)
    valid_to = None if None in ends else max(e for e in ends if e is not None)
    return Entry(latest.code, latest.zh, latest.en, valid_from, valid_to, latest.level, latest.parent)
