"""How good the couplets are, on held-out couplets of the corpus.

- Log-probability per character of the real 下联 given its 上联: the poem model alone, the aligned model alone,
  and their product at the chosen weight (`calibrate_weight` chooses it on valid; the report reads test).
- The rules and 对仗 of answered 下联, beside the real 下联 (the ceiling) and the non-parallel 首联/尾联 (what
  the measure reads for couplets not in 对仗), plus BLEU-2 against the real 下联 and a realism classifier.
- 藏头 and 藏尾 couplets for private-looking name pairs: length, hidden characters and end tones.
"""

from __future__ import annotations

import collections
import math
import random
import statistics
import time
from pathlib import Path

import numpy as np

from poetry_lm.compose.couplet import CoupletSettings, CoupletWriter, save_weight
from poetry_lm.measure.realism import lexical_discriminator
from poetry_lm.prosody.couplet import check_couplet, wanted_tones
from poetry_lm.prosody.tones import tone_fits
from poetry_lm.text.corpus import load_split
from poetry_lm.text.couplets import edge_couplets, parallel_couplets

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
# Two-character pairs as people hide them: given names and wishes (none is a line opening in the corpus's test set).
HIDDEN_PAIRS = ("张伟", "李娜", "王芳", "刘洋", "陈静", "杨帆", "赵磊", "黄婷", "周杰", "吴敏",
                "徐鹏", "孙悦", "马超", "朱琳", "胡斌", "郭瑞", "何欣", "林峰", "罗兰", "高远")


def held_out_couplets(corpus_dir: Path, split: str, count: int | None = None, seed: int = 0,
                      parallel: bool = True) -> list[tuple[str, str]]:
    """Parallel (or, with `parallel` False, 首联/尾联) couplets of one split, a seeded sample of `count`."""
    poems = load_split(corpus_dir, split)
    pairs = parallel_couplets(poems) if parallel else edge_couplets(poems)
    if count is not None and count < len(pairs):
        pairs = random.Random(seed).sample(pairs, count)
    return pairs


def answer_log_probs(writer: CoupletWriter, pairs: list[tuple[str, str]], weights=WEIGHTS,
                     batch_size: int = 128) -> dict:
    """Mean log-probability per character of each real 下联 given its 上联 under: the poem model alone, the
    aligned model alone, and their renormalised product at each weight."""
    vocab = writer.vocab
    sums = collections.Counter()
    count = 0
    by_length = collections.defaultdict(list)
    for pair in pairs:
        by_length[len(pair[0])].append(pair)
    for n, group in by_length.items():
        for start in range(0, len(group), batch_size):
            batch = group[start : start + batch_size]
            ids = np.asarray([vocab.encode(f"{a}，{b}。", add_bounds=True) for a, b in batch], np.int32)
            # The poem model's prediction of 下联 character j is at input position n + 1 + j (after <bos>, 上联, ，).
            poem = np.log(np.maximum(np.asarray(writer.poem.model(ids[:, :-1], training=False))[:, n + 1 : 2 * n + 1],
                                     1e-30)).astype(np.float64)
            aligned = writer.aligned_log_probs([a for a, _ in batch]).astype(np.float64)
            targets = ids[:, n + 2 : 2 * n + 2]
            sums["poem"] += _picked(poem, targets).sum()
            sums["aligned"] += _picked(aligned - _logsumexp(aligned), targets).sum()
            for weight in weights:
                mixed = poem + weight * aligned
                sums[weight] += _picked(mixed - _logsumexp(mixed), targets).sum()
            count += targets.size
    return {"poem_model": sums["poem"] / count, "aligned_model": sums["aligned"] / count,
            "product": {weight: sums[weight] / count for weight in weights}, "characters": count}


def _picked(table: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """table[..., target] for each position."""
    return np.take_along_axis(table, targets[..., None], axis=-1)[..., 0]


def _logsumexp(table: np.ndarray) -> np.ndarray:
    top = table.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(table - top).sum(axis=-1, keepdims=True))


def calibrate_weight(writer: CoupletWriter, corpus_dir: Path, count: int = 3000, seed: int = 0) -> dict:
    """Choose the product's weight by the valid couplets' log-probability, save it beside the aligned model."""
    scores = answer_log_probs(writer, held_out_couplets(corpus_dir, "valid", count, seed))
    weight = max(scores["product"], key=scores["product"].get)
    record = {"weight": weight, "chosen_on": f"{scores['characters']:,} characters of valid couplets",
              "valid_log_prob_per_char": {str(w): round(v, 4) for w, v in scores["product"].items()},
              "poem_model": round(scores["poem_model"], 4), "aligned_model": round(scores["aligned_model"], 4)}
    save_weight(writer.aligned.path, record)
    writer.weight = weight
    return record


def bleu2(candidates: list[str], references: list[str]) -> float:
    """Corpus BLEU-2 of character lines against one reference each (equal lengths: no brevity penalty)."""
    matched, total = [0, 0], [0, 0]
    for candidate, reference in zip(candidates, references, strict=True):
        for n in (1, 2):
            cand = collections.Counter(candidate[i : i + n] for i in range(len(candidate) - n + 1))
            ref = collections.Counter(reference[i : i + n] for i in range(len(reference) - n + 1))
            matched[n - 1] += sum((cand & ref).values())
            total[n - 1] += sum(cand.values())
    if not all(matched):
        return 0.0
    return math.exp(sum(math.log(m / t) for m, t in zip(matched, total, strict=True)) / 2)


def rule_rates(pairs: list[tuple[str, str]]) -> dict:
    """The share of couplets keeping each rule, and the 对仗 rate, as a reader checks them."""
    reports = [check_couplet(first, second) for first, second in pairs]
    positions = [ok for report in reports for ok in report.opposed if ok is not None]
    return {
        "couplets": len(pairs),
        "end_tones": round(float(np.mean([r.end_tones_ok for r in reports])), 3),
        "second_end_as_rule": round(float(np.mean([tone_fits(b[-1], wanted_tones(a)[-1]) for a, b in pairs])), 3),
        "opposition_couplets": round(float(np.mean([r.opposition_ok for r in reports])), 3),
        "opposition_positions": round(float(np.mean(positions)), 3) if positions else None,
        "no_reuse": round(float(np.mean([not r.reused for r in reports])), 3),
        "parallel_rate": round(float(np.mean([r.parallel_share for r in reports])), 3),
    }


def answer_all(writer: CoupletWriter, couplets: list[tuple[str, str]], seed: int, strict: bool = False) -> list:
    """(上联, the writer's best 下联) for each couplet's 上联, at the defaults (8 candidates)."""
    return [(first, writer.write(CoupletSettings(first=first, seed=seed + i, strict_tones=strict))[0].second)
            for i, (first, _) in enumerate(couplets)]


def couplet_report(writer: CoupletWriter, corpus_dir: Path, count: int = 200, seed: int = 0) -> dict:
    """The held-out report of the module docstring (`count` test couplets answered, the best 下联 each, with the
    tones soft as by default and strict)."""
    test = held_out_couplets(corpus_dir, "test", count, seed)
    edges = held_out_couplets(corpus_dir, "test", count, seed, parallel=False)
    answered = answer_all(writer, test, seed)
    strict = answer_all(writer, test, seed, strict=True)
    scores = answer_log_probs(writer, held_out_couplets(corpus_dir, "test", max(count, 2000), seed))
    realism = lexical_discriminator([list(p) for p in test], [list(p) for p in answered], seed=seed)
    return {
        "weight": writer.weight,
        "log_prob_per_char": {
            "poem_model": round(scores["poem_model"], 4), "aligned_model": round(scores["aligned_model"], 4),
            "product": round(scores["product"].get(writer.weight, _product_at(writer, corpus_dir, seed)), 4),
            "characters": scores["characters"],
        },
        "answered": rule_rates(answered),
        "answered_strict_tones": rule_rates(strict),
        "real": rule_rates(test),
        "not_parallel": rule_rates(edges),
        "bleu2": {"answered": round(bleu2([b for _, b in answered], [b for _, b in test]), 4),
                  "not_parallel_vs_real": round(bleu2([b for _, b in edges], [b for _, b in test]), 4)},
        "realism": {key: realism[key] for key in ("accuracy", "auc", "giveaways")},
        "hidden": hidden_report(writer, seed),
        "examples": [f"{a}，{b}。（原：{c}）" for (a, b), (_, c) in list(zip(answered, test, strict=True))[:8]],
        "seconds_for_8": answer_time(writer, test[0][0]),
    }


def _product_at(writer: CoupletWriter, corpus_dir: Path, seed: int) -> float:
    pairs = held_out_couplets(corpus_dir, "test", 2000, seed)
    return answer_log_probs(writer, pairs, weights=(writer.weight,))["product"][writer.weight]


def hidden_report(writer: CoupletWriter, seed: int = 0) -> dict:
    """Whole couplets hiding each of HIDDEN_PAIRS, 藏头 and 藏尾 where the tones allow, 五言 and 七言."""
    couplets, asked = [], 0
    for i, pair in enumerate(HIDDEN_PAIRS):
        for position in ("head", "tail"):
            if position == "tail" and not (tone_fits(pair[0], "仄") and tone_fits(pair[1], "平")):
                continue  # the writer refuses these with a message (check_tail_tones)
            length = 7 if i % 2 == 0 else 5
            asked += 1
            written = writer.write(CoupletSettings(hidden=pair, position=position, length=length, seed=seed + i,
                                                   num_candidates=2))
            couplets += [(c, pair, position, length) for c in written]
    at = {"head": 0, "tail": -1}
    return {
        "requests": asked, "couplets": len(couplets),
        "length": float(np.mean([len(c.first) == len(c.second) == n for c, _, _, n in couplets])),
        "hidden": float(np.mean([c.first[at[p]] + c.second[at[p]] == pair for c, pair, p, _ in couplets])),
        "end_tones": float(np.mean([c.report.end_tones_ok for c, *_ in couplets])),
        "opposition_couplets": float(np.mean([c.report.opposition_ok for c, *_ in couplets])),
        "parallel_rate": round(float(np.mean([c.report.parallel_share for c, *_ in couplets])), 3),
        "examples": [f"{c.first}，{c.second}。" for c, *_ in couplets[:6]],
    }


def answer_time(writer: CoupletWriter, first: str, repeats: int = 10) -> float:
    """Median seconds for 8 下联 candidates of one 上联 (the compiled decoder already traced)."""
    settings = CoupletSettings(first=first, num_candidates=8, seed=0)
    writer.write(settings)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        writer.write(settings)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 4)
