"""The analyser on famous poems whose verdicts every reader of 古诗 knows: a Tang poem is judged by the rhyme
book of its time, a 古绝 or a 仄韵 poem by its own rules, and 三平尾 and 孤平 are named."""

from __future__ import annotations

import pytest

from poetry_lm.cli import main
from poetry_lm.prosody.analysis import analyse, cautions

# (poem, kind, rhyme in 平水韵, rhymes in 中华新韵 too, pattern start, broken 近体 positions, cautions)
PANEL = {
    "登高": ("风急天高猿啸哀，渚清沙白鸟飞回。无边落木萧萧下，不尽长江滚滚来。"
             "万里悲秋常作客，百年多病独登台。艰难苦恨繁霜鬓，潦倒新停浊酒杯。",
             "近体", "灰", False, "七言律诗·仄起首句入韵", 0, []),
    "春望": ("国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。",
             "近体", "侵", False, "五言律诗·仄起首句不入韵", 0, []),
    "静夜思": ("床前明月光，疑是地上霜。举头望明月，低头思故乡。", "古绝", "阳", True, "五言古绝", 2, []),
    "春晓": ("春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。", "仄韵古绝", "筱", True, "五言4句·押仄声韵", 0, []),
    "黄鹤楼": ("昔人已乘黄鹤去，此地空余黄鹤楼。黄鹤一去不复返，白云千载空悠悠。"
               "晴川历历汉阳树，芳草萋萋鹦鹉洲。日暮乡关何处是，烟波江上使人愁。",
               "古体", "尤", True, "七言古体（或称拗律）", 2, ["三平尾"]),
    "登鹳雀楼": ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "近体", "尤", True, "五言绝句·仄起首句不入韵", 0, []),
    "枫桥夜泊": ("月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。",
                 "近体", "先", True, "七言绝句·仄起首句入韵", 0, []),
    "早发白帝城": ("朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
                   "近体", "删", True, "七言绝句·平起首句入韵", 0, []),
}


@pytest.mark.parametrize("name", list(PANEL))
def test_famous_poems_get_their_known_verdicts(name):
    text, kind, group, modern, pattern, broken, flagged = PANEL[name]
    analysis = analyse(text)  # the default: 平水韵 or 中华新韵
    assert analysis.kind == kind and analysis.pattern.startswith(pattern), analysis.pattern
    assert analysis.rhymes and analysis.system == "pingshui" and analysis.rhyme_group == group
    assert [(v.system, v.rhymes) for v in analysis.verdicts] == [("pingshui", True), ("xinyun", modern)]
    assert sum(v.rule != "押韵" for v in analysis.violations) == broken
    assert [c.rule for c in analysis.cautions] == flagged
    assert all(len(readings) == len(line) for readings, line in zip(analysis.pinyin, analysis.lines, strict=True))


def test_a_tang_poem_is_never_unrhymed_for_a_modern_reading():
    """登高's 回 and 杯 no longer rhyme with 哀 today: the verdict says so per book, and the poem still rhymes."""
    analysis = analyse(PANEL["登高"][0], "xinyun")
    assert analysis.rhymes and analysis.rhyme_group == "灰"
    assert "中华新韵：不押（韵脚分属" in analysis.to_text() and "平水韵：押灰韵" in analysis.to_text()
    assert not analyse(PANEL["登高"][0], "pingshui").violations


def test_zeyun_poems_are_not_judged_by_ping_rhyme_patterns():
    analysis = analyse(PANEL["春晓"][0])
    assert not analysis.regulated and analysis.checked == 0 and analysis.violations == []
    assert analysis.rhyme_chars == ["晓", "鸟", "少"]  # the first line rhymes on 仄 too


def test_three_ping_tail_and_lone_ping_are_named():
    assert [c.message for c in cautions(["白云照古城", "江流天地外"], "近体")] == [
        "第1句除韵脚外只有“云”一个平声字：犯孤平（近体所忌）"]
    assert [c.rule for c in cautions(["白云千载空悠悠"], "近体")] == ["三平尾"]
    assert cautions(["恨别鸟惊心", "夜来风雨声"], "近体") == []  # 平平 together at the end is no 孤平


def test_a_modern_sentence_is_not_told_to_count_characters(capsys):
    assert main(["analyse", "今天天气很好，我们一起去公园散步吧"]) == 2
    assert "这段文字不像五言或七言诗" in capsys.readouterr().err


def test_the_default_verdict_rhymes_at_least_as_often_as_pingshui_on_real_poems():
    """The first 600 test-split poems (the README gives the whole split): the default verdict is never below 平水韵."""
    from poetry_lm.text.corpus import load_split
    from tests.conftest import REPO

    poems = load_split(REPO / "corpus", "test")[:600]
    analyses = [analyse(poem) for poem in poems]
    default = sum(a.rhymes for a in analyses)
    pingshui = sum(next(v.rhymes for v in a.verdicts if v.system == "pingshui") for a in analyses)
    assert default >= pingshui >= 0.85 * len(poems)
