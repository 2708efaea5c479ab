"""Theme steering: a few words (`明月`, `边塞 秋风`) nudge what the free cells write.

The theme is segmented with jieba; its characters, and the characters that co-occur with them in
the corpus's poems most clearly above chance (a t-score, computed once by `build_related` and
committed as data/related_chars.json), get a score boost in every free cell.
The boost is added to the decoder's free-cell bias, so masks (rhyme, tones) still hold.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import numpy as np

from poetry_lm.errors import PoetryError, quoted
from poetry_lm.paths import DATA_DIR
from poetry_lm.text.corpus import is_han, load_split, to_simplified
from poetry_lm.text.vocab import Vocabulary

RELATED_FILE = DATA_DIR / "related_chars.json"
MAX_THEME_CHARS = 12
RELATED_SHARE = 0.5  # a related character gets this share of a theme character's boost
RELATED_PER_CHAR = 8
TOP_CHARS = 4000  # build_related: the most common characters, the ones a theme can reach


def theme_chars(theme: str) -> list[str]:
    """The theme's Han characters in order, one each, via jieba's words (so 明月 stays a word's two
    characters and function words like 的 are dropped)."""
    import jieba  # a second to load its dictionary: only when a theme is used

    jieba.setLogLevel(logging.WARNING)
    text = to_simplified(str(theme or "")).strip()
    if not text:
        return []
    words = [word for word in jieba.lcut(text) if any(is_han(ch) for ch in word)]
    chars = list(dict.fromkeys(ch for word in words if word not in _FUNCTION_WORDS for ch in word if is_han(ch)))
    if not chars:
        raise PoetryError(f"主题{quoted(theme)}里没有可用的汉字")
    if len(chars) > MAX_THEME_CHARS:
        raise PoetryError(f"主题最多 {MAX_THEME_CHARS} 个字，现在有 {len(chars)} 个：请只写几个词或一个短语")
    return chars


_FUNCTION_WORDS = {"的", "了", "和", "与", "在", "是", "之", "也", "而", "及"}


@functools.cache
def related_table() -> dict[str, str]:
    """Character → its most related characters (committed data, see data/README.md)."""
    try:
        return json.loads(RELATED_FILE.read_text(encoding="utf-8"))["related"]
    except (OSError, ValueError, KeyError) as err:
        raise PoetryError(f"主题用的字表无法读取：{RELATED_FILE}（{err}）") from None


def theme_boost(theme: str | None, strength: float, vocab: Vocabulary) -> tuple[np.ndarray, list[str]]:
    """([V] boost added to free cells, the theme characters): `strength` nats for each theme character,
    RELATED_SHARE of it for each related one; zeros without a theme."""
    boost = np.zeros(len(vocab), dtype=np.float32)
    if not theme or strength <= 0:
        return boost, []
    chars = theme_chars(theme)
    related = related_table()
    for char in chars:
        for other in related.get(char, "")[:RELATED_PER_CHAR]:
            if other in vocab:
                boost[vocab.id_of(other)] = max(boost[vocab.id_of(other)], strength * RELATED_SHARE)
    for char in chars:
        if char in vocab:
            boost[vocab.id_of(char)] = strength
    return boost, chars


def build_related(corpus_dir: Path, out_file: Path = RELATED_FILE) -> dict:
    """Per character of the TOP_CHARS most common, its RELATED_PER_CHAR partners that share training
    poems most clearly above chance. Writes the JSON; returns a summary.

    The score is the t-score (together − expected) / √together, with together = poems holding both
    and expected = the count if they were independent. Unlike PMI it does not favour rare pairs
    (PMI ranks 姮 and 嫦 first for 月; the t-score gives 夜明风秋影清云霜).
    """
    import pandas as pd  # only for building the table, not for every themed poem

    poems = load_split(corpus_dir, "train")
    counts = pd.Series([ch for poem in poems for ch in set(poem) if is_han(ch)]).value_counts()
    top = list(counts.index[:TOP_CHARS])
    index = {ch: k for k, ch in enumerate(top)}
    together = np.zeros((len(top), len(top)), dtype=np.float64)
    for start in range(0, len(poems), 20_000):  # poems × characters incidence, a block at a time
        block = np.zeros((min(20_000, len(poems) - start), len(top)), dtype=np.float32)
        for row, poem in enumerate(poems[start : start + 20_000]):
            block[row, [index[ch] for ch in set(poem) if ch in index]] = 1.0
        together += block.T @ block
    single = np.diag(together).copy()
    expected = np.outer(single, single) / len(poems)
    t_score = (together - expected) / np.sqrt(np.maximum(together, 1.0))
    np.fill_diagonal(t_score, -np.inf)
    related = {
        char: "".join(top[b] for b in np.argsort(-t_score[k], kind="stable")[:RELATED_PER_CHAR] if t_score[k, b] > 0)
        for k, char in enumerate(top)
    }
    summary = {"poems": len(poems), "characters": len(top), "related_per_char": RELATED_PER_CHAR}
    tmp = Path(out_file).with_suffix(".tmp")
    tmp.write_text(json.dumps({"summary": summary, "related": related}, ensure_ascii=False, indent=0) + "\n",
                   encoding="utf-8")
    tmp.replace(out_file)
    related_table.cache_clear()
    return summary
