"""Decoding ideas side by side on the same held-out heads: the lexical discriminator and the profile of each.

Run on the valid split to choose the defaults (never on test):

    python scripts/measure_realism_ideas.py --split valid --poems 200 --out docs/results/realism_ideas_valid.json

Each idea is a set of `Settings` fields (plus "plain": the decoder without the double/重韵 bans and
without the specificity bonus, as before); every idea writes for the same real poems with the same seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from poetry_lm.compose.decode import plain_tables  # noqa: E402
from poetry_lm.compose.generate import PoemGenerator  # noqa: E402
from poetry_lm.measure.realism import (  # noqa: E402
    lexical_discriminator,
    neural_discriminator,
    profile,
    reference_poems,
    train_bigrams,
    write_like,
)
from poetry_lm.model.network import load_model_dir  # noqa: E402
from poetry_lm.paths import DEFAULT_MODEL_DIR  # noqa: E402
from poetry_lm.text.char_stats import load_char_stats  # noqa: E402

# (temperature, specificity) pairs tried with search 4 and the search-score ranking
GRID = [(0.8, 0.0), (0.8, 0.3), (0.8, 0.6), (0.8, 0.8), (0.8, 1.0), (0.85, 0.7), (0.9, 0.3), (0.9, 0.6), (0.9, 0.7),
        (0.9, 0.8), (1.0, 0.0), (1.0, 0.3), (1.0, 0.5)]
IDEAS = {
    "previous (T 0.8, search 4, by log-prob, no bans)": {"temperature": 0.8, "specificity": 0.0, "ranking": "total", "plain": True},
    "bans only": {"temperature": 0.8, "specificity": 0.0, "ranking": "total"},
    "search 1 (T 0.8)": {"temperature": 0.8, "specificity": 0.0, "search": 1},
    **{f"T {temperature:g}, specificity {specificity:g}": {"temperature": temperature, "specificity": specificity}
       for temperature, specificity in GRID},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="valid", choices=["valid", "test"])
    parser.add_argument("--poems", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", default="corpus")
    parser.add_argument("--only", help="semicolon-separated idea names (default: all)")
    parser.add_argument("--neural", action="store_true", help="also train and score the neural discriminator")
    parser.add_argument("--reference-model", help="a second model: mean log-prob per character under it (surprise)")
    parser.add_argument("--out")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    real = reference_poems(corpus, args.split, args.poems, args.seed)
    model_dir = load_model_dir(DEFAULT_MODEL_DIR)
    generators = {False: PoemGenerator(model_dir), True: PoemGenerator(model_dir, plain_tables(len(model_dir.vocab)))}
    stats, bigrams = load_char_stats(), train_bigrams(corpus)
    reference = PoemGenerator(load_model_dir(Path(args.reference_model))) if args.reference_model else None
    train_real = reference_poems(corpus, "train", args.poems, args.seed) if args.neural else []
    result = {"split": args.split, "poems": len(real), "seed": args.seed, "real": profile(real, bigrams, stats, reference),
              "reference_model": args.reference_model, "ideas": {}}
    names = args.only.split(";") if args.only else list(IDEAS)
    for name in names:
        overrides = dict(IDEAS[name])
        plain = overrides.pop("plain", False)
        started = time.perf_counter()
        poems = write_like(generators[plain], real, overrides, args.seed)
        seconds = time.perf_counter() - started
        row = {"overrides": IDEAS[name], "seconds_per_poem": round(seconds / len(real), 3),
               "lexical": lexical_discriminator(real, poems, args.seed), "profile": profile(poems, bigrams, stats, reference),
               "examples": ["，".join(p) + "。" for p in poems[:3]]}
        if args.neural:
            train_poems = write_like(generators[plain], train_real, overrides, args.seed + 100_000)
            row["neural"] = neural_discriminator(train_real, train_poems, real, poems, args.seed)
        result["ideas"][name] = row
        p = row["profile"]
        extra = f"neural {row['neural']['accuracy']:.3f} " if args.neural else ""
        extra += f"ref {p['model_log_prob_per_char']:.2f} " if reference else ""
        print(f"{name:50s} {extra}lex {row['lexical']['accuracy']:.3f} rep {p['repeats_per_poem']:.2f} "
              f"distinct {p['distinct_chars']} unseen {p['unseen_bigram_rate']:.3f} uni {p['mean_log_unigram']:.2f} "
              f"acc-dbl {p['poems_with_accidental_double']} 重韵 {p['poems_with_repeated_rhyme']} {seconds:.0f}s", flush=True)
    real_profile = result["real"]
    ref = f"ref {real_profile['model_log_prob_per_char']:.2f} " if reference else ""
    print(f"{'real':50s} {ref}rep {real_profile['repeats_per_poem']:.2f} distinct {real_profile['distinct_chars']} "
          f"unseen {real_profile['unseen_bigram_rate']:.3f} uni {real_profile['mean_log_unigram']:.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
