"""One model for 诗 and 词 without training: the weights of the 诗 model and of the 词 model, averaged.

    python scripts/average_ci_model.py --alphas 0,0.4,0.5,0.6,1 --out docs/results/ci_model_average.json
    python scripts/average_ci_model.py --alphas 0.5 --save /tmp/shici_avg      # write the averaged model

`models/ci` was continued from `models/default`, so their weights still lie in one basin and (1 − α)·诗 + α·词
is a working model (as in WiSE-FT, Wortsman et al. 2022). The 词 model's vocabulary extends the 诗 model's: its new
rows keep the 词 model's values. Each α is scored per Han character on the valid and test 词 and on the fixed Tang
test set (`evaluate`'s sets), so the trade-off between them can be read off.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from poetry_lm.measure.heldout import benchmark_sets  # noqa: E402
from poetry_lm.model.network import load_model_dir, save_model_dir  # noqa: E402
from poetry_lm.model.scoring import evaluate_loss  # noqa: E402
from poetry_lm.text.ci import load_lm_texts  # noqa: E402


def averaged(shi_weights: list, ci_weights: list, alpha: float) -> list:
    """(1 − alpha)·shi + alpha·ci, tensor by tensor; rows the 诗 model lacks (new characters) stay the 词 model's."""
    mixed = []
    for shi, ci in zip(shi_weights, ci_weights, strict=True):
        weight = ci.copy()
        shared = tuple(slice(0, n) for n in shi.shape)
        weight[shared] = (1 - alpha) * shi + alpha * ci[shared]
        mixed.append(weight)
    return mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shi", default="models/default")
    parser.add_argument("--ci", default="models/ci")
    parser.add_argument("--corpus", default="corpus")
    parser.add_argument("--alphas", default="0,0.4,0.5,0.6,1")
    parser.add_argument("--out", type=Path, help="the scores as JSON")
    parser.add_argument("--save", type=Path, help="write the model of the (single) alpha here")
    args = parser.parse_args()

    alphas = [float(a) for a in args.alphas.split(",")]
    if args.save and (len(alphas) != 1 or args.save.exists()):
        sys.exit("--save writes one new model: give one alpha and a directory that is not there yet")
    shi, ci = load_model_dir(Path(args.shi)), load_model_dir(Path(args.ci))
    if ci.vocab.tokens[: len(shi.vocab)] != shi.vocab.tokens:
        sys.exit("the 词 model's vocabulary does not extend the 诗 model's: they cannot be averaged")
    corpus = Path(args.corpus)
    sets = {"ci_valid": load_lm_texts(corpus, "valid"), "ci_test": load_lm_texts(corpus, "test"),
            "test_tang": benchmark_sets(corpus)["test_tang"]}
    shi_weights, ci_weights = shi.model.get_weights(), ci.model.get_weights()
    rows = []
    for alpha in alphas:
        ci.model.set_weights(averaged(shi_weights, ci_weights, alpha))
        scores = {name: evaluate_loss(ci.model, ci.vocab, texts) for name, texts in sets.items()}
        row = {"alpha": alpha, **{name: {key: s[key] for key in ("loss_per_han", "perplexity_per_han")}
                                  for name, s in scores.items()}}
        print(json.dumps(row, ensure_ascii=False), flush=True)
        rows.append(row)
    if args.out:
        args.out.write_text(json.dumps({"shi": args.shi, "ci": args.ci, "rows": rows}, ensure_ascii=False, indent=1)
                            + "\n", encoding="utf-8")
    if args.save:
        train = dataclasses.replace(ci.info.train, init_from=f"{args.shi} and {args.ci} averaged, alpha {alphas[0]}")
        partial = args.save.with_name(args.save.name + ".partial")  # renamed into place once whole
        save_model_dir(partial, ci.model, ci.vocab, dataclasses.replace(ci.info, train=train))
        partial.rename(args.save)


if __name__ == "__main__":
    main()
