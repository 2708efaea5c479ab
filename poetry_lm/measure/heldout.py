"""Held-out benchmark: the model on valid, test and the fixed Tang test set, beside a Kneser-Ney n-gram."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from poetry_lm.measure.ngram import UNK_MARK, KneserNey, check_baseline_order
from poetry_lm.model.network import ModelDir
from poetry_lm.model.scoring import evaluate_loss, summarise_losses
from poetry_lm.text.catalogue import load_catalogue
from poetry_lm.text.corpus import is_han, load_split


def ngram_token_scores(ngram: KneserNey, order: int, poems: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The same (negative log-likelihood, is-Han-character) pairs from the n-gram baseline."""
    scored = [pair for poem in poems for pair in ngram.score_poem(poem, order)]
    losses = np.asarray([-log_prob for _, log_prob in scored])
    han = np.asarray([is_han(token) or token == UNK_MARK for token, _ in scored], dtype=bool)
    return losses, han


def benchmark_sets(corpus_dir: Path) -> dict[str, list[str]]:
    """The held-out sets `evaluate` reports: valid, test, and the fixed Tang test set (test poems of 唐)."""
    catalogue = load_catalogue(corpus_dir)
    sets = {split: catalogue.poem[catalogue.split == split].tolist() for split in ("valid", "test")}
    tang = catalogue[(catalogue.split == "test") & (catalogue.dynasty == "唐")]
    if len(tang):
        sets["test_tang"] = tang.poem.tolist()
    return sets


def fit_ngram_baseline(corpus_dir: Path, vocab_size: int, max_order: int = 5) -> tuple[KneserNey, int, dict]:
    """Kneser-Ney on the train split, its order chosen by per-token loss on the valid split."""
    check_baseline_order(max_order)
    ngram = KneserNey(load_split(corpus_dir, "train"), max_order, vocab_size)
    valid = load_split(corpus_dir, "valid")
    valid_loss = {order: float(ngram_token_scores(ngram, order, valid)[0].mean()) for order in range(2, max_order + 1)}
    best = min(valid_loss, key=valid_loss.get)
    return ngram, best, {order: round(loss, 4) for order, loss in valid_loss.items()}


def benchmark(model_dir: ModelDir, corpus_dir: Path, baseline: bool = True, max_order: int = 5) -> dict:
    """The model (and the n-gram baseline) on every benchmark set of `corpus_dir`."""
    sets = benchmark_sets(corpus_dir)
    result = {"model": str(model_dir.path), "corpus": str(corpus_dir), "sets": {}}
    if baseline:
        ngram, order, valid_losses = fit_ngram_baseline(corpus_dir, len(model_dir.vocab), max_order)
        result["ngram"] = {"method": "interpolated Kneser-Ney, one discount per order", "order": order,
                           "valid_loss_by_order": valid_losses}
    for name, poems in sets.items():
        row = {"lstm": evaluate_loss(model_dir.model, model_dir.vocab, poems)}
        if baseline:
            row["ngram"] = summarise_losses(*ngram_token_scores(ngram, order, poems), poems=len(poems))
        result["sets"][name] = row
    return result


def format_benchmark(result: dict) -> str:
    """The benchmark as a Markdown table (README)."""
    lines = ["| set | model | nats/token | perplexity/token | nats/Han char | perplexity/Han char | Han chars |",
             "|---|---|---|---|---|---|---|"]
    for name, row in result["sets"].items():
        for model_name, m in row.items():
            label = model_name if model_name == "lstm" else f"{model_name} (order {result['ngram']['order']})"
            lines.append(f"| {name} | {label} | {m['loss']:.3f} | {m['perplexity']:.1f} | {m['loss_per_han']:.3f} "
                         f"| {m['perplexity_per_han']:.1f} | {m['han_chars']:,} |")
    return "\n".join(lines)


def ci_benchmark(models: dict[str, ModelDir], corpus_dir: Path, max_order: int = 5) -> dict:
    """The held-out 词 (`<corpus>/ci/` test, each after its tune) and the fixed Tang test set, per Han character, by
    each model and by a Kneser-Ney n-gram fitted on the train split's 诗 and 词 (order chosen on the valid 词)."""
    from poetry_lm.text.ci import load_lm_texts

    check_baseline_order(max_order)
    ci = {split: load_lm_texts(corpus_dir, split) for split in ("train", "valid", "test")}
    vocab_size = max(len(model.vocab) for model in models.values())
    ngram = KneserNey(load_split(corpus_dir, "train") + ci["train"], max_order, vocab_size)
    valid_loss = {order: float(ngram_token_scores(ngram, order, ci["valid"])[0].mean())
                  for order in range(2, max_order + 1)}
    order = min(valid_loss, key=valid_loss.get)
    sets = {"ci_test": ci["test"], "test_tang": benchmark_sets(corpus_dir)["test_tang"]}
    result = {"ngram": {"order": order, "valid_loss_by_order": {k: round(v, 4) for k, v in valid_loss.items()}},
              "sets": {}}
    for name, texts in sets.items():
        row = {label: evaluate_loss(model.model, model.vocab, texts) for label, model in models.items()}
        row["ngram"] = summarise_losses(*ngram_token_scores(ngram, order, texts), poems=len(texts))
        result["sets"][name] = row
    return result
