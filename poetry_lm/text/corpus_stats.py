"""Statistics of a corpus for the studio's 语料 tab: forms per split, poets, characters and words.

Plain functions over the catalogue table (pandas), so they are tested without Streamlit; the app
only caches and draws them.
"""

from __future__ import annotations

import collections
import json
import logging
import random
from pathlib import Path

import pandas as pd

from poetry_lm.errors import PoetryError
from poetry_lm.files import read_json_file, write_atomic
from poetry_lm.text.catalogue import load_catalogue, poet_table, with_forms
from poetry_lm.text.corpus import FORM_NAMES, SPLITS, split_lines

SPLIT_NAMES = {"train": "训练", "valid": "验证", "test": "测试"}
TOTAL = "合计"


def corpus_version(corpus_dir: Path) -> float:
    """The newest modification time of the split files: a cache key that changes with the corpus."""
    files = [Path(corpus_dir) / f"{split}.txt" for split in SPLITS]
    return max((path.stat().st_mtime for path in files if path.is_file()), default=0.0)


def poem_table(corpus_dir: Path) -> pd.DataFrame:
    """One row per poem: poem, split, dynasty, author, title, form, characters (punctuation aside)."""
    table = with_forms(load_catalogue(corpus_dir))
    return table.assign(characters=table.poem.str.len() - table.poem.str.count("[，。]"))


def form_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Poems per form (rows, in the usual order) and split (columns, in Chinese), with totals."""
    counts = pd.crosstab(table.form, table.split, margins=True, margins_name=TOTAL)
    forms = [form for form in FORM_NAMES.values() if form in counts.index]
    counts = counts.reindex(index=[*forms, TOTAL], columns=[*SPLITS, TOTAL], fill_value=0)
    return counts.rename(columns=SPLIT_NAMES).rename_axis(index="诗体", columns=None)


def top_poets(table: pd.DataFrame, top: int = 100) -> pd.DataFrame:
    """The most prolific poets (诗人, 朝代, 首数), numbered from 1; empty when the corpus names no authors."""
    poets = poet_table(table).head(top).rename(columns={"author": "诗人", "dynasty": "朝代", "poems": "首数"})
    poets.index += 1
    return poets


def share_column(counts: pd.Series, total: int) -> pd.Series:
    """Each count as a percentage of `total` (the tables show it with two decimals: 1.01%, 0.70%)."""
    return counts / max(total, 1) * 100


def character_counts(poems: list[str], top: int = 100) -> pd.DataFrame:
    """The most frequent characters (字, 次数, 占比 in percent), punctuation left out, numbered from 1."""
    counts = collections.Counter(ch for poem in poems for ch in poem if ch not in "，。")
    table = pd.DataFrame(counts.most_common(top), columns=["字", "次数"])
    table["占比"] = share_column(table["次数"], sum(counts.values()))
    table.index += 1
    return table


# The bundled corpus's word counts, computed once when the corpus is built (jieba over every poem takes a minute).
WORD_COUNTS_FILE = "word_counts.json"
SHIPPED_WORDS = 2000


def count_words(poems: list[str]) -> collections.Counter:
    """Words of two or more characters, as jieba cuts each line."""
    import jieba  # a second to import and build its dictionary: only when words are asked for

    jieba.setLogLevel(logging.WARNING)
    return collections.Counter(
        word for poem in poems for line in split_lines(poem) for word in jieba.lcut(line) if len(word) >= 2
    )


def word_table(pairs: list[tuple[str, int]], total: int, top: int) -> pd.DataFrame:
    """(词, 次数, 占比 in percent of all words of two or more characters), numbered from 1."""
    table = pd.DataFrame(pairs[:top], columns=["词", "次数"])
    table["占比"] = share_column(table["次数"], total)
    table.index += 1
    return table


def word_counts(poems: list[str], sample: int | None = 2000, top: int = 60, seed: int = 0) -> pd.DataFrame:
    """The most frequent words of two or more characters (jieba, line by line) over a seeded sample."""
    if sample is not None and len(poems) > sample:
        poems = random.Random(seed).sample(poems, sample)
    counts = count_words(poems)
    return word_table(counts.most_common(top), sum(counts.values()), top)


def build_word_counts(corpus_dir: Path, top: int = SHIPPED_WORDS) -> dict:
    """Count the words of every poem of a corpus and save the top ones beside it (`WORD_COUNTS_FILE`)."""
    poems = list(load_catalogue(Path(corpus_dir)).poem)
    counts = count_words(poems)
    record = {"poems": len(poems), "words": sum(counts.values()), "distinct": len(counts),
              "top": counts.most_common(top)}
    write_atomic(Path(corpus_dir) / WORD_COUNTS_FILE, json.dumps(record, ensure_ascii=False).encode("utf-8"))
    return record


def shipped_word_counts(corpus_dir: Path, poems: int, top: int = 60) -> pd.DataFrame | None:
    """The saved word counts of a corpus of `poems` poems; None when there are none, or they are of another version."""
    try:
        record = read_json_file(Path(corpus_dir) / WORD_COUNTS_FILE, WORD_COUNTS_FILE)
        if record["poems"] != poems:
            return None
        return word_table([(str(word), int(count)) for word, count in record["top"]], int(record["words"]), top)
    except (PoetryError, KeyError, TypeError, ValueError):
        return None
