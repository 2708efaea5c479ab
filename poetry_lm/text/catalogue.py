"""The corpus as a table (pandas): every poem with its split, dynasty, author and title.

Kept apart from `corpus` so that reading and validating poems does not pay for importing pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from poetry_lm.errors import PoetryError
from poetry_lm.text.corpus import FORM_NAMES, META_COLUMNS, META_SUFFIX, SPLITS, form_of, load_split, write_split


def load_catalogue(corpus_dir: Path) -> pd.DataFrame:
    """Every poem of a corpus with its split and, where the corpus has them, dynasty, author and title."""
    frames = []
    for split in SPLITS:
        poems = load_split(corpus_dir, split)
        meta_path = Path(corpus_dir) / f"{split}{META_SUFFIX}"
        if meta_path.is_file():
            meta = pd.read_csv(meta_path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
            if len(meta) != len(poems):
                raise PoetryError(f"{meta_path} 有 {len(meta)} 行，与 {split}.txt 的 {len(poems)} 首诗对不上")
        else:
            meta = pd.DataFrame({column: [""] * len(poems) for column in META_COLUMNS})
        frames.append(meta.assign(poem=poems, split=split))
    return pd.concat(frames, ignore_index=True)[["poem", "split", *META_COLUMNS]]


@dataclass(frozen=True)
class PoemFilter:
    """Which poems of the bundled corpus a (fine-tuning) run reads; empty fields select everything."""

    poets: tuple[str, ...] = ()
    dynasties: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()  # FORM_NAMES values: 五言绝句, 七言绝句, 五言律诗, 七言律诗

    def __bool__(self) -> bool:
        return bool(self.poets or self.dynasties or self.forms)

    def describe(self) -> str:
        parts = ["、".join(values) for values in (self.dynasties, self.poets, self.forms) if values]
        return " · ".join(parts) or "全部"


def with_forms(catalogue: pd.DataFrame) -> pd.DataFrame:
    """The catalogue with a `form` column (五言绝句 …)."""
    return catalogue.assign(form=[FORM_NAMES[form_of(poem)] for poem in catalogue.poem])


def poet_table(catalogue: pd.DataFrame, min_poems: int = 1) -> pd.DataFrame:
    """Poets with their dynasty and number of poems, most prolific first (ties by name)."""
    named = catalogue[catalogue.author != ""]
    table = named.groupby(["author", "dynasty"]).size().rename("poems").reset_index()
    table = table[table.poems >= min_poems]
    return table.sort_values(["poems", "author"], ascending=[False, True], ignore_index=True)


def select(catalogue: pd.DataFrame, poem_filter: PoemFilter) -> pd.DataFrame:
    """The poems that pass `poem_filter`; PoetryError naming poets, dynasties or forms that match nothing."""
    checks = [("poets", "author", "诗人"), ("dynasties", "dynasty", "朝代"), ("forms", "form", "体裁")]
    if poem_filter.forms and "form" not in catalogue:
        catalogue = with_forms(catalogue)
    chosen = pd.Series(True, index=catalogue.index)
    for field_name, column, label in checks:
        wanted = getattr(poem_filter, field_name)
        if not wanted:
            continue
        missing = sorted(set(wanted) - set(catalogue[column]))
        if missing:
            raise PoetryError(f"语料中没有这些{label}：{'、'.join(missing)}")
        chosen &= catalogue[column].isin(wanted)
    selected = catalogue[chosen]
    if not (selected.split == "train").any():
        raise PoetryError(f"所选范围（{poem_filter.describe()}）在训练集中没有诗")
    return selected


def write_subset(corpus_dir: Path, out_dir: Path, poem_filter: PoemFilter) -> dict[str, int]:
    """Write the selected poems as a corpus directory, each poem kept in its original split.

    Keeping the splits means the test poems of a poet were never seen by a base model trained on
    the full corpus, so they measure fairly what fine-tuning changed.
    """
    selected = select(load_catalogue(corpus_dir), poem_filter)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in SPLITS:
        rows = selected[selected.split == split]
        write_split(out_dir, split, rows.poem.tolist(), list(rows[list(META_COLUMNS)].itertuples(index=False, name=None)))
        counts[split] = len(rows)
    return counts
