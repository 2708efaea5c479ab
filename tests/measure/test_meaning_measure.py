"""The meaning measure, end to end on a tiny corpus whose titles name the themes and on the tiny model."""

from __future__ import annotations

import pytest

from poetry_lm import cli
from poetry_lm.compose.generate import PoemGenerator
from poetry_lm.compose.theme import NAMED_THEMES
from poetry_lm.measure.meaning import (
    BLESSING_HEADS,
    format_meaning,
    occasion_report,
    theme_report,
    without_name_chars,
)
from poetry_lm.text.corpus import write_corpus
from tests.conftest import tiny_poems

TITLES = {"边塞": "出塞", "送别": "送友人", "思乡": "思乡", "咏梅": "梅花", "中秋": "中秋月", "田园": "田家",
          "怀古": "金陵怀古", "闺怨": "闺怨"}


@pytest.fixture(scope="module")
def themed_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("themed")
    poems = tiny_poems(400)
    titles = [*TITLES.values(), "登楼"]
    write_corpus(poems, out, [("唐", "某", titles[i % len(titles)]) for i in range(len(poems))])
    return out


def test_the_theme_report_reads_real_and_written_poems_with_both_classifiers(tiny_model_dir, themed_corpus):
    assert set(TITLES) == set(NAMED_THEMES)
    generator = PoemGenerator.load(tiny_model_dir)
    report = theme_report(generator, themed_corpus, per_theme=1, candidates=2, ceiling_poems=5)
    assert set(report["per_theme"]) == set(NAMED_THEMES)
    for row in report["per_theme"].values():
        for condition in ("real", "none", "chars", "words"):
            assert {"plain", "name_blind", "imagery"} <= set(row[condition])
            assert all(0.0 <= row[condition][key] <= 1.0 for key in ("plain", "name_blind", "imagery"))
        assert row["words"]["poems"] in (0, 2)
    table = format_meaning(report, None)
    assert table.count("\n| ") >= 2 * len(NAMED_THEMES)


def test_the_occasion_report_finds_no_inauspicious_word_with_the_occasion_on(tiny_model_dir):
    report = occasion_report(PoemGenerator.load(tiny_model_dir), candidates=1)
    assert report["on"]["candidates"] == len(BLESSING_HEADS) == 20 and report["on"]["inauspicious"] == 0.0
    assert "occasion on | 0%" in format_meaning(None, report)


def test_the_name_blind_reader_drops_the_theme_names_characters():
    assert without_name_chars("边塞明月送别中秋") == "明月"


def test_meaning_needs_at_least_one_poem_per_theme(capsys):
    assert cli.main(["evaluate", "--meaning", "0"]) == 2
    assert "--meaning 至少 1" in capsys.readouterr().err


def test_the_names_report_compares_one_line_each_with_whole_poems(tiny_model_dir):
    from poetry_lm.measure.meaning import NAMES, names_report

    report = names_report(PoemGenerator.load(tiny_model_dir), candidates=1)
    assert report["lines"]["lines"] == 2.0 and report["whole"]["lines"] == report["whole_avoiding"]["lines"] == 4.0
    assert all(report[c]["poems"] == len(NAMES) and 0 <= report[c]["glued"] <= 1 for c in report)
    assert "| whole_avoiding | 4.0 |" in format_meaning(None, None, report)
