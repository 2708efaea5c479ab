"""词谱 derived from the committed 词 corpus, checked against the standard patterns of well-known tunes."""

from __future__ import annotations

import json

import pytest

from poetry_lm.prosody.cipu import CIPU_FILE, build_cipu, derive_pattern, load_cipu
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
    assert chart.count("（韵1）") == 5 and set(chart) <= set("○●◎（韵1）。，")
