"""Acrostic poem generation: validate settings, build the template and masks, decode, rank.

Follow one poem: `PoemGenerator.generate` → `cell_plan` (template.py: which cells are given) →
`request_forms` (the Forms it may take: a 诗's 平起/仄起, a 词's 谱; prosody/form.py) → `form_template`/
`free_cell_bias` (decode.py), theme boost (theme.py) and rhyme/tone rows (prosody/constraints.py) → `Decoder`
(compiled loop over the LSTM step), `search` samples per candidate → the best of each → `Poem` objects, best first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import tensorflow as tf

from poetry_lm.compose.decode import (
    CharTables,
    ContrastDecoder,
    Decoder,
    form_rhyme_cells,
    form_template,
    free_cell_bias,
)
from poetry_lm.compose.settings import (
    MAX_SEED,
    Settings,
    check_alternatives_request,
    check_settings,
    normalise_heads,
    request_form,
)
from poetry_lm.compose.steer import steering, stock_avoided
from poetry_lm.compose.template import CellPlan, hidden_plan, parse_template
from poetry_lm.errors import PoetryError
from poetry_lm.model.network import ModelDir, load_model_dir
from poetry_lm.paths import DEFAULT_MODEL_DIR
from poetry_lm.prosody.analysis import describe
from poetry_lm.prosody.constraints import given_segment_groups, plan_constraints, poem_forms
from poetry_lm.prosody.form import CI_BOOK, Form, regulated_form
from poetry_lm.prosody.options import ProsodyOptions
from poetry_lm.text.char_stats import reduplicable_mask, unigram_log_probs
from poetry_lm.text.corpus import join_lines, punctuated_lines
from poetry_lm.text.vocab import Vocabulary


@dataclass
class Poem:
    """One generated candidate."""

    heads: str  # the hidden characters in reading order ("" for a template)
    lines: list[str]
    log_prob: float
    unknown_heads: list[str] = field(default_factory=list)
    rhyme: str | None = None
    tone_ok_ratio: float | None = None
    position: str = "head"  # where the hidden characters are, or "template"
    marked: list[tuple[int, int]] = field(default_factory=list)  # (line, character) of each hidden one
    char_log_probs: list[list[float]] = field(default_factory=list)  # per line, per character
    conflicts: list[str] = field(default_factory=list)  # rhyme/tone rules a given character breaks
    given: list[tuple[int, int]] = field(default_factory=list)  # every cell fixed before decoding (hidden or kept)
    score: float | None = None  # the search score it was ranked by (None: scored by hand, see score_lines)
    form: Form | None = None  # what it was written to (None: a 诗 of its lines, ，/。 alternating)

    @property
    def text(self) -> str:
        return join_lines(self.lines) if self.form is None else self.form.punctuated(self.lines)

    @property
    def tune(self) -> str | None:
        """The 词牌 of a 词 (None for a 诗)."""
        return self.form.name if self.form is not None and self.form.rhyme_book == CI_BOOK else None

    def stanzas(self) -> list[list[str]]:
        """The display lines (with their marks) grouped by 阕 (a 诗: one group)."""
        lines = self.display_lines()
        return [lines] if self.form is None else self.form.stanza_lines(lines)

    def display_lines(self) -> list[str]:
        """Each line with its punctuation, for printing one line per row."""
        if self.form is None:
            return punctuated_lines(self.text)
        return [line + clause.mark for line, clause in zip(self.lines, self.form.clauses, strict=True)]

    @property
    def free_log_prob(self) -> float:
        """Mean log-probability of the characters the model wrote itself (not the given ones)."""
        given = set(self.given)
        free = [p for i, row in enumerate(self.char_log_probs) for j, p in enumerate(row) if (i, j) not in given]
        return float(np.mean(free)) if free else 0.0

    def to_dict(self) -> dict:
        """The JSON form: heads, text, lines, log_prob first, then position, prosody and notes."""
        return {
            **({"tune": self.tune} if self.tune else {}),
            "heads": self.heads,
            "text": self.text,
            "lines": self.lines,
            "log_prob": round(float(self.log_prob), 4),
            "score": self.score,
            "position": self.position,
            "marked": [list(cell) for cell in self.marked],
            "rhyme": self.rhyme,
            "tone_ok_ratio": self.tone_ok_ratio,
            "conflicts": self.conflicts,
            "unknown_heads": self.unknown_heads,
        }


# How candidates are ordered, best first (Settings.ranking).
RANK_KEYS = {
    "score": lambda poem: -poem.score,
    "total": lambda poem: -poem.log_prob,
    "free": lambda poem: -poem.free_log_prob,
}


def char_tables(vocab: Vocabulary) -> CharTables:
    """The decoder's per-token facts from the bundled character statistics (text.char_stats)."""
    return CharTables(tf.constant(unigram_log_probs(vocab)), tf.constant(reduplicable_mask(vocab)))


def cell_plan(settings: Settings) -> CellPlan:
    """The given cells of a request: its template, or its heads at their position (in a 词's clauses for a tune).

    With both (rewriting an acrostic with some lines locked), the template's cells that hold the
    heads at their position stay marked as hidden characters.
    """
    form = request_form(settings)
    if settings.template is None:
        return hidden_plan(normalise_heads(settings.heads), settings.position, settings.line_length, settings.placement,
                           form)
    plan = parse_template(settings.template, form)
    if not settings.heads:
        return plan
    hidden = hidden_plan(normalise_heads(settings.heads), settings.position, plan.line_length, settings.placement,
                         form)
    fixed = plan.fixed_cells
    return replace(plan, marked=tuple(cell for cell, char in hidden.fixed_cells.items() if fixed.get(cell) == char))


def request_forms(settings: Settings, plan: CellPlan) -> list[Form]:
    """The forms a request may be written in: a 词's one 谱, or a 诗's 平起 and 仄起 forms."""
    form = request_form(settings)
    return [form] if form is not None else poem_forms(plan.line_length, plan.lines, settings.prosody, plan.fixed_cells)


class PoemGenerator:
    """A loaded model plus its compiled decoder; safe to share between threads and sessions.

    Calls run concurrently without a lock: the compiled decoder only reads the weights and each
    call carries its own seed, so a request's poems are the same as when made alone, and 4 threads
    get more done than with calls serialised (scripts/concurrency_bench.py, README).
    """

    def __init__(self, model_dir: ModelDir, tables: CharTables | None = None, base: ModelDir | None = None):
        """`tables`: the decoder's per-token facts; the bundled character statistics by default
        (`decode.plain_tables` switches the specificity bonus and the double bans off). `base`: the model this
        one was fine-tuned from, for 风格强度 (`Settings.style_strength`, a `ContrastDecoder`)."""
        if model_dir.info.model.kind != "poem":
            raise PoetryError(f"{model_dir.path} 是对联模型，不能用来写诗（对联用 couplet 命令或「对联」页）")
        self.model_dir = model_dir
        self.vocab = model_dir.vocab
        self.base_dir = base
        tables = tables or char_tables(self.vocab)
        if base is None:
            self.decoder = Decoder(model_dir.model, self.vocab, tables)
        else:
            self.decoder = ContrastDecoder(model_dir.model, self.vocab, base.model, base.vocab, tables)
        self.free_bias = free_cell_bias(self.vocab)

    @classmethod
    def load(cls, path: Path | None = None, warm_up: bool = True, with_base: bool = True) -> PoemGenerator:
        """Load a model directory (the bundled model by default) and compile its decoder; a fine-tuned model also
        loads the model it started from, when that is still there (`with_base`), for 风格强度."""
        model_dir = load_model_dir(Path(path) if path else DEFAULT_MODEL_DIR)
        generator = cls(model_dir, base=fine_tuned_from(model_dir) if with_base else None)
        if warm_up:
            generator.warm_up()
        return generator

    def warm_up(self) -> None:
        """Trace the decoder once so the first real request is fast."""
        self.generate(Settings(heads="春", line_length=5, num_candidates=1, seed=0, search=1))

    def generate(self, settings: Settings) -> list[Poem]:
        """Candidates for `settings`, best first (see `Settings.ranking`)."""
        plan = cell_plan(settings)
        check_settings(settings, len(self.vocab))
        seed = settings.seed if settings.seed is not None else secrets.randbelow(MAX_SEED)
        rng = np.random.default_rng(seed)
        fixed = plan.fixed_cells
        forms = request_forms(settings, plan)
        forced_ids = form_template(forms[0], {cell: self.vocab.id_of(ch) for cell, ch in fixed.items()}, self.vocab)
        steer = steering(settings, self.vocab, stock_avoided(settings, plan))
        constraints = plan_constraints(
            self.vocab, forms, settings.num_candidates, settings.prosody, rng, self.free_bias + steer.bias, fixed,
        )
        # A candidate's `search` rows share its plan (rhyme group, tone pattern): they swap prefixes.
        bias_index = np.repeat(constraints.bias_index, settings.search, axis=0)
        sampling = settings.sampling(seed, forms[0].repeat_weight)
        decoded = self.decoder(forced_ids, constraints.bias_rows, bias_index, sampling, form_rhyme_cells(forms[0]),
                               steer.words)
        # The best of each candidate's `search` samples: rows b*search … b*search+search-1.
        per_candidate = decoded.score.reshape(settings.num_candidates, settings.search)
        best_rows = per_candidate.argmax(axis=1) + np.arange(settings.num_candidates) * settings.search
        unknown = [ch for ch in dict.fromkeys(fixed.values()) if ch not in self.vocab]
        poems = [
            self._poem(plan, constraints.forms[row // settings.search], decoded.tokens[row],
                       decoded.cell_log_probs[row], float(decoded.log_prob[row]), float(decoded.score[row]), unknown,
                       constraints.segment_groups[row // settings.search], settings)
            for row in best_rows
        ]
        return sorted(poems, key=RANK_KEYS[settings.ranking])

    def _poem(self, plan: CellPlan, form: Form, token_row, cell_scores, log_prob, score, unknown, groups,
              settings) -> Poem:
        fixed = plan.fixed_cells
        lines, scores = [], []
        for i, clause in enumerate(form.clauses):
            start = form.cell(i, 0)
            cells = token_row[start : start + clause.length]
            # Given characters are shown as typed even when the model only saw them as <unk>.
            lines.append("".join(fixed.get((i, j)) or self.vocab.decode([token]) for j, token in enumerate(cells)))
            scores.append([round(float(p), 3) for p in cell_scores[start : start + clause.length]])
        report = describe(lines, form, groups, settings.prosody, frozenset(fixed))
        # A template with hidden characters (a rewritten acrostic) keeps their position kind.
        position = "template" if settings.template is not None and not plan.marked else str(settings.position)
        return Poem(
            plan.hidden, lines, log_prob, unknown, report.rhyme, report.tone_ok_ratio, position,
            list(plan.marked), scores, report.conflicts, sorted(fixed), round(score, 4), form,
        )


def fine_tuned_from(model_dir: ModelDir) -> ModelDir | None:
    """The model `model_dir` was fine-tuned from (its config's init_from), or None: not fine-tuned, or that model
    is gone or no longer loads (the fine-tuned model still works, without 风格强度)."""
    source = model_dir.info.train.init_from
    if not source or Path(source).resolve() == Path(model_dir.path).resolve():
        return None
    try:
        return load_model_dir(Path(source))
    except PoetryError:
        return None


def alternatives(
    generator: PoemGenerator, lines: list[str], line: int, position: int, options=None, top: int = 8,
    form: Form | None = None,
) -> list[tuple[str, float]]:
    """The `top` characters the model would put at (line, position) (0-based) given everything to its
    left, with their probabilities, under the poem's constraints: a rhyme position offers only
    characters of the rhyme group the rest of its segment holds, a strict tone position only the right
    tone (soft tones lower the wrong one); like the decoder, no accidental double with a neighbour and
    no rhyme character used twice. Probabilities are renormalised over what is allowed. `form`: what the
    poem was written to (a 词's; a 诗's 平起 form of its lines by default, its tones read off the poem)."""
    options = options or ProsodyOptions()
    check_alternatives_request(lines, line, position, top)
    vocab = generator.vocab
    others = {(i, j): ch for i, text in enumerate(lines) for j, ch in enumerate(text) if (i, j) != (line, position)}
    forms = [form] if form is not None else poem_forms(len(lines[0]), len(lines), options, others)
    segment = forms[0].clauses[line].rhyme
    if options.rhyme and (segment is None or not given_segment_groups(others, forms[0], segment, options)):
        options = replace(options, rhyme=False)  # nothing else to rhyme with (or the rest does not rhyme)
    rng = np.random.default_rng(0)
    plan = plan_constraints(vocab, forms, 1, options, rng, generator.free_bias, others)
    cell = forms[0].cell(line, position)
    prefix = [vocab.bos_id, *vocab.encode(forms[0].prompt + forms[0].punctuated(lines))[:cell]]
    scores = generator.decoder.logits_along(prefix)[-1].astype(np.float64) + plan.bias_rows[plan.bias_index[0, cell]]
    allowed = scores.copy()
    allowed[_banned_here(generator, lines, line, position, forms[0])] = -np.inf
    scores = allowed if np.isfinite(allowed).any() else scores  # as in the decoder: a ban never empties a cell
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    best = np.argsort(-probs)[:top]
    return [(vocab.tokens[k], round(float(probs[k]), 4)) for k in best if probs[k] > 0]


def _banned_here(generator: PoemGenerator, lines: list[str], line: int, position: int, form: Form) -> list[int]:
    """Token ids the decoder would never write at this cell: a neighbour's character that real poems do not
    double (an accidental double), and at a rhyme cell every other rhyme character of the poem (重韵)."""
    vocab, text = generator.vocab, lines[line]
    reduplicable = np.asarray(generator.decoder.tables.reduplicable)
    neighbours = {text[j] for j in (position - 1, position + 1) if 0 <= j < len(text)}
    banned = [vocab.id_of(ch) for ch in neighbours if ch in vocab and not reduplicable[vocab.id_of(ch)]]
    ends = form.rhyme_ends()
    if (line, position) in ends:
        banned += [vocab.id_of(lines[i][j]) for i, j in ends if i != line and lines[i][j] in vocab]
    return banned


def score_lines(generator: PoemGenerator, lines: list[str], form: Form | None = None) -> tuple[float, list[list[float]]]:
    """(log-probability of the whole poem, per line per character) under the model, e.g. after a
    character was changed by hand; a 词's `form` puts its tune before it, as the model learned it."""
    form = form or regulated_form(len(lines[0]), len(lines))
    vocab = generator.vocab
    tokens = [vocab.bos_id, *vocab.encode(form.prompt + form.punctuated(lines)), vocab.eos_id]
    logits = generator.decoder.logits_along(tokens[:-1]).astype(np.float64)
    log_softmax = logits - logits.max(axis=1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(axis=1, keepdims=True))
    scores = log_softmax[np.arange(len(tokens) - 1), tokens[1:]].tolist()
    per_char = [[round(scores[form.cell(i, j)], 3) for j in range(clause.length)]
                for i, clause in enumerate(form.clauses)]
    return float(sum(scores[len(form.prompt):])), per_char
