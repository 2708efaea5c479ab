"""How often each character occurs in the training poems, and which characters real poems double (叠字).

Two facts the decoder needs about characters, built once from the corpus's train split into
`data/char_stats.json` (`python -m poetry_lm corpus build-char-stats`):

- `counts`: occurrences of each character, for the unigram log-probability that the search's
  specificity bonus subtracts (a PMI-like score: common characters earn less);
- `doubled`: how often each character stands twice in a row inside a line (萋萋, 悠悠, 处处).
  A character is *reduplicable* when real poems double it at least `MIN_DOUBLED` times and at least
  `MIN_DOUBLING_LIFT` times as often as chance would (its share of all characters), or simply often
  (`OFTEN_DOUBLED`: 一一, 人人, 山山 are common words of common characters): 处处 (21× chance) and
  年年 are, 君君 (47 times, 0.9× chance) and 应应 (once) are not, so the decoder never writes 「是君君」.
"""

from __future__ import annotations

import collections
import functools
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from poetry_lm.paths import DATA_DIR
from poetry_lm.text.corpus import is_han, load_split
from poetry_lm.text.vocab import Vocabulary

CHAR_STATS_FILE = DATA_DIR / "char_stats.json"
MIN_DOUBLED = 5  # a doubling seen fewer times is an accident of the corpus, not a 叠字
MIN_DOUBLING_LIFT = 2.0  # P(next is the same | char) over P(char): how much more often than chance
OFTEN_DOUBLED = 100  # this many doublings make a 叠字 whatever the lift
_DOUBLE = re.compile(r"(\w)\1")


def build_char_stats(corpus_dir: Path) -> dict:
    """Character and doubled-character counts of the train split of `corpus_dir`."""
    poems = load_split(corpus_dir, "train")
    counts = collections.Counter(ch for poem in poems for ch in poem if is_han(ch))
    doubled = collections.Counter(match.group(1) for poem in poems for match in _DOUBLE.finditer(poem))
    return {
        "source": f"{corpus_dir.name}/train.txt",
        "poems": len(poems),
        "characters": sum(counts.values()),
        "counts": dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        "doubled": dict(sorted(((ch, n) for ch, n in doubled.items() if is_han(ch)), key=lambda item: (-item[1], item[0]))),
    }


def write_char_stats(stats: dict, path: Path = CHAR_STATS_FILE) -> None:
    """Written atomically (temp then rename), one compact line: the file is data, not for reading."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(stats, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(temp, path)


@functools.cache
def load_char_stats(path: Path = CHAR_STATS_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def reduplicable_chars(stats: dict) -> set[str]:
    """Characters real poems double on purpose (see the module docstring for the rule)."""
    total = stats["characters"]
    return {
        ch for ch, doubled in stats["doubled"].items()
        if doubled >= OFTEN_DOUBLED
        or (doubled >= MIN_DOUBLED and doubled / stats["counts"][ch] >= MIN_DOUBLING_LIFT * stats["counts"][ch] / total)
    }


def char_log_prob(char: str, stats: dict) -> float:
    """Log unigram probability of a character, add-one smoothed: one the statistics never saw counts as the rarest."""
    return math.log((stats["counts"].get(char, 0) + 1) / (stats["characters"] + len(stats["counts"]) + 1))


def unigram_log_probs(vocab: Vocabulary, stats: dict | None = None) -> np.ndarray:
    """[V] `char_log_prob` of each character token; 0 for special tokens and punctuation."""
    stats = stats or load_char_stats()
    log_probs = np.zeros(len(vocab), dtype=np.float32)
    for index in range(vocab.first_char_id, len(vocab)):
        log_probs[index] = char_log_prob(vocab.tokens[index], stats)
    return log_probs


def reduplicable_mask(vocab: Vocabulary, stats: dict | None = None) -> np.ndarray:
    """[V] True where the token is a character real poems double (叠字)."""
    doubles = reduplicable_chars(stats or load_char_stats())
    return np.asarray([token in doubles for token in vocab.tokens], dtype=bool)
