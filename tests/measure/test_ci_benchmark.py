"""The held-out 词 benchmark: each model and a Kneser-Ney n-gram, per Han character."""

from __future__ import annotations

from poetry_lm.measure.heldout import ci_benchmark
from poetry_lm.model.network import load_model_dir
from tests.conftest import corpus_with_ci


def test_the_ci_benchmark_scores_held_out_ci_and_tang_poems(tmp_path, tiny_corpus, tiny_model_dir):
    corpus = corpus_with_ci(tiny_corpus, tmp_path / "corpus", {"train": 80, "valid": 10, "test": 10})
    (corpus / "test.meta.tsv").write_text(  # every test poem is 唐 here, so the Tang set is the test split
        "dynasty\tauthor\ttitle\n" + "".join("唐\t某\t题\n" for _ in (corpus / "test.txt").read_text().splitlines()),
        encoding="utf-8")
    result = ci_benchmark({"tiny": load_model_dir(tiny_model_dir)}, corpus, max_order=3)
    assert set(result["sets"]) == {"ci_test", "test_tang"} and 2 <= result["ngram"]["order"] <= 3
    for row in result["sets"].values():
        assert set(row) == {"tiny", "ngram"}
        assert all(m["perplexity_per_han"] > 1 and m["han_chars"] > 0 for m in row.values())
    assert result["sets"]["ci_test"]["tiny"]["poems"] == 10
