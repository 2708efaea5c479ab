"""Choose how firmly a 词 holds its 谱's tones and how much it pays for repeats, on VALIDATION 词 (never test).

    python scripts/tune_ci_prosody.py --poems 240 --out docs/results/ci_prosody_valid.json

Both are a 词 Form's (`cipu.CI_SOFT_TONE_PENALTY`, `cipu.CI_REPEAT_WEIGHT`); each value is tried with the other at
its shipped setting, writing for the same validation 词 with the same names and seeds as `measure.ci_writing` does
for test. Reported per value: the fixed-tone cells kept, the lexical discriminator's AUC against the real 词, and the
realism profile (repeats, the model's log-probability), beside the real validation 词.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from poetry_lm.compose.generate import PoemGenerator  # noqa: E402
from poetry_lm.measure import ci_writing  # noqa: E402
from poetry_lm.measure.realism import lexical_discriminator, profile  # noqa: E402
from poetry_lm.prosody import cipu  # noqa: E402
from poetry_lm.prosody.options import DEFAULT_PROSODY  # noqa: E402
from poetry_lm.text.char_stats import load_char_stats  # noqa: E402

TONE_PENALTIES = (2.0, 3.0, 4.0, 6.0)
REPEAT_WEIGHTS = (1.0, 0.5, 0.25, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/ci")
    parser.add_argument("--corpus", default="corpus")
    parser.add_argument("--poems", type=int, default=240)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    generator = PoemGenerator.load(Path(args.model))
    held = ci_writing.held_out_ci(Path(args.corpus), "valid", args.poems, args.seed)
    forms, real = [form for form, _ in held], [lines for _, lines in held]
    stats = load_char_stats()
    bigrams = ci_writing.ci_train_bigrams(Path(args.corpus), args.seed)
    shipped = {"CI_SOFT_TONE_PENALTY": cipu.CI_SOFT_TONE_PENALTY, "CI_REPEAT_WEIGHT": cipu.CI_REPEAT_WEIGHT}
    result = {"model": args.model, "split": "valid", "poems": len(held), "shipped": shipped,
              "real": {**ci_writing.form_rates(forms, real), "profile": profile(real, bigrams, stats, generator, forms)},
              "tried": []}
    trials = [("CI_SOFT_TONE_PENALTY", value) for value in TONE_PENALTIES]
    trials += [("CI_REPEAT_WEIGHT", value) for value in REPEAT_WEIGHTS if value != shipped["CI_REPEAT_WEIGHT"]]
    for name, value in trials:
        setattr(cipu, name, value)  # Pattern.form reads them per request
        started = time.perf_counter()
        poems = ci_writing.write_ci_like(generator, held, DEFAULT_PROSODY, args.seed + 6)
        setattr(cipu, name, shipped[name])
        written = [poem.lines for poem in poems]
        row = {name: value, "seconds": round(time.perf_counter() - started, 1),
               **ci_writing.form_rates(forms, written, [poem.given for poem in poems]),
               "lexical_auc": lexical_discriminator(real, written, args.seed)["auc"],
               "profile": profile(written, bigrams, stats, generator, forms)}
        print(json.dumps(row, ensure_ascii=False), flush=True)
        result["tried"].append(row)
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
