"""Poem cards: rendered with the bundled font, checked by their pixels; the CLI's --image."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image

from poetry_lm import cli
from poetry_lm.compose.card import (
    CARD_FONT,
    CARD_LABEL_CHARS,
    SHARE_WIDTH,
    CardStyle,
    card_png,
    covered_chars,
    form_note,
    render_card,
)
from poetry_lm.errors import PoetryError
from tests.conftest import REPO

LINES = ["春风又绿江南岸", "花落人亡两不知", "秋水共长天一色", "月明星稀乌鹊飞"]


def mark_pixels(image: Image.Image, style: CardStyle = CardStyle()) -> np.ndarray:
    """Boolean mask of pixels close to the mark colour."""
    pixels = np.asarray(image.convert("RGB")).astype(int)
    return np.abs(pixels - np.asarray(style.mark)).sum(axis=-1) < 60


def runs(indices: np.ndarray, max_gap: int = 12) -> list[tuple[int, int]]:
    """Runs (first, last) of sorted unique indices, split where they jump by more than `max_gap`
    (gaps inside a character, as in 秋, are narrower than those between lines)."""
    values = np.unique(indices)
    breaks = np.flatnonzero(np.diff(values) > max_gap)
    starts, ends = np.r_[values[0], values[breaks + 1]], np.r_[values[breaks], values[-1]]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def test_vertical_card_marks_the_heads_along_the_top_from_right_to_left():
    style = CardStyle()
    image = render_card(LINES, title="春花秋月", note=form_note(LINES))
    ys, xs = np.nonzero(mark_pixels(image))
    assert len(xs) > 200
    assert ys.min() >= style.margin and ys.max() < style.margin + style.cell  # only the first row of characters
    columns = runs(xs)
    assert len(columns) == len(LINES)  # one marked character per line
    # Line 1 is the rightmost column (after the title column), line 4 the leftmost.
    assert columns[-1][0] > image.width / 2 > columns[0][1]
    ink = np.asarray(image.convert("L")) < 100
    assert ink[style.margin + style.cell :, :].sum() > 20 * len(LINES)  # the other characters are drawn


def test_horizontal_card_marks_the_first_character_of_each_row():
    style = CardStyle()
    image = render_card(LINES, vertical=False)
    ys, xs = np.nonzero(mark_pixels(image))
    assert xs.min() >= style.margin and xs.max() < style.margin + style.cell
    assert len(runs(ys)) == len(LINES)


def test_hidden_characters_are_marked_where_they_are():
    style = CardStyle()
    image = render_card(LINES, marked={(i, 6) for i in range(4)}, vertical=False)  # 藏尾
    xs = np.nonzero(mark_pixels(image))[1]
    assert xs.min() >= style.margin + 6 * style.cell


def test_a_character_without_a_glyph_is_drawn_as_a_faint_box():
    style = CardStyle()
    rare = "\U0002B6D3"  # 𫛓, an Extension C character: in no Noto CJK SC font
    assert rare not in covered_chars()
    plain, boxed = render_card(["春风又绿江南岸"]), render_card(["春风又绿江南" + rare])
    assert plain.size == boxed.size and plain.tobytes() != boxed.tobytes()
    faint = np.abs(np.asarray(boxed).astype(int) - np.asarray(style.faint)).sum(axis=-1) < 40
    assert faint[style.margin + 6 * style.cell : style.margin + 7 * style.cell].any()


def test_card_size_follows_the_poem_and_png_round_trips():
    small, large = render_card(LINES[:2]), render_card(LINES * 4)
    assert large.width > small.width and large.height == small.height
    data = card_png(small)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(__import__("io").BytesIO(data)).size == small.size
    assert form_note(LINES) == "藏头七言绝句" and form_note(LINES[:3]) == "藏头诗 · 三句七言"
    assert form_note(LINES, "藏尾") == "藏尾七言绝句" and form_note(LINES[:3], "递增") == "递增诗 · 三句七言"
    with pytest.raises(PoetryError):
        render_card([])


def test_a_share_card_is_at_least_1080_pixels_wide_and_drawn_whole():
    for vertical in (True, False):
        small = render_card(LINES, vertical=vertical, title="春山")
        large = render_card(LINES, vertical=vertical, title="春山", min_width=SHARE_WIDTH)
        assert SHARE_WIDTH <= large.width < SHARE_WIDTH * 1.05
        assert abs(large.height / large.width - small.height / small.width) < 0.05  # the same card, larger
        assert mark_pixels(large).sum() > 4 * mark_pixels(small).sum()
    wide = render_card(LINES * 4)
    assert render_card(LINES * 4, min_width=SHARE_WIDTH).size == wide.size  # already wide enough: unchanged


def test_the_bundled_font_covers_what_a_poem_or_card_can_show():
    cmap = TTFont(CARD_FONT).getBestCmap()
    assert covered_chars() == {chr(code) for code in cmap} & covered_chars()  # the list matches the font
    assert all(ord(ch) in cmap for ch in covered_chars())
    vocab = json.loads((REPO / "models" / "default" / "vocab.json").read_text(encoding="utf-8"))
    needed = {token for token in vocab if len(token) == 1} | set(CARD_LABEL_CHARS)
    missing = sorted(ch for ch in needed if ord(ch) not in cmap)
    # Only rare characters beyond the Basic Multilingual Plane, which no Noto CJK SC font has.
    assert all(ord(ch) > 0xFFFF for ch in missing) and len(missing) < 0.05 * len(needed)
    assert (CARD_FONT.parent / "OFL.txt").read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE Version 1.1") == 1


def test_cli_image_writes_one_card_per_candidate(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "cards" / "new"
    argv = ["generate", "--heads", "春山", "--model", str(tiny_model_dir), "--num", "3", "--chars", "5", "--seed", "1"]
    assert cli.main([*argv, "--image", str(out), "--title", "春山"]) == 0
    cards = sorted(out.glob("*.png"))
    assert [p.name for p in cards] == ["春山-1.png", "春山-2.png", "春山-3.png"]
    assert all(Image.open(p).size[0] > 200 and mark_pixels(Image.open(p)).any() for p in cards)
    assert cli.main([*argv, "--image", str(out / "large"), "--large"]) == 0
    assert all(Image.open(p).size[0] >= SHARE_WIDTH for p in (out / "large").glob("*.png"))
    a_file = tmp_path / "file.png"
    a_file.write_bytes(b"x")
    assert cli.main([*argv, "--image", str(a_file)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: 图片目录须是一个目录")


# ---- 春联 pictures -----------------------------------------------------------------------------------


def _reds(image, box) -> float:
    """Share of the pixels in `box` that are the strips' red."""
    from poetry_lm.compose.card import SpringStyle

    pixels = list(image.crop(box).getdata())
    return sum(pixel == SpringStyle().red for pixel in pixels) / len(pixels)


def test_a_spring_couplet_is_two_red_strips_under_a_red_banner():
    from poetry_lm.compose.card import SpringStyle, render_spring_couplet

    style = SpringStyle()
    image = render_spring_couplet("张灯结彩迎新岁", "伟业宏图展远猷", "万象更新", {(0, 0), (1, 0)})
    width, height = image.size
    strip = style.cell + 2 * style.pad
    assert height > width
    top = style.margin + style.cell + 3 * style.pad
    assert _reds(image, (width - style.margin - strip, top, width - style.margin, top + 200)) > 0.5  # 上联, right
    assert _reds(image, (style.margin, top, style.margin + strip, top + 200)) > 0.5  # 下联, left
    assert _reds(image, (width // 2 - 60, style.margin, width // 2 + 60, style.margin + style.cell)) > 0.3  # 横批
    assert _reds(image, (style.margin + strip + 10, top, width - style.margin - strip - 10, top + 200)) == 0  # door


def test_a_spring_couplet_without_banner_is_shorter_and_the_ink_changes_the_characters():
    from poetry_lm.compose.card import SpringStyle, render_spring_couplet

    with_banner = render_spring_couplet("明月松间照", "清泉石上流", "山水清音")
    plain = render_spring_couplet("明月松间照", "清泉石上流")
    assert plain.height < with_banner.height
    gold = set(render_spring_couplet("明月松间照", "清泉石上流").getdata())
    black = set(render_spring_couplet("明月松间照", "清泉石上流", ink="black").getdata())
    assert SpringStyle().gold in gold and SpringStyle().gold not in black and SpringStyle().black in black


def test_a_large_spring_couplet_is_at_least_the_share_width():
    from poetry_lm.compose.card import SHARE_WIDTH, render_spring_couplet

    assert render_spring_couplet("明月松间照", "清泉石上流", min_width=SHARE_WIDTH).width >= SHARE_WIDTH


@pytest.mark.parametrize("first, second, ink, fragment", [
    ("明月松间照", "清泉石上", "gold", "一样长"), ("", "", "gold", "一样长"), ("明月松间照", "清泉石上流", "blue", "字色"),
])
def test_bad_spring_couplets_say_why(first, second, ink, fragment):
    from poetry_lm.compose.card import render_spring_couplet

    with pytest.raises(PoetryError, match=fragment):
        render_spring_couplet(first, second, ink=ink)
