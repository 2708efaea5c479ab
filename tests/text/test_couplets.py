"""Couplets from the corpus: the parallel 颔联/颈联 of 律诗, the 首联/尾联 as negatives, and typed couplets."""

from __future__ import annotations

import pytest

from poetry_lm.errors import PoetryError
from poetry_lm.text.couplets import check_first_line, couplet_text, edge_couplets, parallel_couplets, split_couplet
from tests.conftest import FIXTURE_POEMS

SPRING_VIEW = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
QUATRAIN = FIXTURE_POEMS[1]


def test_a_regulated_poem_gives_its_middle_couplets_as_parallel_and_its_outer_ones_as_negatives():
    assert parallel_couplets([SPRING_VIEW]) == [("感时花溅泪", "恨别鸟惊心"), ("烽火连三月", "家书抵万金")]
    assert edge_couplets([SPRING_VIEW]) == [("国破山河在", "城春草木深"), ("白头搔更短", "浑欲不胜簪")]


def test_quatrains_give_no_couplets():
    assert parallel_couplets([QUATRAIN]) == [] and edge_couplets([QUATRAIN]) == []


def test_the_language_model_reads_a_couplet_as_two_lines_of_a_poem():
    assert couplet_text("感时花溅泪", "恨别鸟惊心") == "感时花溅泪，恨别鸟惊心。"


@pytest.mark.parametrize("typed, line", [(" 明月松间照 ", "明月松间照"), ("风吹杨柳千条绿，", "风吹杨柳千条绿")])
def test_a_typed_first_line_is_cleaned(typed, line):
    assert check_first_line(typed) == line


@pytest.mark.parametrize("typed, fragment", [
    ("", "请输入上联"), ("明月abc照", "只能是汉字"), ("明月松间照耀", "6 个字"), ("一二三四五六七八九", "9 个字"),
])
def test_a_bad_first_line_says_why(typed, fragment):
    with pytest.raises(PoetryError, match=fragment):
        check_first_line(typed)


def test_a_pasted_couplet_is_split_into_its_two_lines():
    assert split_couplet("两个黄鹂鸣翠柳，一行白鹭上青天。") == ("两个黄鹂鸣翠柳", "一行白鹭上青天")
    assert split_couplet("海内存知己\n天涯若比邻") == ("海内存知己", "天涯若比邻")
    with pytest.raises(PoetryError, match="一样长"):
        split_couplet("海内存知己，天涯若比邻也")
    with pytest.raises(PoetryError, match="两句"):
        split_couplet(QUATRAIN)
