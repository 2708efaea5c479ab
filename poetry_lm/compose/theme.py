"""Theme steering: a few words (`明月`, `边塞 秋风`) nudge what the free cells write.

The theme is segmented with jieba; its characters, and the characters that co-occur with them in
the corpus's poems most clearly above chance (a t-score, computed once by `build_related` and
committed as data/related_chars.json), get a score boost in every free cell.
The boost is added to the decoder's free-cell bias, so masks (rhyme, tones) still hold.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import math
import re
from pathlib import Path

import numpy as np

from poetry_lm.errors import PoetryError, quoted
from poetry_lm.files import write_atomic
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
    write_atomic(out_file, json.dumps({"summary": summary, "related": related}, ensure_ascii=False, indent=0) + "\n")
    related_table.cache_clear()
    return summary


# ----- themes by meaning: named themes whose words come from the poems that carry them ----------------------------

LEXICON_FILE = DATA_DIR / "theme_lexicons.json"
# A named theme: the title keywords that mark its poems in the corpus (regular expressions over titles).
NAMED_THEMES = {
    "边塞": "塞|从军|凉州|出征|征人|征夫|戍|边城|边思|边愁|边词|边将|边庭|关山|陇头|陇西|胡笳|烽火|军中|军行|将军|破虏|征西|平胡",
    "送别": "送|饯|赠别|留别|别",
    "思乡": "思乡|乡思|思归|怀乡|望乡|故乡|故园|客中|客夜|旅夜|旅思|旅怀|归思|归心|客思|客愁|羁|乡愁|家书|寄家",
    "咏梅": "梅",
    "中秋": "中秋|八月十五",
    "田园": "田园|田家|田舍|农家|村居|山村|村舍|园居|归田|耕|农|野老|山居|村",
    "怀古": "怀古|咏史|古迹|览古|吊古|故城|故宫|遗迹|遗址|读史",
    "闺怨": "闺怨|闺情|闺思|宫怨|宫词|春怨|秋怨|思妇|长门|捣衣|怨",
}
LEXICON_WORDS = 40  # words kept per theme
MIN_THEME_COUNT = 8  # a word must occur this often in the theme's poems
MIN_Z = 3.0  # and be over-represented there at least this clearly (log-odds z-score)
PRIOR_STRENGTH = 500.0  # the informative Dirichlet prior's total (Monroe et al. 2008, "Fightin' Words")
FIRST_CHAR_SHARE = 0.5  # a lexicon word's first character gets this share of the strength; each next one all of it


def theme_of_title(title: str) -> str | None:
    """The named theme a poem's title marks (the first that matches, in `NAMED_THEMES` order), or None."""
    return next((name for name, pattern in NAMED_THEMES.items() if re.search(pattern, title or "")), None)


def named_theme(theme: str | None) -> str | None:
    """The named theme a typed theme asks for (边塞, or 边塞秋风 which starts with it), or None."""
    text = to_simplified(str(theme or "")).strip()
    return next((name for name in NAMED_THEMES if name in text), None)


def over_represented(inside: collections.Counter, outside: collections.Counter) -> list[tuple[str, float]]:
    """Words of `inside` by their log-odds z-score against `outside`, with an informative Dirichlet prior
    (each word's prior ∝ its overall count), clearest first: rare words do not win on one lucky count."""
    n_in, n_out = sum(inside.values()), sum(outside.values())
    total = n_in + n_out
    scored = []
    for word, y_in in inside.items():
        if y_in < MIN_THEME_COUNT:
            continue
        y_out = outside.get(word, 0)
        prior = PRIOR_STRENGTH * (y_in + y_out) / total
        delta = math.log((y_in + prior) / (n_in + PRIOR_STRENGTH - y_in - prior)) - math.log(
            (y_out + prior) / (n_out + PRIOR_STRENGTH - y_out - prior))
        z = delta / math.sqrt(1 / (y_in + prior) + 1 / (y_out + prior))
        if z >= MIN_Z:
            scored.append((word, round(z, 2)))
    return sorted(scored, key=lambda pair: -pair[1])


def build_theme_lexicons(corpus_dir: Path, out_file: Path = LEXICON_FILE) -> dict:
    """For each named theme, the words (jieba, two or more characters) most over-represented in the training
    poems whose titles name it. Writes the JSON; returns a summary (poems per theme, words kept)."""
    from poetry_lm.text.catalogue import load_catalogue
    from poetry_lm.text.corpus_stats import count_words

    table = load_catalogue(Path(corpus_dir))
    table = table[table.split == "train"]
    themes = table.title.map(theme_of_title)
    counts = {name: count_words(list(table.poem[themes == name])) for name in NAMED_THEMES}
    everything = count_words(list(table.poem))
    lexicons, summary = {}, {}
    for name, inside in counts.items():
        outside = everything - inside
        lexicons[name] = [[word, z] for word, z in over_represented(inside, outside)[:LEXICON_WORDS]]
        summary[name] = {"poems": int((themes == name).sum()), "words": len(lexicons[name])}
    record = {"summary": summary, "keywords": NAMED_THEMES, "lexicons": lexicons}
    write_atomic(out_file, json.dumps(record, ensure_ascii=False, indent=0) + "\n")
    theme_lexicons.cache_clear()
    return summary


@functools.cache
def theme_lexicons() -> dict[str, list[str]]:
    """Named theme → its words, clearest first (committed data, `build_theme_lexicons`)."""
    try:
        record = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
        return {name: [word for word, _ in words] for name, words in record["lexicons"].items()}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PoetryError(f"主题词表无法读取：{LEXICON_FILE}（{err}）") from None


def lexicon_bias(words, strength: float, vocab: Vocabulary) -> tuple[np.ndarray, dict[tuple[int, int], float]]:
    """([V] boost, {(id, next id): boost}) that lift `words` as words: a word's first character by
    FIRST_CHAR_SHARE × `strength` anywhere, each next character by `strength` right after the one before it."""
    boost = np.zeros(len(vocab), dtype=np.float32)
    pairs: dict[tuple[int, int], float] = {}
    for word in words:
        if len(word) < 2 or not all(char in vocab for char in word):
            continue
        first = vocab.id_of(word[0])
        boost[first] = max(boost[first], strength * FIRST_CHAR_SHARE)
        for a, b in zip(word, word[1:], strict=False):
            pairs[vocab.id_of(a), vocab.id_of(b)] = strength
    return boost, pairs
