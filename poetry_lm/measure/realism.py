"""How close generated poems come to real ones: two discriminators and a profile, beside real held-out poems.

For each setting, the generator writes one poem per real poem of a split (the same heads, line count
and length; the first of the app's 4 candidates, as a user sees it), then:

- a lexical discriminator (character 1–2-gram TF-IDF + logistic regression, 5-fold cross-validated
  accuracy and AUC) tells real from generated; 0.5 means it cannot;
- a neural discriminator (a small Keras CNN over characters) is trained on real *train*-split poems
  against poems written for train-split heads, then scored on the held-out real poems against the
  poems written for them, so it never saw either set;
- a profile puts numbers a reader feels beside the real poems': repeats (叠字 apart from scattered
  ones), accidental doubles and 重韵, distinct characters, within-line bigrams unseen in training,
  mean character frequency, mean log-probability under the model, the most over- and under-used n-grams.

Settings are compared on the same heads and seeds. Only the classifiers are fitted on held-out
poems, cross-validated; nothing else is tuned on them (`--split valid` is for tuning).
"""

from __future__ import annotations

import collections
import math
import time
from pathlib import Path

import numpy as np

from poetry_lm.compose.decode import plain_tables
from poetry_lm.compose.generate import PoemGenerator, score_lines
from poetry_lm.compose.settings import DEFAULT_STYLE, STYLES, Settings, style_knobs
from poetry_lm.errors import PoetryError
from poetry_lm.model.network import load_model_dir
from poetry_lm.paths import DEFAULT_MODEL_DIR
from poetry_lm.prosody.form import Form, regulated_form
from poetry_lm.text.catalogue import load_catalogue
from poetry_lm.text.char_stats import char_log_prob, load_char_stats, reduplicable_chars
from poetry_lm.text.corpus import load_split, split_lines

FORMS = ((4, 5), (4, 7), (8, 5), (8, 7))  # (lines, characters per line), equally many of each
APP_CANDIDATES = 4  # the app writes 4 candidates; a reader sees the first
# Settings compared by `evaluate --realism`, as Settings fields; "default" is what the CLI and the app use.
# "previous" is the default before the realism work: temperature 0.8, search 4 ranked by log-probability, no
# specificity, and a decoder without the double and 重韵 bans ("plain": `plain_tables`); "search_1" and
# "temperature_1.0" change one knob of it, as the realism issue's table did. The other styles follow.
PREVIOUS = {"temperature": 0.8, "search": 4, "specificity": 0.0, "ranking": "total", "plain": True}
REALISM_SETTINGS: dict[str, dict] = {
    "default": {},
    "previous": PREVIOUS,
    "search_1": {**PREVIOUS, "search": 1},
    "temperature_1.0": {**PREVIOUS, "temperature": 1.0},
    **{f"style_{name}": style_knobs(name) for name in STYLES if name != DEFAULT_STYLE},
}


def reference_poems(corpus_dir: Path, split: str, count: int, seed: int, dynasty: str | None = "唐") -> list[list[str]]:
    """`count` real poems of `split` (as lines), a quarter of each form, drawn with `seed`."""
    catalogue = load_catalogue(corpus_dir)
    table = catalogue[catalogue.split == split]
    if dynasty:
        table = table[table.dynasty == dynasty]
    rng = np.random.default_rng(seed)
    by_form = collections.defaultdict(list)
    for poem in table.poem:
        lines = split_lines(poem)
        by_form[(len(lines), len(lines[0]))].append(lines)
    per_form = -(-count // len(FORMS))
    picked = []
    for form in FORMS:
        pool = by_form[form]
        if len(pool) < per_form:
            raise PoetryError(f"{split} 中{dynasty or ''}诗 {form[0]} 句 {form[1]} 言只有 {len(pool)} 首，不够 {per_form} 首")
        picked += [pool[i] for i in sorted(rng.choice(len(pool), size=per_form, replace=False))]
    return picked[:count]


def write_like(generator: PoemGenerator, real: list[list[str]], overrides: dict, seed: int) -> list[list[str]]:
    """One poem per real poem: its heads and form, the first of the app's candidates, seeds seed, seed+1, …"""
    poems = []
    for k, lines in enumerate(real):
        settings = Settings(heads="".join(line[0] for line in lines), line_length=len(lines[0]),
                            num_candidates=APP_CANDIDATES, seed=seed + k, **overrides)
        poems.append(generator.generate(settings)[0].lines)
    return poems


def as_text(poem: list[str]) -> str:
    """A poem as one string for the classifiers: lines separated by a space (line ends count as features)."""
    return " ".join(poem)


def lexical_discriminator(real: list[list[str]], generated: list[list[str]], seed: int = 0, folds: int = 5) -> dict:
    """5-fold cross-validated accuracy and AUC of char 1–2-gram TF-IDF + logistic regression, and the
    n-grams that give the generated poems away most (largest weights toward "generated")."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import make_pipeline

    texts = [as_text(p) for p in real + generated]
    labels = np.asarray([0] * len(real) + [1] * len(generated))
    pipeline = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 2)), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(folds, shuffle=True, random_state=seed)
    scores = cross_validate(pipeline, texts, labels, cv=folds, scoring=("accuracy", "roc_auc"))
    pipeline.fit(texts, labels)
    vectorizer, classifier = pipeline.named_steps["tfidfvectorizer"], pipeline.named_steps["logisticregression"]
    names = vectorizer.get_feature_names_out()
    order = np.argsort(-classifier.coef_[0])
    giveaways = [names[i].strip() for i in order if names[i].strip() and " " not in names[i]][:12]
    return {"accuracy": round(float(scores["test_accuracy"].mean()), 3),
            "auc": round(float(scores["test_roc_auc"].mean()), 3), "giveaways": giveaways}


def neural_discriminator(train_real, train_generated, test_real, test_generated, seed: int = 0, epochs: int = 8) -> dict:
    """A character CNN trained on (train real, train generated), scored on (test real, test generated)."""
    import keras
    from sklearn.metrics import roc_auc_score

    chars = sorted({ch for poem in train_real + train_generated for line in poem for ch in line})
    index = {ch: i + 2 for i, ch in enumerate(chars)}  # 0 padding, 1 unknown
    width = max(len(as_text(p)) for p in train_real + train_generated + test_real + test_generated)

    def encode(poems):
        rows = np.zeros((len(poems), width), dtype=np.int32)
        for r, poem in enumerate(poems):
            ids = [index.get(ch, 1) if ch != " " else 0 for ch in as_text(poem)]
            rows[r, : len(ids)] = ids
        return rows

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((width,), dtype="int32"),
        keras.layers.Embedding(len(chars) + 2, 32),
        keras.layers.Conv1D(64, 3, padding="same", activation="relu"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy", metrics=["accuracy"])
    inputs = encode(train_real + train_generated)
    labels = np.asarray([0] * len(train_real) + [1] * len(train_generated), dtype=np.float32)
    order = np.random.default_rng(seed).permutation(len(labels))
    model.fit(inputs[order], labels[order], epochs=epochs, batch_size=32, verbose=0)
    test_labels = np.asarray([0] * len(test_real) + [1] * len(test_generated))
    probs = np.asarray(model.predict(encode(test_real + test_generated), verbose=0))[:, 0]
    return {"accuracy": round(float(((probs > 0.5) == test_labels).mean()), 3),
            "auc": round(float(roc_auc_score(test_labels, probs)), 3)}


def line_ngrams(lines: list[str], n: int) -> list[str]:
    """Every run of `n` characters inside one line (never across a line break)."""
    return [line[k : k + n] for line in lines for k in range(len(line) - n + 1)]


def train_bigrams(corpus_dir: Path) -> set[str]:
    """Every within-line character bigram of the train split."""
    return {pair for poem in load_split(corpus_dir, "train") for pair in line_ngrams(split_lines(poem), 2)}


def repeats(poem: list[str], reduplicable: set[str], form: Form | None = None) -> dict:
    """Extra uses of a character in one poem: as 叠字 (right after itself in a line), split into real
    叠字 and accidental doubles (a character real poems do not double), and scattered elsewhere;
    plus 重韵, a rhyme character (even lines' last, or the `form`'s rhyme positions) used again at another."""
    chars = [ch for line in poem for ch in line]
    doubles = [line[k] for line in poem for k in range(1, len(line)) if line[k] == line[k - 1]]
    form = form or regulated_form(len(poem[0]), len(poem))
    rhyme_chars = [poem[i][j] for i, j in form.rhyme_ends()]
    return {
        "repeats": len(chars) - len(set(chars)),
        "doubled": len(doubles),
        "accidental_doubles": sum(ch not in reduplicable for ch in doubles),
        "scattered": len(chars) - len(set(chars)) - len(doubles),
        "repeated_rhyme": len(rhyme_chars) - len(set(rhyme_chars)),
    }


def profile(poems: list[list[str]], bigrams: set[str], stats: dict, generator: PoemGenerator | None = None,
            forms: list[Form] | None = None) -> dict:
    """The numbers a reader feels, for one set of poems (see the module docstring); `forms`: each poem's (a 词's
    tune), for its rhyme positions and the model's score (None: 诗)."""
    reduplicable = reduplicable_chars(stats)
    forms = forms or [None] * len(poems)
    per_poem = [repeats(poem, reduplicable, form) for poem, form in zip(poems, forms, strict=True)]
    chars = [ch for poem in poems for line in poem for ch in line]
    pairs = [pair for poem in poems for pair in line_ngrams(poem, 2)]
    result = {
        "poems": len(poems),
        **{f"{key}_per_poem": round(sum(r[key] for r in per_poem) / len(poems), 3) for key in per_poem[0]},
        "poems_with_accidental_double": sum(r["accidental_doubles"] > 0 for r in per_poem),
        "poems_with_repeated_rhyme": sum(r["repeated_rhyme"] > 0 for r in per_poem),
        "distinct_chars": len(set(chars)),
        "unseen_bigram_rate": round(sum(pair not in bigrams for pair in pairs) / len(pairs), 4),
        "mean_log_unigram": round(float(np.mean([char_log_prob(ch, stats) for ch in chars])), 3),
    }
    if generator is not None:
        scored = [score_lines(generator, poem, form)[1] for poem, form in zip(poems, forms, strict=True)]
        result["model_log_prob_per_char"] = round(float(np.mean([p for poem in scored for line in poem for p in line])), 3)
    return result


def ngram_use(generated: list[list[str]], real: list[list[str]], top: int = 10, min_count: int = 8) -> dict:
    """1–2-grams most over- and under-used by the generated poems: log of their rate ratio to real (add-one)."""
    def rates(poems):
        grams = collections.Counter(gram for poem in poems for n in (1, 2) for gram in line_ngrams(poem, n))
        return grams, sum(grams.values())

    (gen, gen_total), (ref, ref_total) = rates(generated), rates(real)
    ratio = {g: math.log((gen[g] + 1) / gen_total) - math.log((ref[g] + 1) / ref_total)
             for g in set(gen) | set(ref) if gen[g] + ref[g] >= min_count}
    ordered = sorted(ratio, key=ratio.get)
    return {"over_used": [[g, round(ratio[g], 2)] for g in ordered[::-1][:top]],
            "under_used": [[g, round(ratio[g], 2)] for g in ordered[:top]]}


def realism_report(model_path: Path | None, corpus_dir: Path, count: int = 400, seed: int = 0, split: str = "test",
                   settings_names: list[str] | None = None, neural: bool = True, dynasty: str | None = "唐") -> dict:
    """Every setting of `settings_names` (default: all of REALISM_SETTINGS) beside the real poems of `split`."""
    if split not in ("valid", "test"):
        raise PoetryError(f"真实参照诗只能取自 valid 或 test，收到 {split!r}")
    names = settings_names or list(REALISM_SETTINGS)
    unknown = [name for name in names if name not in REALISM_SETTINGS]
    if unknown:
        raise PoetryError(f"未知设置：{'、'.join(unknown)}（可选：{'、'.join(REALISM_SETTINGS)}）")
    real = reference_poems(corpus_dir, split, count, seed, dynasty)
    train_real = reference_poems(corpus_dir, "train", count, seed, dynasty) if neural else []
    model_dir = load_model_dir(Path(model_path) if model_path else DEFAULT_MODEL_DIR)
    generator, plain = PoemGenerator(model_dir), None
    stats, bigrams = load_char_stats(), train_bigrams(corpus_dir)
    result = {"model": str(model_dir.path), "split": split, "seed": seed, "poems": len(real),
              "real": profile(real, bigrams, stats, generator), "settings": {}}
    for name in names:
        overrides = dict(REALISM_SETTINGS[name])
        writer = generator
        if overrides.pop("plain", False):
            plain = plain or PoemGenerator(model_dir, plain_tables(len(model_dir.vocab)))
            writer = plain
        started = time.perf_counter()
        poems = write_like(writer, real, overrides, seed)
        row = {"overrides": REALISM_SETTINGS[name], "seconds": round(time.perf_counter() - started, 1),
               "lexical": lexical_discriminator(real, poems, seed)}
        if neural:
            train_poems = write_like(writer, train_real, overrides, seed + 100_000)
            row["neural"] = neural_discriminator(train_real, train_poems, real, poems, seed)
        row["profile"] = profile(poems, bigrams, stats, generator)
        row["ngrams"] = ngram_use(poems, real)
        row["examples"] = ["，".join(poem) + "。" for poem in poems[:4]]
        result["settings"][name] = row
    return result


def format_realism(result: dict) -> str:
    """The report as a Markdown table: one column per setting beside the real poems."""
    names = list(result["settings"])
    real = result["real"]
    rows = [
        ("lexical discriminator accuracy (5-fold CV)", lambda s: s["lexical"]["accuracy"], "0.5"),
        ("lexical discriminator AUC", lambda s: s["lexical"]["auc"], "0.5"),
        ("neural discriminator accuracy (held out)", lambda s: s.get("neural", {}).get("accuracy", "—"), "0.5"),
        ("repeated characters per poem", lambda s: s["profile"]["repeats_per_poem"], real["repeats_per_poem"]),
        ("… of them 叠字 / scattered", lambda s: f"{s['profile']['doubled_per_poem']} / {s['profile']['scattered_per_poem']}",
         f"{real['doubled_per_poem']} / {real['scattered_per_poem']}"),
        ("poems with an accidental double / with 重韵", lambda s: f"{s['profile']['poems_with_accidental_double']} / "
         f"{s['profile']['poems_with_repeated_rhyme']}", f"{real['poems_with_accidental_double']} / {real['poems_with_repeated_rhyme']}"),
        ("distinct characters", lambda s: f"{s['profile']['distinct_chars']:,}", f"{real['distinct_chars']:,}"),
        ("within-line bigrams unseen in training", lambda s: f"{s['profile']['unseen_bigram_rate']:.1%}", f"{real['unseen_bigram_rate']:.1%}"),
        ("mean log unigram frequency", lambda s: s["profile"]["mean_log_unigram"], real["mean_log_unigram"]),
        ("model log-prob per character", lambda s: s["profile"].get("model_log_prob_per_char", "—"),
         real.get("model_log_prob_per_char", "—")),
    ]
    lines = [f"| measure ({result['poems']} poems, {result['split']}) | real | {' | '.join(names)} |",
             "|---|---|" + "---|" * len(names)]
    for label, value, reference in rows:
        lines.append(f"| {label} | {reference} | {' | '.join(str(value(result['settings'][n])) for n in names)} |")
    return "\n".join(lines)
