"""The report font: Noto Sans SC from the `pylopdf-fonts-zh-cn` package, never a system font.

The package ships the font as OpenType with CFF (PostScript) outlines. Matplotlib's PDF backend embeds
every TrueType-like font as `FontFile2`, which must hold TrueType (`glyf`) outlines; a CFF font embedded
that way makes a malformed PDF that some viewers refuse (matplotlib issue #2869). Converting all 31,000
glyphs to TrueType takes tens of seconds, so each report gets a TrueType font of just the characters it
prints (`report_font`): the subset of a report's few hundred characters converts in well under a second.

Every string a report prints comes from its model or its labels, so the character set is known before
drawing; any character left out would still be drawn by the fallback font, and matplotlib warns about a
glyph that no font has (the tests turn that warning into an error).

The per-report fonts get their own family names so that matplotlib can never confuse one with another,
nor with a Noto Sans SC installed on the machine (possibly the CFF one). The OFL allows such renamed
format conversions; the font's own copyright and licence records stay in its name table. HTML pages embed
a WOFF subset of the original font holding exactly the characters of the page.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import shutil
import tempfile
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fontTools import subset  # type: ignore[import-untyped]
from fontTools.pens.cu2quPen import Cu2QuPen  # type: ignore[import-untyped]
from fontTools.pens.ttGlyphPen import TTGlyphPen  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont, newTable  # type: ignore[import-untyped]
from matplotlib import font_manager

from anju.evaluation.errors import EvaluationError

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

FONT_PACKAGE = "pylopdf-fonts-zh-cn"
FAMILY_PREFIX = "Anju Sans SC"
# Characters the renderers and matplotlib may print besides the report's own text: ASCII (numbers,
# tick labels, codes) and the punctuation of formatted values.
BASE_CHARS = "".join(chr(c) for c in range(0x20, 0x7F)) + "—–…·×≥≤±°%％（）：；，。、《》“”‘’"
# Fallback for anything the CJK font lacks; DejaVu Sans ships with matplotlib itself.
FALLBACK = "DejaVu Sans"
FALLBACK_ADVANCE = 0.6  # em, width assumed for characters the CJK font lacks
# After the embedded font in HTML pages: only for a browser that refuses data: fonts.
CSS_FALLBACKS = (
    "'Noto Sans SC'",
    "'Noto Sans CJK SC'",
    "'Source Han Sans SC'",
    "'PingFang SC'",
    "'Microsoft YaHei'",
    "sans-serif",
)


def source_font() -> Path:
    """The OpenType file installed by the font dependency."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        raise EvaluationError(
            f"the report font is missing: install the Python package {FONT_PACKAGE} "
            "(a dependency of anju: pip install anju)"
        ) from None
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    if not path.is_file():
        raise EvaluationError(f"the report font {path} is missing: reinstall {FONT_PACKAGE}")
    return path


@cache
def _advances() -> dict[int, float]:
    with TTFont(str(source_font()), lazy=True) as font:
        upem = font["head"].unitsPerEm
        metrics = font["hmtx"].metrics
        return {cp: metrics[glyph][0] / upem for cp, glyph in font.getBestCmap().items()}


def text_width(text: str, size: float) -> float:
    """Width in points of `text` at `size` points (advance widths, as the PDF lays it out)."""
    adv = _advances()
    return sum(adv.get(ord(c), FALLBACK_ADVANCE) for c in text) * size


def charset(texts: Iterable[str]) -> str:
    chars = set(BASE_CHARS)
    for t in texts:
        chars.update(c for c in t if not c.isspace() or c == " ")
    return "".join(sorted(chars))


def _subset(chars: str, options: Any) -> Any:
    font = subset.load_font(str(source_font()), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    return font


def _options(flavor: str | None) -> Any:
    options = subset.Options()
    options.flavor = flavor
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.notdef_outline = True
    return options


def truetype_subset(chars: str, family: str) -> bytes:
    """A TrueType-outline font named `family` holding the glyphs of `chars`."""
    with _subset(chars, _options(None)) as font:
        return _to_truetype(font, family)


def _to_truetype(font: Any, family: str) -> bytes:
    """Replaces the CFF outlines of `font` by quadratic TrueType ones (fontTools' otf2ttf recipe)."""
    glyph_set = font.getGlyphSet()
    order = font.getGlyphOrder()
    glyphs: dict[str, Any] = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        # 1 font unit of tolerance is invisible at any print size; TrueType winds contours the other way.
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    for attr in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, attr, 0)
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"
    _rename(font, family)
    font.recalcBBoxes = True  # the new glyf entries carry no bounds until compiled with recalculation
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def _rename(font: Any, family: str) -> None:
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 2, 3, 4, 6, 16, 17, 21, 22):
            names.removeNames(nameID=record.nameID)
    postscript = family.replace(" ", "") + "-Regular"
    for name_id, value in ((1, family), (2, "Regular"), (3, postscript), (4, family), (6, postscript)):
        names.setName(value, name_id, 3, 1, 0x409)


@cache
def _font_dir() -> Path:
    # Private to this process (mkdtemp is 0700): never a shared, predictable path that another user
    # could have planted a font file in.
    path = Path(tempfile.mkdtemp(prefix="anju-fonts-"))
    atexit.register(shutil.rmtree, path, True)
    return path


_registered: dict[str, str] = {}
_lock = threading.Lock()


def report_font(texts: Iterable[str]) -> str:
    """Registers with matplotlib a TrueType font covering `texts` and returns its family name.

    The same character set gives the same font, converted once per process; a process keeps one small
    file (a few hundred kB) per distinct character set until it exits.
    """
    chars = charset(texts)
    digest = hashlib.sha256(chars.encode("utf-8")).hexdigest()[:12]
    with _lock:
        family = _registered.get(digest)
        if family is None:
            family = f"{FAMILY_PREFIX} {digest}"
            path = _font_dir() / f"{digest}.ttf"
            path.write_bytes(truetype_subset(chars, family))
            font_manager.fontManager.addfont(str(path))
            _registered[digest] = family
    return family


def matplotlib_rc(family: str) -> dict[RcKeyType, Any]:
    """The rcParams every report figure is drawn under."""
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [family, FALLBACK],
        # Type 42 keeps the text as text (selectable, searchable, extractable), unlike Type 3.
        "pdf.fonttype": 42,
        # SVG text stays text; the HTML page embeds the font it needs.
        "svg.fonttype": "none",
        "axes.unicode_minus": False,
    }


def woff_subset(text: str) -> bytes:
    """WOFF of the report font with the glyphs of `text`, for embedding in an HTML page."""
    options = _options("woff")
    buf = io.BytesIO()
    with _subset(charset([text]), options) as font:
        subset.save_font(font, buf, options)
    return buf.getvalue()
