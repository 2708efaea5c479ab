"""Rhyme and tone constraints as decoder biases: per candidate, which bias row each cell uses.

Rhyme positions keep only 平 characters of the candidate's rhyme group (-inf elsewhere); checked
tone positions penalise the wrong tone (soft) or ban it (strict). Rows are shared: R distinct rows
[R, V] and an index [B, T], so masks cost R·V floats, not B·T·V.
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass

import numpy as np

from poetry_lm.errors import PoetryError
from poetry_lm.prosody.meter import checked_cells, is_rhyme_line, poem_tones
from poetry_lm.prosody.options import ProsodyOptions
from poetry_lm.prosody.rhyme import PAIR_MARK, group_names, rhyme_groups_of, rhyme_weights
from poetry_lm.prosody.tones import PING, ZE, tone_fits
from poetry_lm.text.vocab import Vocabulary

SOFT_TONE_PENALTY = -2.0  # nats added to a wrong-tone character's score in soft mode
MIN_GROUP_CHARS = 20  # an automatically chosen group needs this many usable characters in the vocabulary


@dataclass
class ConstraintPlan:
    """Per-candidate cell biases for the decoder, and the rhyme group each candidate uses."""

    bias_rows: np.ndarray  # [R, V]
    bias_index: np.ndarray  # [B, T]
    rhyme_groups: list[str | None]


@functools.lru_cache(maxsize=8)  # keyed by the Vocabulary object: a loaded generator reuses it
def _vocab_tables(vocab: Vocabulary, system: str) -> tuple[np.ndarray, np.ndarray, list[frozenset[str]]]:
    """Per token: fits 平, fits 仄, and its rhyme groups in `system` (special tokens and punctuation: none)."""
    first = vocab.first_char_id
    fits_ping = np.zeros(len(vocab), dtype=bool)
    fits_ze = np.zeros(len(vocab), dtype=bool)
    groups: list[frozenset[str]] = [frozenset()] * len(vocab)
    for token_id in range(first, len(vocab)):
        char = vocab.tokens[token_id]
        fits_ping[token_id] = tone_fits(char, PING)
        fits_ze[token_id] = tone_fits(char, ZE)
        groups[token_id] = rhyme_groups_of(char, system)
    return fits_ping, fits_ze, groups


def _choose_groups(
    options, group_sizes: dict[str, int], count: int, rng: np.random.Generator, within: frozenset[str] | None = None
) -> list[str]:
    """A group per candidate, drawn by how often the corpus rhymes in it, among groups with enough
    characters in the vocabulary: the user's group, or (for `both` given a 平水韵 group alone) its
    pairs, or all groups of the system; only groups `within`, when given and possible (the groups
    the poem's fixed rhyme characters share)."""
    names = group_names(options.rhyme_system)
    if within and any(name in within for name in names):
        names = [name for name in names if name in within]
    chosen = options.rhyme_group
    if chosen is not None:
        names = [name for name in names if name == chosen or name.startswith(chosen + PAIR_MARK)] or [chosen]
        if not any(group_sizes.get(name, 0) for name in names):
            raise PoetryError(f"模型词表中没有 {chosen} 韵的平声字，请换一个韵部")
    usable = [g for g in names if group_sizes.get(g, 0) >= MIN_GROUP_CHARS]
    usable = usable or [g for g in names if group_sizes.get(g, 0) > 0]
    if not usable:
        raise PoetryError("模型词表中没有可押韵的平声字")
    weights = np.array([max(rhyme_weights(options.rhyme_system).get(g, 0), 1) for g in usable], dtype=float)
    return list(rng.choice(usable, size=count, p=weights / weights.sum()))


def plan_constraints(
    vocab: Vocabulary,
    n_lines: int,
    line_length: int,
    num_candidates: int,
    options: ProsodyOptions,
    rng: np.random.Generator,
    free_bias: np.ndarray,
    fixed: dict[tuple[int, int], str] | None = None,
) -> ConstraintPlan:
    """Bias rows and their index per candidate and cell; without options every free cell uses `free_bias`.

    `options` are already checked (`settings.check_settings`). `fixed` cells (hidden or kept
    characters) are forced by the decoder whatever their row says; the plan fits around them where
    it can: the rhyme group is one their rhyme-position characters share, and the tone pattern
    (平起 or 仄起) the one they break least.
    """
    fixed = fixed or {}
    width = line_length + 1
    index = np.zeros((num_candidates, n_lines * width), dtype=np.int32)
    if not options.active:
        return ConstraintPlan(free_bias[None, :], index, [None] * num_candidates)
    fits_ping, fits_ze, token_groups = _vocab_tables(vocab, options.rhyme_system)
    allowed = np.isfinite(free_bias)
    wrong_penalty = -np.inf if options.tones == "strict" else SOFT_TONE_PENALTY
    first_rhymes = options.rhyme_scheme == "first_and_even"

    rows: dict[tuple, np.ndarray] = {("free",): free_bias}

    def row_id(key: tuple) -> int:
        if key not in rows:
            kind, value = key
            if kind == "rhyme":
                keep = allowed & fits_ping & np.array([value in groups for groups in token_groups])
                rows[key] = np.where(keep, free_bias, -np.inf).astype(np.float32)
            else:
                fits = fits_ping if value == PING else fits_ze
                rows[key] = np.where(fits, free_bias, free_bias + wrong_penalty).astype(np.float32)
            if not np.isfinite(rows[key]).any():
                raise PoetryError(f"模型词表中没有符合要求（{value}）的字")
        return list(rows).index(key)

    groups: list[str | None] = [None] * num_candidates
    rhyme_lines = [i for i in range(n_lines) if is_rhyme_line(i, first_rhymes)]
    rhymed = options.rhyme and len(rhyme_lines) > 0 and n_lines > 1  # one line has nothing to rhyme with
    if rhymed:
        group_sizes = collections.Counter(
            g for groups, ok in zip(token_groups, allowed & fits_ping, strict=True) if ok for g in groups
        )
        within = given_rhyme_groups(fixed, n_lines, line_length, options)
        groups = _choose_groups(options, group_sizes, num_candidates, rng, within)
    starts = [None] * num_candidates
    if options.tones != "off":
        starts = rng.choice(_fitting_starts(fixed, line_length, n_lines, first_rhymes), size=num_candidates)
    for b in range(num_candidates):
        if rhymed:
            for i in rhyme_lines:
                index[b, i * width + line_length - 1] = row_id(("rhyme", groups[b]))
        if starts[b] is None:
            continue
        patterns = poem_tones(line_length, n_lines, str(starts[b]), first_rhymes)
        for i, j in checked_cells(line_length, n_lines, first_rhymes):
            cell = i * width + j
            if index[b, cell] == 0:  # a rhyme row already fixes 平 there
                index[b, cell] = row_id(("tone", patterns[i][j]))
    return ConstraintPlan(np.stack(list(rows.values())).astype(np.float32), index, [str(g) if g else None for g in groups])


def given_rhyme_groups(
    fixed: dict[tuple[int, int], str], n_lines: int, line_length: int, options: ProsodyOptions
) -> frozenset[str] | None:
    """The groups every given character at a rhyme position shares (None: no given rhyme character)."""
    first_rhymes = options.rhyme_scheme == "first_and_even"
    ends = [fixed[i, line_length - 1] for i in range(n_lines)
            if is_rhyme_line(i, first_rhymes) and (i, line_length - 1) in fixed]
    return frozenset.intersection(*(rhyme_groups_of(c, options.rhyme_system) for c in ends)) if ends else None


def _fitting_starts(fixed: dict[tuple[int, int], str], line_length: int, n_lines: int, first_rhymes: bool) -> list[str]:
    """The pattern starts (平起/仄起) whose checked cells the fixed characters break least."""
    checked = set(checked_cells(line_length, n_lines, first_rhymes))

    def broken(start: str) -> int:
        patterns = poem_tones(line_length, n_lines, start, first_rhymes)
        return sum(not tone_fits(char, patterns[i][j]) for (i, j), char in fixed.items() if (i, j) in checked)

    fewest = min(broken(PING), broken(ZE))
    return [start for start in (PING, ZE) if broken(start) == fewest]
