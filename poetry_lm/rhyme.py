"""中华新韵 rhyme groups: which groups a character rhymes in, and how common each group is.

A poem rhymes when all its rhyme positions share one group. A character with several readings
(pypinyin heteronyms, 还 huán/hái) belongs to each of their groups.
"""

from __future__ import annotations

import collections
import functools
import json
from pathlib import Path

from poetry_lm.corpus import collect_poems, iter_source_poems, split_lines
from poetry_lm.tones import PING, tone_fits

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


@functools.cache
def rhyme_groups_of(char: str) -> frozenset[str]:
    """The 中华新韵 groups of all of a character's readings (pypinyin heteronyms: 还 huán/hái)."""
    # Imported here: pypinyin takes a quarter second to import, and settings checks import this module.
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


@functools.cache
def rhyme_weights() -> dict[str, int]:
    """How often each group ends an even line in the Tang corpus (committed file, see data/README.md)."""
    if not RHYME_WEIGHTS_FILE.is_file():
        return {name: 1 for name in RHYME_GROUPS}
    return json.loads(RHYME_WEIGHTS_FILE.read_text(encoding="utf-8"))["counts"]


def count_rhyme_groups(poems: list[str]) -> dict[str, int]:
    """平声 rhyme-position characters per group over even lines of `poems`."""
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
    poems, _ = collect_poems("".join(r.get("paragraphs") or []) for r in iter_source_poems(Path(source)))
    result = {"poems": len(poems), "counts": count_rhyme_groups(poems)}
    Path(out_file).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return result


def even_lines_rhyme(lines: list[str]) -> bool:
    """Whether the last characters of all even lines share one 中华新韵 group."""
    return shared_group([line[-1] for line in lines[1::2]]) is not None
