"""Tone patterns (格律) of 绝句 and 律诗: which tone each position wants, and which positions count.

- Rhyme positions: the last character of every even line (2nd, 4th, …), plus line 1 when the
  scheme is `first_and_even` (首句入韵).
- Patterns: the standard 五言/七言 patterns, derived in `poem_tones` from the tone of line 1's
  2nd character (平起/仄起), whether line 1 rhymes, and the 粘对 rules.
- Checked positions (tone compliance): the 2nd, 4th (and 6th) character of every line
  (二四六分明) plus the rhyme positions, which must be 平 (仄 in a 仄韵 poem). Heads (j = 0) are never checked.
Lines i and characters j are 0-based in code, 1-based in messages.
"""

from __future__ import annotations

from poetry_lm.prosody.tones import PING, ZE
from poetry_lm.text.corpus import FORM_NAMES


def opposite(tone: str) -> str:
    return ZE if tone == PING else PING


def line_tones(line_length: int, second: str, ending: str) -> str:
    """One line's pattern from the tone of its 2nd character and of its last one.

    A 五言 line is the feet (t t)(o o) plus one more t, placed last when the line ends in t and
    first otherwise (平平仄仄平 / 平平平仄仄); a 七言 line puts an opposite foot before the 五言 line.
    """
    core_second = second if line_length == 5 else opposite(second)
    t, o = core_second, opposite(core_second)
    feet = [t, t, o, o]
    core = feet + [t] if ending == t else [t, *feet]
    return "".join(core if line_length == 5 else [second, second, *core])


def is_rhyme_line(i: int, first_rhymes: bool) -> bool:
    return i % 2 == 1 or (i == 0 and first_rhymes)


def poem_tones(line_length: int, n_lines: int, start: str, first_rhymes: bool, rhyme_tone: str = PING) -> list[str]:
    """The pattern of every line: 对 within a couplet (2nd tones opposite), 粘 between couplets (equal).
    Rhyme lines end in `rhyme_tone`, the others in its opposite: 仄 for a 仄韵 poem (a 藏尾 of 仄 characters)."""
    patterns, second = [], start
    for i in range(n_lines):
        if i > 0:
            second = opposite(second) if i % 2 == 1 else second
        ending = rhyme_tone if is_rhyme_line(i, first_rhymes) else opposite(rhyme_tone)
        patterns.append(line_tones(line_length, second, ending))
    return patterns


def checked_cells(line_length: int, n_lines: int, first_rhymes: bool) -> list[tuple[int, int]]:
    """(line, char) positions whose tone counts: 二四六 of every line, and the rhyme positions."""
    cells = []
    for i in range(n_lines):
        cells += [(i, j) for j in range(1, line_length - 1, 2)]
        if is_rhyme_line(i, first_rhymes):
            cells.append((i, line_length - 1))
    return cells


def pattern_name(line_length: int, n_lines: int, start: str, first_rhymes: bool) -> str:
    form = FORM_NAMES.get((line_length, n_lines), f"{n_lines}句{'五' if line_length == 5 else '七'}言")
    return f"{form}·{start}起{'首句入韵' if first_rhymes else '首句不入韵'}"
