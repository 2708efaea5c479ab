"""词 by 词牌 through the same engine as 诗: the tune's Form decides the cells, rhymes, tones and card."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from poetry_lm.compose.card import render_card, write_cards
from poetry_lm.compose.generate import PoemGenerator, Settings, alternatives, score_lines
from poetry_lm.compose.template import hidden_plan, locked_template
from poetry_lm.errors import PoetryError
from poetry_lm.prosody.cipu import ci_form
from poetry_lm.prosody.form import check_form
from poetry_lm.prosody.options import DEFAULT_PROSODY


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    return PoemGenerator.load(tiny_model_dir, warm_up=False)


def write(generator, tune="浣溪沙", heads="春花秋月", **settings):
    return generator.generate(Settings(heads=heads, tune=tune, num_candidates=6, seed=7, prosody=DEFAULT_PROSODY,
                                       **settings))


@pytest.mark.parametrize("tune", ["浣溪沙", "如梦令", "望江南（单调）", "菩萨蛮"])
def test_every_ci_has_its_tunes_clauses_heads_and_rhymes(generator, tune):
    form = ci_form(tune)
    for poem in write(generator, tune):
        assert tuple(map(len, poem.lines)) == form.lengths and poem.tune == form.name
        assert [line[0] for line in poem.lines[:4]] == list("春花秋月") and poem.marked == [(i, 0) for i in range(4)]
        check = check_form(poem.lines, form)
        assert check.rhymes, (poem.text, check.violations)  # each segment shares a 词林正韵 部
        for segment, group in zip(form.segments, poem.rhyme.split("、"), strict=True):
            if form.rhyme_tone(segment) == "平":  # a 平 rhyme never takes an 入声 部 (15–19)
                assert int(group.strip("第部")) <= 14, poem.rhyme
        assert poem.text == form.punctuated(poem.lines) and poem.to_dict()["tune"] == form.name


@pytest.mark.parametrize("tune", ["浣溪沙", "西江月"])  # 西江月 rhymes 平 and 仄 in one 部 (平仄通叶)
def test_strict_tones_keep_every_fixed_tone_cell_the_model_writes(generator, tune):
    form = ci_form(tune)
    prosody = DEFAULT_PROSODY.__class__(rhyme=True, tones="strict")
    for poem in generator.generate(Settings(heads="春花秋月", tune=tune, num_candidates=6, seed=3, prosody=prosody)):
        check = check_form(poem.lines, form)
        broken = [(i, j) for i, row in enumerate(check.cell_ok) for j, ok in enumerate(row) if ok is False]
        assert set(broken) <= set(poem.given), (poem.text, broken)


@pytest.mark.parametrize(
    ("placement", "lines"),
    [("whole", [0, 1, 2, 3]), ("spread", [0, 2, 3, 4]), ("stanzas", [0, 1, 3, 4])],
)
def test_placements_of_the_hidden_characters_in_a_ci(placement, lines):
    plan = hidden_plan("春花秋月", "head", 7, placement, ci_form("浣溪沙"))
    assert [i for i, _ in plan.marked] == lines and plan.lengths == (7,) * 6


def test_hidden_characters_at_the_tail_of_clauses_of_several_lengths():
    plan = hidden_plan("春花", "tail", 7, "whole", ci_form("望江南（单调）"))
    assert plan.marked == ((0, 2), (1, 4))


@pytest.mark.parametrize(
    ("heads", "tune", "placement", "message"),
    [("春花秋月春花秋月", "如梦令", "whole", "只有 7 句，最多藏 7 个字"),
     ("春花秋月", "浣溪", "whole", "没有「浣溪」的词谱"),
     ("春花秋月", "浣溪沙", "lines", "藏字的句子只能是 whole/spread/stanzas"),
     ("春花秋月春花", "望江南（单调）", "stanzas", "只有 5 句")],
)
def test_requests_a_tune_cannot_take_are_refused_with_a_message(generator, heads, tune, placement, message):
    with pytest.raises(PoetryError, match=message):
        write(generator, tune, heads, placement=placement)


def test_locked_clauses_of_a_ci_are_kept_and_the_rest_rewritten(generator):
    first = write(generator)[0]
    template = locked_template(first.lines, {0, 5}, first.marked)
    for poem in generator.generate(Settings(heads="春花秋月", tune="浣溪沙", template=template, num_candidates=3,
                                            seed=1, prosody=DEFAULT_PROSODY)):
        assert poem.lines[0] == first.lines[0] and poem.lines[5] == first.lines[5]
        assert tuple(map(len, poem.lines)) == (7,) * 6
    with pytest.raises(PoetryError, match="与《浣溪沙》的"):
        generator.generate(Settings(heads="", tune="浣溪沙", template="春＿＿＿＿＿＿\n花＿＿＿＿", prosody=DEFAULT_PROSODY))


def test_alternatives_and_scores_of_a_ci_read_its_tune_first(generator):
    poem = write(generator)[0]
    form = poem.form
    found = alternatives(generator, poem.lines, 1, 6, DEFAULT_PROSODY, top=5, form=form)
    probs = [p for _, p in found]
    assert len(found) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1
    segment_part = check_form(poem.lines, form).segment_groups[0]
    assert all(check_form([*poem.lines[:1], poem.lines[1][:6] + char, *poem.lines[2:]], form).segment_groups[0]
               == segment_part for char, _ in found)  # the rhyme cell offers the segment's 部 only
    total, per_char = score_lines(generator, poem.lines, form)
    assert [len(row) for row in per_char] == [7] * 6 and np.isfinite(total)
    assert per_char == poem.char_log_probs  # the same numbers the decoder recorded


def test_a_ci_card_sets_its_stanzas_apart(tmp_path, generator):
    poem = write(generator)[0]
    plain = render_card(poem.lines, set(poem.marked))
    by_stanza = render_card(poem.lines, set(poem.marked), breaks=poem.form.stanzas[1:])
    assert by_stanza.size[0] > plain.size[0] and by_stanza.size[1] == plain.size[1]
    path, = write_cards([poem], tmp_path)
    assert Image.open(path).size[0] > plain.size[0]  # titled with its tune, laid out by 阕


def test_a_ci_pays_its_forms_share_of_the_repetition_penalty(generator, monkeypatch):
    paid = []
    decoder = generator.decoder

    def recording(forced_ids, bias_rows, bias_index, sampling, *rest, **kwargs):
        paid.append(sampling.repetition_penalty)
        return decoder(forced_ids, bias_rows, bias_index, sampling, *rest, **kwargs)

    monkeypatch.setattr(generator, "decoder", recording)
    write(generator, repetition_penalty=2.0)
    generator.generate(Settings(heads="春花秋月", num_candidates=2, seed=1, repetition_penalty=2.0))
    assert paid == [2.0 * ci_form("浣溪沙").repeat_weight, 2.0]  # 词 do not avoid 重字 as 近体诗 do
    assert 0 < ci_form("浣溪沙").repeat_weight < 1
