"""Themes by meaning and occasions: named themes lift their words, blessings never write an inauspicious word."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from poetry_lm import cli
from poetry_lm.compose.generate import PoemGenerator
from poetry_lm.compose.occasion import INAUSPICIOUS_CHARS, INAUSPICIOUS_WORDS, OCCASIONS, inauspicious_words
from poetry_lm.compose.settings import Settings
from poetry_lm.compose.steer import steering
from poetry_lm.compose.theme import (
    NAMED_THEMES,
    lexicon_bias,
    named_theme,
    over_represented,
    theme_lexicons,
    theme_of_title,
)
from poetry_lm.errors import PoetryError
from poetry_lm.text.corpus import load_split
from poetry_lm.text.vocab import Vocabulary
from tests.conftest import REPO


@pytest.fixture(scope="module")
def generator(tiny_model_dir) -> PoemGenerator:
    return PoemGenerator.load(tiny_model_dir)


@pytest.fixture(scope="module")
def train_text() -> str:
    return "\n".join(load_split(REPO / "corpus", "train"))


def test_titles_name_their_theme_and_typed_themes_find_it():
    assert theme_of_title("出塞") == "边塞" and theme_of_title("送杜少府之任蜀州") == "送别"
    assert theme_of_title("山园小梅") == "咏梅" and theme_of_title("登高") is None
    assert named_theme("边塞秋风") == "边塞" and named_theme(" 咏梅 ") == "咏梅" and named_theme("明月") is None


def test_over_represented_words_need_evidence_not_one_lucky_count():
    inside = collections.Counter({"烽火": 40, "春风": 50, "孤词": 1})
    outside = collections.Counter({"烽火": 20, "春风": 5000, "明月": 4000})
    assert [word for word, _ in over_represented(inside, outside)] == ["烽火"]


def test_the_shipped_lexicons_hold_each_theme_s_imagery_and_only_corpus_words(train_text):
    lexicons = theme_lexicons()
    assert set(lexicons) == set(NAMED_THEMES) and all(len(words) >= 10 for words in lexicons.values())
    assert {"烽火", "羌笛", "铁衣", "玉门关", "将军"} <= set(lexicons["边塞"])  # the imagery, not 水边/花边
    assert {"暗香", "疏影"} <= set(lexicons["咏梅"]) and "婵娟" in lexicons["中秋"]
    assert all(train_text.count(word) >= 8 for words in lexicons.values() for word in words)


def test_occasion_words_are_corpus_words(train_text):
    for occasion in OCCASIONS.values():
        assert all(train_text.count(word) >= 3 for word in occasion.words), occasion.name
    assert all(train_text.count(word) >= 3 for word in INAUSPICIOUS_WORDS)


def test_a_lexicon_lifts_a_word_s_first_character_and_each_next_one_after_it():
    vocab = Vocabulary.build(["烽火连三月，家书抵万金。"])
    boost, pairs = lexicon_bias(["烽火", "家书抵", "未知词"], 4.0, vocab)
    assert boost[vocab.id_of("烽")] == 2.0 and boost[vocab.id_of("火")] == 0.0
    assert pairs == {(vocab.id_of("烽"), vocab.id_of("火")): 4.0, (vocab.id_of("家"), vocab.id_of("书")): 4.0,
                     (vocab.id_of("书"), vocab.id_of("抵")): 4.0}


def test_a_blessing_bans_inauspicious_characters_and_words_in_every_free_cell(generator):
    vocab = generator.vocab
    steer = steering(Settings("生日快乐", occasion="生日"), vocab)
    for char in INAUSPICIOUS_CHARS:
        if char in vocab:
            assert steer.bias[vocab.id_of(char)] == -np.inf
    cut, gut = vocab.id_of("断"), vocab.id_of("肠")
    assert steer.words.rows[steer.words.slot[cut], gut] == -np.inf
    plain = steering(Settings("生日快乐"), vocab)
    assert np.isfinite(plain.bias).all() and not plain.words.slot.any()  # no occasion: nothing steered
    farewell = steering(Settings("长亭", occasion="送别"), vocab)
    assert np.isfinite(farewell.bias).all()  # 送别 is no blessing: parting sorrow is allowed


def test_blessing_poems_hold_no_inauspicious_word(generator):
    written = [poem.text for seed in range(6) for heads in ("生日快乐", "新婚快乐")
               for poem in generator.generate(Settings(heads, 5, 4, seed=seed, occasion="祝福"))]
    assert len(written) == 48 and not [text for text in written if inauspicious_words(text)]


def test_a_named_theme_lifts_its_words_not_the_characters_of_its_name(generator):
    vocab = generator.vocab
    by_words = steering(Settings("春花", theme="边塞"), vocab)
    by_chars = steering(Settings("春花", theme="边塞", theme_by_words=False), vocab)
    edge = vocab.id_of("边")
    assert by_chars.bias[edge] > 0 and by_words.bias[edge] < by_chars.bias[edge]
    assert by_words.words.slot.any() and not by_chars.words.slot.any()
    mixed = steering(Settings("春花", theme="边塞秋风"), vocab)  # the rest of the theme lifts its characters
    assert mixed.theme_chars == ["秋", "风"]


def test_unknown_occasions_are_refused_in_the_api_and_the_cli(generator, tiny_model_dir, capsys):
    with pytest.raises(PoetryError, match="未知场合「庆功」"):
        generator.generate(Settings("春花", occasion="庆功"))
    argv = ["generate", "--heads", "春花", "--model", str(tiny_model_dir), "--num", "1", "--chars", "5"]
    assert cli.main([*argv, "--occasion", "婚庆", "--seed", "1"]) == 0
    with pytest.raises(SystemExit):
        cli.main([*argv, "--occasion", "庆功"])
    assert "庆功" in capsys.readouterr().err


def test_inauspicious_words_are_found_in_reading_order():
    assert inauspicious_words("春风吹泪断肠时") == ["泪", "断肠"]
    assert inauspicious_words("花好月圆人长久") == []
