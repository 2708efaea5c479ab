"""The Form every writer, checker and card shares: a 诗's regulated forms and each 词牌's, from its 谱."""

from __future__ import annotations

import pytest

from poetry_lm.errors import PoetryError
from poetry_lm.prosody import meter
from poetry_lm.prosody.cipu import ci_form, find_pattern, load_cipu, stanza_starts, tune_names
from poetry_lm.prosody.form import CI_BOOK, EITHER, SHI_BOOK, check_form, regulated_form, regulated_forms
from poetry_lm.prosody.tones import PING, ZE


@pytest.mark.parametrize(("line_length", "n_lines", "first_rhymes"), [(5, 4, False), (7, 8, True), (7, 6, False)])
def test_a_regulated_form_is_the_meter_of_that_shape(line_length, n_lines, first_rhymes):
    for start in (PING, ZE):
        form = regulated_form(line_length, n_lines, start, first_rhymes)
        patterns = meter.poem_tones(line_length, n_lines, start, first_rhymes)
        checked = set(meter.checked_cells(line_length, n_lines, first_rhymes))
        assert form.lengths == (line_length,) * n_lines and form.rhyme_book == SHI_BOOK and form.prompt == ""
        assert {(i, j) for i, j, _ in form.checked()} == checked
        assert all(tone == patterns[i][j] for i, j, tone in form.checked())
        assert [i for i, _ in form.rhyme_ends()] == [i for i in range(n_lines) if meter.is_rhyme_line(i, first_rhymes)]
        assert "".join(clause.mark for clause in form.clauses) == "，。" * (n_lines // 2)
        assert form.offsets == tuple(i * (line_length + 1) for i in range(n_lines))
        assert all(clause.tones[0] == EITHER for clause in form.clauses)  # a head is never checked


def test_the_two_regulated_forms_differ_only_in_their_tones():
    ping, ze = regulated_forms(7, 4)
    assert ping.lengths == ze.lengths and ping.rhyme_ends() == ze.rhyme_ends() and ping.size == ze.size == 32
    assert [c.tones for c in ping.clauses] != [c.tones for c in ze.clauses]


def test_the_huanxisha_form_is_its_pattern_with_the_tune_before_it():
    form = ci_form("浣溪沙")
    pattern = find_pattern("浣溪沙")
    assert form.lengths == (7,) * 6 and form.prompt == "浣溪沙。" and form.rhyme_book == CI_BOOK
    assert form.stanzas == (0, 3)  # 7·7·7 / 7·7·7
    assert form.segments == {0: [0, 1, 2, 4, 5]}
    assert [clause.tones for clause in form.clauses] == pattern.tones
    assert form.cell(0, 0) == 4 and form.cell(1, 0) == 4 + 8 and form.size == 4 + 6 * 8


@pytest.mark.parametrize(
    ("tune", "starts"),
    [("如梦令", (0,)), ("菩萨蛮", (0, 4)), ("望江南", (0, 5)), ("蝶恋花", (0, 5)), ("水调歌头", (0, 9)),
     ("卜算子", (0, 4)), ("鹧鸪天", (0, 4))],
)
def test_stanzas_are_found_from_the_clause_pattern(tune, starts):
    pattern = find_pattern(tune)
    assert stanza_starts(pattern.lengths, pattern.marks) == starts


def test_the_one_stanza_form_of_a_doubled_tune():
    form = ci_form("望江南（单调）")
    assert form.lengths == (3, 5, 7, 7, 5) and form.stanzas == (0,) and form.prompt == "望江南。"
    assert "望江南（单调）" in tune_names() and len(tune_names()) > len(load_cipu())
    with pytest.raises(PoetryError, match="没有单调"):
        ci_form("水调歌头（单调）")


def test_a_real_ci_checks_clean_against_its_form():
    form = ci_form("浣溪沙")
    lines = form.split("一曲新词酒一杯，去年天气旧亭台。夕阳西下几时回？无可奈何花落去，似曾相识燕归来。小园香径独徘徊。")
    check = check_form(lines, form)
    assert check.rhymes and check.segment_groups == ["第3部"]
    assert check.tones_kept >= check.tones_checked - 1 and check.tone_ok_ratio >= 0.95
    broken = check_form([*lines[:5], "小园香径独徘路"], form)  # 路 is 仄 and in 部 4
    assert not broken.rhymes and any("第6句第7字“路”应平" in v for v in broken.violations)


def test_split_refuses_a_text_of_another_length():
    with pytest.raises(PoetryError, match="共 42 字"):
        ci_form("浣溪沙").split("一曲新词酒一杯")
