"""Composition controls, measured side by side in one run (bundled model unless --model):

1. Hidden-character positions: for head, tail, 3, rising and falling, plain forcing (search 1) vs
   search (the best of `--search` samples per candidate): mean log-probability per character and
   of the hidden characters themselves, over `--poems` poems whose heads and forms come from real
   test-split quatrains; and the latency of 8 七言 candidates with each.
2. Themes: share of poems with a theme character in a cell the model wrote, and the mean
   log-probability per written character, at each theme strength (0 = off).
3. Ranking: within each request of 8 candidates, the Spearman correlation of each ranking (total
   log-probability, or mean over the written characters) with tone compliance and with repeats.

    python scripts/measure_composition.py [--poems 200 --search 4 --json docs/results/composition.json]
        [--parts latency,positions,themes,ranking]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from poetry_lm.compose.generate import PoemGenerator  # noqa: E402
from poetry_lm.compose.settings import DEFAULT_THEME_STRENGTH, Settings  # noqa: E402
from poetry_lm.compose.theme import theme_chars  # noqa: E402
from poetry_lm.prosody.analysis import analyse_lines  # noqa: E402
from poetry_lm.prosody.options import DEFAULT_PROSODY, ProsodyOptions
from poetry_lm.text.corpus import load_split, split_lines  # noqa: E402

POSITIONS = ["head", "tail", "3", "rising", "falling"]
THEMES = ["明月", "秋风", "江南", "边塞", "梅花", "故乡", "美酒", "山水", "离别", "春雨"]


def test_heads(count: int, seed: int = 0) -> list[tuple[str, int]]:
    """(hidden characters, line length) of `count` test-split quatrains: their line-initial characters."""
    quatrains = [lines for lines in map(split_lines, load_split(Path("corpus"), "test")) if len(lines) == 4]
    picked = np.random.default_rng(seed).choice(len(quatrains), size=count, replace=False)
    return [("".join(line[0] for line in quatrains[k]), len(quatrains[k][0])) for k in picked]


def written(poem, given: set) -> list[float]:
    return [p for i, row in enumerate(poem.char_log_probs) for j, p in enumerate(row) if (i, j) not in given]


def positions(generator, heads, search: int) -> dict:
    result = {}
    for position in POSITIONS:
        for label, k in (("plain", 1), ("search", search)):
            per_char, hidden = [], []
            for n, (chars, length) in enumerate(heads):
                poem = generator.generate(Settings(chars, length, 1, seed=n, position=position, search=k,
                                                   prosody=DEFAULT_PROSODY))[0]
                cells = [p for row in poem.char_log_probs for p in row]
                per_char.append(float(np.mean(cells)))
                hidden.extend(poem.char_log_probs[i][j] for i, j in poem.marked)
            result.setdefault(position, {})[label] = {
                "log_prob_per_char": round(float(np.mean(per_char)), 4),
                "hidden_char_log_prob": round(float(np.mean(hidden)), 4),
            }
        plain, searched = result[position]["plain"], result[position]["search"]
        result[position]["gain_per_char"] = round(searched["log_prob_per_char"] - plain["log_prob_per_char"], 4)
        result[position]["gain_hidden"] = round(searched["hidden_char_log_prob"] - plain["hidden_char_log_prob"], 4)
    return result


def latency(generator, search: int, repeats: int = 15) -> dict:
    """Median ms of one request of 8 七言 candidates (4 lines), plain vs search, interleaved."""
    times = {1: [], search: []}
    for n in range(repeats):
        for k in times:
            started = time.perf_counter()
            generator.generate(Settings("春花秋月", 7, 8, seed=n, search=k, prosody=DEFAULT_PROSODY))
            times[k].append(time.perf_counter() - started)
    return {"plain_ms": round(1000 * statistics.median(times[1]), 1),
            "search_ms": round(1000 * statistics.median(times[search]), 1), "cpu_count": os.cpu_count()}


def themes(generator, heads, search: int) -> dict:
    result = {}
    for strength in (0.0, DEFAULT_THEME_STRENGTH / 3, 2 * DEFAULT_THEME_STRENGTH / 3, DEFAULT_THEME_STRENGTH):
        hits, per_char = 0, []
        for n, (chars, length) in enumerate(heads):
            theme = THEMES[n % len(THEMES)]
            poem = generator.generate(Settings(chars, length, 1, seed=n, search=search, theme=theme,
                                               theme_strength=strength, prosody=DEFAULT_PROSODY))[0]
            given = set(poem.marked)
            free_chars = {poem.lines[i][j] for i, line in enumerate(poem.lines) for j in range(len(line)) if (i, j) not in given}
            hits += bool(free_chars & set(theme_chars(theme)))
            per_char.append(float(np.mean(written(poem, given))))
        result[f"strength_{strength:g}"] = {"poems_with_theme_char": round(hits / len(heads), 4),
                                            "written_char_log_prob": round(float(np.mean(per_char)), 4)}
    return result


def spearman(a, b) -> float:
    """Rank correlation with tied values sharing their average rank (repeats tie often)."""
    ra, rb = pd.Series(a).rank().to_numpy(), pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def ranking(generator, heads) -> dict:
    """Correlations within requests (no prosody constraints, so tone compliance varies)."""
    found = {"total": {"tone_ok": [], "repeats": []}, "free": {"tone_ok": [], "repeats": []}}
    for n, (chars, length) in enumerate(heads):
        poems = generator.generate(Settings(chars, length, 8, seed=n, search=1, prosody=ProsodyOptions()))
        tone_ok = [analyse_lines(p.lines).tone_ok_ratio or 0.0 for p in poems]
        repeats = [-(len(p.text) - len(set(p.text))) for p in poems]  # fewer repeats is better
        for name, score in (("total", [p.log_prob for p in poems]), ("free", [p.free_log_prob for p in poems])):
            for check, values in (("tone_ok", tone_ok), ("repeats", repeats)):
                value = spearman(score, values)
                if value == value:
                    found[name][check].append(value)
    return {name: {check: round(float(np.mean(v)), 4) for check, v in checks.items()} for name, checks in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--poems", type=int, default=200)
    parser.add_argument("--search", type=int, default=4)
    parser.add_argument("--json", help="write the result here (parts not measured this time are kept from it)")
    parser.add_argument("--parts", default="latency,positions,themes,ranking")
    args = parser.parse_args()
    generator = PoemGenerator.load(args.model)
    heads = test_heads(args.poems)
    measure = {
        "latency_8_qiyan": lambda: latency(generator, args.search),
        "positions": lambda: positions(generator, heads, args.search),
        "themes": lambda: themes(generator, heads, args.search),
        "ranking": lambda: ranking(generator, heads[:100]),
    }
    parts = {"latency": "latency_8_qiyan"}
    wanted = [parts.get(name, name) for name in args.parts.split(",")]
    previous = json.loads(Path(args.json).read_text(encoding="utf-8")) if args.json and Path(args.json).is_file() else {}
    result = {**previous, "poems": args.poems, "search": args.search}
    result.update({name: measure[name]() for name in wanted})
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
