"""A form: what the whole engine writes into, the same for 诗, 词 and (next) 对联.

A `Form` is a sequence of clauses, each with its length, the mark after it (，/。 as the model writes them), the tone
every cell wants (平, 仄 or ◎ either) and the rhyme segment its last character belongs to (None: it does not rhyme).
The template planner, the constraint planner, the decoder's layout, the checker and the card read a Form and nothing
else about the shape: 绝句, 律诗 and the N-line 藏头诗 are Forms (`regulated_form`), and so is every 词牌's 谱
(`cipu.Pattern.form`).

The cell layout the decoder writes: the form's `prompt` (a 词's tune, 浣溪沙。, which the model read before every 词
it learned), then each clause's cells followed by its mark. Clause i, character j (0-based) is `cell(i, j)`.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from poetry_lm.errors import PoetryError
from poetry_lm.prosody.cilin import ENTERING_PARTS, cilin_parts, segment_part
from poetry_lm.prosody.meter import checked_cells, is_rhyme_line, pattern_name, poem_tones
from poetry_lm.prosody.rhyme import rhyme_groups_of, shared_group
from poetry_lm.prosody.tones import PING, ZE, tone_fits, tone_of

EITHER = "◎"  # a cell whose tone is free
COMMA, FULL_STOP = "，", "。"
SHI_BOOK, CI_BOOK = "shi", "cilin"  # rhyme books: the poem's own system (ProsodyOptions), or 词林正韵


@dataclass(frozen=True)
class Clause:
    length: int
    mark: str  # ， or 。
    tones: str  # 平, 仄 or ◎ per cell
    rhyme: int | None = None  # the rhyme segment its last character belongs to


@dataclass(frozen=True)
class Form:
    """A poem's shape, tones and rhymes; see the module docstring."""

    name: str
    clauses: tuple[Clause, ...]
    stanzas: tuple[int, ...] = (0,)  # the first clause of each 阕
    prompt: str = ""  # what the model reads before the first clause
    rhyme_book: str = SHI_BOOK
    # Nats off a wrong-tone character in soft tone mode: how firmly a genre's tones are held, chosen on validation
    # poems (README: 词 by tune). The 诗 model keeps 律诗 tones nearly by itself; the 词 model needs a firmer hand.
    soft_tone_penalty: float = 2.0
    # × the repetition penalty (Settings.repetition_penalty): 近体诗 avoid 重字; 词 repeat freely (叠字, 叠句, a
    # character back in the other 阕), so a 词 pays a fraction, chosen to repeat as often as real 词 do.
    repeat_weight: float = 1.0

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(clause.length for clause in self.clauses)

    @functools.cached_property
    def offsets(self) -> tuple[int, ...]:
        """The layout index of each clause's first cell (after the prompt)."""
        starts, at = [], len(self.prompt)
        for clause in self.clauses:
            starts.append(at)
            at += clause.length + 1
        return tuple(starts)

    @property
    def size(self) -> int:
        """Cells in the layout: the prompt, every clause and every mark."""
        return len(self.prompt) + sum(clause.length + 1 for clause in self.clauses)

    def cell(self, i: int, j: int) -> int:
        return self.offsets[i] + j

    @functools.cached_property
    def segments(self) -> dict[int, list[int]]:
        """Rhyme segment → the clauses whose ends rhyme in it, in order."""
        found: dict[int, list[int]] = {}
        for i, clause in enumerate(self.clauses):
            if clause.rhyme is not None:
                found.setdefault(clause.rhyme, []).append(i)
        return found

    def rhyme_tone(self, segment: int) -> str:
        """平, 仄 or ◎: the tone the segment's rhyme characters take (its first end's cell)."""
        first = self.clauses[self.segments[segment][0]]
        return first.tones[-1]

    def end_tone(self, i: int) -> str:
        """The tone clause i's rhyme character takes: its own cell's, else (◎) its segment's. 西江月 rhymes 平 and
        仄 in one 部, so a segment's ends need not share a tone."""
        own = self.clauses[i].tones[-1]
        return own if own != EITHER else self.rhyme_tone(self.clauses[i].rhyme)

    def rhyme_ends(self) -> list[tuple[int, int]]:
        """(clause, character) of every rhyme position."""
        return [(i, clause.length - 1) for i, clause in enumerate(self.clauses) if clause.rhyme is not None]

    def checked(self) -> list[tuple[int, int, str]]:
        """(clause, character, tone) of every cell with a fixed tone."""
        return [(i, j, tone) for i, clause in enumerate(self.clauses) for j, tone in enumerate(clause.tones)
                if tone != EITHER]

    def stanza_lines(self, lines: list[str]) -> list[list[str]]:
        """The clauses (as written) grouped by 阕."""
        bounds = [*self.stanzas, len(self.clauses)]
        return [lines[start:end] for start, end in zip(bounds, bounds[1:], strict=False)]

    def split(self, text: str) -> list[str]:
        """A text of exactly the form's characters (marks and spaces ignored) cut into its clauses."""
        chars = [char for char in str(text) if char not in "，。、？！；：,.?!;:" and not char.isspace()]
        if len(chars) != sum(self.lengths):
            raise PoetryError(f"《{self.name}》共 {sum(self.lengths)} 字（{'·'.join(map(str, self.lengths))}），"
                              f"这里有 {len(chars)} 字")
        rest = iter(chars)
        return ["".join(itertools.islice(rest, n)) for n in self.lengths]

    def punctuated(self, lines: list[str]) -> str:
        return "".join(line + clause.mark for line, clause in zip(lines, self.clauses, strict=True))


def regulated_form(line_length: int, n_lines: int, start: str = PING, first_rhymes: bool = False,
                   rhyme_tone: str = PING) -> Form:
    """A 绝句, 律诗 or N-line poem: lines alternate ，/。 (the last 。); the even lines (and line 1 when
    `first_rhymes`) rhyme in one segment; 二四六 and the rhyme positions carry the `start` (平起/仄起) pattern's
    tones, the rest are either (the heads are never checked)."""
    patterns = poem_tones(line_length, n_lines, start, first_rhymes, rhyme_tone)
    checked = set(checked_cells(line_length, n_lines, first_rhymes))
    clauses = tuple(
        Clause(
            line_length,
            FULL_STOP if i % 2 == 1 or i == n_lines - 1 else COMMA,
            "".join(tone if (i, j) in checked else EITHER for j, tone in enumerate(patterns[i])),
            0 if is_rhyme_line(i, first_rhymes) else None,
        )
        for i in range(n_lines)
    )
    return Form(pattern_name(line_length, n_lines, start, first_rhymes), clauses)


def regulated_forms(line_length: int, n_lines: int, first_rhymes: bool = False, rhyme_tone: str = PING) -> list[Form]:
    """The 平起 and 仄起 forms of one shape: the planner picks, per candidate, one its given characters fit."""
    return [regulated_form(line_length, n_lines, start, first_rhymes, rhyme_tone) for start in (PING, ZE)]


def book_groups(char: str, book: str, system: str) -> frozenset[str]:
    """The rhyme groups a character belongs to in a rhyme book: the poem system's groups, or 词林正韵's 部."""
    if book == CI_BOOK:
        return frozenset(part_name(part) for part in cilin_parts(char))
    return rhyme_groups_of(char, system)


def part_name(part: int) -> str:
    return f"第{part}部"


def entering_part(group: str) -> bool:
    """Whether a group is one of 词林正韵's 入声 部 (15–19), which a 平 rhyme never uses."""
    return group in {part_name(part) for part in ENTERING_PARTS}


def ci_shared_part(ends: str) -> str | None:
    """The 词林正韵 部 a 词's rhyme segment shares, named (第7部), or None."""
    part = segment_part(ends)
    return None if part is None else part_name(part)


@dataclass
class FormCheck:
    """Written clauses read against a form: the tone of every fixed cell, the shared group of every rhyme segment."""

    form: Form
    lines: list[str]
    cell_ok: list[list[bool | None]]  # per clause and cell: the wanted tone kept (None: either tone is fine)
    segment_groups: list[str | None]  # per rhyme segment: a group its ends share (None: they do not)
    violations: list[str]

    @property
    def tones_checked(self) -> int:
        return sum(ok is not None for clause in self.cell_ok for ok in clause)

    @property
    def tones_kept(self) -> int:
        return sum(ok is True for clause in self.cell_ok for ok in clause)

    @property
    def tone_ok_ratio(self) -> float | None:
        return round(self.tones_kept / self.tones_checked, 3) if self.tones_checked else None

    @property
    def rhymes(self) -> bool:
        return all(group is not None for group in self.segment_groups)


def check_form(lines: list[str], form: Form, system: str = "both") -> FormCheck:
    """Every fixed-tone cell and every rhyme segment of `lines` (one per clause): a segment rhymes when its end
    characters share a group of the form's book (`system`'s for a 诗, a 词林正韵 部 for a 词)."""
    shared = ci_shared_part if form.rhyme_book == CI_BOOK else lambda ends: shared_group(list(ends), system)
    cell_ok, violations = [], []
    for i, (line, clause) in enumerate(zip(lines, form.clauses, strict=True), 1):
        row = []
        for j, (char, tone) in enumerate(zip(line, clause.tones, strict=True), 1):
            kept = None if tone == EITHER or tone_of(char) is None else tone_fits(char, tone)  # unknown: not judged
            row.append(kept)
            if kept is False:
                violations.append(f"第{i}句第{j}字“{char}”应{tone}")
        cell_ok.append(row)
    groups = []
    for segment in form.segments.values():
        group = shared("".join(lines[i][-1] for i in segment))
        groups.append(group)
        if group is None:
            ends = "、".join(f"第{i + 1}句“{lines[i][-1]}”" for i in segment)
            book = "一部（词林正韵）" if form.rhyme_book == CI_BOOK else "一韵"
            violations.append(f"{ends}应同押{book}，这里不同")
    return FormCheck(form, lines, cell_ok, groups, violations)
