"""The character → 平/仄 table: built from chinese-poetry's `strains` marks, read with a pypinyin fallback.

The strains files give one 平/仄/○ mark per character of each Tang poem, keyed by poem `id`.
Aligning them with the poems and counting votes per simplified character keeps 入声 characters
(白 日 一 十 石) 仄, which modern Mandarin tones get wrong. Characters whose votes are split are
marked ambiguous (`AMBIGUOUS`, either tone is fine); characters missing from the table fall back
to their modern tone from pypinyin (1st/2nd 平, 3rd/4th 仄).
"""

from __future__ import annotations

import collections
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.paths import DATA_DIR
from poetry_lm.text.corpus import is_han, iter_source_poems, source_files, to_simplified

PING, ZE, AMBIGUOUS = "平", "仄", "两"
TONE_FILE = DATA_DIR / "tones.tsv"
STRAINS_GLOB = "poet.tang.*.json"
MIN_VOTES = 2  # fewer marks than this: too little evidence, leave it to pypinyin
AMBIGUOUS_SHARE = 0.25  # minority share at or above this: a 多音字 used in both tones


@dataclass
class ToneCounts:
    """Votes for one simplified character across the aligned poems."""

    ping: int = 0
    ze: int = 0

    @property
    def tone(self) -> str:
        minority = min(self.ping, self.ze) / (self.ping + self.ze)
        if minority >= AMBIGUOUS_SHARE:
            return AMBIGUOUS
        return PING if self.ping > self.ze else ZE


def _strains_files(source: Path) -> Iterator[bytes]:
    """The `strains/json/poet.tang.*.json` files of an npm tarball or an unpacked directory."""
    if not Path(source).exists():
        raise PoetryError(f"找不到来源：{source}")
    for _, data in source_files(Path(source), STRAINS_GLOB, folder="json"):
        yield data


def _aligned_pairs(source: Path) -> Iterator[tuple[str, str]]:
    """(traditional line of Han characters, its 平仄○ marks) for every line whose lengths agree."""
    # Strains live in `strains/json/`, poems in `quantangshi/`; both are keyed by the same ids.
    marks_by_id: dict[str, list[str]] = {}
    for data in _strains_files(source):
        marks_by_id.update((record["id"], record["strains"]) for record in json.loads(data))
    if not marks_by_id:
        raise PoetryError(f"{source} 中没有找到 strains/json/{STRAINS_GLOB}")
    for record in iter_source_poems(source, ("tang",)):
        strains = marks_by_id.get(record.get("id"))
        paragraphs = record.get("paragraphs") or []
        if strains is None or len(strains) != len(paragraphs):
            continue
        for text, marks in zip(paragraphs, strains, strict=True):
            chars = "".join(ch for ch in text if is_han(ch))
            marks = re.sub("[^平仄○]", "", marks)
            if chars and len(chars) == len(marks):  # notes like （一作…） break the alignment: skip
                yield chars, marks


def count_tones(source: Path) -> dict[str, ToneCounts]:
    """平/仄 votes per simplified character over all aligned Tang lines (○ marks are not votes)."""
    counts: dict[str, ToneCounts] = collections.defaultdict(ToneCounts)
    for chars, marks in _aligned_pairs(Path(source)):
        simplified = to_simplified(chars)
        if len(simplified) != len(chars):
            continue
        for char, mark in zip(simplified, marks, strict=True):
            if mark == PING:
                counts[char].ping += 1
            elif mark == ZE:
                counts[char].ze += 1
    return counts


def build_tone_table(source: Path, out_file: Path = TONE_FILE) -> dict:
    """Write the TSV table (char, tone, 平 votes, 仄 votes) and return a summary."""
    counts = count_tones(Path(source))
    rows = sorted(
        ((char, c) for char, c in counts.items() if c.ping + c.ze >= MIN_VOTES),
        key=lambda item: (-(item[1].ping + item[1].ze), item[0]),
    )
    lines = ["char\ttone\tping\tze"] + [f"{char}\t{c.tone}\t{c.ping}\t{c.ze}" for char, c in rows]
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out_file)
    tones = collections.Counter(c.tone for _, c in rows)
    return {"characters": len(rows), "ping": tones[PING], "ze": tones[ZE], "ambiguous": tones[AMBIGUOUS],
            "votes": sum(c.ping + c.ze for _, c in rows), "out": str(out_file)}


@functools.cache
def tone_table(path: Path = TONE_FILE) -> dict[str, str]:
    """char → 平/仄/两 from the committed table."""
    if not Path(path).is_file():
        raise PoetryError(f"平仄表不存在：{path}（用 python -m poetry_lm prosody build-tones 生成）")
    table = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines()[1:]:
        char, tone, *_ = line.split("\t")
        table[char] = tone
    return table


@functools.cache
def pinyin_tone(char: str) -> str | None:
    """平/仄 from the modern tone of the most common reading (None for neutral tone or no reading)."""
    from pypinyin import Style, pinyin

    readings = pinyin(char, style=Style.TONE3, neutral_tone_with_five=True, errors="ignore")
    reading = readings[0][0] if readings else ""
    if not reading or not reading[-1].isdigit():
        return None
    return PING if reading[-1] in "12" else ZE if reading[-1] in "34" else None


def tone_of(char: str) -> str | None:
    """平, 仄, 两 (either) or None (unknown): the table first, pypinyin for characters it lacks."""
    return tone_table().get(char) or pinyin_tone(char)


def tone_fits(char: str, wanted: str) -> bool:
    """Whether `char` may stand where the pattern wants `wanted` (平 or 仄); unknown characters never fit."""
    tone = tone_of(char)
    return tone == wanted or tone == AMBIGUOUS
