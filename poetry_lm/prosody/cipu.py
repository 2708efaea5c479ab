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
import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from poetry_lm.files import write_atomic
from poetry_lm.paths import DATA_DIR
from poetry_lm.prosody.cilin import cilin_parts
from poetry_lm.prosody.tones import PING, ZE, tone_of
from poetry_lm.text.ci import clauses, load_ci_split

CIPU_FILE = DATA_DIR / "cipu.json"
MIN_POEMS = 30  # a tune needs this many 词 of its main 体 for a 谱
FIXED_SHARE = 0.8  # a cell is 平 or 仄 when this share of the 词 agree
RHYME_LINK_SHARE = 0.5  # two clause ends rhyme together when they share a 部 in this share of the 词
EITHER = "◎"
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

    @property
    def rhyme_clauses(self) -> list[int]:
        return sorted(i for segment in self.segments for i in segment)

    def shape(self) -> str:
        """The clause lengths as 7·7·7 / 7·7·7 would be written, marks kept: 7，7。7。"""
        return "".join(f"{n}{mark}" for n, mark in zip(self.lengths, self.marks, strict=True))

    def chart(self) -> str:
        """The 谱 as ○●◎ per cell, the mark after each clause, a 韵 note (its segment's number) at rhyme ends."""
        segment_of = {i: k for k, segment in enumerate(self.segments, 1) for i in segment}
        parts = []
        for i, (tones, mark) in enumerate(zip(self.tones, self.marks, strict=True)):
            rhyme = f"（韵{segment_of[i]}）" if i in segment_of else ""
            parts.append("".join(MARKS[tone] for tone in tones) + rhyme + mark)
        return "".join(parts)


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


def derive_pattern(tune: str, poems: list[str]) -> Pattern | None:
    """The tune's 谱 from its 词, or None when fewer than MIN_POEMS follow its main 体."""
    forms = collections.Counter(form_key(poem) for poem in poems)
    (main, count), = forms.most_common(1) or [((), 0)]
    if count < MIN_POEMS:
        return None
    followers = [poem for poem in poems if form_key(poem) == main]
    return Pattern(
        tune=tune, lengths=[n for n, _ in main], marks="".join(mark for _, mark in main),
        tones=cell_tones(followers), segments=rhyme_segments(followers), poems=len(poems),
        share=round(count / len(poems), 3),
    )


def derive_cipu(corpus_dir: Path) -> dict[str, Pattern]:
    """The 谱 of every tune with enough 词 in the train split of `<corpus_dir>/ci/`, most written first."""
    by_tune = collections.defaultdict(list)
    for text, tune in load_ci_split(corpus_dir, "train"):
        by_tune[tune].append(text)
    return {tune: pattern for tune, poems in sorted(by_tune.items(), key=lambda item: (-len(item[1]), item[0]))
            if (pattern := derive_pattern(tune, poems)) is not None}


def build_cipu(corpus_dir: Path, out_file: Path = CIPU_FILE) -> dict:
    """Derive the 谱 (`derive_cipu`) and write them to `out_file`; returns a summary."""
    patterns = derive_cipu(corpus_dir)
    write_atomic(Path(out_file), json.dumps({tune: asdict(p) for tune, p in patterns.items()}, ensure_ascii=False,
                                            indent=1))
    return {"file": str(out_file), "tunes": len(patterns), "most_written": list(patterns)[:10]}


def load_cipu(path: Path = CIPU_FILE) -> dict[str, Pattern]:
    """The committed 谱, by tune, most written first."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {tune: Pattern(**fields) for tune, fields in data.items()}
