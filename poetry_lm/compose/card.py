"""A poem card to share: a PNG of one poem, vertical right to left (or horizontal), heads marked.

Drawn with Pillow in the font that ships with the project (a subset of Noto Serif CJK SC, see
scripts/build_card_font.py), so it works wherever the package does, with no system fonts.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from poetry_lm.compose.template import position_name
from poetry_lm.errors import PoetryError
from poetry_lm.files import write_atomic
from poetry_lm.paths import DATA_DIR
from poetry_lm.text.corpus import FORM_NAMES

CARD_FONT = DATA_DIR / "fonts" / "NotoSerifCJKsc-Regular-subset.otf"
CARD_FONT_CHARS = CARD_FONT.with_name("characters.txt")  # what the subset covers, written with it
BRAND = "藏头诗工坊"
MISSING_GLYPH = "□"  # drawn, faint, for a character no Noto CJK SC glyph exists for (rare Extension B+)
# Characters the card draws besides the poems': its labels, in every form and line count.
CARD_LABEL_CHARS = (
    BRAND + "".join(FORM_NAMES.values()) + "藏头尾中递增减诗五言七言一二三四五六七八九十句，。、·（）《》" + MISSING_GLYPH
)


@dataclass(frozen=True)
class CardStyle:
    """Colours (RGB) and sizes in pixels."""

    paper: tuple[int, int, int] = (248, 243, 232)
    ink: tuple[int, int, int] = (38, 34, 30)
    mark: tuple[int, int, int] = (179, 38, 30)  # heads / hidden characters
    faint: tuple[int, int, int] = (140, 128, 116)
    rule: tuple[int, int, int] = (222, 208, 190)
    cell: int = 64  # one character
    gap: int = 30  # between lines
    margin: int = 56
    title_size: int = 44
    note_size: int = 22

    def scaled(self, factor: float) -> CardStyle:
        """The same card `factor` times larger (every size rounded up, so the card is at least that much larger)."""
        sizes = {name: math.ceil(getattr(self, name) * factor) for name in SIZE_FIELDS}
        return dataclasses.replace(self, **sizes)


SIZE_FIELDS = ("cell", "gap", "margin", "title_size", "note_size")
SHARE_WIDTH = 1080  # px: what phones and social apps show at full width


@functools.cache
def covered_chars() -> frozenset[str]:
    """The characters the bundled font has glyphs for."""
    try:
        return frozenset(CARD_FONT_CHARS.read_text(encoding="utf-8").strip())
    except OSError as err:
        raise PoetryError(f"诗卡字体的字表无法读取：{CARD_FONT_CHARS}（{err}）") from None


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(CARD_FONT), size)
    except OSError as err:
        raise PoetryError(f"诗卡字体无法读取：{CARD_FONT}（{err}）") from None


def render_card(
    lines: list[str],
    marked: set[tuple[int, int]] | None = None,
    title: str | None = None,
    note: str | None = None,
    vertical: bool = True,
    style: CardStyle = CardStyle(),
    min_width: int = 0,
    breaks: tuple[int, ...] = (),
) -> Image.Image:
    """The card of a poem given as its lines (no punctuation).

    `marked` holds the (line, character) cells drawn in the mark colour, by default each line's
    first character (the heads). Vertical cards read in columns from the right, titled on the
    right; horizontal ones in rows, titled on top. `note` (e.g. the form) goes in small print at
    the end, beside the studio's name. A card narrower than `min_width` is drawn larger, whole
    (`SHARE_WIDTH` for sharing on a phone). `breaks`: the lines that begin a new 阕 of a 词, set
    apart by an empty line's width.
    """
    if not lines or not all(lines):
        raise PoetryError("诗卡需要至少一句诗")
    marked = {(i, 0) for i in range(len(lines))} if marked is None else marked
    width = _card_size(lines, title, vertical, style, breaks)[0]
    if width < min_width:
        style = style.scaled(min_width / width)
    length, cell, gap, margin = max(map(len, lines)), style.cell, style.gap, style.margin
    title_band = style.title_size + gap if title else 0
    body_font, title_font, note_font = _font(cell - 12), _font(style.title_size), _font(style.note_size)
    size = _card_size(lines, title, vertical, style, breaks)
    image = Image.new("RGB", size, style.paper)
    draw = ImageDraw.Draw(image)
    draw.rectangle((margin // 3, margin // 3, size[0] - margin // 3, size[1] - margin // 3), outline=style.rule, width=2)

    def cell_origin(i: int, j: int) -> tuple[int, int]:
        slot = i + sum(start <= i for start in breaks)  # a 阕 begins after an empty line
        if vertical:  # line i is the i-th column from the right
            return size[0] - margin - title_band - (slot + 1) * cell - slot * gap, margin + j * cell
        return margin + j * cell, margin + title_band + slot * (cell + gap)

    covered = covered_chars()
    for i, line in enumerate(lines):
        for j, char in enumerate(line):
            x, y = cell_origin(i, j)
            colour = style.mark if (i, j) in marked else style.ink
            if char not in covered:
                char, colour = MISSING_GLYPH, style.faint
            draw.text((x + cell / 2, y + cell / 2), char, font=body_font, fill=colour, anchor="mm")
    if title:
        if vertical:  # one column beside the poem, cut to its height
            x = size[0] - margin - style.title_size / 2
            fits = length * cell // (style.title_size + 4)
            for k, char in enumerate(title[:fits]):
                draw.text((x, margin + k * (style.title_size + 4) + style.title_size / 2), char, font=title_font,
                          fill=style.ink, anchor="mm")
        else:
            draw.text((size[0] / 2, margin + style.title_size / 2), title, font=title_font, fill=style.ink, anchor="mm")
    footer = " · ".join(part for part in (note, BRAND) if part)
    draw.text((margin, size[1] - margin // 2 - style.note_size // 2), footer, font=note_font, fill=style.faint, anchor="lm")
    return image


def _card_size(lines: list[str], title: str | None, vertical: bool, style: CardStyle,
               breaks: tuple[int, ...] = ()) -> tuple[int, int]:
    """(width, height) of a card in pixels."""
    length, count, cell, gap, margin = max(map(len, lines)), len(lines) + len(breaks), style.cell, style.gap, style.margin
    title_band = style.title_size + gap if title else 0
    note_band = style.note_size + gap // 2
    if vertical:
        return 2 * margin + title_band + count * cell + (count - 1) * gap, 2 * margin + length * cell + note_band
    return 2 * margin + length * cell, 2 * margin + title_band + count * cell + (count - 1) * gap + note_band


def card_png(image: Image.Image) -> bytes:
    """The card as PNG bytes (for a download button)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def form_note(lines: list[str], kind: str = "藏头", tune: str | None = None) -> str:
    """藏头七言绝句 and the like (`kind`: 藏头, 藏尾 … see template.position_name), e.g.
    藏尾诗 · 六句七言 for other line counts, or 藏头词 · 浣溪沙 for a 词 of `tune`."""
    if tune:
        return f"{kind}词 · {tune}"
    form = FORM_NAMES.get((len(lines[0]), len(lines)))
    if form:
        return f"{kind}{form}"
    numbers = "一二三四五六七八九十"
    count = numbers[len(lines) - 1] if len(lines) <= 10 else "十" + numbers[len(lines) - 11]
    return f"{kind}诗 · {count}句{'五' if len(lines[0]) == 5 else '七'}言"


def check_card_dir(out_dir: Path) -> None:
    """PoetryError unless `out_dir` is (or can be made) a folder that accepts a new file: checked before any
    poem is written, so that /proc or a read-only folder is refused up front."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise PoetryError(f"图片目录须是一个目录：{out_dir} 是文件")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as err:
        raise PoetryError(f"图片目录不可写：{out_dir}（{err.strerror or type(err).__name__}）") from None


def write_cards(
    poems, out_dir: Path, vertical: bool = True, title: str | None = None, min_width: int = 0
) -> list[Path]:
    """One PNG per poem in `out_dir` (created if missing), named by heads and rank; returns the paths."""
    def card(poem) -> Image.Image:
        note = form_note(poem.lines, position_name(poem.position), poem.tune) if poem.marked else None
        return render_card(poem.lines, set(poem.marked), title=title or poem.tune, note=note, vertical=vertical,
                           min_width=min_width, breaks=stanza_breaks(poem))

    return write_pngs(((f"{poem.heads}-{rank}", card, poem) for rank, poem in enumerate(poems, 1)), out_dir, "诗卡")


def stanza_breaks(poem) -> tuple[int, ...]:
    """The lines that begin the second and later 阕 of a 词 (none for a 诗)."""
    return () if poem.form is None else poem.form.stanzas[1:]


def write_pngs(pictures, out_dir: Path, what: str) -> list[Path]:
    """Write (name, draw, item) as `<out_dir>/<name>.png` = draw(item), each atomically, in a folder checked first;
    PoetryError naming `what` and the file when one cannot be written. Returns the paths."""
    out_dir = Path(out_dir)
    check_card_dir(out_dir)
    paths = []
    for name, draw, item in pictures:
        path = out_dir / f"{name}.png"
        try:
            write_atomic(path, card_png(draw(item)))
        except OSError as err:
            raise PoetryError(f"无法写入{what} {path}（{err.strerror or type(err).__name__}）") from None
        paths.append(path)
    return paths


@dataclass(frozen=True)
class SpringStyle:
    """Colours (RGB) and sizes in pixels of a 春联 picture."""

    wall: tuple[int, int, int] = (250, 246, 238)
    red: tuple[int, int, int] = (196, 30, 36)
    edge: tuple[int, int, int] = (150, 18, 24)
    gold: tuple[int, int, int] = (246, 204, 96)
    black: tuple[int, int, int] = (24, 18, 14)
    cell: int = 88  # one character
    pad: int = 22  # red around the characters
    door: int = 220  # between the two strips
    margin: int = 48
    note_size: int = 20


def render_spring_couplet(first: str, second: str, banner: str = "", hidden: set[tuple[int, int]] | None = None,
                          ink: str = "gold", style: SpringStyle = SpringStyle(), min_width: int = 0) -> Image.Image:
    """Two vertical red strips, the 上联 on the right and the 下联 on the left as on a door, the 横批 across the
    top reading right to left (the traditional order that goes with the 上联 on the right). `ink` is "gold"
    or "black"; `hidden` holds the (line, character) cells of hidden characters, drawn larger. A picture
    narrower than `min_width` is drawn larger, whole."""
    if not first or len(first) != len(second):
        raise PoetryError("春联需要两句一样长的对联")
    if ink not in ("gold", "black"):
        raise PoetryError(f"春联的字色为 gold 或 black，收到 {ink!r}")
    width = _spring_size(len(first), bool(banner), style)[0]
    if width < min_width:
        factor = min_width / width
        style = dataclasses.replace(style, **{name: math.ceil(getattr(style, name) * factor)
                                              for name in ("cell", "pad", "door", "margin", "note_size")})
    size = _spring_size(len(first), bool(banner), style)
    image = Image.new("RGB", size, style.wall)
    draw = ImageDraw.Draw(image)
    colour = style.gold if ink == "gold" else style.black
    strip_w, cell, pad, margin = style.cell + 2 * style.pad, style.cell, style.pad, style.margin
    top = margin + (cell + 2 * pad + pad if banner else 0)
    covered = covered_chars()

    def strip(box: tuple[int, int, int, int]) -> None:
        draw.rectangle(box, fill=style.red, outline=style.edge, width=3)

    def character(char: str, centre: tuple[float, float], big: bool) -> None:
        shown, fill = (char, colour) if char in covered else (MISSING_GLYPH, style.edge)
        draw.text(centre, shown, font=_font(cell - (4 if big else 16)), fill=fill, anchor="mm")

    hidden = hidden or set()
    right_x, left_x = size[0] - margin - strip_w, margin
    for line, (x, text) in enumerate(((right_x, first), (left_x, second))):
        strip((x, top, x + strip_w, top + len(text) * cell + 2 * pad))
        for j, char in enumerate(text):
            character(char, (x + strip_w / 2, top + pad + j * cell + cell / 2), (line, j) in hidden)
    if banner:
        banner_w = len(banner) * cell + 2 * pad
        x0 = (size[0] - banner_w) // 2
        strip((x0, margin, x0 + banner_w, margin + cell + 2 * pad))
        for k, char in enumerate(banner):  # right to left
            character(char, (x0 + banner_w - pad - k * cell - cell / 2, margin + pad + cell / 2), False)
    draw.text((margin, size[1] - margin // 2 - style.note_size // 2), BRAND, font=_font(style.note_size),
              fill=style.edge, anchor="lm")
    return image


def _spring_size(length: int, banner: bool, style: SpringStyle) -> tuple[int, int]:
    strip_w, strip_h = style.cell + 2 * style.pad, length * style.cell + 2 * style.pad
    banner_h = style.cell + 3 * style.pad if banner else 0
    return 2 * style.margin + 2 * strip_w + style.door, 2 * style.margin + banner_h + strip_h + style.note_size


def couplet_hidden_cells(couplet) -> set[tuple[int, int]]:
    """The cells of a couplet's hidden characters: the first (藏头) or last (藏尾) of each line."""
    if not couplet.hidden:
        return set()
    j = 0 if couplet.position == "head" else len(couplet.first) - 1
    return {(0, j), (1, j)}


def write_couplet_cards(couplets, out_dir: Path, ink: str = "gold", min_width: int = 0) -> list[Path]:
    """One 春联 PNG per couplet in `out_dir`, named by its 上联 and rank; returns the paths."""
    def picture(couplet) -> Image.Image:
        return render_spring_couplet(couplet.first, couplet.second, couplet.banner, couplet_hidden_cells(couplet),
                                     ink=ink, min_width=min_width)

    named = ((f"{couplet.hidden or couplet.first}-{rank}", picture, couplet) for rank, couplet in enumerate(couplets, 1))
    return write_pngs(named, out_dir, "春联图")
