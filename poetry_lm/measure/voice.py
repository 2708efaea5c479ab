"""A poet's voice: can a reader (a classifier) hear the poet in what a fine-tuned model writes?

For each poet, a classifier that never saw a generated poem (character 1–2-gram TF-IDF + logistic regression,
classes balanced) is trained on the train split: the poet's poems against a sample of everyone else's. It then
reads the poet's own held-out poems (valid and test: the ceiling), and poems written for those poems' heads, with
the same seeds, by the base model and by the model fine-tuned on the poet; the report is the share of each it
attributes to the poet.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from poetry_lm.compose.generate import PoemGenerator
from poetry_lm.compose.settings import DEFAULT_STYLE_STRENGTH, Settings
from poetry_lm.files import write_atomic
from poetry_lm.measure.meaning import heads_of, mean_log_prob, poem_classifier
from poetry_lm.measure.realism import lexical_discriminator
from poetry_lm.text.catalogue import load_catalogue
from poetry_lm.text.corpus import split_lines

OTHERS_SAMPLE = 8000  # other poets' training poems the classifier sees
REALISM_FOLDS = 3  # the poet's held-out poems are few: three folds


def train_attribution(corpus_dir: Path, poet: str, seed: int = 0):
    """`poem_classifier`: the poet vs the rest, on the train split only."""
    table = load_catalogue(Path(corpus_dir))
    train = table[table.split == "train"]
    own = train[train.author == poet]
    others = train[train.author != poet]
    others = others.sample(n=min(OTHERS_SAMPLE, len(others)), random_state=seed)
    return poem_classifier(list(own.poem) + list(others.poem), [1] * len(own) + [0] * len(others))


def attributed(classifier, poems: list[str]) -> float:
    return round(float(classifier.predict(poems).mean()), 3) if poems else 0.0


def voice_report(conditions: dict[str, tuple[PoemGenerator, float]], corpus_dir: Path, poet: str, heads: int = 20,
                 candidates: int = 4, seed: int = 0, realism: bool = False) -> dict:
    """The poet's attribution share for their held-out poems and for poems written under each condition
    ({name: (generator, 风格强度)}: the base model, the fine-tuned one at several strengths) for the heads of
    `heads` of those poems, with the same seeds; `realism`: also how well a lexical discriminator tells each
    condition's poems from the poet's own (the realism report's, `measure.realism.lexical_discriminator`)."""
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
        if realism and written:
            # How well a lexical discriminator tells these poems from the poet's own held-out ones (AUC 0.5: not at all).
            real = [split_lines(poem) for poem in held_out.poem]
            found = lexical_discriminator(real, [p.lines for p in written], seed=seed, folds=REALISM_FOLDS)
            result[name]["discriminator_auc"] = found["auc"]  # classes are unequal: AUC, not accuracy
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def format_voice(poet: str, result: dict) -> str:
    """One Markdown row per condition: the share attributed to the poet and the log-probability per character."""
    rows = [f"| {poet} | attributed to {poet} | told from the poet's own (AUC) | log-prob per char |", "|---|---|---|---|",
            f"| the poet's held-out poems ({result['held_out']['poems']}) | {result['held_out']['attributed']:.0%} | | |"]
    for name, row in result.items():
        if isinstance(row, dict) and "log_prob_per_char" in row:
            told = f"{row['discriminator_auc']:.2f}" if "discriminator_auc" in row else ""
            rows.append(f"| {name} | {row['attributed']:.0%} | {told} | {row['log_prob_per_char']:.2f} |")
    return "\n".join(rows)


VOICE_FILE = "voice.json"  # beside a model fine-tuned on one poet: what the sidebar shows after training
CHECK_HEADS, CHECK_CANDIDATES, CHECK_SAMPLES = 8, 2, 3


def voice_check(model_path: Path, corpus_dir: Path, seed: int = 0) -> dict | None:
    """After fine-tuning on one poet: the attribution share before (base) → after (风格强度 default) on the heads of
    CHECK_HEADS held-out poems, and CHECK_SAMPLES poems from each, side by side. Written to the model folder as
    VOICE_FILE (atomically); None when the model was not fine-tuned on exactly one poet, or its base is gone."""
    tuned = PoemGenerator.load(Path(model_path))
    poets = tuned.model_dir.info.train.poets
    if tuned.base_dir is None or len(poets) != 1:
        return None
    base = PoemGenerator(tuned.base_dir)
    conditions = {"base": (base, 0.0), "tuned": (tuned, DEFAULT_STYLE_STRENGTH)}
    result = voice_report(conditions, corpus_dir, poets[0], CHECK_HEADS, CHECK_CANDIDATES, seed)
    held_out = load_catalogue(Path(corpus_dir))
    held_out = held_out[(held_out.author == poets[0]) & (held_out.split != "train")]
    samples = []
    for k, poem in enumerate(held_out.sample(frac=1.0, random_state=seed + 1).poem.head(CHECK_SAMPLES)):
        hidden, line_length = heads_of(poem)
        pair = [generator.generate(Settings(hidden, line_length, 1, seed=seed + k, style_strength=strength))[0]
                for generator, strength in conditions.values()]
        samples.append({"heads": hidden, "base": pair[0].display_lines(), "tuned": pair[1].display_lines()})
    record = {"poet": poets[0], "base_model": tuned.base_dir.path.name, "style_strength": DEFAULT_STYLE_STRENGTH,
              "attributed_before": result["base"]["attributed"], "attributed_after": result["tuned"]["attributed"],
              "held_out_attributed": result["held_out"]["attributed"], "samples": samples}
    write_atomic(Path(model_path) / VOICE_FILE, json.dumps(record, ensure_ascii=False, indent=1))
    return record
