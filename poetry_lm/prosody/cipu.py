"""词谱 derived from the corpus: for each tune with enough 词, its main form, the tone of every cell and where it
rhymes (published 词谱 datasets are GPL/AGPL or scraped; this one is counted from the train split's 词).

- The main 体: the most common sequence of clause lengths and marks among the tune's 词, with its share.
- Tones: per cell of the main 体, 平 or 仄 when at least `FIXED_SHARE` of the 词 that follow it agree (tones.tsv),
  else either (◎).
- Rhymes: clause ends whose characters share a 词林正韵 部 in most 词 of the tune are linked; each group of linked
  ends is a rhyme segment (菩萨蛮 changes rhyme every two clauses: four segments), in order of first clause.
"""

from __future__ import annotations

import collections
import functools
import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.files import write_atomic
from poetry_lm.paths import DATA_DIR
from poetry_lm.prosody.cilin import cilin_parts
from poetry_lm.prosody.form import CI_BOOK, EITHER, Clause, Form, FormCheck, check_form
from poetry_lm.prosody.tones import PING, ZE, tone_of
from poetry_lm.text.ci import LM_MARKS, clauses, lm_text, load_ci_records

CIPU_FILE = DATA_DIR / "cipu.json"
MIN_POEMS = 30  # a tune needs this many 词 of its main 体 for a 谱
FIXED_SHARE = 0.8  # a cell is 平 or 仄 when this share of the 词 agree
RHYME_LINK_SHARE = 0.5  # two clause ends rhyme together when they share a 部 in this share of the 词
MIN_STANZA_SHARE = 0.4  # each 阕 of a 双调 tune holds at least this share of its characters
# How firmly a 词 holds its 谱, chosen on 240 validation 词 (scripts/tune_ci_prosody.py,
# docs/results/ci_prosody_valid.json; real 词: 97.2% of fixed-tone cells kept, 3.6 repeated characters each).
# Soft tones: 4 nats keep 97.8% of the fixed cells (2: 90.8%, 3: 95.8%, 6: 99.2%), the model's log-probability no worse.
CI_SOFT_TONE_PENALTY = 4.0
# Repeats: at the 诗's full repetition penalty the 词 model repeats 1.4 characters a 词; at a quarter 3.8 (half: 2.6).
CI_REPEAT_WEIGHT = 0.25
SINGLE = "（单调）"  # the name of a tune's one-stanza form (忆江南 is 望江南's first half)
MARKS = {PING: "○", ZE: "●", EITHER: "◎"}


@dataclass
class Pattern:
    """One tune's 谱: its clauses (length and the mark after each), the tone of every cell, its rhyme segments."""

    tune: str
    lengths: list[int]
    marks: str
    tones: list[str]  # one string per clause: 平 仄 or ◎ per cell
    segments: list[list[int]]  # clause numbers (0-based) whose ends rhyme together, in order
    poems: int  # 词 of the tune in the train split
    share: float  # of them, the share that follow this 体
    aliases: list[str]  # other names of the tune in the corpus (酹江月 for 念奴娇), most used first

    @property
    def rhyme_clauses(self) -> list[int]:
        return sorted(i for segment in self.segments for i in segment)

    def shape(self) -> str:
        """The clause lengths as 7·7·7 / 7·7·7 would be written, marks kept: 7，7。7。"""
        return "".join(f"{n}{mark}" for n, mark in zip(self.lengths, self.marks, strict=True))

    def chart(self) -> str:
        """The 谱 as ○●◎ per cell, the mark after each clause, a 韵 note (its segment's number) at rhyme ends, one
        line per 阕."""
        segment_of = {i: k for k, segment in enumerate(self.segments, 1) for i in segment}
        stanzas = stanza_starts(self.lengths, self.marks)
        parts = []
        for i, (tones, mark) in enumerate(zip(self.tones, self.marks, strict=True)):
            rhyme = f"（韵{segment_of[i]}）" if i in segment_of else ""
            parts.append(("\n" if i in stanzas[1:] else "") + "".join(MARKS[tone] for tone in tones) + rhyme + mark)
        return "".join(parts)

    def form(self) -> Form:
        """The 谱 as the engine's Form: marks as the model writes them, the tune as the prompt, 词林正韵 rhymes."""
        segment_of = {i: k for k, segment in enumerate(self.segments) for i in segment}
        clause_list = tuple(Clause(n, mark.translate(LM_MARKS), tones, segment_of.get(i))
                            for i, (n, mark, tones) in enumerate(zip(self.lengths, self.marks, self.tones, strict=True)))
        return Form(self.tune, clause_list, stanza_starts(self.lengths, self.marks),
                    lm_text("", self.tune.removesuffix(SINGLE)), CI_BOOK,
                    CI_SOFT_TONE_PENALTY, CI_REPEAT_WEIGHT)


def stanza_starts(lengths: list[int], marks: str) -> tuple[int, ...]:
    """The first clause of each 阕, from the 句式: a 双调 tune's second 阕 ends like its first (the 换头 may differ),
    so the split is the full stop after which the two halves share the longest ending (at least two clauses), each
    half holding at least `MIN_STANZA_SHARE` of the characters; the most even split among equals. A tune without
    one is read as 单调: (0,)."""
    keys = list(zip(lengths, marks.translate(LM_MARKS), strict=True))
    total, best, best_key = sum(lengths), (0,), (1, 0.0)
    for k in range(1, len(keys)):
        first, second = keys[:k], keys[k:]
        if first[-1][1] != "。" or min(sum(lengths[:k]), sum(lengths[k:])) < MIN_STANZA_SHARE * total:
            continue
        shared = 0
        while shared < min(len(first), len(second)) and first[-1 - shared] == second[-1 - shared]:
            shared += 1
        key = (shared, -abs(sum(lengths[:k]) - sum(lengths[k:])) / total)
        if key > best_key:
            best, best_key = (0, k), key
    return best


def form_key(text: str) -> tuple[tuple[int, str], ...]:
    """(length, mark) of every clause of a 词."""
    return tuple((len(clause), mark) for clause, mark in clauses(text))


def cell_tones(poems: list[str]) -> list[str]:
    """平/仄/◎ per cell of 词 of one form, as one string per clause."""
    per_clause = list(zip(*(clauses(poem) for poem in poems), strict=True))
    result = []
    for versions in per_clause:
        tones = ""
        for cell in zip(*(clause for clause, _ in versions), strict=True):
            counts = collections.Counter(tone_of(char) for char in cell)
            judged = counts[PING] + counts[ZE]
            if judged and counts[PING] / judged >= FIXED_SHARE:
                tones += PING
            elif judged and counts[ZE] / judged >= FIXED_SHARE:
                tones += ZE
            else:
                tones += EITHER
        result.append(tones)
    return result


def rhyme_segments(poems: list[str]) -> list[list[int]]:
    """Groups of clause numbers whose ends share a 部 in at least RHYME_LINK_SHARE of the 词, each group of two or more."""
    ends = [[cilin_parts(clause[-1]) for clause, _ in clauses(poem)] for poem in poems]
    count = len(ends[0])
    linked = {i: {i} for i in range(count)}
    for i, j in itertools.combinations(range(count), 2):
        shared = sum(bool(poem[i] & poem[j]) for poem in ends) / len(ends)
        if shared >= RHYME_LINK_SHARE:
            group = linked[i] | linked[j]
            for k in group:
                linked[k] = group
    groups = {frozenset(group) for group in linked.values() if len(group) > 1}
    return sorted((sorted(group) for group in groups), key=lambda group: group[0])


def derive_pattern(tune: str, poems: list[str], aliases: list[str] | None = None) -> Pattern | None:
    """The tune's 谱 from its 词, or None when fewer than MIN_POEMS follow its main 体."""
    forms = collections.Counter(form_key(poem) for poem in poems)
    (main, count), = forms.most_common(1) or [((), 0)]
    if count < MIN_POEMS:
        return None
    followers = [poem for poem in poems if form_key(poem) == main]
    return Pattern(
        tune=tune, lengths=[n for n, _ in main], marks="".join(mark for _, mark in main),
        tones=cell_tones(followers), segments=rhyme_segments(followers), poems=len(poems),
        share=round(count / len(poems), 3), aliases=aliases or [],
    )


def tunes_by_name(rows: list[tuple[str, str, str]]) -> tuple[dict[str, list[str]], dict[str, collections.Counter]]:
    """(词 by tune, other names by tune). A 词 filed under one name with another beside it (酹江月・念奴娇) goes to
    whichever of the two more 词 are filed under: the corpus's two names of one tune become one."""
    filed = collections.Counter(tune for _, tune, _ in rows)
    by_tune, names = collections.defaultdict(list), collections.defaultdict(collections.Counter)
    for text, tune, alias in rows:
        canonical, other = (alias, tune) if alias and filed[alias] > filed[tune] else (tune, alias)
        by_tune[canonical].append(text)
        if other:
            names[canonical][other] += 1
    return by_tune, names


def derive_cipu(corpus_dir: Path) -> dict[str, Pattern]:
    """The 谱 of every tune with enough 词 in the train split of `<corpus_dir>/ci/`, most written first."""
    by_tune, names = tunes_by_name(load_ci_records(corpus_dir, "train"))
    return {tune: pattern for tune, poems in sorted(by_tune.items(), key=lambda item: (-len(item[1]), item[0]))
            if (pattern := derive_pattern(tune, poems, [name for name, _ in names[tune].most_common()])) is not None}


def build_cipu(corpus_dir: Path, out_file: Path = CIPU_FILE) -> dict:
    """Derive the 谱 (`derive_cipu`) and write them to `out_file`; returns a summary."""
    patterns = derive_cipu(corpus_dir)
    write_atomic(Path(out_file), json.dumps({tune: asdict(p) for tune, p in patterns.items()}, ensure_ascii=False,
                                            indent=1))
    return {"file": str(out_file), "tunes": len(patterns), "most_written": list(patterns)[:10]}


@functools.cache
def load_cipu(path: Path = CIPU_FILE) -> dict[str, Pattern]:
    """The committed 谱, by tune, most written first."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {tune: Pattern(**fields) for tune, fields in data.items()}


def find_pattern(name: str) -> Pattern:
    """The 谱 of a tune by its name or one of its other names (忆江南 finds 望江南); PoetryError naming close ones."""
    name = "".join(str(name).split())
    patterns = load_cipu()
    if name in patterns:
        return patterns[name]
    for pattern in patterns.values():
        if name in pattern.aliases:
            return pattern
    close = [tune for tune in patterns if set(tune) & set(name)][:5]
    hint = f"；相近的有：{'、'.join(close)}" if close else ""
    raise PoetryError(f"没有「{name}」的词谱（语料中写得够多的 {len(patterns)} 个词牌才有谱{hint}）")


def ci_pattern(name: str) -> Pattern:
    """The 谱 of a tune by name or other name (`find_pattern`); `望江南（单调）` is its one-stanza form."""
    name = "".join(str(name or "").split())
    if name.endswith(SINGLE):
        single = first_stanza(find_pattern(name.removesuffix(SINGLE)))
        if single is None:
            raise PoetryError(f"《{name.removesuffix(SINGLE)}》的上下阕不同，没有单调的写法")
        return single
    return find_pattern(name)


def ci_form(name: str) -> Form:
    """The Form of a tune by name (`ci_pattern`)."""
    return ci_pattern(name).form()


def tune_names() -> list[str]:
    """Every tune the studio can write, most written first, each followed by its one-stanza form where it has one."""
    names = []
    for pattern in load_cipu().values():
        names.append(pattern.tune)
        if first_stanza(pattern) is not None:
            names.append(pattern.tune + SINGLE)
    return names


@dataclass
class CiCheck(FormCheck):
    """A 词 read against a tune's 谱 (`check_form` on its Form), with the 谱 itself for the page."""

    pattern: Pattern | None = None


def clean_ci(text: str) -> str:
    """A pasted 词 in standard forms, marks as the corpus writes them, ending on a mark."""
    from poetry_lm.text.charforms import standard_forms, to_simplified

    text = standard_forms(to_simplified("".join(str(text or "").split())))
    text = text.translate(str.maketrans({",": "，", ".": "。", "?": "？", "!": "！", ";": "；", ":": "：", "\n": "。"}))
    return text if text and text[-1] in "，。、？！；：" else text + "。"


def first_stanza(pattern: Pattern) -> Pattern | None:
    """The one-stanza form of a tune whose two stanzas are alike (忆江南 is 望江南's first half), or None."""
    half = len(pattern.lengths) // 2
    if len(pattern.lengths) % 2 or pattern.lengths[:half] != pattern.lengths[half:]:
        return None
    segments = [[i for i in segment if i < half] for segment in pattern.segments]
    return Pattern(f"{pattern.tune}（单调）", pattern.lengths[:half], pattern.marks[:half], pattern.tones[:half],
                   [segment for segment in segments if len(segment) > 1], pattern.poems, pattern.share,
                   pattern.aliases)


def recognise(text: str) -> list[Pattern]:
    """The tunes whose main 体 (or its first stanza, for a tune of two like stanzas) has this 词's clause lengths,
    the best fit (rhymes, then tones kept) first."""
    text = clean_ci(text)
    lengths = [len(clause) for clause, _ in clauses(text)]
    forms = [*load_cipu().values(), *filter(None, map(first_stanza, load_cipu().values()))]
    checks = [check_ci(text, pattern) for pattern in forms if pattern.lengths == lengths]
    return [check.pattern for check in sorted(checks, key=lambda check: (-check.rhymes, -check.tones_kept))]


def check_ci(text: str, pattern: Pattern) -> CiCheck:
    """Every fixed-tone cell and every rhyme segment (by 词林正韵, `cilin.segment_part`) of a 词 of `pattern`'s
    clauses."""
    lines = [clause for clause, _ in clauses(clean_ci(text))]
    return CiCheck(**vars(check_form(lines, pattern.form())), pattern=pattern)
