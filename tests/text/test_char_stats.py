"""Character statistics: counts for the specificity bonus, and which characters real poems double (叠字)."""

from __future__ import annotations

import json
import re

import numpy as np

from poetry_lm.text.char_stats import (
    CHAR_STATS_FILE,
    build_char_stats,
    load_char_stats,
    reduplicable_chars,
    reduplicable_mask,
    unigram_log_probs,
)
from poetry_lm.text.corpus import load_split
from poetry_lm.text.vocab import Vocabulary
from tests.conftest import REPO


def test_counts_and_doubles_of_a_corpus(tiny_corpus):
    stats = build_char_stats(tiny_corpus)
    poems = load_split(tiny_corpus, "train")
    text = "".join(poems)
    assert stats["poems"] == len(poems)
    assert stats["characters"] == sum(stats["counts"].values()) == len(re.findall(r"[^，。]", text))
    assert stats["counts"]["月"] == text.count("月")
    assert sum(stats["doubled"].values()) == len(re.findall(r"(\w)\1", text))


def test_the_reduplicable_rule():
    """Often enough and more often than chance, or simply often; never from one or two accidents."""
    stats = {"characters": 1000, "counts": {"悠": 10, "君": 200, "人": 300, "应": 50},
             "doubled": {"悠": 6, "君": 5, "人": 120, "应": 1}}
    assert reduplicable_chars(stats) == {"悠", "人"}  # 君: 5 doublings, 0.1× chance; 应: once


def test_the_bundled_statistics_keep_real_diezi_and_ban_accidents():
    doubles = reduplicable_chars(load_char_stats())
    assert set("萋悠处年纷萧一人山") <= doubles
    assert not set("君应不是风花") & doubles


def test_the_committed_file_is_a_fresh_build_of_the_committed_corpus():
    assert json.loads(CHAR_STATS_FILE.read_text(encoding="utf-8")) == build_char_stats(REPO / "corpus")


def test_unigram_log_probs_and_mask_over_a_vocabulary():
    vocab = Vocabulary.build(["不萋龘，。"])
    log_probs = unigram_log_probs(vocab)
    assert (log_probs[: vocab.first_char_id] == 0).all()
    assert log_probs[vocab.id_of("不")] > log_probs[vocab.id_of("萋")] > log_probs[vocab.id_of("龘")]
    mask = reduplicable_mask(vocab)
    assert mask[vocab.id_of("萋")] and not mask[vocab.id_of("不")] and not mask[: vocab.first_char_id].any()
    assert np.isfinite(log_probs).all()
