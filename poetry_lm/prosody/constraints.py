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
from poetry_lm.prosody.tones import PING, ZE, tone_fits, tone_of
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
    options, group_sizes: dict[str, int], count: int, rng: np.random.Generator, within: frozenset[str] | None = None,
    rhyme_tone: str = PING,
) -> list[str]:
    """A group per candidate, drawn by how often the corpus rhymes in it, among groups with enough
    characters in the vocabulary: the user's group, or (for `both` given a 平水韵 group alone) its
    pairs, or all groups of the system; only groups `within`, when given and possible (the groups
    the poem's fixed rhyme characters share; 仄 groups when they are 仄 characters)."""
    names = group_names(options.rhyme_system) if rhyme_tone == PING else sorted(within or ())
    if within and any(name in within for name in names):
        names = [name for name in names if name in within]
    chosen = options.rhyme_group if rhyme_tone == PING else None  # a chosen group is 平: given 仄 ends decide
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
    rhyme_tone = given_rhyme_tone(fixed, n_lines, line_length, options)
    fits_rhyme = fits_ze if rhyme_tone == ZE else fits_ping

    rows: dict[tuple, np.ndarray] = {("free",): free_bias}

    def row_id(key: tuple) -> int:
        if key not in rows:
            kind, value = key
            if kind == "rhyme":
                keep = allowed & fits_rhyme & np.array([value in groups for groups in token_groups])
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
            g for groups, ok in zip(token_groups, allowed & fits_rhyme, strict=True) if ok for g in groups
        )
        within = given_rhyme_groups(fixed, n_lines, line_length, options)
        groups = _choose_groups(options, group_sizes, num_candidates, rng, within, rhyme_tone)
    starts = [None] * num_candidates
    if options.tones != "off":
        starts = rng.choice(_fitting_starts(fixed, line_length, n_lines, first_rhymes, rhyme_tone), size=num_candidates)
    for b in range(num_candidates):
        if rhymed:
            for i in rhyme_lines:
                index[b, i * width + line_length - 1] = row_id(("rhyme", groups[b]))
        if starts[b] is None:
            continue
        patterns = poem_tones(line_length, n_lines, str(starts[b]), first_rhymes, rhyme_tone)
        for i, j in checked_cells(line_length, n_lines, first_rhymes):
            cell = i * width + j
            if index[b, cell] == 0:  # a rhyme row already fixes 平 there
                index[b, cell] = row_id(("tone", patterns[i][j]))
    return ConstraintPlan(np.stack(list(rows.values())).astype(np.float32), index, [str(g) if g else None for g in groups])


def given_rhyme_groups(
    fixed: dict[tuple[int, int], str], n_lines: int, line_length: int, options: ProsodyOptions
) -> frozenset[str] | None:
    """The groups every given character at a rhyme position shares (None: no given rhyme character)."""
    ends = given_ends(fixed, n_lines, line_length, options)
    return frozenset.intersection(*(rhyme_groups_of(c, options.rhyme_system) for c in ends)) if ends else None


def given_ends(fixed: dict[tuple[int, int], str], n_lines: int, line_length: int, options: ProsodyOptions) -> list[str]:
    """The given characters at the rhyme positions, line by line."""
    first_rhymes = options.rhyme_scheme == "first_and_even"
    return [fixed[i, line_length - 1] for i in range(n_lines)
            if is_rhyme_line(i, first_rhymes) and (i, line_length - 1) in fixed]


def given_rhyme_tone(fixed: dict[tuple[int, int], str], n_lines: int, line_length: int, options: ProsodyOptions) -> str:
    """仄 when the given rhyme characters are all 仄 and share a group (藏尾 花好月老: 好 and 老 rhyme in 皓),
    so the poem is written as a 仄韵 poem; 平 otherwise (the 近体 default)."""
    ends = given_ends(fixed, n_lines, line_length, options)
    if options.rhyme and ends and all(tone_of(char) == ZE for char in ends) and given_rhyme_groups(
        fixed, n_lines, line_length, options
    ):
        return ZE
    return PING


def _fitting_starts(
    fixed: dict[tuple[int, int], str], line_length: int, n_lines: int, first_rhymes: bool, rhyme_tone: str = PING
) -> list[str]:
    """The pattern starts (平起/仄起) whose checked cells the fixed characters break least."""
    checked = set(checked_cells(line_length, n_lines, first_rhymes))

    def broken(start: str) -> int:
        patterns = poem_tones(line_length, n_lines, start, first_rhymes, rhyme_tone)
        return sum(not tone_fits(char, patterns[i][j]) for (i, j), char in fixed.items() if (i, j) in checked)

    fewest = min(broken(PING), broken(ZE))
    return [start for start in (PING, ZE) if broken(start) == fewest]


@dataclass(frozen=True)
class RhymeAdvice:
    """Why the given rhyme-position characters cannot rhyme as asked, and the settings that would work."""

    message: str
    fixes: tuple[tuple[str, ProsodyOptions], ...]  # (what the change is, the options after it), best first


def given_rhyme_advice(
    fixed: dict[tuple[int, int], str], n_lines: int, line_length: int, options: ProsodyOptions
) -> RhymeAdvice | None:
    """None when the given characters at rhyme positions (藏尾, a kept line's end) can share a rhyme group;
    otherwise what breaks and what to change: rhyme only the even lines, pick a group they share, or stop
    asking for a rhyme (a 仄 tail such as 老 has no 平声 group at all)."""
    if not options.rhyme or n_lines < 2 or given_rhyme_groups(fixed, n_lines, line_length, options) != frozenset():
        return None
    first_rhymes = options.rhyme_scheme == "first_and_even"
    ends = given_ends(fixed, n_lines, line_length, options)
    ze = [char for char in dict.fromkeys(ends) if tone_of(char) == ZE]
    message = f"押韵句的末字「{'、'.join(dict.fromkeys(ends))}」是给定的，它们不同属一个平声韵部"
    if ze and len(ze) == len(set(ends)):
        message += "（都是仄声，但也不同属一个仄声韵部）"
    elif ze:
        message += f"（{'、'.join(ze)} 是仄声，平声韵里没有它）"
    fixes = []
    if first_rhymes:
        even = ProsodyOptions(**{**options.__dict__, "rhyme_scheme": "even"})
        if given_rhyme_groups(fixed, n_lines, line_length, even) != frozenset():
            fixes.append(("只让偶数句押韵", even))
    if options.rhyme_system != "pingshui":
        classical = ProsodyOptions(**{**options.__dict__, "rhyme_system": "pingshui", "rhyme_group": None})
        if given_rhyme_groups(fixed, n_lines, line_length, classical) != frozenset():
            fixes.append(("改用平水韵", classical))
    fixes.append(("不要求押韵（平仄照旧）", ProsodyOptions(**{**options.__dict__, "rhyme": False})))
    return RhymeAdvice(message + "：按现在的设置，每首都会出韵。", tuple(fixes))
