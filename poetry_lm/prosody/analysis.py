"""The poem analyser: per-character 平仄, rhyme, the best-matching pattern, named violations."""

from __future__ import annotations

import collections
import re
from dataclasses import asdict, dataclass, field

from poetry_lm.errors import PoetryError
from poetry_lm.prosody.form import Form, book_groups, check_form
from poetry_lm.prosody.meter import checked_cells, is_rhyme_line, pattern_name, poem_tones
from poetry_lm.prosody.options import ProsodyOptions
from poetry_lm.prosody.rhyme import (
    DEFAULT_SYSTEM,
    SYSTEMS,
    check_system,
    group_label,
    rhyme_groups_of,
    rhyme_weights,
    shared_group,
)
from poetry_lm.prosody.tones import PING, ZE, tone_fits, tone_of
from poetry_lm.text.corpus import FORM_NAMES, LINE_LENGTHS, is_han, shown_char, to_simplified

_LINE_BREAK_RE = re.compile(r"[，。？！；、,.?!;:：\s]+")
# The longest classical poems (长恨歌 120 lines, 百韵排律 200 lines of 5) stay well inside these; larger
# text is not a poem, and is refused before any work is done on it.
MAX_POEM_CHARS, MAX_POEM_LINES = 4_000, 200


@dataclass
class PoemReport:
    """What a generated poem reports in its JSON: its rhyme group, tone-rule compliance, and the
    rules its given characters break."""

    rhyme: str | None = None
    tone_ok_ratio: float | None = None
    conflicts: list[str] = field(default_factory=list)


@dataclass
class Violation:
    """One broken rule, with 1-based line and character numbers."""

    line: int
    position: int
    char: str
    rule: str
    message: str


@dataclass
class RhymeVerdict:
    """Whether the rhyme positions rhyme in one rhyme book, and each rhyme character's group there."""

    system: str
    rhymes: bool
    group: str | None
    groups: list[str]


@dataclass
class Analysis:
    """The prosody of one poem: marks, rhyme, best-matching pattern and the rules it breaks."""

    lines: list[str]
    marks: list[str]  # per line, one of 平/仄/两/？ per character
    rhyme_lines: list[int]  # 1-based line numbers of the rhyme positions
    rhyme_chars: list[str]
    rhyme_groups: list[str]  # the groups of each rhyme character in `system`, e.g. 寒/开
    rhyme_group: str | None  # the shared group, when the poem rhymes
    rhymes: bool
    pattern: str  # the best-matching 绝句/律诗 pattern, or why none is named
    pattern_tones: list[str]  # per line, the tones the pattern wants ("" when no pattern)
    checked: int
    tone_ok: int
    violations: list[Violation] = field(default_factory=list)
    system: str = DEFAULT_SYSTEM  # the rhyme system it was judged in
    regulated: bool = True  # a 绝句 or 律诗: a tone pattern is named and checked
    # 近体 (regulated verse), 古绝/古体 (4/8 lines that do not keep the 近体 rules: they are checked only for
    # comparison), 仄韵 (rhymes on 仄: the 近体 patterns do not apply), or 杂言 (neither 4 nor 8 lines)
    kind: str = "近体"
    cautions: list[Violation] = field(default_factory=list)  # 三平尾 and 孤平: what 近体 avoids
    verdicts: list[RhymeVerdict] = field(default_factory=list)  # each rhyme book's verdict (`analyse`)
    pinyin: list[list[str]] = field(default_factory=list)  # per line, each character's modern reading

    @property
    def tone_ok_ratio(self) -> float | None:
        return round(self.tone_ok / self.checked, 4) if self.checked else None

    def to_dict(self) -> dict:
        return {**asdict(self), "tone_ok_ratio": self.tone_ok_ratio}

    def to_text(self) -> str:
        """A plain-text report: each line with its marks and the pattern, then rhyme and violations."""
        out = [f"格式：{self.pattern}"]
        for number, (line, marks, wanted) in enumerate(zip(self.lines, self.marks, self.pattern_tones, strict=True), 1):
            rhyme = "  ◎韵" if number in self.rhyme_lines else ""
            out.append(f"{number:>2}. {line}  实{marks}  谱{wanted or '—'}{rhyme}")
        shown = "、".join(f"{c}({g})" for c, g in zip(self.rhyme_chars, self.rhyme_groups, strict=True))
        out.append(f"韵脚：{shown} → " + (f"押{self.rhyme_group}韵" if self.rhymes else "不押韵") + f"（{SYSTEMS[self.system]}）")
        out += [f"  {verdict_line(v)}" for v in self.verdicts]
        ratio = f"{self.tone_ok_ratio:.0%}" if self.tone_ok_ratio is not None else "—"
        out.append(f"平仄合律：{self.tone_ok}/{self.checked}（{ratio}）" + ("（仅作对照）" if self.kind == "古绝" else ""))
        out += [f"  ✗ {v.message}" for v in self.violations] or ["  无出律之处"]
        out += [f"  △ {v.message}" for v in self.cautions]
        return "\n".join(out)


def verdict_line(verdict: RhymeVerdict) -> str:
    """One rhyme book's verdict in words: 平水韵：押灰韵 or 中华新韵：不押（哀 开、回 微…）."""
    if verdict.rhymes:
        return f"{SYSTEMS[verdict.system]}：押{verdict.group}韵"
    return f"{SYSTEMS[verdict.system]}：不押（韵脚分属 {'、'.join(verdict.groups)}）"


def parse_poem(text: str) -> list[str]:
    """Lines of a poem typed with any punctuation or line breaks; all 5 or all 7 Han characters."""
    text = str(text or "")
    if len(text) > MAX_POEM_CHARS:
        raise PoetryError(f"这段文字有 {len(text):,} 个字符：分析最多接受 {MAX_POEM_CHARS:,} 个（最长的古诗也远不到此数）")
    lines = [line for line in _LINE_BREAK_RE.split(to_simplified(text).strip()) if line]
    if not lines:
        raise PoetryError("请输入一首诗（五言或七言，句间用标点或换行分开）")
    if len(lines) > MAX_POEM_LINES:
        raise PoetryError(f"这首诗有 {len(lines):,} 句：分析最多接受 {MAX_POEM_LINES} 句")
    bad = sorted({ch for line in lines for ch in line if not is_han(ch)})
    if bad:
        raise PoetryError(f"诗中只能有汉字和标点，请去掉：{'、'.join(map(shown_char, bad))}")
    lengths = sorted({len(line) for line in lines})
    if len(lengths) != 1 or lengths[0] not in LINE_LENGTHS:
        raise PoetryError(f"这段文字不像五言或七言诗：每句须同为五字或七字，现在各句字数为 {'/'.join(map(str, lengths))}")
    return lines


def _mark(char: str) -> str:
    return tone_of(char) or "？"


def _rule_of(i: int, j: int, line_length: int, rhyme_tone: str = PING) -> str:
    """Which 粘对/二四六 rule fixes the tone expected at (i, j)."""
    if j == line_length - 1:
        return f"韵脚{rhyme_tone}声"
    if j == 1 and i > 0:
        return "对" if i % 2 == 1 else "粘"
    return "二四六分明"


def analyse_lines(lines: list[str], system: str = DEFAULT_SYSTEM, any_length: bool = False) -> Analysis:
    """Analyse already-split lines (all of one length, 5 or 7), rhymes judged in `system`.

    Tone patterns are only named for 绝句 and 律诗 (4 or 8 lines); other texts get their marks and
    rhyme, and say why no pattern is given. `any_length` extends the 粘对 pattern to any number of
    lines instead, as the decoder does for an acrostic of that many heads.
    """
    check_system(system)
    line_length, n_lines = len(lines[0]), len(lines)
    regulated = any_length or (line_length, n_lines) in FORM_NAMES
    even_ends = [line[-1] for line in lines[1::2]]
    # The group most even-line ends can rhyme in; ties go to the group more common in the corpus.
    votes = collections.Counter(g for ch in even_ends for g in rhyme_groups_of(ch, system))
    weights = rhyme_weights(system)
    main_group = max(sorted(votes), key=lambda g: (votes[g], weights.get(g, 0))) if votes else None
    first_end = lines[0][-1]
    # 仄韵: every even line ends on a 仄 character (春晓). The 近体 patterns rhyme on 平 and do not apply to a
    # poem read here; a generated one (`any_length`) was written to the same patterns with 仄 rhyme ends.
    all_ze = bool(even_ends) and all(tone_of(ch) == ZE for ch in even_ends)
    rhyme_tone = ZE if any_length and all_ze else PING
    ze_rhyme = regulated and not any_length and all_ze
    regulated = regulated and not ze_rhyme
    first_rhymes = n_lines > 1 and main_group in rhyme_groups_of(first_end, system)
    first_rhymes = first_rhymes and (ze_rhyme or tone_fits(first_end, rhyme_tone))
    rhyme_idx = [i for i in range(n_lines) if is_rhyme_line(i, first_rhymes)]
    rhyme_chars = [lines[i][-1] for i in rhyme_idx]
    rhyme_group = shared_group(rhyme_chars, system)

    checked = checked_cells(line_length, n_lines, first_rhymes) if regulated else []
    cells = [(i, j) for i, j in checked if tone_of(lines[i][j])]

    def misses(start: str) -> list[tuple[int, int, str]]:
        patterns = poem_tones(line_length, n_lines, start, first_rhymes, rhyme_tone)
        return [(i, j, patterns[i][j]) for i, j in cells if not tone_fits(lines[i][j], patterns[i][j])]

    start = min((PING, ZE), key=lambda s: len(misses(s)))
    violations = []
    for i, j, wanted in misses(start):
        char = lines[i][j]
        rule = _rule_of(i, j, line_length, rhyme_tone)
        message = f"第{i + 1}句第{j + 1}字“{char}”应{wanted}而{tone_of(char)}（{rule}）"
        violations.append(Violation(i + 1, j + 1, char, rule, message))
    for i in rhyme_idx:
        char = lines[i][-1]
        if main_group is not None and main_group not in rhyme_groups_of(char, system):
            message = f"第{i + 1}句韵脚“{char}”属{group_label(char, system)}韵，与{main_group}韵不押"
            violations.append(Violation(i + 1, line_length, char, "押韵", message))
    violations.sort(key=lambda v: (v.line, v.position))
    three_ping_tails = sum([tone_of(ch) for ch in line[-3:]] == [PING] * 3 for line in lines)
    breaks = sum(v.rule != "押韵" for v in violations) + three_ping_tails
    kind = verse_kind(n_lines, regulated, ze_rhyme, breaks)
    if regulated:
        pattern, pattern_tones = pattern_name(line_length, n_lines, start, first_rhymes), poem_tones(
            line_length, n_lines, start, first_rhymes, rhyme_tone
        )
        if rhyme_tone == ZE:
            pattern += "·押仄声韵"
        if kind != "近体":
            named = f"{'五' if line_length == 5 else '七'}言{kind}" + ("（或称拗律）" if n_lines == 8 else "")
            pattern = f"{named}：{breaks} 处不合近体的平仄、粘对或三平尾，近体格律不适用，下面按最接近的{pattern}对照"
    elif ze_rhyme:
        pattern = (f"{'五' if line_length == 5 else '七'}言{n_lines}句·押仄声韵（{group_label(lines[1][-1], system)}）："
                   "近体格律以平声押韵，平起仄起的格式不适用，只标平仄与韵脚")
        pattern_tones = [""] * n_lines
    else:
        pattern = f"不是绝句或律诗（须 4 句或 8 句，现有 {n_lines} 句）：只标平仄与韵脚，不套格律"
        pattern_tones = [""] * n_lines
    return Analysis(
        lines=lines,
        marks=["".join(_mark(ch) for ch in line) for line in lines],
        rhyme_lines=[i + 1 for i in rhyme_idx],
        rhyme_chars=rhyme_chars,
        rhyme_groups=[group_label(c, system) for c in rhyme_chars],
        rhyme_group=rhyme_group,
        rhymes=rhyme_group is not None,
        pattern=pattern,
        pattern_tones=pattern_tones,
        checked=len(cells),
        tone_ok=len(cells) - sum(v.rule != "押韵" for v in violations),
        violations=violations,
        system=system,
        regulated=regulated,
        kind=kind,
        cautions=[] if any_length else cautions(lines, kind),
    )


def verse_kind(n_lines: int, regulated: bool, ze_rhyme: bool, tone_breaks: int) -> str:
    """近体; 古绝 (4 lines) or 古体 (8) when the tone rules break (a broken 平仄 position or a 三平尾) at least
    twice in a 绝句 or three times in a 律诗, so a rule-keeping poem with a slip or two stays 近体; 仄韵 when it
    rhymes on 仄; 杂言 for other line counts."""
    if ze_rhyme:
        return "仄韵古绝" if n_lines == 4 else "仄韵古体"
    if not regulated:
        return "杂言" if n_lines not in (4, 8) else "近体"
    if tone_breaks >= (2 if n_lines == 4 else 3):
        return "古绝" if n_lines == 4 else "古体"
    return "近体"


def cautions(lines: list[str], kind: str) -> list[Violation]:
    """三平尾 (a line ending on three 平) and 孤平 (a 平-ending line in which no two 平 stand together, so the
    one 平 besides the rhyme is isolated: 仄平仄仄平, 仄仄仄平仄仄平): what 近体 avoids. Only characters whose
    tone is certain count (a 多音 两 character may be 平, so it never makes a caution)."""
    found = []
    for i, line in enumerate(lines, 1):
        tones = [tone_of(ch) for ch in line]
        if tones[-3:] == [PING] * 3:
            where = "近体所忌" if kind == "近体" else "古体常见，近体所忌"
            found.append(Violation(i, len(line) - 2, line[-3:], "三平尾", f"第{i}句末三字“{line[-3:]}”皆平：三平尾（{where}）"))
        maybe_ping = [tone != ZE for tone in tones]
        paired = any(a and b for a, b in zip(maybe_ping, maybe_ping[1:], strict=False))
        if kind == "近体" and tones[-1] == PING and not paired and sum(maybe_ping[:-1]) == 1:
            only = maybe_ping.index(True)
            found.append(Violation(i, only + 1, line[only], "孤平",
                                   f"第{i}句除韵脚外只有“{line[only]}”一个平声字：犯孤平（近体所忌）"))
    return found


def verdict_systems(system: str) -> list[str]:
    """The rhyme books a poem is judged in, the chosen one first: 平水韵 always (the book of classical poems);
    中华新韵 too when chosen or when both are."""
    check_system(system)
    return {"pingshui": ["pingshui"], "xinyun": ["xinyun", "pingshui"], "both": ["pingshui", "xinyun"]}[system]


def analyse(text: str, system: str = DEFAULT_SYSTEM) -> Analysis:
    """Analyse a poem typed by a person: per-character 平仄 and reading, its kind (近体, 古绝, 仄韵…), each rhyme
    book's verdict, the best pattern and named violations.

    A poem rhymes when it rhymes in any book it is judged in (`verdict_systems`), and the analysis is the one
    of the first such book. "Both at once" is a constraint for writing new poems, never a verdict on old ones:
    a Tang poem is judged by the rhyme book of its time."""
    lines = parse_poem(text)
    judged = [analyse_lines(lines, book) for book in verdict_systems(system)]
    chosen = next((analysis for analysis in judged if analysis.rhymes), judged[0])
    chosen.verdicts = [RhymeVerdict(a.system, a.rhymes, a.rhyme_group, a.rhyme_groups) for a in judged]
    chosen.pinyin = [readings(line) for line in lines]
    return chosen


def readings(line: str) -> list[str]:
    """Each character's modern reading with its tone mark (pypinyin, in context), for the page beside its 平仄."""
    from pypinyin import Style, pinyin

    return [syllables[0] for syllables in pinyin(line, style=Style.TONE, errors=lambda chars: ["?"] * len(chars))]


def describe(
    lines: list[str], form: Form, groups: tuple[str | None, ...], options: ProsodyOptions,
    given: frozenset[tuple[int, int]] = frozenset(),
) -> PoemReport:
    """The report of a generated poem of `form`: its rhyme group(s), tone compliance, and conflicts.

    A segment's planned group (`groups`) is reported when every rhyme position holds it (always, unless a given
    character sits there and breaks it); otherwise the group its ends actually share, if any. A conflict is a rule
    the options ask for that a `given` (hidden or kept) cell breaks: given characters always win over the masks,
    so the poem says where they did.
    """
    if not options.active:
        return PoemReport(rhyme=groups[0] if groups else None)
    check = check_form(lines, form, options.rhyme_system)
    conflicts = []
    if options.tones != "off":
        conflicts += [f"{GIVEN_NOTE}第{i + 1}句第{j + 1}字“{lines[i][j]}”应{form.clauses[i].tones[j]}"
                      for i, j in sorted(given) if check.cell_ok[i][j] is False]
    labels = []
    for k, (segment, planned, shared) in enumerate(zip(form.segments.values(), groups or [None] * len(form.segments),
                                                       check.segment_groups, strict=True)):
        outside = [(i, len(lines[i]) - 1) for i in segment if planned is not None
                   and planned not in book_groups(lines[i][-1], form.rhyme_book, options.rhyme_system)]
        holds = planned is not None and not outside
        labels.append(planned if holds else shared)
        if options.rhyme:
            conflicts += [f"{GIVEN_NOTE}第{i + 1}句韵脚“{lines[i][j]}”不在{planned}韵（第{k + 1}组韵脚）"
                          for i, j in outside if (i, j) in given]
    rhyme = labels[0] if len(labels) == 1 else ("、".join(label or "出韵" for label in labels) if labels else None)
    return PoemReport(rhyme, check.tone_ok_ratio, conflicts)


GIVEN_NOTE = "给定的字不合格律，已按给定保留："
