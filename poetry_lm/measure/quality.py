"""What generated poems look like: form, rhyme, tones, copied lines and diversity, next to real poems."""

from __future__ import annotations

import time

import numpy as np

from poetry_lm.compose.generate import PoemGenerator, Settings
from poetry_lm.errors import PoetryError
from poetry_lm.measure.realism import line_ngrams
from poetry_lm.prosody.analysis import analyse_lines
from poetry_lm.prosody.options import DEFAULT_PROSODY, ProsodyOptions
from poetry_lm.prosody.rhyme import SYSTEMS, even_lines_rhyme
from poetry_lm.text.charforms import is_variant
from poetry_lm.text.corpus import load_split, poem_problems, split_lines

# Settings compared by `evaluate --generated`; "default" is what the CLI and the app use.
PROSODY_SETTINGS = {
    "no_prosody": ProsodyOptions(),
    "default": DEFAULT_PROSODY,
    "rhyme_pingshui": ProsodyOptions(rhyme=True, tones="soft", rhyme_system="pingshui"),
    "rhyme_xinyun": ProsodyOptions(rhyme=True, tones="soft", rhyme_system="xinyun"),
    "rhyme_strict_tones": ProsodyOptions(rhyme=True, tones="strict"),
}


def poem_metrics(poems: list[list[str]], train_lines: set[str], heads: list[str] | None = None) -> dict:
    """Format/acrostic rate, even-line rhyme rate in each rhyme system, tone compliance, copied lines,
    distinct-2, repeats, poems holding a variant form (劒 for 剑).

    Tone compliance pools the checked positions of all poems (see `meter.checked_cells` for which they are);
    distinct-2 counts character bigrams inside lines; copied = lines found verbatim in `train_lines`.
    """
    analyses = [analyse_lines(lines) for lines in poems]
    all_lines = [line for lines in poems for line in lines]
    bigrams = line_ngrams(all_lines, 2)
    chars_per_poem = [[ch for line in lines for ch in line] for lines in poems]
    checked = sum(a.checked for a in analyses)
    return {
        "poems": len(poems),
        "format_rate": round(sum(not poem_problems(lines, head) for lines, head in zip(poems, heads or [None] * len(poems), strict=True)) / len(poems), 4),
        **{f"rhyme_rate_{system}": rate for system, rate in rhyme_rates(poems).items()},
        "tone_ok_ratio": round(sum(a.tone_ok for a in analyses) / checked, 4) if checked else None,
        "copied_line_share": round(sum(line in train_lines for line in all_lines) / len(all_lines), 4),
        "distinct_2": round(len(set(bigrams)) / len(bigrams), 4),
        "repeated_chars_per_poem": round(sum(len(c) - len(set(c)) for c in chars_per_poem) / len(poems), 3),
        "variant_form_share": round(sum(any(map(is_variant, c)) for c in chars_per_poem) / len(poems), 4),
    }


def rhyme_rates(poems: list[list[str]]) -> dict:
    """Share of poems whose even lines rhyme, in each rhyme system."""
    return {system: round(sum(even_lines_rhyme(lines, system) for lines in poems) / len(poems), 4) for system in SYSTEMS}


def evaluate_generated(
    model_path, corpus_dir, count: int = 200, seed: int = 0, settings_names: list[str] | None = None
) -> dict:
    """Generate `count` quatrains per prosody setting and measure them next to real test-split quatrains.

    Head strings and line lengths come from `count` test-split quatrains drawn with `seed`
    (their line-initial characters), so heads are varied and natural; those same real poems are
    the human reference.
    """
    train_lines = {line for poem in load_split(corpus_dir, "train") for line in split_lines(poem)}
    test_poems = [split_lines(poem) for poem in load_split(corpus_dir, "test")]
    quatrains = [lines for lines in test_poems if len(lines) == 4]
    if not quatrains or count < 1:
        raise PoetryError(f"需要至少 1 首测试集绝句和 N ≥ 1（测试集绝句 {len(quatrains)} 首，N = {count}）")
    rng = np.random.default_rng(seed)
    picked = [quatrains[i] for i in rng.choice(len(quatrains), size=min(count, len(quatrains)), replace=False)]
    heads = ["".join(line[0] for line in lines) for lines in picked]
    generator = PoemGenerator.load(model_path)
    result = {
        "model": str(generator.model_dir.path), "seed": seed,
        "test_split_rhyme_rates": {"poems": len(test_poems), **rhyme_rates(test_poems)},  # every real test poem
        "reference_test_split": poem_metrics(picked, train_lines),
    }
    for name in settings_names or list(PROSODY_SETTINGS):
        options = PROSODY_SETTINGS[name]
        started = time.perf_counter()
        poems = [
            generator.generate(Settings(heads=head, line_length=len(lines[0]), num_candidates=1, seed=seed + k, prosody=options))[0]
            for k, (head, lines) in enumerate(zip(heads, picked, strict=True))
        ]
        metrics = poem_metrics([poem.lines for poem in poems], train_lines, heads)
        metrics["seconds"] = round(time.perf_counter() - started, 1)
        metrics["examples"] = [poem.text for poem in poems[:3]]
        result[name] = metrics
    return result
