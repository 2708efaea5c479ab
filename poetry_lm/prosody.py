"""Prosody: rhyme groups, 平仄 tones, generation constraints and poem analysis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poetry_lm.errors import PoetryError
from poetry_lm.vocab import Vocabulary

TONE_MODES = ("off", "soft", "strict")
RHYME_SCHEMES = ("even", "first_and_even")


@dataclass(frozen=True)
class ProsodyOptions:
    """Rhyme and tone controls for generation (all off by default)."""

    rhyme: bool = False
    rhyme_scheme: str = "even"
    rhyme_group: str | None = None  # None: chosen per candidate
    tones: str = "off"


@dataclass
class ConstraintPlan:
    """Per-candidate cell biases for the decoder, and the rhyme group each candidate uses."""

    bias_rows: np.ndarray  # [R, V]
    bias_index: np.ndarray  # [B, T]
    rhyme_groups: list[str | None]


@dataclass
class PoemReport:
    rhyme: str | None = None
    tone_ok_ratio: float | None = None


def check_options(options: ProsodyOptions) -> None:
    if options.tones not in TONE_MODES:
        raise PoetryError(f"平仄模式只能是 {'/'.join(TONE_MODES)}，收到 {options.tones!r}")
    if options.rhyme_scheme not in RHYME_SCHEMES:
        raise PoetryError(f"押韵方式只能是 {'/'.join(RHYME_SCHEMES)}，收到 {options.rhyme_scheme!r}")


def plan_constraints(
    vocab: Vocabulary,
    heads: str,
    line_length: int,
    num_candidates: int,
    options: ProsodyOptions,
    rng: np.random.Generator,
    free_bias: np.ndarray,
) -> ConstraintPlan:
    """Bias rows and their index per candidate and cell; without options every free cell uses `free_bias`."""
    steps = len(heads) * (line_length + 1)
    return ConstraintPlan(
        bias_rows=free_bias[None, :],
        bias_index=np.zeros((num_candidates, steps), dtype=np.int32),
        rhyme_groups=[None] * num_candidates,
    )


def describe(lines: list[str], rhyme_group: str | None, options: ProsodyOptions) -> PoemReport:
    return PoemReport(rhyme=rhyme_group)
