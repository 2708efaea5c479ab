"""Stock words: a hidden character must not be glued into the cliché it most often starts.

A name hidden in a poem (张伟) reads as a name only if its characters are not swallowed by the stock word they
most often begin: the model, left alone, continues 伟 with 人 (伟人) and the name is gone. For every character,
`build_stock_words` keeps the two-character words (jieba, over the training poems) it starts most often; in a whole
poem (`Settings.placement` whole or spread) the decoder lowers the second character of those words right after a
hidden character (`STOCK_PENALTY`), so the line goes on in a less expected way.
"""

from __future__ import annotations

import collections
import functools
import json
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.files import write_atomic
from poetry_lm.paths import DATA_DIR

STOCK_FILE = DATA_DIR / "stock_words.json"
STOCK_PER_CHAR = 3  # a character's most common two-character words
MIN_STOCK_COUNT = 20  # uses in the training poems
STOCK_PENALTY = -4.0  # nats: the next character of a stock word, right after a hidden character


def build_stock_words(corpus_dir: Path, out_file: Path = STOCK_FILE) -> dict:
    """Per first character, the second characters of its STOCK_PER_CHAR most common two-character words. Writes the
    JSON; returns a summary."""
    from poetry_lm.text.corpus import load_split
    from poetry_lm.text.corpus_stats import count_words

    counts = count_words(load_split(Path(corpus_dir), "train"))
    by_first: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
    for word, count in counts.items():
        if len(word) == 2 and count >= MIN_STOCK_COUNT:
            by_first[word[0]].append((count, word[1]))
    stock = {first: "".join(second for _, second in sorted(pairs, reverse=True)[:STOCK_PER_CHAR])
             for first, pairs in sorted(by_first.items())}
    summary = {"characters": len(stock), "words": sum(len(v) for v in stock.values()),
               "per_char": STOCK_PER_CHAR, "min_count": MIN_STOCK_COUNT}
    write_atomic(out_file, (json.dumps({"summary": summary, "stock": stock}, ensure_ascii=False) + "\n").encode("utf-8"))
    stock_words.cache_clear()
    return summary


@functools.cache
def stock_words() -> dict[str, str]:
    """First character → the second characters of its stock words (committed data, `build_stock_words`)."""
    try:
        return json.loads(STOCK_FILE.read_text(encoding="utf-8"))["stock"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PoetryError(f"常用词表无法读取：{STOCK_FILE}（{err}）") from None


def stock_continuation(text: str, start: int) -> bool:
    """True when the character at `start` and the next one form a stock word (the measure)."""
    return start + 1 < len(text) and text[start + 1] in stock_words().get(text[start], "")
