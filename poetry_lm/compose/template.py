"""Which cells of a poem are given before decoding: hidden characters at a position, or a template.

A poem is a sequence of clauses (a 诗's lines, a 词's clauses: its Form), so its cells are (clause i,
character j, 0-based). A `CellPlan` fixes some cells to characters the user chose; the decoder forces them
and samples the rest. Hidden characters (藏头, 藏尾, 藏中, 递增, 递减) are marked on the poem; a
template's kept characters (rewriting a poem with some lines locked) are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from poetry_lm.errors import PoetryError, quoted
from poetry_lm.prosody.form import Form
from poetry_lm.text.corpus import LINE_LENGTHS, is_han, shown_char, to_simplified

# Position kinds: where line i hides its character. A number N (1-based) hides it at N in every line.
POSITIONS = {
    "head": "藏头（每句第一字）",
    "tail": "藏尾（每句最后一字）",
    "rising": "递增（第 i 句第 i 字）",
    "falling": "递减（第 i 句倒数第 i 字）",
}
# Which lines hold the hidden characters. `whole` (the default): a whole poem, the characters on its first lines
# (1–3 characters, a name, give a 绝句); `lines`: one line per character (the classic 藏头诗); `spread`:
# a whole poem, the characters spread evenly over its lines (张伟: lines 1 and 3). A whole poem has 4 lines for up to
# 4 characters, and an odd count above 4 gets one more free line, so the last line rhymes.
PLACEMENTS = {"whole": "整首，藏在前几句", "spread": "整首，隔句分开藏", "lines": "每字一句（字数即句数）"}
# A 词's clauses are its 谱's: the characters go on its first clauses (`whole`, the default), spread evenly over all
# of them (`spread`), or shared out between its 阕, each from its first clause (`stanzas`).
CI_PLACEMENTS = {"whole": "从第一句起，每句一字", "spread": "均匀分到全词各句", "stanzas": "分到各阕，从每阕第一句起"}
FREE_MARKS = "＿_"  # a template cell to write
# A poem of the studio has at most this many lines (one per hidden character; a 律诗 has 8), and a template
# at most this much text: the decoder's work grows with the lines, so more is refused up front.
MAX_LINES = 16
MAX_TEMPLATE_CHARS = 400
_TEMPLATE_BREAK_RE = re.compile(r"[，。？！；、,.?!;:：\s]+")


@dataclass(frozen=True)
class CellPlan:
    """The fixed cells of a poem, and which of them are hidden characters to mark."""

    lengths: tuple[int, ...]  # characters per clause
    fixed: tuple[tuple[int, int, str], ...]  # (line, character, char), in reading order
    marked: tuple[tuple[int, int], ...] = ()  # the hidden characters' cells

    @property
    def lines(self) -> int:
        return len(self.lengths)

    @property
    def line_length(self) -> int:
        """A 诗's line length (its first clause's, for a 词)."""
        return self.lengths[0]

    @property
    def fixed_cells(self) -> dict[tuple[int, int], str]:
        return {(i, j): char for i, j, char in self.fixed}

    @property
    def hidden(self) -> str:
        """The hidden characters in reading order (the acrostic), or "" for a template."""
        cells = self.fixed_cells
        return "".join(cells[cell] for cell in self.marked)


def position_name(position: str | int) -> str:
    """The short name of a position kind: 藏头, 藏尾, 递增, 递减, or 藏中 for a number."""
    return POSITIONS[position].split("（")[0] if position in POSITIONS else "藏中"


def _as_number(position: str | int) -> str | int:
    """A position typed as ASCII digits ("3") as the number 3; anything else as given (² and ① are not numbers here)."""
    if isinstance(position, str) and position.isascii() and position.isdigit():
        return int(position)
    return position


def poem_line_count(count: int, placement: str = "lines") -> int:
    """How many lines a poem hiding `count` characters has (see PLACEMENTS)."""
    check_placement(placement)
    if placement == "lines":
        return count
    return 4 if count <= 4 else count + count % 2


def hidden_lines(count: int, placement: str = "lines", form: Form | None = None) -> list[int]:
    """The line (clause, for a 词's `form`) of each hidden character (0-based)."""
    check_placement(placement, form)
    if form is not None:
        return _form_hidden_lines(count, placement, form)
    total = poem_line_count(count, placement)
    if placement == "spread":
        return [round(k * total / count) for k in range(count)]
    return list(range(count))


def _form_hidden_lines(count: int, placement: str, form: Form) -> list[int]:
    total = len(form.clauses)
    if count > total:
        raise PoetryError(f"《{form.name}》只有 {total} 句，最多藏 {total} 个字，现在有 {count} 个")
    if placement == "spread":
        return [round(k * total / count) for k in range(count)]
    if placement == "whole":
        return list(range(count))
    bounds = [*form.stanzas, total]
    lines = []
    for s, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        share = count // len(form.stanzas) + (s < count % len(form.stanzas))
        if share > end - start:
            raise PoetryError(f"《{form.name}》第 {s + 1} 阕只有 {end - start} 句，藏不下 {share} 个字")
        lines += range(start, start + share)
    return lines


def line_lengths(count: int, line_length: int, placement: str, form: Form | None = None) -> tuple[int, ...]:
    """The length of every line of the poem that hides `count` characters: a 词's clauses, or a 诗's lines."""
    return form.lengths if form is not None else (line_length,) * poem_line_count(count, placement)


def check_placement(placement: str, form: Form | None = None) -> None:
    choices = PLACEMENTS if form is None else CI_PLACEMENTS
    if placement not in choices:
        raise PoetryError(f"藏字的句子只能是 {'/'.join(choices)}，收到 {quoted(str(placement))}")


def check_position(position: str | int, count: int, line_length: int, placement: str = "lines",
                   form: Form | None = None) -> None:
    """PoetryError unless `count` characters can be hidden at `position` in lines of `line_length` (in the clauses
    of `form`, when given)."""
    position = _as_number(position)
    lines = hidden_lines(count, placement, form)
    lengths = line_lengths(count, line_length, placement, form)
    shortest = min((lengths[i] for i in lines), default=line_length)
    if isinstance(position, bool) or not isinstance(position, str | int):
        raise PoetryError(f"藏字位置只能是 {'/'.join(POSITIONS)} 或 1 到 {shortest} 的数字，收到 {position!r}")
    if isinstance(position, int):
        if not 1 <= position <= shortest:
            raise PoetryError(f"藏字位置 {position} 须在 1 到 {shortest}（藏字各句中最短一句的字数）之间")
        return
    if position not in POSITIONS:
        raise PoetryError(f"藏字位置只能是 {'/'.join(POSITIONS)} 或 1 到 {shortest} 的数字，收到 {quoted(position)}")
    too_short = [i for i in lines if position in ("rising", "falling") and i >= lengths[i]]
    if too_short:
        raise PoetryError(f"{position_name(position)}最多藏到第 {lengths[too_short[0]]} 句"
                          f"（第 i 句藏在第 i 字，这一句只有 {lengths[too_short[0]]} 字），现在要藏到第 {too_short[0] + 1} 句")


def position_cells(position: str | int, count: int, line_length: int, placement: str = "lines",
                   form: Form | None = None) -> list[tuple[int, int]]:
    """The cell of each hidden character: its line (`hidden_lines`) and its place in that line."""
    check_position(position, count, line_length, placement, form)
    position = _as_number(position)
    lengths = line_lengths(count, line_length, placement, form)
    column = {
        "head": lambda i: 0,
        "tail": lambda i: lengths[i] - 1,
        "rising": lambda i: i,
        "falling": lambda i: lengths[i] - 1 - i,
    }.get(position, lambda i: int(position) - 1)
    return [(i, column(i)) for i in hidden_lines(count, placement, form)]


def hidden_plan(hidden: str, position: str | int, line_length: int, placement: str = "lines",
                form: Form | None = None) -> CellPlan:
    """The hidden characters at `position` on the lines `placement` gives (one line each: the classic 藏头诗), or
    on the clauses of a 词's `form`; the other lines are free."""
    cells = position_cells(position, len(hidden), line_length, placement, form)
    fixed = tuple((i, j, char) for (i, j), char in zip(cells, hidden, strict=True))
    return CellPlan(line_lengths(len(hidden), line_length, placement, form), fixed, tuple(cells))


def parse_template(text: str, form: Form | None = None) -> CellPlan:
    """A template such as `春风又绿江南岸，＿＿＿＿＿＿＿。`: every Han character is kept, every `＿` or `_`
    is written; lines are split at punctuation or line breaks and must all have 5 or 7 cells (a 词's `form`: the
    lengths of its clauses)."""
    text = str(text or "")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise PoetryError(f"模板太长（{len(text):,} 个字符）：最多 {MAX_LINES} 句，{MAX_TEMPLATE_CHARS} 个字符")
    lines = [line for line in _TEMPLATE_BREAK_RE.split(to_simplified(text).strip()) if line]
    if len(lines) > MAX_LINES:
        raise PoetryError(f"模板有 {len(lines)} 句：最多 {MAX_LINES} 句")
    if not lines:
        raise PoetryError("模板是空的：每句写出要保留的字，用 ＿ 标出要写的位置，例如 春风又绿江南岸，＿＿＿＿＿＿＿。")
    bad = sorted({ch for line in lines for ch in line if not (is_han(ch) or ch in FREE_MARKS)})
    if bad:
        raise PoetryError(f"模板中只能有汉字、＿ 和标点，请去掉：{'、'.join(map(shown_char, bad))}")
    lengths = tuple(len(line) for line in lines)
    if form is not None and lengths != form.lengths:
        raise PoetryError(f"模板的句式 {'·'.join(map(str, lengths))} 与《{form.name}》的 "
                          f"{'·'.join(map(str, form.lengths))} 不合")
    if form is None and (len(set(lengths)) != 1 or lengths[0] not in LINE_LENGTHS):
        raise PoetryError(f"模板每句须同为五字或七字，现在各句字数为 {'/'.join(map(str, sorted(set(lengths))))}")
    fixed = tuple((i, j, ch) for i, line in enumerate(lines) for j, ch in enumerate(line) if ch not in FREE_MARKS)
    if len(fixed) == sum(lengths):
        raise PoetryError("模板里没有要写的位置：用 ＿ 标出要写的字")
    return CellPlan(lengths, fixed)


def reflow_template(lines: list[str], line: int, position: int, char: str) -> str:
    """Put `char` at (line, position) and rewrite the rest of that line; every other line stays."""
    chosen = lines[line][:position] + char
    rest = FREE_MARKS[0] * (len(lines[line]) - position - 1)
    return "\n".join(chosen + rest if i == line else text for i, text in enumerate(lines))


def locked_template(lines: list[str], keep: set[int], also: list[tuple[int, int]] = ()) -> str:
    """The template that keeps lines `keep` (0-based) of a poem, and the cells `also` (its hidden
    characters) in the other lines, and rewrites the rest."""
    also = set(also)
    return "\n".join(
        line if i in keep else "".join(ch if (i, j) in also else FREE_MARKS[0] for j, ch in enumerate(line))
        for i, line in enumerate(lines)
    )
