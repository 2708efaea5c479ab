"""What a poem leans toward or avoids in its free cells: the theme (characters, or a named theme's words) and the
occasion (its imagery; for a blessing, inauspicious characters and words banned), as the decoder's biases."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from poetry_lm.compose.decode import WordBias, word_bias
from poetry_lm.compose.occasion import INAUSPICIOUS_CHARS, INAUSPICIOUS_WORDS, occasion_named
from poetry_lm.compose.settings import Settings
from poetry_lm.compose.stock import STOCK_PENALTY, stock_words
from poetry_lm.compose.template import CellPlan
from poetry_lm.compose.theme import lexicon_bias, named_theme, theme_boost, theme_lexicons
from poetry_lm.text.vocab import Vocabulary

OCCASION_STRENGTH = 3.0  # nats: an occasion's words are lifted less than a theme at its default strength


class Steering(NamedTuple):
    """[V] added to every free cell's bias (-inf: banned), and the word-level bias after each character."""

    bias: np.ndarray
    words: WordBias
    theme_chars: list[str]  # the characters the theme lifts one by one (not a named theme's words)


def steering(settings: Settings, vocab: Vocabulary, avoid_stock: str = "") -> Steering:
    """The free-cell bias of `settings`' theme and occasion (zeros and no word bias without either), and the stock
    words of the `avoid_stock` characters lowered (see compose.stock and `stock_avoided`)."""
    bias = np.zeros(len(vocab), dtype=np.float32)
    pairs: dict[tuple[int, int], float] = {}
    theme, chars = settings.theme, []
    named = named_theme(theme) if settings.theme_by_words else None
    if named is not None and settings.theme_strength > 0:
        # A named theme brings its words (边塞: 烽火, 羌笛, 铁衣 …), not the characters of its name (水边, 花边).
        lifted, pairs = lexicon_bias(theme_lexicons()[named], settings.theme_strength, vocab)
        bias += lifted
        theme = theme.replace(named, "").strip() or None  # the rest (边塞秋风 → 秋风) lifts its characters
    char_boost, chars = theme_boost(theme, settings.theme_strength, vocab)
    bias = np.maximum(bias, char_boost)
    occasion_lift, occasion_pairs = occasion_bias(settings.occasion, vocab)
    bias = np.maximum(bias, occasion_lift)  # a blessing's bans (-inf) stay bans: the theme lifts only finite cells
    bias[np.isneginf(occasion_lift)] = -np.inf
    for pair, value in occasion_pairs.items():
        pairs[pair] = value if value == -np.inf else max(pairs.get(pair, 0.0), value)
    if avoid_stock:
        stock = stock_words()
        for char in dict.fromkeys(avoid_stock):
            for second in stock.get(char, ""):
                if char in vocab and second in vocab:
                    pair = vocab.id_of(char), vocab.id_of(second)
                    pairs[pair] = min(pairs.get(pair, 0.0), STOCK_PENALTY)
    return Steering(bias, word_bias(pairs, len(vocab), bias), chars)


def occasion_bias(name: str | None, vocab: Vocabulary) -> tuple[np.ndarray, dict[tuple[int, int], float]]:
    """An occasion's [V] bias (its imagery lifted; for a blessing, inauspicious characters -inf) and its word pairs
    (each next character of its words lifted after the one before; a blessing's inauspicious words banned)."""
    occasion = occasion_named(name)
    bias, pairs = lexicon_bias(occasion.words, OCCASION_STRENGTH, vocab)
    if occasion.blessing:
        bias[[vocab.id_of(char) for char in INAUSPICIOUS_CHARS if char in vocab]] = -np.inf
        for word in INAUSPICIOUS_WORDS:
            if all(char in vocab for char in word):
                for a, b in zip(word, word[1:], strict=False):
                    pairs[vocab.id_of(a), vocab.id_of(b)] = -np.inf
    return bias, pairs


def stock_avoided(settings: Settings, plan: CellPlan) -> str:
    """The hidden characters whose stock words a poem lowers: those of a whole poem with free lines (a name, 张伟),
    where a character glued into its cliché (伟人) would no longer read as the name. A poem of one line per
    character (春花秋月) is left as it was: its heads are meant to start the lines' words."""
    lines_with_hidden = {i for i, _ in plan.marked}
    whole = settings.placement != "lines" and plan.lines > len(lines_with_hidden)
    return plan.hidden if settings.avoid_stock_words and whole else ""
