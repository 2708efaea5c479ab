"""Constrained decoding: forced heads, line lengths, punctuation, masks, repetition, reproducibility.

Most tests use a model whose next-token distribution is known and hostile: its output layer
ignores the state and puts almost all mass on special tokens and punctuation, so any leak in
the masks shows up at once.
"""

import random
from pathlib import Path

import numpy as np
import pytest

from poetry_lm.config import ModelConfig, RunInfo, TrainConfig
from poetry_lm.corpus import is_han, split_lines
from poetry_lm.errors import PoetryError
from poetry_lm.generate import PoemGenerator, Settings
from poetry_lm.model import ModelDir, build_model
from poetry_lm.vocab import Vocabulary

CHARS = "春花秋月山水风云江天日夜人来去不有无明白"
FAVOURITE = "月"


def hostile_generator(favourite_margin: float = 5.0) -> PoemGenerator:
    """Logits: special tokens and punctuation +20, FAVOURITE +margin, other characters 0."""
    vocab = Vocabulary.build([CHARS + "，。"])
    config = ModelConfig(vocab_size=len(vocab), embedding_dim=4, units=8, layers=2, dropout=0.0)
    model = build_model(config)
    dense = model.get_layer("next_char_dist").layer
    bias = np.zeros(len(vocab), dtype="float32")
    bias[: vocab.first_char_id] = 20.0
    bias[vocab.id_of(FAVOURITE)] = favourite_margin
    dense.kernel.assign(np.zeros(dense.kernel.shape, dtype="float32"))
    dense.bias.assign(bias)
    info = RunInfo(model=config, train=TrainConfig())
    return PoemGenerator(ModelDir(Path("hostile"), model, vocab, info))


@pytest.fixture(scope="module")
def hostile():
    return hostile_generator()


def assert_well_formed(poem, heads: str, line_length: int):
    assert [line[0] for line in poem.lines] == list(heads)
    assert all(len(line) == line_length and all(is_han(ch) for ch in line) for line in poem.lines)
    assert split_lines(poem.text) == poem.lines
    marks = [ch for ch in poem.text if not is_han(ch)]
    expected = ["，" if i % 2 == 0 and i < len(heads) - 1 else "。" for i in range(len(heads))]
    assert marks == expected


def test_masks_hold_against_a_model_that_wants_specials(hostile):
    poems = hostile.generate(Settings("春花秋月", line_length=7, num_candidates=8, temperature=1.5, seed=3, repetition_penalty=0))
    assert len(poems) == 8
    for poem in poems:
        assert_well_formed(poem, "春花秋月", 7)
        free = "".join(line[1:] for line in poem.lines)
        assert set(free) <= set(CHARS)
    # Among allowed characters the favourite dominates (margin 5 nats) when repeats are free.
    free = "".join(line[1:] for poem in poems for line in poem.lines)
    assert free.count(FAVOURITE) / len(free) > 0.5


def test_repetition_penalty_discourages_repeats(hostile):
    poems = hostile.generate(Settings("春花秋山", line_length=5, num_candidates=8, temperature=1.0, seed=1, repetition_penalty=10))
    for poem in poems:
        free = "".join(line[1:] for line in poem.lines)
        assert free.count(FAVOURITE) <= 1


def test_top_k_one_is_greedy_and_ignores_seed(hostile):
    a = hostile.generate(Settings("山水", line_length=5, num_candidates=2, top_k=1, seed=1, repetition_penalty=0))
    b = hostile.generate(Settings("山水", line_length=5, num_candidates=2, top_k=1, seed=2, repetition_penalty=0))
    assert [p.text for p in a] == [p.text for p in b] == ["山月月月月，水月月月月。"] * 2


def test_same_seed_same_poems_different_seed_different(tiny_model_dir):
    generator = PoemGenerator.load(tiny_model_dir)
    settings = Settings("春江花月夜", line_length=7, num_candidates=4, temperature=1.0, seed=42)
    first = [p.to_dict() for p in generator.generate(settings)]
    assert first == [p.to_dict() for p in generator.generate(settings)]
    other = [p.text for p in generator.generate(Settings("春江花月夜", line_length=7, num_candidates=4, temperature=1.0, seed=43))]
    assert other != [p["text"] for p in first]


def test_many_random_head_strings(tiny_model_dir):
    generator = PoemGenerator.load(tiny_model_dir)
    rng = random.Random(0)
    pool = [t for t in generator.vocab.tokens[generator.vocab.first_char_id :]] + ["龘", "𠀋"]
    for trial in range(40):
        heads = "".join(rng.choice(pool) for _ in range(rng.randint(1, 16)))
        line_length = rng.choice([5, 7])
        poems = generator.generate(
            Settings(heads, line_length=line_length, num_candidates=rng.randint(1, 6), temperature=rng.uniform(0.2, 2.0),
                     top_k=rng.choice([None, 1, 5, 50]), seed=trial)
        )
        log_probs = [p.log_prob for p in poems]
        assert log_probs == sorted(log_probs, reverse=True) and all(np.isfinite(log_probs))
        for poem in poems:
            assert_well_formed(poem, heads, line_length)
            assert set(poem.unknown_heads) == {ch for ch in heads if ch not in generator.vocab}
            free = "".join(line[1:] for line in poem.lines)
            assert all(ch in generator.vocab for ch in free)


def test_traditional_heads_are_simplified_and_unknown_heads_kept(hostile):
    poem = hostile.generate(Settings("風雲龘", line_length=5, num_candidates=1, seed=0))[0]
    assert [line[0] for line in poem.lines] == ["风", "云", "龘"]
    assert poem.unknown_heads == ["龘"]
    assert poem.to_dict()["heads"] == "风云龘"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(""), "藏头字"),
        (Settings("abc"), "汉字"),
        (Settings("春" * 17), "16"),
        (Settings("春", line_length=6), "5"),
        (Settings("春", num_candidates=0), "候选"),
        (Settings("春", temperature=0), "温度"),
        (Settings("春", top_k=0), "top-k"),
        (Settings("春", top_k=10**6), "top-k"),
        (Settings("春", seed=-1), "种子"),
    ],
)
def test_bad_settings_raise_readable_errors(hostile, settings, message):
    with pytest.raises(PoetryError, match=message):
        hostile.generate(settings)
