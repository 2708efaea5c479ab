"""Prosody: 中华新韵 rhyme groups, 平仄 patterns, generation constraints and the poem analyser.

Terms used throughout (line i and character j are 0-based in code, 1-based in messages):
- Rhyme positions: the last character of every even line (2nd, 4th, …), plus line 1 when the
  scheme is `first_and_even` (首句入韵). A poem rhymes when all of them share one 中华新韵 group.
- Tone patterns: the standard 五言/七言 绝句/律诗 patterns, derived in `poem_tones` from the
  tone of line 1's 2nd character (平起/仄起), whether line 1 rhymes, and the 粘对 rules.
- Checked positions (tone compliance): the 2nd, 4th (and 6th) character of every line
  (二四六分明) plus the rhyme positions, which must be 平. Heads (j = 0) are never checked;
  characters of unknown tone are left out of the count, 多音字 marked 两 fit either tone.
"""

from __future__ import annotations

import collections
import functools
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from poetry_lm.corpus import FORM_NAMES, LINE_LENGTHS, is_han, shown_char, to_simplified
from poetry_lm.errors import PoetryError
from poetry_lm.tones import PING, ZE, tone_fits, tone_of
from poetry_lm.vocab import Vocabulary

TONE_MODES = ("off", "soft", "strict")
RHYME_SCHEMES = ("even", "first_and_even")
SOFT_TONE_PENALTY = -2.0  # nats added to a wrong-tone character's score in soft mode
MIN_GROUP_CHARS = 20  # an automatically chosen group needs this many usable characters in the vocabulary
RHYME_WEIGHTS_FILE = Path(__file__).resolve().parent / "data" / "rhyme_weights.json"

# 中华新韵 (14 groups) as pypinyin finals (strict, ü written v); 支 is the -i after zh ch sh r z c s.
RHYME_GROUPS: dict[str, tuple[str, ...]] = {
    "麻": ("a", "ia", "ua"),
    "波": ("o", "uo", "e"),
    "皆": ("ie", "ve"),
    "开": ("ai", "uai"),
    "微": ("ei", "uei"),
    "豪": ("ao", "iao"),
    "尤": ("ou", "iou"),
    "寒": ("an", "ian", "uan", "van"),
    "文": ("en", "in", "uen", "vn"),
    "唐": ("ang", "iang", "uang"),
    "庚": ("eng", "ing", "ong", "iong", "ueng"),
    "齐": ("i", "er", "v"),
    "支": ("-i",),
    "姑": ("u",),
}
_GROUP_OF_FINAL = {final: name for name, finals in RHYME_GROUPS.items() for final in finals}
_BUZZ_SYLLABLES = {"zhi", "chi", "shi", "ri", "zi", "ci", "si"}
_LINE_BREAK_RE = re.compile(r"[，。？！；、,.?!;:：\s]+")


@dataclass(frozen=True)
class ProsodyOptions:
    """Rhyme and tone controls for generation (all off by default)."""

    rhyme: bool = False
    rhyme_scheme: str = "even"
    rhyme_group: str | None = None  # None: chosen per candidate
    tones: str = "off"

    @property
    def active(self) -> bool:
        return self.rhyme or self.tones != "off"


@dataclass
class ConstraintPlan:
    """Per-candidate cell biases for the decoder, and the rhyme group each candidate uses."""

    bias_rows: np.ndarray  # [R, V]
    bias_index: np.ndarray  # [B, T]
    rhyme_groups: list[str | None]


@dataclass
class PoemReport:
    """What a generated poem reports in its JSON: its rhyme group and tone-rule compliance."""

    rhyme: str | None = None
    tone_ok_ratio: float | None = None


# ---- rhyme groups ---------------------------------------------------------------------------


@functools.cache
def rhyme_groups_of(char: str) -> frozenset[str]:
    """The 中华新韵 groups of all of a character's readings (pypinyin heteronyms: 还 huán/hái)."""
    from pypinyin import Style, pinyin
    from pypinyin.contrib.tone_convert import to_finals, to_normal

    readings = pinyin(char, style=Style.TONE, heteronym=True, errors="ignore")
    groups = set()
    for reading in readings[0] if readings else []:
        if to_normal(reading) in _BUZZ_SYLLABLES:
            groups.add("支")
        elif (final := to_finals(reading, strict=True, v_to_u=False)) in _GROUP_OF_FINAL:
            groups.add(_GROUP_OF_FINAL[final])
    return frozenset(groups)


def shared_group(chars: list[str]) -> str | None:
    """The group all `chars` can rhyme in (the most common one at rhyme positions if several), or None."""
    if not chars:
        return None
    common = frozenset.intersection(*(rhyme_groups_of(ch) for ch in chars))
    return max(sorted(common), key=lambda g: rhyme_weights().get(g, 0)) if common else None


def group_label(char: str) -> str:
    """A character's groups for display, e.g. 寒/开 for 还."""
    return "/".join(sorted(rhyme_groups_of(char), key=list(RHYME_GROUPS).index)) or "?"


def check_group_name(name: str) -> str:
    """The group name itself, or PoetryError listing the valid names."""
    if name not in RHYME_GROUPS:
        raise PoetryError(f"未知韵部 {name!r}，可选：{'、'.join(RHYME_GROUPS)}")
    return name


@functools.cache
def rhyme_weights() -> dict[str, int]:
    """How often each group ends an even line in the Tang corpus (committed file, see data/README.md)."""
    if not RHYME_WEIGHTS_FILE.is_file():
        return {name: 1 for name in RHYME_GROUPS}
    return json.loads(RHYME_WEIGHTS_FILE.read_text(encoding="utf-8"))["counts"]


def count_rhyme_groups(poems: list[str]) -> dict[str, int]:
    """平声 rhyme-position characters per group over even lines of `poems`."""
    from poetry_lm.corpus import split_lines

    # A character with readings in several groups counts for each of them.
    counts = collections.Counter(
        group
        for poem in poems
        for line in split_lines(poem)[1::2]
        if tone_fits(line[-1], PING)
        for group in rhyme_groups_of(line[-1])
    )
    return {name: counts.get(name, 0) for name in RHYME_GROUPS}


def build_rhyme_weights(source: Path, out_file: Path = RHYME_WEIGHTS_FILE) -> dict:
    """Count rhyme groups at even-line ends of the regulated Tang poems in `source`; write the JSON."""
    from poetry_lm.corpus import collect_poems, iter_source_poems

    poems, _ = collect_poems("".join(r.get("paragraphs") or []) for r in iter_source_poems(Path(source)))
    result = {"poems": len(poems), "counts": count_rhyme_groups(poems)}
    Path(out_file).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return result


# ---- tone patterns ----------------------------------------------------------------------------


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


def poem_tones(line_length: int, n_lines: int, start: str, first_rhymes: bool) -> list[str]:
    """The pattern of every line: 对 within a couplet (2nd tones opposite), 粘 between couplets (equal)."""
    patterns, second = [], start
    for i in range(n_lines):
        if i > 0:
            second = opposite(second) if i % 2 == 1 else second
        patterns.append(line_tones(line_length, second, PING if is_rhyme_line(i, first_rhymes) else ZE))
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


# ---- generation constraints -------------------------------------------------------------------


def check_options(options: ProsodyOptions) -> None:
    if options.tones not in TONE_MODES:
        raise PoetryError(f"平仄模式只能是 {'/'.join(TONE_MODES)}，收到 {options.tones!r}")
    if options.rhyme_scheme not in RHYME_SCHEMES:
        raise PoetryError(f"押韵方式只能是 {'/'.join(RHYME_SCHEMES)}，收到 {options.rhyme_scheme!r}")
    if options.rhyme_group is not None:
        check_group_name(options.rhyme_group)


@functools.lru_cache(maxsize=4)  # keyed by the Vocabulary object: a loaded generator reuses it
def _vocab_tables(vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray, list[frozenset[str]]]:
    """Per token: fits 平, fits 仄, and the rhyme group (special tokens and punctuation: no)."""
    first = vocab.first_char_id
    fits_ping = np.zeros(len(vocab), dtype=bool)
    fits_ze = np.zeros(len(vocab), dtype=bool)
    groups: list[frozenset[str]] = [frozenset()] * len(vocab)
    for token_id in range(first, len(vocab)):
        char = vocab.tokens[token_id]
        fits_ping[token_id] = tone_fits(char, PING)
        fits_ze[token_id] = tone_fits(char, ZE)
        groups[token_id] = rhyme_groups_of(char)
    return fits_ping, fits_ze, groups


def _choose_groups(options, group_sizes: dict[str, int], count: int, rng: np.random.Generator) -> list[str]:
    """The user's group for every candidate, or groups drawn by their frequency at rhyme positions."""
    if options.rhyme_group is not None:
        name = check_group_name(options.rhyme_group)
        if group_sizes.get(name, 0) == 0:
            raise PoetryError(f"模型词表中没有 {name} 韵的平声字，请换一个韵部")
        return [name] * count
    usable = [g for g in RHYME_GROUPS if group_sizes.get(g, 0) >= MIN_GROUP_CHARS]
    usable = usable or [g for g in RHYME_GROUPS if group_sizes.get(g, 0) > 0]
    if not usable:
        raise PoetryError("模型词表中没有可押韵的平声字")
    weights = np.array([max(rhyme_weights().get(g, 0), 1) for g in usable], dtype=float)
    return list(rng.choice(usable, size=count, p=weights / weights.sum()))


def plan_constraints(
    vocab: Vocabulary,
    heads: str,
    line_length: int,
    num_candidates: int,
    options: ProsodyOptions,
    rng: np.random.Generator,
    free_bias: np.ndarray,
) -> ConstraintPlan:
    """Bias rows and their index per candidate and cell; without options every free cell uses `free_bias`."""
    n_lines, width = len(heads), line_length + 1
    index = np.zeros((num_candidates, n_lines * width), dtype=np.int32)
    if not options.active:
        return ConstraintPlan(free_bias[None, :], index, [None] * num_candidates)
    check_options(options)
    fits_ping, fits_ze, token_groups = _vocab_tables(vocab)
    allowed = np.isfinite(free_bias)
    wrong_penalty = -np.inf if options.tones == "strict" else SOFT_TONE_PENALTY
    first_rhymes = options.rhyme_scheme == "first_and_even"

    rows: dict[tuple, np.ndarray] = {("free",): free_bias}

    def row_id(key: tuple) -> int:
        if key not in rows:
            kind, value = key
            if kind == "rhyme":
                keep = allowed & fits_ping & np.array([value in groups for groups in token_groups])
                rows[key] = np.where(keep, free_bias, -np.inf).astype(np.float32)
            else:
                fits = fits_ping if value == PING else fits_ze
                rows[key] = np.where(fits, free_bias, free_bias + wrong_penalty).astype(np.float32)
            if not np.isfinite(rows[key]).any():
                raise PoetryError(f"模型词表中没有符合要求（{value}）的字")
        return list(rows).index(key)

    groups: list[str | None] = [None] * num_candidates
    rhymed = options.rhyme and any(is_rhyme_line(i, first_rhymes) for i in range(n_lines))  # not for one line
    if rhymed:
        group_sizes = collections.Counter(
            g for groups, ok in zip(token_groups, allowed & fits_ping, strict=True) if ok for g in groups
        )
        groups = _choose_groups(options, group_sizes, num_candidates, rng)
    starts = rng.choice([PING, ZE], size=num_candidates) if options.tones != "off" else [None] * num_candidates
    for b in range(num_candidates):
        if rhymed:
            for i in range(n_lines):
                if is_rhyme_line(i, first_rhymes):
                    index[b, i * width + line_length - 1] = row_id(("rhyme", groups[b]))
        if starts[b] is None:
            continue
        patterns = poem_tones(line_length, n_lines, str(starts[b]), first_rhymes)
        for i, j in checked_cells(line_length, n_lines, first_rhymes):
            cell = i * width + j
            if index[b, cell] == 0:  # a rhyme row already fixes 平 there
                index[b, cell] = row_id(("tone", patterns[i][j]))
    return ConstraintPlan(np.stack(list(rows.values())).astype(np.float32), index, [str(g) if g else None for g in groups])


# ---- analysis ---------------------------------------------------------------------------------


@dataclass
class Violation:
    """One broken rule, with 1-based line and character numbers."""

    line: int
    position: int
    char: str
    rule: str
    message: str


@dataclass
class Analysis:
    """The prosody of one poem: marks, rhyme, best-matching pattern and the rules it breaks."""

    lines: list[str]
    marks: list[str]  # per line, one of 平/仄/两/？ per character
    rhyme_lines: list[int]  # 1-based line numbers of the rhyme positions
    rhyme_chars: list[str]
    rhyme_groups: list[str]  # 中华新韵 groups of each rhyme character, e.g. 寒/开
    rhyme_group: str | None  # the shared group, when the poem rhymes
    rhymes: bool
    pattern: str
    pattern_tones: list[str]
    checked: int
    tone_ok: int
    violations: list[Violation] = field(default_factory=list)

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
            out.append(f"{number:>2}. {line}  实{marks}  谱{wanted}{rhyme}")
        shown = "、".join(f"{c}({g})" for c, g in zip(self.rhyme_chars, self.rhyme_groups, strict=True))
        out.append(f"韵脚：{shown} → " + (f"押{self.rhyme_group}韵（中华新韵）" if self.rhymes else "不押韵"))
        ratio = f"{self.tone_ok_ratio:.0%}" if self.tone_ok_ratio is not None else "—"
        out.append(f"平仄合律：{self.tone_ok}/{self.checked}（{ratio}）")
        out += [f"  ✗ {v.message}" for v in self.violations] or ["  无出律之处"]
        return "\n".join(out)


def parse_poem(text: str) -> list[str]:
    """Lines of a poem typed with any punctuation or line breaks; all 5 or all 7 Han characters."""
    lines = [line for line in _LINE_BREAK_RE.split(to_simplified(str(text or "")).strip()) if line]
    if not lines:
        raise PoetryError("请输入一首诗（五言或七言，句间用标点或换行分开）")
    bad = sorted({ch for line in lines for ch in line if not is_han(ch)})
    if bad:
        raise PoetryError(f"诗中只能有汉字和标点，请去掉：{'、'.join(map(shown_char, bad))}")
    lengths = sorted({len(line) for line in lines})
    if len(lengths) != 1 or lengths[0] not in LINE_LENGTHS:
        raise PoetryError(f"每句须同为五字或七字，现在各句字数为 {'/'.join(map(str, lengths))}")
    return lines


def _mark(char: str) -> str:
    return tone_of(char) or "？"


def _rule_of(i: int, j: int, line_length: int) -> str:
    """Which 粘对/二四六 rule fixes the tone expected at (i, j)."""
    if j == line_length - 1:
        return "韵脚平声"
    if j == 1 and i > 0:
        return "对" if i % 2 == 1 else "粘"
    return "二四六分明"


def analyse_lines(lines: list[str]) -> Analysis:
    """Analyse already-split lines (all of one length, 5 or 7)."""
    line_length, n_lines = len(lines[0]), len(lines)
    even_ends = [line[-1] for line in lines[1::2]]
    # The group most even-line ends can rhyme in; ties go to the group more common in the corpus.
    votes = collections.Counter(g for ch in even_ends for g in rhyme_groups_of(ch))
    main_group = max(sorted(votes), key=lambda g: (votes[g], rhyme_weights().get(g, 0))) if votes else None
    first_end = lines[0][-1]
    first_rhymes = n_lines > 1 and main_group in rhyme_groups_of(first_end)
    first_rhymes = first_rhymes and tone_fits(first_end, PING)
    rhyme_idx = [i for i in range(n_lines) if is_rhyme_line(i, first_rhymes)]
    rhyme_chars = [lines[i][-1] for i in rhyme_idx]
    rhyme_group = shared_group(rhyme_chars)

    cells = [(i, j) for i, j in checked_cells(line_length, n_lines, first_rhymes) if tone_of(lines[i][j])]

    def misses(start: str) -> list[tuple[int, int, str]]:
        patterns = poem_tones(line_length, n_lines, start, first_rhymes)
        return [(i, j, patterns[i][j]) for i, j in cells if not tone_fits(lines[i][j], patterns[i][j])]

    start = min((PING, ZE), key=lambda s: len(misses(s)))
    violations = []
    for i, j, wanted in misses(start):
        char = lines[i][j]
        rule = _rule_of(i, j, line_length)
        message = f"第{i + 1}句第{j + 1}字“{char}”应{wanted}而{tone_of(char)}（{rule}）"
        violations.append(Violation(i + 1, j + 1, char, rule, message))
    for i in rhyme_idx:
        if main_group is not None and main_group not in rhyme_groups_of(lines[i][-1]):
            message = f"第{i + 1}句韵脚“{lines[i][-1]}”属{group_label(lines[i][-1])}韵，与{main_group}韵不押"
            violations.append(Violation(i + 1, line_length, lines[i][-1], "押韵", message))
    violations.sort(key=lambda v: (v.line, v.position))
    return Analysis(
        lines=lines,
        marks=["".join(_mark(ch) for ch in line) for line in lines],
        rhyme_lines=[i + 1 for i in rhyme_idx],
        rhyme_chars=rhyme_chars,
        rhyme_groups=[group_label(c) for c in rhyme_chars],
        rhyme_group=rhyme_group,
        rhymes=rhyme_group is not None,
        pattern=pattern_name(line_length, n_lines, start, first_rhymes),
        pattern_tones=poem_tones(line_length, n_lines, start, first_rhymes),
        checked=len(cells),
        tone_ok=len(cells) - sum(v.rule != "押韵" for v in violations),
        violations=violations,
    )


def analyse(text: str) -> Analysis:
    """Analyse a poem typed by a person: per-character 平仄, rhyme, best pattern, named violations."""
    return analyse_lines(parse_poem(text))


def even_lines_rhyme(lines: list[str]) -> bool:
    """Whether the last characters of all even lines share one 中华新韵 group."""
    return shared_group([line[-1] for line in lines[1::2]]) is not None


def describe(lines: list[str], rhyme_group: str | None, options: ProsodyOptions) -> PoemReport:
    """The report of a generated poem: its rhyme group (the planned one) and tone compliance."""
    if not options.active:
        return PoemReport(rhyme=rhyme_group)
    analysis = analyse_lines(lines)
    return PoemReport(rhyme=rhyme_group or analysis.rhyme_group, tone_ok_ratio=analysis.tone_ok_ratio)
