"""Statistics of a corpus for the studio's 语料 tab: forms per split, poets, characters and words.

Plain functions over the catalogue table (pandas), so they are tested without Streamlit; the app
only caches and draws them.
"""

from __future__ import annotations

import collections
import logging
import random
from pathlib import Path

import pandas as pd

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


def character_counts(poems: list[str], top: int = 100) -> pd.DataFrame:
    """The most frequent characters (字, 次数, 占比 as a fraction), punctuation left out, numbered from 1."""
    counts = collections.Counter(ch for poem in poems for ch in poem if ch not in "，。")
    table = pd.DataFrame(counts.most_common(top), columns=["字", "次数"])
    table["占比"] = table["次数"] / max(sum(counts.values()), 1)
    table.index += 1
    return table


def word_counts(poems: list[str], sample: int | None = 2000, top: int = 60, seed: int = 0) -> pd.DataFrame:
    """The most frequent words of two or more characters (jieba, line by line) over a seeded sample."""
    import jieba  # a second to import and build its dictionary: only when words are asked for

    jieba.setLogLevel(logging.WARNING)
    if sample is not None and len(poems) > sample:
        poems = random.Random(seed).sample(poems, sample)
    counts = collections.Counter(
        word for poem in poems for line in split_lines(poem) for word in jieba.lcut(line) if len(word) >= 2
    )
    table = pd.DataFrame(counts.most_common(top), columns=["词", "次数"])
    table.index += 1
    return table
