"""The 语料 tab's statistics, computed by the package on a small corpus with known contents."""

from __future__ import annotations

import os

import pytest

from poetry_lm.text import corpus_stats
from poetry_lm.text.corpus import write_corpus
from tests.conftest import FIXTURE_POEMS, tiny_poems

POEMS = tiny_poems(200)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    out = tmp_path_factory.mktemp("stats")
    metas = [("唐", "李白" if i % 3 == 0 else "杜甫", f"诗{i}") for i in range(len(POEMS))]
    write_corpus(POEMS, out, metas)
    return corpus_stats.poem_table(out)


def test_poem_table_has_every_poem_with_its_form_and_characters(table):
    assert sorted(table.poem) == sorted(POEMS)
    jingyesi = table[table.poem.str.startswith("床前明月光")].iloc[0]
    assert (jingyesi.form, jingyesi.characters) == ("五言绝句", 20)


def test_form_counts_add_up_per_split_and_form(table):
    forms = corpus_stats.form_counts(table)
    assert list(forms.columns) == ["训练", "验证", "测试", "合计"]
    assert forms.loc["合计", "合计"] == len(POEMS)
    assert (forms.drop(index="合计").sum() == forms.loc["合计"]).all()
    assert forms.loc["五言绝句", "合计"] == (table.form == "五言绝句").sum()


def test_top_poets_counts_and_an_upload_without_authors(table, tmp_path):
    poets = corpus_stats.top_poets(table)
    assert list(poets["诗人"]) == ["杜甫", "李白"] and poets["首数"].sum() == len(POEMS)
    write_corpus(FIXTURE_POEMS, tmp_path)
    assert corpus_stats.top_poets(corpus_stats.poem_table(tmp_path)).empty


def test_character_counts_leave_punctuation_out():
    chars = corpus_stats.character_counts(["春风春雨，春花秋月。", "春山，秋水。"], top=3)
    assert list(chars["字"]) == ["春", "秋", "风"] and list(chars["次数"]) == [4, 2, 1]
    assert chars["占比"].iloc[0] == pytest.approx(100 * 4 / 12)  # percent, as every share in the tab


def test_word_counts_are_words_of_two_or_more_characters_from_a_seeded_sample():
    words = corpus_stats.word_counts(POEMS, sample=50)
    assert len(words) > 5 and words["词"].str.len().min() >= 2
    assert words["次数"].is_monotonic_decreasing
    assert words.equals(corpus_stats.word_counts(POEMS, sample=50))  # the same sample every time
    assert not words.equals(corpus_stats.word_counts(POEMS, sample=50, seed=1))


def test_word_counts_saved_with_the_corpus_are_those_of_every_poem(tmp_path):
    metas = [("唐", "李白", f"诗{i}") for i in range(len(POEMS))]
    write_corpus(POEMS, tmp_path, metas)
    record = corpus_stats.build_word_counts(tmp_path, top=100_000)  # every word: ties cannot cut the list differently
    assert record["poems"] == len(POEMS) and (tmp_path / corpus_stats.WORD_COUNTS_FILE).is_file()
    shipped = corpus_stats.shipped_word_counts(tmp_path, len(POEMS), top=100_000)
    counted = corpus_stats.word_counts(POEMS, sample=None, top=100_000)
    assert len(shipped) == record["distinct"] > 100
    # The saved counts are what counting every poem here gives (words of equal count may come in another order).
    assert sorted(shipped.itertuples(index=False)) == sorted(counted.itertuples(index=False))
    assert shipped["占比"].iloc[0] == pytest.approx(100 * shipped["次数"].iloc[0] / record["words"])
    assert corpus_stats.shipped_word_counts(tmp_path, len(POEMS) + 1) is None  # another version of the corpus
    (tmp_path / corpus_stats.WORD_COUNTS_FILE).write_text("{", encoding="utf-8")
    assert corpus_stats.shipped_word_counts(tmp_path, len(POEMS)) is None  # damaged: counted in the app instead
    assert corpus_stats.shipped_word_counts(tmp_path / "none", 1) is None


def test_the_bundled_corpus_ships_its_word_counts():
    from tests.conftest import REPO

    table = corpus_stats.poem_table(REPO / "corpus")
    words = corpus_stats.shipped_word_counts(REPO / "corpus", len(table))
    assert words is not None and len(words) == 60 and words["词"].str.len().min() >= 2


def test_corpus_version_changes_when_a_split_changes(tmp_path):
    write_corpus(FIXTURE_POEMS, tmp_path)
    before = corpus_stats.corpus_version(tmp_path)
    os.utime(tmp_path / "valid.txt", (before + 60, before + 60))  # as if rewritten a minute later
    assert corpus_stats.corpus_version(tmp_path) == before + 60
    assert corpus_stats.corpus_version(tmp_path / "missing") == 0.0
