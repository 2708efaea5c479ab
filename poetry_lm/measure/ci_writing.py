"""词 written by tune, measured on held-out 词: the issue's targets, with real 词 as the ceiling.

For each held-out 词 of the 词 test split whose tune has a 谱 and that follows its main 体, the studio writes one 词
of that tune (the first of the app's candidates) hiding a private-looking name at the starts of its first clauses,
then:

- format: every clause of the 谱's length and mark; heads: the name's characters in their cells;
- rhyme: every rhyme segment of the 谱 shares one 词林正韵 部 (the real 词 are the ceiling: poets used neighbouring
  部 and the derived 谱 is a majority vote);
- tones: the share of the 谱's fixed-tone cells (○/●) kept, soft (the default) and strict;
- realism: the realism issue's discriminators (`measure.realism`) and profile, generated against real held-out 词;
- speed: 8 candidates of 浣溪沙, median of repeated calls.

The 词 are drawn round-robin over their tunes (seeded), so that many tunes are covered.
"""

from __future__ import annotations

import collections
import math
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from poetry_lm.compose.generate import Poem, PoemGenerator, Settings
from poetry_lm.compose.template import hidden_plan
from poetry_lm.errors import PoetryError
from poetry_lm.measure.couplet import HIDDEN_PAIRS
from poetry_lm.measure.realism import (
    APP_CANDIDATES,
    lexical_discriminator,
    line_ngrams,
    neural_discriminator,
    profile,
)
from poetry_lm.prosody.cipu import find_pattern
from poetry_lm.prosody.form import Form, check_form
from poetry_lm.prosody.options import DEFAULT_PROSODY
from poetry_lm.text.char_stats import load_char_stats
from poetry_lm.text.ci import clauses, load_ci_records
from poetry_lm.text.corpus import is_han

# Names of two and three characters, as people ask for them (none taken from the 词 they are compared with).
NAMES = (*HIDDEN_PAIRS, "林语溪", "陈思远", "王若兰", "李清和", "张明月", "赵子墨", "周雨桐", "吴亦凡", "孙晓雯", "郑书言")
SETTINGS = {"default": DEFAULT_PROSODY, "strict": replace(DEFAULT_PROSODY, tones="strict")}
SPEED_TUNE, SPEED_CANDIDATES = "浣溪沙", 8


def held_out_ci(corpus_dir: Path, split: str = "test", count: int = 240, seed: int = 0) -> list[tuple[Form, list[str]]]:
    """(form, clauses) of `count` 词 of `split` that follow their tune's main 体, round-robin over the tunes."""
    by_tune: dict[str, list[tuple[Form, list[str]]]] = collections.defaultdict(list)
    for text, tune, alias in load_ci_records(corpus_dir, split):
        pattern = _pattern_of(tune, alias)
        lines = [clause for clause, _ in clauses(text)]
        if pattern is not None and [len(line) for line in lines] == pattern.lengths:
            by_tune[pattern.tune].append((pattern.form(), lines))
    rng = np.random.default_rng(seed)
    queues = [[pool[i] for i in rng.permutation(len(pool))] for _, pool in sorted(by_tune.items())]
    picked = []
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop())
    if len(picked) < count:
        raise PoetryError(f"{split} 中合谱的词只有 {len(picked)} 首，不够 {count} 首")
    return picked


def _pattern_of(tune: str, alias: str):
    for name in (tune, alias):
        try:
            return find_pattern(name) if name else None
        except PoetryError:
            continue
    return None


def write_ci_like(generator: PoemGenerator, held: list[tuple[Form, list[str]]], prosody, seed: int) -> list[Poem]:
    """One 词 per held-out 词: its tune, a name from NAMES at the starts of the first clauses, seeds seed, seed+1 …"""
    return [generator.generate(Settings(heads=NAMES[k % len(NAMES)], tune=form.name, num_candidates=APP_CANDIDATES,
                                        seed=seed + k, prosody=prosody))[0]
            for k, (form, _) in enumerate(held)]


def form_rates(forms: list[Form], lines: list[list[str]], given: list[list] | None = None) -> dict:
    """Rhyme (every segment shares a 部; and per segment) and the share of fixed-tone cells kept: all of them, and
    those the model wrote (not `given`, the hidden characters, which the user chose)."""
    checks = [check_form(poem, form) for form, poem in zip(forms, lines, strict=True)]
    segments = [group is not None for check in checks for group in check.segment_groups]
    given = given or [[] for _ in checks]
    judged = [ok for check in checks for row in check.cell_ok for ok in row if ok is not None]
    free = [ok for check, cells in zip(checks, given, strict=True) for i, row in enumerate(check.cell_ok)
            for j, ok in enumerate(row) if ok is not None and (i, j) not in set(map(tuple, cells))]
    return {
        "rhyme": round(float(np.mean([check.rhymes for check in checks])), 4),
        "rhyme_segments": round(float(np.mean(segments)), 4),
        "tones_kept": round(float(np.mean(judged)), 4),
        "tones_kept_written": round(float(np.mean(free)), 4),
    }


def format_and_heads(poems: list[Poem]) -> dict:
    """Shares of poems whose text, cut again at its marks, has the 谱's clauses (lengths and marks, Han characters
    only), and whose names sit in their cells."""
    formed = [[(len(clause), mark) for clause, mark in clauses(poem.text)]
              == [(clause.length, clause.mark) for clause in poem.form.clauses]
              and all(is_han(char) for line in poem.lines for char in line) for poem in poems]
    hidden = []
    for poem in poems:
        cells = hidden_plan(poem.heads, "head", 7, "whole", poem.form).marked
        hidden.append(list(cells) == poem.marked and "".join(poem.lines[i][j] for i, j in cells) == poem.heads)
    return {"format": round(float(np.mean(formed)), 4), "heads": round(float(np.mean(hidden)), 4)}


def ci_speed(generator: PoemGenerator, repeats: int = 10) -> dict:
    """Median milliseconds for SPEED_CANDIDATES candidates of SPEED_TUNE at the defaults (traced first)."""
    settings = Settings(heads="春花秋月", tune=SPEED_TUNE, num_candidates=SPEED_CANDIDATES, prosody=DEFAULT_PROSODY)
    generator.generate(replace(settings, seed=0))
    times = []
    for k in range(repeats):
        started = time.perf_counter()
        generator.generate(replace(settings, seed=k + 1))
        times.append(time.perf_counter() - started)
    return {"tune": SPEED_TUNE, "candidates": SPEED_CANDIDATES, "median_ms": round(1000 * statistics.median(times), 1)}


def ci_train_bigrams(corpus_dir: Path, seed: int) -> set[str]:
    """Within-clause bigrams of 2,000 train 词 (as `held_out_ci` draws them): what `profile` calls seen."""
    return {pair for _, lines in held_out_ci(corpus_dir, "train", 2000, seed) for pair in line_ngrams(lines, 2)}


def ci_writing_report(generator: PoemGenerator, corpus_dir: Path, count: int = 240, seed: int = 0,
                      neural: bool = True) -> dict:
    """Every measure of the module docstring, for SETTINGS, beside the real held-out 词."""
    held = held_out_ci(corpus_dir, "test", count, seed)
    forms, real = [form for form, _ in held], [lines for _, lines in held]
    stats = load_char_stats()
    bigrams = ci_train_bigrams(corpus_dir, seed)
    result = {
        "model": str(generator.model_dir.path), "poems": len(held), "tunes": len(set(f.name for f in forms)),
        "seed": seed, "real": {**form_rates(forms, real), "profile": profile(real, bigrams, stats, generator, forms)},
        "settings": {},
    }
    train_held = held_out_ci(corpus_dir, "train", count, seed) if neural else []
    for name, prosody in SETTINGS.items():
        started = time.perf_counter()
        poems = write_ci_like(generator, held, prosody, seed)
        written = [poem.lines for poem in poems]
        row = {"seconds": round(time.perf_counter() - started, 1), **format_and_heads(poems),
               **form_rates(forms, written, [poem.given for poem in poems]), "lexical": lexical_discriminator(real, written, seed)}
        if neural and name == "default":
            train_poems = [p.lines for p in write_ci_like(generator, train_held, prosody, seed + 100_000)]
            row["neural"] = neural_discriminator([lines for _, lines in train_held], train_poems, real, written, seed)
        row["profile"] = profile(written, bigrams, stats, generator, forms)
        row["examples"] = [f"《{poem.tune}》" + poem.text for poem in poems[:6]]
        result["settings"][name] = row
    result["speed"] = ci_speed(generator)
    return result


def format_ci_writing(result: dict) -> str:
    """The report as a Markdown table: the real 词 (ceiling) beside each setting."""
    names, real = list(result["settings"]), result["real"]

    def percent(value) -> str:
        return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"

    rows = [
        ("format (clause lengths and marks)", lambda s: percent(s["format"]), "—"),
        ("hidden characters in their cells", lambda s: percent(s["heads"]), "—"),
        ("every rhyme segment in one 部 (词林正韵)", lambda s: percent(s["rhyme"]), percent(real["rhyme"])),
        ("rhyme segments in one 部", lambda s: percent(s["rhyme_segments"]), percent(real["rhyme_segments"])),
        ("fixed-tone cells kept", lambda s: percent(s["tones_kept"]), percent(real["tones_kept"])),
        ("… of those the model wrote (not the hidden characters)", lambda s: percent(s["tones_kept_written"]), "—"),
        ("lexical discriminator AUC (0.5: cannot tell)", lambda s: s["lexical"]["auc"], "0.5"),
        ("neural discriminator accuracy (held out)", lambda s: s.get("neural", {}).get("accuracy", "—"), "0.5"),
        ("repeated characters per 词", lambda s: s["profile"]["repeats_per_poem"], real["profile"]["repeats_per_poem"]),
        ("distinct characters", lambda s: f"{s['profile']['distinct_chars']:,}", f"{real['profile']['distinct_chars']:,}"),
        ("model log-prob per character", lambda s: s["profile"].get("model_log_prob_per_char", "—"),
         real["profile"].get("model_log_prob_per_char", "—")),
    ]
    lines = [f"| measure ({result['poems']} held-out 词, {result['tunes']} tunes) | real 词 | {' | '.join(names)} |",
             "|---|---|" + "---|" * len(names)]
    lines += [f"| {label} | {reference} | {' | '.join(str(value(result['settings'][n])) for n in names)} |"
              for label, value, reference in rows]
    speed = result["speed"]
    lines.append(f"\n{speed['candidates']} candidates of {speed['tune']}: {speed['median_ms']} ms (median)")
    return "\n".join(lines)
