"""Character n-gram baseline: interpolated Kneser-Ney, one discount per order.

The yardstick beside the LSTM in `evaluate`: trained on the same train split, scored on the same
tokens (every character, `，`/`。` and the end mark, each poem starting from <bos>).

For order n, the top order uses raw counts and every lower order k uses continuation counts
N1+(• g) (how many different tokens precede g), except n-grams that start with <bos>, which
nothing can precede and which keep their raw counts (the KenLM convention). With adjusted counts
c, D_k = n1 / (n1 + 2·n2) from the count-of-counts of order k, and a context h seen in training,

    P_k(w | h) = max(c(hw) − D_k, 0) / c(h•)  +  D_k · N1+(h•) / c(h•) · P_{k−1}(w | h')

where h' drops the oldest token; an unseen context backs off entirely (P_k = P_{k−1}), and below
the unigrams sits the uniform 1 / V. Tokens are single characters: <bos>, <eos> and unknown
characters are mapped to control characters, so n-grams are plain string slices.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable

from poetry_lm.errors import PoetryError

BOS_MARK, EOS_MARK, UNK_MARK = "\x02", "\x03", "\x01"


# Counts of every k-gram up to this order: beyond it the tables outgrow memory on the full corpus and a
# 32-character poem has no more context to give (the order chosen on valid is 4 or 5).
MAX_NGRAM_ORDER = 10


def check_baseline_order(max_order: int) -> None:
    """PoetryError unless the baseline's highest order is 2 (a bigram) to MAX_NGRAM_ORDER."""
    if not 2 <= max_order <= MAX_NGRAM_ORDER:
        raise PoetryError(f"n-gram 基线的最高阶数须在 2 到 {MAX_NGRAM_ORDER} 之间，收到 {max_order}")


class KneserNey:
    """Counts for orders 1..`max_order`; `log_prob` scores with any order up to it."""

    def __init__(self, poems: Iterable[str], max_order: int, vocab_size: int):
        if not 1 <= max_order <= MAX_NGRAM_ORDER:
            raise ValueError(f"max_order must be 1 to {MAX_NGRAM_ORDER}")
        self.max_order, self.vocab_size = max_order, vocab_size
        texts = [BOS_MARK + poem + EOS_MARK for poem in poems]
        self.known = {ch for text in texts for ch in text}
        self.raw = [collections.Counter()] + [
            collections.Counter(text[i : i + k] for text in texts for i in range(len(text) - k + 1))
            for k in range(1, max_order + 1)
        ]
        # Continuation counts of order k: distinct tokens seen before each k-gram.
        self.continuation = [collections.Counter(gram[1:] for gram in self.raw[k + 1]) for k in range(max_order)]
        self._contexts: dict[tuple[int, bool], tuple[dict[str, int], float]] = {}

    def count(self, gram: str, top: bool) -> int:
        """The count P uses for `gram`: raw at the top order and for <bos>-initial grams, else continuation."""
        if top or gram[0] == BOS_MARK:
            return self.raw[len(gram)].get(gram, 0)
        return self.continuation[len(gram)].get(gram, 0)

    def _context_table(self, k: int, top: bool) -> tuple[dict[str, int], float]:
        """Per context of order k: total count and number of types packed in one int (total << 32 | types),
        which keeps the table small; and the order's discount D = n1 / (n1 + 2·n2)."""
        key = (k, top)
        if key not in self._contexts:
            contexts: dict[str, int] = collections.defaultdict(int)
            count_of_counts = collections.Counter()
            for gram in self.raw[k]:
                if gram == BOS_MARK:
                    continue  # never predicted
                count = self.count(gram, top)
                contexts[gram[:-1]] += (count << 32) | 1
                if count <= 2:
                    count_of_counts[count] += 1
            n1, n2 = count_of_counts[1], count_of_counts[2]
            self._contexts[key] = (dict(contexts), n1 / (n1 + 2 * n2) if n1 else 0.5)
        return self._contexts[key]

    def prob(self, context: str, token: str, order: int) -> float:
        """P(token | the last order−1 tokens of context) with the order-`order` model."""
        probability = 1.0 / self.vocab_size
        for k in range(1, order + 1):
            if k - 1 > len(context):
                break
            history = context[len(context) - (k - 1) :] if k > 1 else ""
            top = k == order
            contexts, discount = self._context_table(k, top)
            packed = contexts.get(history, 0)
            total, types = packed >> 32, packed & 0xFFFFFFFF
            if total:
                count = self.count(history + token, top)
                probability = (max(count - discount, 0) + discount * types * probability) / total
        return probability

    def score_poem(self, poem: str, order: int) -> list[tuple[str, float]]:
        """(target token, natural log-probability) for every predicted token of a poem (characters,
        punctuation and the end mark), each conditioned on <bos> and what came before."""
        text = BOS_MARK + "".join(ch if ch in self.known else UNK_MARK for ch in poem) + EOS_MARK
        return [(text[i], math.log(self.prob(text[max(0, i - order + 1) : i], text[i], order))) for i in range(1, len(text))]
