"""Rhyme and tone constraints as decoder biases: per candidate, which bias row each cell uses, read off its Form.

Rhyme positions keep only characters of the candidate's group for that rhyme segment, in the tone the form wants
there (-inf elsewhere); fixed-tone cells penalise the wrong tone (soft) or ban it (strict). Rows are shared: R distinct rows
[R, V] and an index [B, T], so masks cost R·V floats, not B·T·V.
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass

import numpy as np

from poetry_lm.errors import PoetryError
from poetry_lm.prosody.form import (
    CI_BOOK,
    EITHER,
    SHI_BOOK,
    Form,
    book_groups,
    entering_part,
    regulated_form,
    regulated_forms,
)
from poetry_lm.prosody.options import ProsodyOptions
from poetry_lm.prosody.rhyme import PAIR_MARK, group_names, rhyme_weights
from poetry_lm.prosody.tones import PING, ZE, tone_fits, tone_of
from poetry_lm.text.vocab import Vocabulary

MIN_GROUP_CHARS = 20  # an automatically chosen group needs this many usable characters in the vocabulary


@dataclass
class ConstraintPlan:
    """Per-candidate cell biases for the decoder, the form and the rhyme group of each segment each candidate uses."""

    bias_rows: np.ndarray  # [R, V]
    bias_index: np.ndarray  # [B, T]
    forms: list[Form]  # per candidate: the form its rows follow (平起 or 仄起 for a 诗)
    segment_groups: list[tuple[str | None, ...]]  # per candidate, per rhyme segment

    @property
    def rhyme_groups(self) -> list[str | None]:
        """Each candidate's group of its first rhyme segment (a 诗's one group)."""
        return [groups[0] if groups else None for groups in self.segment_groups]


@functools.lru_cache(maxsize=8)  # keyed by the Vocabulary object: a loaded generator reuses it
def _vocab_tables(vocab: Vocabulary, book: str, system: str) -> tuple[np.ndarray, np.ndarray, list[frozenset[str]]]:
    """Per token: fits 平, fits 仄, and its rhyme groups in the book (special tokens and punctuation: none)."""
    first = vocab.first_char_id
    fits_ping = np.zeros(len(vocab), dtype=bool)
    fits_ze = np.zeros(len(vocab), dtype=bool)
    groups: list[frozenset[str]] = [frozenset()] * len(vocab)
    for token_id in range(first, len(vocab)):
        char = vocab.tokens[token_id]
        fits_ping[token_id] = tone_fits(char, PING)
        fits_ze[token_id] = tone_fits(char, ZE)
        groups[token_id] = book_groups(char, book, system)
    return fits_ping, fits_ze, groups


def _choose_groups(
    options: ProsodyOptions, book: str, group_sizes: dict[str, int], count: int, rng: np.random.Generator,
    within: frozenset[str] | None = None, rhyme_tone: str = PING,
) -> list[str]:
    """A group per candidate, drawn by how often the corpus rhymes in it (词林正韵: by its usable characters),
    among groups with enough characters in the vocabulary: the user's group, or (for `both` given a 平水韵 group
    alone) its pairs, or all groups of the book; only groups `within`, when given and possible (the groups the
    segment's fixed rhyme characters share; 仄 groups when a 诗's given ends are 仄 characters)."""
    poem_ping = book == SHI_BOOK and rhyme_tone == PING
    names = group_names(options.rhyme_system) if poem_ping else sorted(within or group_sizes)
    if book == CI_BOOK and rhyme_tone == PING:  # a 平 segment rhymes in 部 1–14 (rare 入声 readings aside)
        names = [name for name in names if not entering_part(name)]
    if within and any(name in within for name in names):
        names = [name for name in names if name in within]
    chosen = options.rhyme_group if poem_ping else None  # a chosen group is a poem's 平 group: given 仄 ends decide
    if chosen is not None:
        names = [name for name in names if name == chosen or name.startswith(chosen + PAIR_MARK)] or [chosen]
        if not any(group_sizes.get(name, 0) for name in names):
            raise PoetryError(f"模型词表中没有 {chosen} 韵的平声字，请换一个韵部")
    usable = [g for g in names if group_sizes.get(g, 0) >= MIN_GROUP_CHARS]
    usable = usable or [g for g in names if group_sizes.get(g, 0) > 0]
    if not usable:
        raise PoetryError("模型词表中没有可押韵的字")
    weights = rhyme_weights(options.rhyme_system) if book == SHI_BOOK else group_sizes
    odds = np.array([max(weights.get(g, 0), 1) for g in usable], dtype=float)
    return list(rng.choice(usable, size=count, p=odds / odds.sum()))


def plan_constraints(
    vocab: Vocabulary,
    forms: list[Form],
    num_candidates: int,
    options: ProsodyOptions,
    rng: np.random.Generator,
    free_bias: np.ndarray,
    fixed: dict[tuple[int, int], str] | None = None,
) -> ConstraintPlan:
    """Bias rows and their index per candidate and cell; without options every free cell uses `free_bias`.

    `forms` are the shapes a candidate may follow (one layout: 平起 and 仄起 of a 诗, or a 词's one 谱). `options`
    are already checked (`settings.check_settings`). `fixed` cells (hidden or kept characters) are forced by the
    decoder whatever their row says; the plan fits around them where it can: each segment's rhyme group is one
    their rhyme-position characters share, and the form the one whose tones they break least.
    """
    fixed = fixed or {}
    index = np.zeros((num_candidates, forms[0].size), dtype=np.int32)
    no_groups = [()] * num_candidates
    if not options.active:
        return ConstraintPlan(free_bias[None, :], index, [forms[0]] * num_candidates, no_groups)
    book = forms[0].rhyme_book
    fits_ping, fits_ze, token_groups = _vocab_tables(vocab, book, options.rhyme_system)
    fits = {PING: fits_ping, ZE: fits_ze, EITHER: fits_ping | fits_ze}
    allowed = np.isfinite(free_bias)
    wrong_penalty = -np.inf if options.tones == "strict" else -forms[0].soft_tone_penalty
    rows: dict[tuple, np.ndarray] = {("free",): free_bias}

    def row_id(key: tuple) -> int:
        if key not in rows:
            if key[0] == "rhyme":
                _, group, tone = key
                keep = allowed & fits[tone] & np.array([group in groups for groups in token_groups])
                rows[key] = np.where(keep, free_bias, -np.inf).astype(np.float32)
            else:
                rows[key] = np.where(fits[key[1]], free_bias, free_bias + wrong_penalty).astype(np.float32)
            if not np.isfinite(rows[key]).any():
                raise PoetryError(f"模型词表中没有符合要求（{key[1]}）的字")
        return list(rows).index(key)

    rhymed = options.rhyme and len(forms[0].clauses) > 1  # one line has nothing to rhyme with
    segment_choices = {}
    for segment in forms[0].segments if rhymed else ():
        tone = forms[0].rhyme_tone(segment)
        sizes = collections.Counter(
            g for groups, ok in zip(token_groups, allowed & fits[tone], strict=True) if ok for g in groups)
        within = given_segment_groups(fixed, forms[0], segment, options)
        segment_choices[segment] = _choose_groups(options, book, sizes, num_candidates, rng, within, tone)
    # Tones off: every candidate takes the first form (the forms of one layout differ only in their tones).
    chosen_forms = [0] * num_candidates if options.tones == "off" else rng.choice(
        _fitting_forms(forms, fixed), size=num_candidates)
    candidate_forms = []
    for b in range(num_candidates):
        form = forms[chosen_forms[b]]
        candidate_forms.append(form)
        for segment, clause_ids in form.segments.items() if rhymed else ():
            for i in clause_ids:
                key = ("rhyme", segment_choices[segment][b], form.end_tone(i))
                index[b, form.cell(i, form.clauses[i].length - 1)] = row_id(key)
        for i, j, tone in form.checked() if options.tones != "off" else ():
            if index[b, form.cell(i, j)] == 0:  # a rhyme row already fixes its tone there
                index[b, form.cell(i, j)] = row_id(("tone", tone))
    groups = [tuple(str(segment_choices[k][b]) for k in segment_choices) for b in range(num_candidates)]
    return ConstraintPlan(np.stack(list(rows.values())).astype(np.float32), index, candidate_forms, groups)


def _fitting_forms(forms: list[Form], fixed: dict[tuple[int, int], str]) -> list[int]:
    """The forms (by number) whose fixed-tone cells the given characters break least."""
    def broken(form: Form) -> int:
        return sum(not tone_fits(fixed[i, j], tone) for i, j, tone in form.checked() if (i, j) in fixed)

    counts = [broken(form) for form in forms]
    return [k for k, count in enumerate(counts) if count == min(counts)]


def given_segment_groups(
    fixed: dict[tuple[int, int], str], form: Form, segment: int, options: ProsodyOptions
) -> frozenset[str] | None:
    """The groups every given character at the segment's rhyme positions shares (None: none is given)."""
    ends = [fixed[i, form.clauses[i].length - 1] for i in form.segments[segment]
            if (i, form.clauses[i].length - 1) in fixed]
    return frozenset.intersection(*(book_groups(c, form.rhyme_book, options.rhyme_system) for c in ends)) if ends else None


def poem_forms(line_length: int, n_lines: int, options: ProsodyOptions,
               fixed: dict[tuple[int, int], str] | None = None) -> list[Form]:
    """The forms a 诗 of this shape may take under `options`: 平起 and 仄起, rhyming on the lines the scheme says,
    in 仄 when the given rhyme characters ask for it (`given_rhyme_tone`)."""
    first_rhymes = options.rhyme_scheme == "first_and_even"
    tone = given_rhyme_tone(fixed or {}, n_lines, line_length, options)
    return regulated_forms(line_length, n_lines, first_rhymes, tone)


def given_rhyme_groups(
    fixed: dict[tuple[int, int], str], n_lines: int, line_length: int, options: ProsodyOptions
) -> frozenset[str] | None:
    """The groups every given character at a 诗's rhyme positions shares (None: no given rhyme character)."""
    form = regulated_form(line_length, n_lines, first_rhymes=options.rhyme_scheme == "first_and_even")
    return given_segment_groups(fixed, form, 0, options) if form.segments else None


def given_ends(fixed: dict[tuple[int, int], str], n_lines: int, line_length: int, options: ProsodyOptions) -> list[str]:
    """The given characters at a 诗's rhyme positions, line by line."""
    form = regulated_form(line_length, n_lines, first_rhymes=options.rhyme_scheme == "first_and_even")
    return [fixed[cell] for cell in form.rhyme_ends() if cell in fixed]


def given_rhyme_tone(fixed: dict[tuple[int, int], str], n_lines: int, line_length: int, options: ProsodyOptions) -> str:
    """仄 when the given rhyme characters are all 仄 and share a group (藏尾 花好月老: 好 and 老 rhyme in 皓),
    so the poem is written as a 仄韵 poem; 平 otherwise (the 近体 default)."""
    ends = given_ends(fixed, n_lines, line_length, options)
    if options.rhyme and ends and all(tone_of(char) == ZE for char in ends) and given_rhyme_groups(
        fixed, n_lines, line_length, options
    ):
        return ZE
    return PING


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
