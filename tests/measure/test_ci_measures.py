"""The 词 writing measures on a few held-out 词 with the tiny model: what the README's 词 table is made of."""

from __future__ import annotations

import pytest

from poetry_lm.compose.generate import PoemGenerator
from poetry_lm.measure.ci_writing import ci_writing_report, format_ci_writing, held_out_ci
from tests.conftest import REPO


def test_held_out_ci_cover_many_tunes_and_follow_their_pattern():
    held = held_out_ci(REPO / "corpus", "test", 40, seed=0)
    assert len(held) == 40 and len({form.name for form, _ in held}) >= 20  # round-robin over the tunes
    assert all(tuple(map(len, lines)) == form.lengths for form, lines in held)
    assert held == held_out_ci(REPO / "corpus", "test", 40, seed=0)


@pytest.mark.slow
def test_the_report_measures_format_heads_rhyme_and_tones_beside_real_ci(tiny_model_dir):
    generator = PoemGenerator.load(tiny_model_dir, warm_up=False)
    result = ci_writing_report(generator, REPO / "corpus", count=20, seed=1, neural=False)
    assert result["poems"] == 20 and result["tunes"] == 20
    for name, row in result["settings"].items():
        assert row["format"] == 1.0 and row["heads"] == 1.0, name  # by construction
        assert row["rhyme"] == 1.0, (name, row["examples"])  # every segment shares a 部, by construction
        assert 0 <= row["lexical"]["auc"] <= 1 and row["profile"]["poems"] == 20
    assert result["settings"]["strict"]["tones_kept_written"] == 1.0
    assert 0.5 < result["real"]["tones_kept"] < 1 and result["real"]["rhyme"] > 0.7  # the real 词 ceiling
    assert result["speed"]["median_ms"] > 0
    table = format_ci_writing(result)
    assert "| every rhyme segment in one 部 (词林正韵) |" in table and "浣溪沙" in table
