"""词林正韵 built from the 平水韵 table: whole groups by their 平声 partner, split groups by modern final."""

from __future__ import annotations

import pytest

from poetry_lm.prosody.cilin import ENTERING_PARTS, LEVEL_PARTS, SPLIT_GROUPS, cilin_parts, group_parts, shared_part
from poetry_lm.prosody.rhyme import PINGSHUI_GROUPS, PINGSHUI_ZE_GROUPS


def test_every_pingshui_group_has_a_part_whole_or_split():
    whole = set(group_parts())
    split = {g for group in SPLIT_GROUPS for g in (group, *{"灰": "贿队", "佳": "蟹卦", "元": "阮愿"}.get(group, ""))}
    assert whole | split == set(PINGSHUI_GROUPS + PINGSHUI_ZE_GROUPS) and not whole & split
    assert sorted({*LEVEL_PARTS, 5, *ENTERING_PARTS}) == list(range(1, 20))


@pytest.mark.parametrize("chars, part", [
    ("东冬风中", 1), ("江阳霜长", 2), ("支微齐回杯", 3), ("鱼虞书", 4), ("来才开街鞋", 5), ("真文门魂孙", 6),
    ("寒删先元言园", 7), ("萧肴豪", 8), ("歌多", 9), ("麻家沙娃", 10), ("庚青蒸", 11), ("尤秋愁", 12),
    ("侵心", 13), ("覃盐咸", 14), ("屋沃竹", 15), ("觉药", 16), ("质日陌锡职", 17), ("月雪屑", 18), ("合洽", 19),
])
def test_characters_rhyme_in_the_part_the_rhyme_book_gives(chars, part):
    assert all(part in cilin_parts(char) for char in chars), {c: sorted(cilin_parts(c)) for c in chars}


def test_oblique_groups_follow_their_level_partners():
    assert group_parts()["董"] == group_parts()["送"] == group_parts()["东"] == 1
    assert group_parts()["迥"] == group_parts()["径"] == 11  # 蒸's 上/去 live in 迥/径


def test_shared_part_of_a_rhyme_and_of_a_mismatch():
    assert shared_part("沙家花") == 10 and shared_part("秋愁流") == 12
    assert shared_part("秋沙") is None
