"""A poet's voice: can a reader (a classifier) hear the poet in what a fine-tuned model writes?

For each poet, a classifier that never saw a generated poem (character 1–2-gram TF-IDF + logistic regression,
classes balanced) is trained on the train split: the poet's poems against a sample of everyone else's. It then
reads the poet's own held-out poems (valid and test: the ceiling), and poems written for those poems' heads, with
the same seeds, by the base model and by the model fine-tuned on the poet; the report is the share of each it
attributes to the poet.
"""

from __future__ import annotations

import time
from pathlib import Path

from poetry_lm.compose.generate import PoemGenerator
from poetry_lm.compose.settings import Settings
from poetry_lm.measure.meaning import heads_of, mean_log_prob
from poetry_lm.text.catalogue import load_catalogue

OTHERS_SAMPLE = 8000  # other poets' training poems the classifier sees


def train_attribution(corpus_dir: Path, poet: str, seed: int = 0):
    """Poet vs the rest, on the train split only."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    table = load_catalogue(Path(corpus_dir))
    train = table[table.split == "train"]
    own = train[train.author == poet]
    others = train[train.author != poet].sample(n=OTHERS_SAMPLE, random_state=seed)
    pipeline = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                             LogisticRegression(max_iter=3000, class_weight="balanced"))
    return pipeline.fit(list(own.poem) + list(others.poem), [1] * len(own) + [0] * len(others))


def attributed(classifier, poems: list[str]) -> float:
    return round(float(classifier.predict(poems).mean()), 3) if poems else 0.0


def voice_report(conditions: dict[str, tuple[PoemGenerator, float]], corpus_dir: Path, poet: str, heads: int = 20,
                 candidates: int = 4, seed: int = 0) -> dict:
    """The poet's attribution share for their held-out poems and for poems written under each condition
    ({name: (generator, 风格强度)}: the base model, the fine-tuned one at several strengths) for the heads of
    `heads` of those poems, with the same seeds."""
    started = time.perf_counter()
    classifier = train_attribution(corpus_dir, poet, seed)
    table = load_catalogue(Path(corpus_dir))
    held_out = table[(table.author == poet) & (table.split != "train")].sample(frac=1.0, random_state=seed)
    result = {"poet": poet, "held_out": {"poems": len(held_out), "attributed": attributed(classifier, list(held_out.poem))}}
    for name, (generator, strength) in conditions.items():
        written = []
        for k, poem in enumerate(held_out.poem.head(heads)):
            hidden, line_length = heads_of(poem)
            written += generator.generate(Settings(hidden, line_length, candidates, seed=seed + k, style_strength=strength))
        result[name] = {"poems": len(written), "attributed": attributed(classifier, [p.text for p in written]),
                        "log_prob_per_char": mean_log_prob(written), "example": written[0].text if written else ""}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def format_voice(poet: str, result: dict) -> str:
    """One Markdown row per condition: the share attributed to the poet and the log-probability per character."""
    rows = [f"| {poet} | attributed to {poet} | log-prob per char |", "|---|---|---|",
            f"| the poet's held-out poems ({result['held_out']['poems']}) | {result['held_out']['attributed']:.0%} | |"]
    for name, row in result.items():
        if isinstance(row, dict) and "log_prob_per_char" in row:
            rows.append(f"| {name} | {row['attributed']:.0%} | {row['log_prob_per_char']:.2f} |")
    return "\n".join(rows)
