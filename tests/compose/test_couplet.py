"""The couplet writer on tiny trained models: the rules hold by construction whatever the models say."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from poetry_lm.compose.couplet import (
    CoupletSettings,
    CoupletWriter,
    banner_word_list,
    check_couplet_settings,
    chosen_weight,
    save_weight,
)
from poetry_lm.errors import PoetryError
from poetry_lm.model.network import load_model_dir
from poetry_lm.prosody.couplet import repeat_sources, wanted_tones
from poetry_lm.prosody.tones import tone_fits


@pytest.fixture(scope="module")
def writer(tiny_model_dir, tiny_couplet_dir) -> CoupletWriter:
    return CoupletWriter(load_model_dir(tiny_model_dir), load_model_dir(tiny_couplet_dir), weight=1.0)


FIRSTS = ["风吹杨柳千条绿", "明月松间照", "花开花落年年好", "青青河畔草", "天涯若比邻"]


@pytest.mark.parametrize("first", FIRSTS)
def test_answers_keep_every_rule(writer, first):
    couplets = writer.write(CoupletSettings(first=first, num_candidates=6, seed=4, strict_tones=True))
    assert couplets and len({c.second for c in couplets}) == len(couplets)  # distinct candidates
    wanted, sources = wanted_tones(first), repeat_sources(first)
    for couplet in couplets:
        second = couplet.second
        assert couplet.first == first and len(second) == len(first)
        assert tone_fits(second[-1], wanted[-1])  # 平 after a 仄 ending (仄 after 平)
        assert all(tone_fits(second[j], wanted[j]) for j in range(len(first)) if wanted[j])  # strict: every position
        for j, source in enumerate(sources):  # 叠字 answered by 叠字, and no 上联 character otherwise
            if source >= 0:
                assert second[j] == second[source]
            else:
                assert second[j] not in first
        distinct = [second[j] for j, source in enumerate(sources) if source < 0]
        assert len(set(distinct)) == len(distinct)  # no character twice in the 下联 but the copies
        assert couplet.log_prob < 0


def test_the_answers_are_ranked_by_their_log_probability(writer):
    """With every tone a rule and no 对仗 bonus the rank is the log-probability."""
    couplets = writer.write(CoupletSettings(first="明月松间照", num_candidates=8, seed=1, strict_tones=True,
                                            parallel_bonus=0.0))
    assert [c.log_prob for c in couplets] == sorted((c.log_prob for c in couplets), reverse=True)


def test_the_parallel_bonus_prefers_the_more_parallel_candidates(writer):
    settings = CoupletSettings(first="风吹杨柳千条绿", num_candidates=8, seed=2, strict_tones=True)
    plain = writer.write(replace(settings, parallel_bonus=0.0))
    strong = writer.write(replace(settings, parallel_bonus=100.0))
    assert {c.second for c in plain} == {c.second for c in strong}  # the same candidates, ranked differently
    shares = [c.report.parallel_share for c in strong]
    assert shares == sorted(shares, reverse=True) and shares[0] >= plain[0].report.parallel_share


def test_soft_tone_penalties_count_in_the_ranking(writer):
    """By default a broken even-position tone is allowed but paid for: among candidates of equal 对仗, one that
    breaks a tone ranks above one that breaks none only if it is likelier by more than the penalty per character."""
    settings = CoupletSettings(first="风吹杨柳千条绿", num_candidates=8, seed=3, parallel_bonus=0.0)
    couplets = writer.write(settings)
    penalty = settings.tone_penalty / len(settings.first)
    for better, worse in itertools.pairwise(couplets):
        broken_better = sum(ok is False for ok in better.report.opposed)
        broken_worse = sum(ok is False for ok in worse.report.opposed)
        assert better.log_prob - penalty * broken_better >= worse.log_prob - penalty * broken_worse - 1e-4


def test_the_same_seed_gives_the_same_answers(writer):
    settings = CoupletSettings(first="明月松间照", num_candidates=4, seed=9)
    assert [c.second for c in writer.write(settings)] == [c.second for c in writer.write(settings)]


@pytest.mark.parametrize("position, length", [("head", 7), ("head", 5), ("tail", 7)])
def test_hidden_couplets_hide_both_characters_and_keep_the_end_tones(writer, position, length):
    hidden = "张伟" if position == "head" else "岁春"  # 岁 仄 ends the 上联, 春 平 the 下联
    couplets = writer.write(CoupletSettings(hidden=hidden, position=position, length=length, seed=2,
                                            num_candidates=4, banner=True))
    assert couplets
    at = 0 if position == "head" else -1
    for couplet in couplets:
        assert len(couplet.first) == len(couplet.second) == length
        assert couplet.first[at] + couplet.second[at] == hidden
        assert couplet.report.end_tones_ok and not couplet.report.reused
        assert len(couplet.banner) == 4 and len(set(couplet.banner)) == 4


def test_a_banner_is_two_banner_words(writer):
    words = set(banner_word_list())
    couplets = writer.write(CoupletSettings(first="风吹杨柳千条绿", num_candidates=4, seed=5, banner=True))
    for couplet in couplets:
        assert couplet.banner[:2] in words and couplet.banner[2:] in words, couplet.banner


def test_the_aligned_model_steers_the_answer(writer):
    """A huge weight makes the product follow the aligned model's own top choices where the masks allow."""
    first = "明月松间照"
    aligned = writer.aligned_log_probs([first])[0]
    heavy = CoupletWriter(writer.poem, writer.aligned, weight=50.0)
    second = heavy.write(CoupletSettings(first=first, num_candidates=1, seed=0, temperature=0.1))[0].second
    ranks = [int((aligned[j] > aligned[j, writer.vocab.id_of(char)]).sum()) for j, char in enumerate(second)]
    assert np.median(ranks) < 20  # near the top of the aligned model's 8,000-odd characters at each position


def test_a_first_line_ending_level_is_answered_with_an_oblique_ending_and_a_note(writer):
    couplet = writer.write(CoupletSettings(first="天涯若比邻", num_candidates=1, seed=0))[0]
    assert tone_fits(couplet.second[-1], "仄") and "平声" in couplet.notes[0]


@pytest.mark.parametrize("settings, fragment", [
    (CoupletSettings(first="明月松间照耀"), "6 个字"),
    (CoupletSettings(first="hello"), "只能是汉字"),
    (CoupletSettings(), "请输入上联"),
    (CoupletSettings(first="明月松间照", hidden="张伟"), "不要同时给"),
    (CoupletSettings(hidden="张"), "两个汉字"),
    (CoupletSettings(hidden="AB"), "两个汉字"),
    (CoupletSettings(hidden="张伟", length=6), "五言和七言"),
    (CoupletSettings(hidden="春好", position="tail"), "换个顺序（好春）"),
    (CoupletSettings(hidden="春花", position="tail"), "换一个字"),
    (CoupletSettings(first="明月松间照", num_candidates=0), "候选数"),
    (CoupletSettings(first="明月松间照", temperature=9), "温度"),
    (CoupletSettings(first="明月松间照", position="middle"), "藏字位置"),
])
def test_bad_requests_say_why_before_anything_is_written(settings, fragment):
    with pytest.raises(PoetryError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        check_couplet_settings(settings)


def test_the_chosen_weight_is_read_back_and_a_missing_one_falls_back(tmp_path):
    assert chosen_weight(tmp_path) == 1.0
    save_weight(tmp_path, {"weight": 0.75})
    assert chosen_weight(tmp_path) == 0.75
    (tmp_path / "expert_weight.json").write_text("{broken", encoding="utf-8")
    assert chosen_weight(tmp_path) == 1.0


def test_the_writer_refuses_models_of_the_wrong_kind(tiny_model_dir, tiny_couplet_dir):
    poem, aligned = load_model_dir(tiny_model_dir), load_model_dir(tiny_couplet_dir)
    with pytest.raises(PoetryError, match="不是对联模型"):
        CoupletWriter(poem, poem)
    with pytest.raises(PoetryError, match="语言模型"):
        CoupletWriter(aligned, aligned)


def test_a_blessing_couplet_has_no_inauspicious_character_or_word(writer):
    from poetry_lm.compose.occasion import inauspicious_words

    for seed in range(3):
        for couplet in writer.write(CoupletSettings(hidden="春福", seed=seed, num_candidates=4, occasion="春节",
                                                    banner=True)):
            assert not inauspicious_words(couplet.first + couplet.second + couplet.banner), couplet
        answer = writer.write(CoupletSettings(first="明月松间照", seed=seed, num_candidates=4, occasion="婚庆"))
        assert all(not inauspicious_words(c.second) for c in answer)


def test_an_unknown_occasion_lists_the_choices():
    with pytest.raises(PoetryError, match="未知场合"):
        check_couplet_settings(CoupletSettings(first="明月松间照", occasion="中秋赏月"))


def test_banners_are_always_two_banner_words_or_none(writer):
    words = set(banner_word_list())
    for seed in range(3):
        for banner in writer.banners([("风吹杨柳千条绿", "雨润桃花万点红"), ("两个黄鹂鸣翠柳", "一行白鹭上青天")], seed):
            assert banner == "" or (banner[:2] in words and banner[2:] in words)
