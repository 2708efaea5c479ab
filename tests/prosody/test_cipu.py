"""词谱 derived from the committed 词 corpus, checked against the standard patterns of well-known tunes."""

from __future__ import annotations

import json

import pytest

from poetry_lm.errors import PoetryError
from poetry_lm.prosody.cipu import CIPU_FILE, build_cipu, check_ci, derive_pattern, find_pattern, load_cipu, recognise
from tests.conftest import REPO


@pytest.fixture(scope="module")
def cipu():
    return load_cipu()


def test_the_committed_patterns_are_what_the_build_derives(tmp_path):
    out = tmp_path / "cipu.json"
    summary = build_cipu(REPO / "corpus", out)
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(CIPU_FILE.read_text(encoding="utf-8"))
    assert summary["tunes"] >= 60 and summary["most_written"][0] == "浣溪沙"


def test_huanxisha_is_seven_seven_seven_twice_rhyming_level_but_the_fourth_line(cipu):
    pattern = cipu["浣溪沙"]
    assert pattern.lengths == [7] * 6 and pattern.share > 0.9
    assert pattern.segments == [[0, 1, 2, 4, 5]]
    assert all(tones[-1] == "平" for i, tones in enumerate(pattern.tones) if i != 3)  # 平韵
    assert pattern.tones[3][-1] == "仄"


def test_rumengling_and_its_doubled_two_character_clauses(cipu):
    pattern = cipu["如梦令"]
    assert pattern.lengths == [6, 6, 5, 6, 2, 2, 6]
    assert pattern.rhyme_clauses == [0, 1, 3, 4, 5, 6]  # every clause but the five-character one
    assert all(pattern.tones[i][-1] == "仄" for i in pattern.rhyme_clauses)  # 仄韵


def test_wangjiangnan_is_yijiangnan_twice(cipu):
    """忆江南 (3·5·7·7·5) is the corpus's 望江南 in one stanza; the corpus writes it in two."""
    pattern = cipu["望江南"]
    assert pattern.lengths == [3, 5, 7, 7, 5] * 2
    assert pattern.rhyme_clauses == [1, 3, 4, 6, 8, 9]


def test_pusaman_changes_rhyme_every_two_lines(cipu):
    pattern = cipu["菩萨蛮"]
    assert pattern.lengths == [7, 7, 5, 5, 5, 5, 5, 5]
    assert pattern.segments == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert [pattern.tones[i][-1] for i in (0, 2, 4, 6)] == ["仄", "平", "仄", "平"]


def test_a_tune_with_too_few_poems_has_no_pattern():
    assert derive_pattern("小令", ["春风十里，扬州路。"] * 5) is None


def test_the_chart_marks_tones_and_rhymes(cipu):
    chart = cipu["浣溪沙"].chart()
    assert chart.count("（韵1）") == 5 and set(chart) <= set("○●◎（韵1）。，\n")
    assert len(chart.splitlines()) == 2  # one line per 阕


@pytest.mark.parametrize("text, tune, parts", [
    ("一曲新词酒一杯，去年天气旧亭台。夕阳西下几时回？无可奈何花落去，似曾相识燕归来。小园香径独徘徊。", "浣溪沙", 1),
    ("常记溪亭日暮，沉醉不知归路。兴尽晚回舟，误入藕花深处。争渡，争渡，惊起一滩鸥鹭。", "如梦令", 1),
    ("江南好，风景旧曾谙。日出江花红胜火，春来江水绿如蓝。能不忆江南？", "望江南（单调）", 1),
    ("小山重叠金明灭，鬓云欲度香腮雪。懒起画蛾眉，弄妆梳洗迟。照花前后镜，花面交相映。新帖绣罗襦，双双金鹧鸪。", "菩萨蛮", 4),
])
def test_famous_ci_are_recognised_and_keep_their_pattern(text, tune, parts):
    """杯 台 回 来 徊: 灰 split between 部 3 and 5, rhymed together as 宋 poets did (one 平水韵 group)."""
    check = check_ci(text, recognise(text)[0])
    assert check.pattern.tune == tune and check.rhymes and len(check.segment_groups) == parts
    assert check.tones_kept == check.tones_checked and not check.violations


def test_a_broken_ci_is_named_where_it_breaks():
    text = "小山重叠金明灭，鬓云欲度香腮雪。懒起画蛾眉，弄妆梳洗早。照花前后镜，花面交相映。新帖绣罗襦，双双金鹧鸪。"
    check = check_ci(text, find_pattern("菩萨蛮"))
    assert not check.rhymes and any("第3句“眉”、第4句“早”" in v for v in check.violations)


def test_an_alias_finds_its_tune_and_an_unknown_tune_says_so():
    assert find_pattern("酹江月").tune == "念奴娇" and find_pattern("忆江南").tune == "望江南"
    with pytest.raises(PoetryError, match="没有「不存在」的词谱"):
        find_pattern("不存在")


def test_text_of_no_tune_is_not_recognised():
    assert recognise("春眠不觉晓，处处闻啼鸟。") == []
