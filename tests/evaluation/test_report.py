"""Reports: PDF and HTML per community and per district, with Chinese text that really renders.

The acceptance of issue 6: a report for a fixture community renders to PDF, and its pages show Chinese
text and charts. What proves it here:
- the PDF's text layer holds the expected Chinese strings (pypdf), page by page;
- every Chinese character on a page has a glyph with outlines in a font embedded in that page, and the
  embedded fonts are TrueType (FontFile2 with `glyf`), the kind every viewer reads;
- the radar page is mostly vector paths (the chart), and with poppler's `pdftoppm` installed the pages
  turned into images carry the chart's colour and dark text pixels;
- drawing raises on matplotlib's "glyph missing from font" warning, so no character falls back to a box.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
from fontTools.ttLib import TTFont
from matplotlib.figure import Figure
from PIL import Image
from pypdf import PdfReader
from typer.testing import CliRunner

from anju.evaluation.cli import evaluate_app
from anju.evaluation.inputs import read_input
from anju.evaluation.report.build import (
    Evaluation,
    _trim,
    community_report,
    district_report,
    evaluate_all,
)
from anju.evaluation.report.fonts import matplotlib_rc, report_font, text_width
from anju.evaluation.report.html import render_html
from anju.evaluation.report.labels import Lang
from anju.evaluation.report.model import RankRow
from anju.evaluation.report.pdf import render_pdf, wrap

FIXTURE = Path(__file__).parent / "report_district.yaml"
AS_OF = date(2025, 6, 30)
CODE = "420102002"  # 和平社区: fails Wuhan (80 points), reached 基础型, second of four
DIMENSIONS = (
    "保障机制",
    "平台安全",
    "应急预案执行",
    "社区公共安全",
    "智慧基础设施",
    "应急措施",
    "安全宣传教育",
)
CJK = re.compile(r"[\u4e00-\u9fff]")

runner = CliRunner()


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    return evaluate_all(read_input(FIXTURE), AS_OF)


@pytest.fixture
def no_missing_glyphs() -> Iterator[None]:
    # matplotlib warns "Glyph … missing from font(s)" and draws a box: make that a failure
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font", category=UserWarning)
        yield


@pytest.fixture(scope="module")
def community_pdf(evaluation: Evaluation, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("report") / f"{CODE}.pdf"
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font", category=UserWarning)
        pages = render_pdf(community_report(evaluation, CODE), path)
    return path, pages


def page_texts(path: Path) -> list[str]:
    return [p.extract_text() for p in PdfReader(path).pages]


def embedded_fonts(page: Any) -> list[tuple[Any, bytes]]:
    out = []
    for ref in page["/Resources"]["/Font"].values():
        font = ref.get_object()
        descendant = font["/DescendantFonts"][0].get_object()
        out.append((descendant, descendant["/FontDescriptor"]["/FontFile2"].get_object().get_data()))
    return out


# ── PDF: the acceptance ───────────────────────────────────────────────────────


def test_community_pdf_pages_and_text_layer(community_pdf: tuple[Path, int]) -> None:
    path, pages = community_pdf
    texts = page_texts(path)
    assert len(texts) == pages >= 6
    title, radar, indicators, ranking = texts[:4]
    assert "智慧社区安全评价报告" in title and "和平社区" in title and "代码：420102002" in title
    assert "评价日期：2025-06-30" in title
    assert "第 2 名（共 4 个社区）" in title and "未通过" in title and "基础型" in title
    assert "七个维度得分雷达图" in radar and all(d in radar for d in DIMENSIONS)
    assert "本社区" in radar and "参评社区平均" in radar
    assert "32 项指标得分" in indicators
    assert "SE11 组织保障" in indicators and "SE72 社区管理人员培训" in indicators
    assert "参评社区排名" in ranking
    assert all(n in ranking for n in ("幸福里社区", "和平社区", "光明社区", "长江新村社区"))
    rest = "\n".join(texts[4:])
    # failing items: the Wuhan items not scored and the Shandong growth indicators not met
    assert "武汉验收未得分项（标准小区）" in rest and "落实视频巡检" in rest
    assert "山东指标未达标项（成长型）" in rest and "有线宽带网络" in rest
    assert "改进计划" in rest and "武汉验收：通过验收（≥ 90 分）" in rest and "达到成长型" in rest


def test_every_chinese_character_has_an_outlined_truetype_glyph(community_pdf: tuple[Path, int]) -> None:
    path, _ = community_pdf
    reader = PdfReader(path)
    for number, page in enumerate(reader.pages, start=1):
        chars = set(CJK.findall(page.extract_text()))
        assert chars, f"page {number} has no Chinese text"
        outlined: set[str] = set()
        for descendant, program in embedded_fonts(page):
            # TrueType outlines in FontFile2 (CIDFontType2): not CFF data mislabelled as TrueType
            assert descendant["/Subtype"] == "/CIDFontType2"
            assert program[:4] == b"\x00\x01\x00\x00"
            font = TTFont(BytesIO(program))
            assert "glyf" in font and "CFF " not in font
            glyf = font["glyf"]
            for cp, name in font.getBestCmap().items():
                if glyf[name].numberOfContours > 0:
                    outlined.add(chr(cp))
        assert chars <= outlined, f"page {number}: no outline for {sorted(chars - outlined)}"


def test_radar_page_is_drawn(community_pdf: tuple[Path, int]) -> None:
    path, _ = community_pdf
    content = PdfReader(path).pages[1].get_contents()
    assert content is not None
    data = content.get_data()
    # the polar grid, the two polygons and the spokes are hundreds of path segments
    segments = len(re.findall(rb"\s[lc]\n", data))
    assert segments > 300, segments
    # the radar's line colour (#0072B2) is set as a stroke colour on the page
    assert b"0 0.4470588235 0.6980392157 RG" in data


# CI (.ci/run) installs poppler-utils and requires the tools: there this fails rather than skips.
@pytest.mark.skipif(
    shutil.which("pdftoppm") is None and os.environ.get("ANJU_REQUIRE_SERVICES") != "1",
    reason="pdftoppm (poppler-utils) is not installed",
)
def test_pages_as_images_show_text_and_chart(community_pdf: tuple[Path, int], tmp_path: Path) -> None:
    path, _ = community_pdf
    subprocess.run(
        ["pdftoppm", "-r", "50", "-f", "1", "-l", "2", "-png", str(path), str(tmp_path / "page")], check=True
    )
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == 2
    title = np.asarray(Image.open(images[0]).convert("RGB"), dtype=np.int32)
    radar = np.asarray(Image.open(images[1]).convert("RGB"), dtype=np.int32)
    h = title.shape[0]
    # the community name, 26 pt at about a fifth of the page: dark pixels in that band
    band = title[int(h * 0.2) : int(h * 0.3)]
    dark = int((band.sum(axis=2) < 200).sum())
    assert dark > 100, dark
    # the radar's line and fill (#0072B2 and its tint)
    r, g, b = radar[..., 0], radar[..., 1], radar[..., 2]
    blue = int(((r < 40) & (abs(g - 114) < 40) & (b > 140)).sum())
    assert blue > 200, blue


def test_district_pdf(evaluation: Evaluation, tmp_path: Path, no_missing_glyphs: None) -> None:
    path = tmp_path / "district.pdf"
    pages = render_pdf(district_report(evaluation, Lang.zh, "武昌区"), path)
    texts = page_texts(path)
    assert len(texts) == pages >= 5
    text = "\n".join(texts)
    assert "区域智慧社区安全评价报告" in texts[0] and "武昌区" in texts[0]
    assert "2/4 个社区通过" in texts[0]
    for name in ("幸福里社区", "和平社区", "光明社区", "长江新村社区"):
        assert name in texts[1] and name in texts[2]
    assert "各社区七个维度得分" in text and all(d in text for d in DIMENSIONS)
    assert "常见未达标项" in text and "各社区改进计划概要" in text


def test_english_pdf(evaluation: Evaluation, tmp_path: Path, no_missing_glyphs: None) -> None:
    path = tmp_path / "en.pdf"
    render_pdf(community_report(evaluation, CODE, Lang.en), path)
    text = "\n".join(page_texts(path))
    assert "Smart community safety evaluation report" in text and "和平社区" in text
    assert "Radar chart of the seven dimensions" in text and "Safeguard mechanism" in text
    assert "2 of 4" in text and "Improvement plan" in text
    assert "Wuhan acceptance items not scored (standard estate)" in text


# ── HTML ──────────────────────────────────────────────────────────────────────


def woff_chars(page: str) -> set[str]:
    m = re.search(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", page)
    assert m, "no embedded font"
    font = TTFont(BytesIO(base64.b64decode(m.group(1))))
    return {chr(cp) for cp in font.getBestCmap()}


def assert_self_contained(page: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(?!data:|#)", page)  # only data: URLs and in-page references
    assert "@import" not in page and "<script" not in page and "<link" not in page
    # the only URLs left are the XML namespace names of inline SVG, which nothing fetches
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # several inline SVGs in one page: element ids stay unique, and every reference finds its target
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert set(re.findall(r'(?:url\(#|href="#)([^)"]+)', page)) <= set(ids)


def test_community_html(evaluation: Evaluation, no_missing_glyphs: None) -> None:
    page = render_html(community_report(evaluation, CODE))
    assert_self_contained(page)
    assert page.startswith("<!doctype html>") and '<html lang="zh-CN">' in page
    assert page.count("<svg") == 3  # radar, indicator bars, score bars
    radar = page[page.index('id="radar"') : page.index('id="indicators"')]
    assert "<svg" in radar and all(f">{d}</text>" in radar for d in DIMENSIONS)  # chart labels as text
    assert "和平社区" in page and "SE11" in page and "改进计划" in page and "落实视频巡检" in page
    # the embedded font covers every Chinese character of the page, so none needs a system font
    assert set(CJK.findall(page)) <= woff_chars(page)


def test_district_html(evaluation: Evaluation, no_missing_glyphs: None) -> None:
    page = render_html(district_report(evaluation, Lang.en, "Wuchang"))
    assert_self_contained(page)
    assert '<html lang="en">' in page and "Wuchang" in page
    assert page.count("<svg") == 1 + 4  # score bars + one radar per community
    assert set(CJK.findall(page)) <= woff_chars(page)


def test_html_escapes_names(evaluation: Evaluation, tmp_path: Path) -> None:
    src = FIXTURE.read_text(encoding="utf-8").replace("name: 光明社区", "name: <b>光明</b>社区")
    path = tmp_path / "in.yaml"
    path.write_text(src, encoding="utf-8")
    page = render_html(community_report(evaluate_all(read_input(path), AS_OF), "420102003"))
    assert "<b>光明</b>" not in page and "&lt;b&gt;光明&lt;/b&gt;社区" in page


# ── fonts and layout helpers ──────────────────────────────────────────────────


def test_a_character_outside_the_report_font_is_caught(no_missing_glyphs: None) -> None:
    # the guard the rendering tests rely on: a character the report's font lacks fails loudly
    family = report_font(["平安"])
    with matplotlib.rc_context(matplotlib_rc(family)):
        fig = Figure()
        fig.text(0.5, 0.5, "平安")
        fig.savefig(BytesIO(), format="pdf")
        fig.text(0.5, 0.2, "龘")
        with pytest.raises(UserWarning, match="missing from font"):
            fig.savefig(BytesIO(), format="pdf")


def test_wrap_fits_and_keeps_every_character() -> None:
    text = (
        "小区大门、楼栋门、单元门、入户门设置地址二维码门牌和房屋二维码标识，覆盖率均达到100%。Video patrol"
    )
    for width in (60.0, 120.0, 300.0):
        lines = wrap(text, width, 9)
        assert all(text_width(line, 9) <= width + 9 for line in lines)  # + one closing mark kept
        assert not any(line[:1] in "，。、" for line in lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_long_rankings_keep_the_top_and_the_community() -> None:
    rows = [
        RankRow(k + 1, f"C{k}", f"社区{k}", 90 - k, None, (), "", "", highlight=k == 24) for k in range(40)
    ]
    trimmed = _trim(rows)
    ranks = [r.rank if r else None for r in trimmed]
    assert ranks == [*range(1, 11), None, 23, 24, 25, 26, 27, None]
    assert len(_trim(rows[:15])) == 15


# ── command line ──────────────────────────────────────────────────────────────


def invoke(*args: str) -> tuple[int, str]:
    r = runner.invoke(evaluate_app, list(args))
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.output


def test_cli_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    code, output = invoke(
        "report", "--input", str(FIXTURE), "--community", CODE, "--format", "both", "--out", str(out),
        "--as-of", "2025-06-30",
    )  # fmt: skip
    assert code == 0, output
    assert (out / f"{CODE}.pdf").is_file() and (out / f"{CODE}.html").is_file()
    assert str(out / f"{CODE}.pdf") in output
    assert "和平社区" in page_texts(out / f"{CODE}.pdf")[0]
    code, output = invoke(
        "report", "-i", str(FIXTURE), "--district", "-f", "html", "-o", str(out), "--name", "武昌区"
    )
    assert code == 0, output
    assert "武昌区" in (out / "district.html").read_text(encoding="utf-8")
    assert not (out / "district.pdf").exists()


def test_cli_unknown_community_names_it_and_the_known_ones(tmp_path: Path) -> None:
    code, output = invoke("report", "-i", str(FIXTURE), "-c", "NOPE", "-o", str(tmp_path))
    assert code == 2 and "Traceback" not in output
    assert "code = 'NOPE'" in output
    assert "420102001 (幸福里社区)" in output and "420102004 (长江新村社区)" in output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --community CODE (repeatable) or --district"),
        (("-c", CODE, "--district"), "give --community CODE (repeatable) or --district"),
        (("--district", "--paper-target", "120"), "--paper-target = 120.0"),
        (("-c", CODE, "--lang", "fr"), "'fr'"),
    ],
)
def test_cli_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, output = invoke("report", "-i", str(FIXTURE), "-o", str(tmp_path), *args)
    assert code == 2 and message in output, output


def test_cli_district_needs_an_input_file(tmp_path: Path) -> None:
    code, output = invoke("report", "--district", "-o", str(tmp_path))
    assert code == 2 and "--district reports on the communities of an input file" in output
