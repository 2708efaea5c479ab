"""词林正韵, the rhyme book of 词: 19 部, each a union of 平水韵 groups (平, 上 and 去 together; 入声 apart).

Built from the 平水韵 table the studio already has (data/rhymes.json): a group joins the 部 of its 平声 partner
(董 肿 送 宋 go with 东 冬 to 部 1). Three groups are split between two 部 (灰, 佳, 元, with their 上/去 partners,
and 泰, which has no 平 partner); a character of those goes by its modern final (灰: -ui/-ei to 3, -ai to 5).
"""

from __future__ import annotations

import functools

from poetry_lm.prosody.rhyme import rhyme_groups_of, rhyme_table

# 平声 groups of each 部 (1–14); their 上/去 partners follow them through ZE_PARTNERS.
LEVEL_PARTS: dict[int, str] = {
    1: "东冬", 2: "江阳", 3: "支微齐", 4: "鱼虞", 6: "真文", 7: "寒删先", 8: "萧肴豪", 9: "歌", 10: "麻",
    11: "庚青蒸", 12: "尤", 13: "侵", 14: "覃盐咸",
}
# The 上 and 去 groups of each 平 group (蒸's 上/去 are merged into 迥/径 in 平水韵).
ZE_PARTNERS: dict[str, str] = {
    "东": "董送", "冬": "肿宋", "江": "讲绛", "支": "纸寘", "微": "尾未", "鱼": "语御", "虞": "麌遇", "齐": "荠霁",
    "佳": "蟹卦", "灰": "贿队", "真": "轸震", "文": "吻问", "元": "阮愿", "寒": "旱翰", "删": "潸谏", "先": "铣霰",
    "萧": "筱啸", "肴": "巧效", "豪": "皓号", "歌": "哿个", "麻": "马祃", "阳": "养漾", "庚": "梗敬", "青": "迥径",
    "尤": "有宥", "侵": "寝沁", "覃": "感勘", "盐": "琰艳", "咸": "豏陷",
}
ENTERING_PARTS: dict[int, str] = {15: "屋沃", 16: "觉药", 17: "质陌锡职缉", 18: "物月曷黠屑叶", 19: "合洽"}


def _split_by_final(final: str, halves: dict[str, int], default: int) -> int:
    for ending, part in halves.items():
        if final.endswith(ending):
            return part
    return default


# The split groups (半): the 部 of a character by the ending of its modern final.
SPLIT_GROUPS: dict[str, tuple[dict[str, int], int]] = {
    "灰": ({"ai": 5}, 3),  # 来 才 开 → 5; 回 杯 梅 → 3
    "佳": ({"ai": 5, "ie": 5}, 10),  # 街 鞋 柴 → 5; 佳 涯 娃 → 10
    "元": ({"an": 7}, 6),  # 元 言 园 繁 → 7; 门 魂 孙 → 6
    "泰": ({"ui": 3, "ei": 3}, 5),  # 会 最 贝 → 3; 大 盖 带 外 → 5
}


@functools.cache
def group_parts() -> dict[str, int]:
    """平水韵 group → 部 for every group that goes whole to one 部."""
    parts = {}
    for part, groups in LEVEL_PARTS.items():
        for group in groups:
            parts[group] = part
            for partner in ZE_PARTNERS.get(group, ""):
                parts[partner] = part
    for part, groups in ENTERING_PARTS.items():
        parts.update(dict.fromkeys(groups, part))
    return parts


def _final(char: str) -> str:
    from pypinyin import Style, pinyin

    readings = pinyin(char, style=Style.FINALS, strict=True, errors="ignore")
    return readings[0][0] if readings and readings[0] else ""


@functools.cache
def cilin_parts(char: str) -> frozenset[int]:
    """The 词林正韵 部 (1–19) a character rhymes in: one per 平水韵 group it belongs to."""
    whole, split_of = group_parts(), {}
    for group, (halves, default) in SPLIT_GROUPS.items():
        for member in (group, *ZE_PARTNERS.get(group, "")):
            split_of[member] = (halves, default)
    parts = set()
    for group in rhyme_table()["pingshui"].get(char, ""):
        if group in split_of:
            parts.add(_split_by_final(_final(char), *split_of[group]))
        elif group in whole:
            parts.add(whole[group])
    return frozenset(parts)


def shared_part(chars: str) -> int | None:
    """The 部 every character of `chars` rhymes in (the lowest if several), or None."""
    common: set[int] | None = None
    for char in chars:
        common = set(cilin_parts(char)) if common is None else common & cilin_parts(char)
    return min(common) if common else None


def segment_part(ends: str) -> int | None:
    """The 部 a rhyme segment's end characters share; a segment that rhymes in one 平水韵 group across a 部 boundary
    (杯 台 回 来, 灰 split between 部 3 and 5: 宋 poets rhymed them together) counts, as the first end's 部."""
    part = shared_part(ends)
    if part is None and set.intersection(*(set(rhyme_groups_of(char, "pingshui")) for char in ends)):
        return min(cilin_parts(ends[0]), default=None)
    return part
