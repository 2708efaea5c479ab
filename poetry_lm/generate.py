"""Acrostic poem generation: validate settings, build the template and masks, decode, rank.

Follow one poem: `PoemGenerator.generate` → `poem_template`/`free_cell_bias` (decode.py) →
`Decoder` (compiled loop over the LSTM step) → `Poem` objects, best first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poetry_lm.analysis import describe
from poetry_lm.constraints import plan_constraints
from poetry_lm.corpus import join_lines, punctuated_lines
from poetry_lm.decode import Decoder, free_cell_bias, poem_template
from poetry_lm.model import ModelDir, load_model_dir
from poetry_lm.settings import DEFAULT_MODEL_DIR, MAX_SEED, Settings, check_settings, normalise_heads


@dataclass
class Poem:
    """One generated candidate."""

    heads: str
    lines: list[str]
    log_prob: float
    unknown_heads: list[str] = field(default_factory=list)
    rhyme: str | None = None
    tone_ok_ratio: float | None = None

    @property
    def text(self) -> str:
        return join_lines(self.lines)

    def display_lines(self) -> list[str]:
        """Each line with its punctuation, for printing one line per row."""
        return punctuated_lines(self.text)

    def to_dict(self) -> dict:
        """The JSON form: heads, text, lines, log_prob first, then prosody and vocabulary notes."""
        return {
            "heads": self.heads,
            "text": self.text,
            "lines": self.lines,
            "log_prob": round(float(self.log_prob), 4),
            "rhyme": self.rhyme,
            "tone_ok_ratio": self.tone_ok_ratio,
            "unknown_heads": self.unknown_heads,
        }


class PoemGenerator:
    """A loaded model plus its compiled decoder; safe to share between threads and sessions.

    Calls run concurrently without a lock: the compiled decoder only reads the weights and each
    call carries its own seed, so a request's poems are the same as when made alone, and 4 threads
    get more done than with calls serialised (scripts/concurrency_bench.py, README).
    """

    def __init__(self, model_dir: ModelDir):
        self.model_dir = model_dir
        self.vocab = model_dir.vocab
        self.decoder = Decoder(model_dir.model, self.vocab)
        self._free_bias = free_cell_bias(self.vocab)

    @classmethod
    def load(cls, path: Path | None = None, warm_up: bool = True) -> PoemGenerator:
        """Load a model directory (the bundled model by default) and compile its decoder."""
        generator = cls(load_model_dir(Path(path) if path else DEFAULT_MODEL_DIR))
        if warm_up:
            generator.warm_up()
        return generator

    def warm_up(self) -> None:
        """Trace the decoder once so the first real request is fast."""
        self.generate(Settings(heads="春", line_length=5, num_candidates=1, seed=0))

    def generate(self, settings: Settings) -> list[Poem]:
        """Candidates for `settings`, best (highest model log-probability) first."""
        heads = normalise_heads(settings.heads)
        check_settings(settings, len(self.vocab))
        seed = settings.seed if settings.seed is not None else secrets.randbelow(MAX_SEED)
        rng = np.random.default_rng(seed)
        head_ids = [self.vocab.id_of(ch) for ch in heads]
        forced_ids = poem_template(head_ids, settings.line_length, self.vocab)
        plan = plan_constraints(
            self.vocab, heads, settings.line_length, settings.num_candidates, settings.prosody, rng, self._free_bias
        )
        tokens, log_probs = self.decoder(forced_ids, plan.bias_rows, plan.bias_index, settings.sampling(seed))
        unknown = [ch for ch in dict.fromkeys(heads) if ch not in self.vocab]
        poems = [
            self._poem(heads, row, float(log_prob), unknown, plan.rhyme_groups[i], settings)
            for i, (row, log_prob) in enumerate(zip(tokens, log_probs, strict=False))
        ]
        return sorted(poems, key=lambda poem: -poem.log_prob)

    def _poem(self, heads, token_row, log_prob, unknown, rhyme_group, settings) -> Poem:
        width = settings.line_length + 1
        lines = []
        for i, head in enumerate(heads):
            cells = token_row[i * width : (i + 1) * width - 1]
            # The head is shown as typed even when the model only saw it as <unk>.
            lines.append(head + self.vocab.decode(cells[1:]))
        report = describe(lines, rhyme_group, settings.prosody)
        return Poem(heads, lines, log_prob, unknown, report.rhyme, report.tone_ok_ratio)
