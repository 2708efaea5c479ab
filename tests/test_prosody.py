"""Tone table, rhyme groups, tone patterns, the analyser, and generation under rhyme and tone masks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poetry_lm import constraints, meter, rhyme, settings, tones
from poetry_lm.analysis import PoemReport, analyse, describe, parse_poem
from poetry_lm.cli import main
from poetry_lm.decode import free_cell_bias
from poetry_lm.errors import PoetryError
from poetry_lm.quality import poem_metrics
from poetry_lm.settings import ProsodyOptions
from poetry_lm.tones import PING, ZE
from poetry_lm.vocab import Vocabulary

JINGYESI = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
GUANQUELOU = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
BAIDICHENG = "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。"


# ---- tone table ----------------------------------------------------------------------------------


@pytest.mark.parametrize("char", "白日一十石月雪国")
def test_entering_tone_characters_are_ze(char):
    # 入声: modern pinyin says 2nd tone (平) for 白 十 石 国, the table must say 仄.
    assert tones.tone_table()[char] == ZE


@pytest.mark.parametrize("char", "天风花人山春")
def test_level_tone_characters_are_ping(char):
    assert tones.tone_of(char) == PING


def test_split_votes_are_ambiguous_and_fit_both_tones():
    assert tones.tone_of("看") == tones.AMBIGUOUS
    assert tones.tone_fits("看", PING) and tones.tone_fits("看", ZE)
    assert not tones.tone_fits("天", ZE)


def test_pinyin_fallback_for_characters_missing_from_the_table():
    missing = next(ch for ch in "氡氦氖铀锂" if ch not in tones.tone_table())
    assert tones.tone_of(missing) == tones.pinyin_tone(missing) in (PING, ZE)
    assert tones.tone_of("a") is None


def _write_source(root, strains, poems):
    (root / "strains" / "json").mkdir(parents=True)
    (root / "quantangshi").mkdir()
    (root / "strains" / "json" / "poet.tang.0.json").write_text(json.dumps(strains, ensure_ascii=False), "utf-8")
    (root / "quantangshi" / "poet.tang.0.json").write_text(json.dumps(poems, ensure_ascii=False), "utf-8")


def test_build_tone_table_aligns_by_id_converts_to_simplified_and_votes(tmp_path):
    strains = [
        {"id": "a", "strains": ["平仄平仄平，仄仄平平仄。"]},
        {"id": "b", "strains": ["平平仄仄○，平平平仄仄。"]},
        {"id": "c", "strains": ["平平平平平，平平平平平。"]},  # its poem has a note: lengths differ, skipped
    ]
    poems = [
        {"id": "b", "paragraphs": ["風雲變鄉關，風雲變鄉關。"]},
        {"id": "a", "paragraphs": ["風雲變鄉關，看看看看看。"]},
        {"id": "c", "paragraphs": ["風雲（一作雨）變鄉關，風雲變鄉關。"]},
    ]
    _write_source(tmp_path / "src", strains, poems)
    out = tmp_path / "tones.tsv"
    summary = tones.build_tone_table(tmp_path / "src", out)
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in out.read_text("utf-8").splitlines()[1:]}
    assert rows["风"] == [PING, "3", "0"]  # simplified key, three 平 votes
    assert rows["乡"] == [ZE, "0", "3"]
    assert rows["云"] == [tones.AMBIGUOUS, "2", "1"]  # split votes
    assert rows["看"] == [tones.AMBIGUOUS, "2", "3"]
    assert rows["关"] == [tones.AMBIGUOUS, "1", "1"]  # the ○ mark is not a vote
    assert "風" not in rows and summary["characters"] == len(rows)


def test_build_tone_table_rejects_a_source_without_strains(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PoetryError):
        tones.build_tone_table(tmp_path / "empty", tmp_path / "t.tsv")


# ---- rhyme groups and patterns -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("chars", "group"),
    [("光霜乡长", "唐"), ("流楼愁舟", "尤"), ("家花斜", "麻"), ("时诗知枝", "支"), ("西低衣", "齐"), ("间山还", "寒")],
)
def test_known_rhyme_sets_share_their_group(chars, group):
    assert rhyme.shared_group(list(chars)) == group


def test_different_rhymes_do_not_share_a_group():
    assert rhyme.shared_group(list("光流")) is None
    assert rhyme.shared_group(list("诗西")) is None  # 支 and 齐 are separate in 中华新韵
    assert set(rhyme.RHYME_GROUPS) == set(rhyme.rhyme_weights())


def test_tone_patterns_follow_the_standard_forms():
    assert meter.poem_tones(5, 4, ZE, False) == ["仄仄平平仄", "平平仄仄平", "平平平仄仄", "仄仄仄平平"]
    assert meter.poem_tones(5, 4, PING, True) == ["平平仄仄平", "仄仄仄平平", "仄仄平平仄", "平平仄仄平"]
    assert meter.poem_tones(7, 8, PING, True) == [
        "平平仄仄仄平平", "仄仄平平仄仄平", "仄仄平平平仄仄", "平平仄仄仄平平",
        "平平仄仄平平仄", "仄仄平平仄仄平", "仄仄平平平仄仄", "平平仄仄仄平平",
    ]
    assert meter.checked_cells(7, 2, True) == [(0, 1), (0, 3), (0, 5), (0, 6), (1, 1), (1, 3), (1, 5), (1, 6)]


# ---- analyser -----------------------------------------------------------------------------------


def test_analyser_on_jingyesi_names_its_violations():
    analysis = analyse(JINGYESI)
    assert analysis.rhymes and analysis.rhyme_group == "唐" and analysis.rhyme_lines == [1, 2, 4]
    assert analysis.pattern == "五言绝句·平起首句入韵"
    assert analysis.marks[0] == "平平平仄平"
    assert [(v.line, v.position, v.char, v.rule) for v in analysis.violations] == [(2, 4, "上", "二四六分明"), (3, 2, "头", "粘")]
    assert analysis.tone_ok == analysis.checked - 2
    assert "第2句第4字“上”应平而仄" in analysis.to_text()


def test_analyser_on_guanquelou_is_fully_regular():
    analysis = analyse(GUANQUELOU.replace("，", "\n"))
    assert analysis.pattern == "五言绝句·仄起首句不入韵"
    assert analysis.rhyme_group == "尤" and analysis.rhyme_lines == [2, 4]
    assert analysis.marks[0] == "仄仄平平仄"  # 白 日 are 入声
    assert analysis.violations == [] and analysis.tone_ok_ratio == 1.0


def test_analyser_uses_classical_readings_and_reports_broken_rhyme():
    assert analyse(BAIDICHENG).rhyme_group == "寒"  # 还 read huán
    broken = analyse("白日依山尽，黄河入海流。欲穷千里目，更上一层天。")
    assert not broken.rhymes
    assert [v.rule for v in broken.violations] == ["押韵"]


@pytest.mark.parametrize("bad", ["", "白日依山尽abc", "白日依山，黄河入海流。", "一二三四五六"])
def test_analyser_rejects_bad_input_with_a_message(bad):
    with pytest.raises(PoetryError):
        analyse(bad)


def test_analyse_cli_prints_text_and_json(capsys):
    assert main(["analyse", GUANQUELOU]) == 0
    assert "押尤韵" in capsys.readouterr().out
    assert main(["analyse", JINGYESI, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["rhyme_group"] == "唐"
    assert main(["analyse", "abc"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


# ---- constraint plans ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    from conftest import tiny_poems

    return Vocabulary.build(tiny_poems())


def _plan(vocab, options, heads="春夏秋冬", line_length=7, count=16, seed=0):
    free = free_cell_bias(vocab)
    return constraints.plan_constraints(vocab, heads, line_length, count, options, np.random.default_rng(seed), free), free


def test_no_options_plan_is_the_plain_free_row(vocab):
    plan, free = _plan(vocab, ProsodyOptions())
    assert plan.bias_rows.shape == (1, len(vocab)) and np.array_equal(plan.bias_rows[0], free)
    assert not plan.bias_index.any() and plan.rhyme_groups == [None] * 16


def test_rhyme_rows_allow_only_level_tone_characters_of_the_group(vocab):
    plan, free = _plan(vocab, ProsodyOptions(rhyme=True, tones="strict"))
    assert all(np.isfinite(row).any() for row in plan.bias_rows)
    assert np.isinf(plan.bias_rows[:, : vocab.first_char_id]).all()  # every row starts from free_bias
    for b, group in enumerate(plan.rhyme_groups):
        row = plan.bias_rows[plan.bias_index[b, 8 + 6]]  # line 2, last character
        chars = [vocab.tokens[i] for i in np.flatnonzero(np.isfinite(row))]
        assert chars and all(group in rhyme.rhyme_groups_of(c) and tones.tone_fits(c, PING) for c in chars)
    assert len(set(plan.rhyme_groups)) > 1  # drawn per candidate
    assert not plan.bias_index[:, [0, 8, 16, 24]].any()  # heads untouched


def test_soft_tones_only_penalise(vocab):
    plan, free = _plan(vocab, ProsodyOptions(tones="soft"))
    finite = np.isfinite(plan.bias_rows)
    assert (finite == np.isfinite(free)).all()
    assert set(np.unique(plan.bias_rows[finite])) == {0.0, constraints.SOFT_TONE_PENALTY}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ProsodyOptions(rhyme=True, rhyme_group="无"), "未知韵部 '无'，可选：麻、波"),
        (ProsodyOptions(tones="loud"), "平仄模式只能是 off/soft/strict"),
        (ProsodyOptions(rhyme=True, rhyme_scheme="odd"), "押韵方式只能是 even/first_and_even"),
    ],
)
def test_bad_prosody_options_name_the_valid_values(options, message):
    with pytest.raises(PoetryError, match=message):
        settings.check_prosody(options)


def test_describe_stays_silent_without_options():
    assert describe(["白日依山尽"] * 4, None, ProsodyOptions()) == PoemReport(None, None)


# ---- generation with the tiny model -------------------------------------------------------------


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    from poetry_lm.generate import PoemGenerator

    return PoemGenerator.load(tiny_model_dir, warm_up=False)


def _assert_follows_pattern(lines, first_rhymes):
    line_length = len(lines[0])
    cells = [(i, j) for i, j in meter.checked_cells(line_length, len(lines), first_rhymes) if j < line_length - 1]
    assert any(
        all(tones.tone_fits(lines[i][j], meter.poem_tones(line_length, len(lines), start, first_rhymes)[i][j]) for i, j in cells)
        for start in (PING, ZE)
    ), lines


@pytest.mark.parametrize(("line_length", "scheme"), [(5, "even"), (7, "first_and_even")])
def test_generation_honours_rhyme_and_strict_tone_masks(generator, line_length, scheme):
    from poetry_lm.generate import Settings

    options = ProsodyOptions(rhyme=True, rhyme_scheme=scheme, tones="strict")
    poems = []
    for seed, heads in enumerate(["春夏秋冬", "明月清风", "山水花鸟", "天地人和江海"]):
        poems += generator.generate(Settings(heads=heads, line_length=line_length, num_candidates=16, seed=seed, prosody=options))
    for poem in poems:
        rhyme_lines = [i for i in range(len(poem.lines)) if meter.is_rhyme_line(i, scheme == "first_and_even")]
        for i in rhyme_lines:
            char = poem.lines[i][-1]
            assert poem.rhyme in rhyme.rhyme_groups_of(char) and tones.tone_fits(char, PING), poem.lines
        _assert_follows_pattern(poem.lines, scheme == "first_and_even")
        assert poem.tone_ok_ratio == 1.0
        assert [line[0] for line in poem.lines] == list(poem.heads)  # heads always win


def test_generation_with_a_chosen_group(generator):
    from poetry_lm.generate import Settings

    options = ProsodyOptions(rhyme=True, rhyme_group="唐")
    poems = generator.generate(Settings(heads="江山如画", line_length=5, num_candidates=8, seed=3, prosody=options))
    for poem in poems:  # every even line ends in 唐 (the analyser may name another group those endings share)
        assert poem.rhyme == "唐" and all("唐" in rhyme.rhyme_groups_of(line[-1]) for line in poem.lines[1::2])
        assert "唐" in rhyme.rhyme_groups_of(poem.lines[1][-1]) & rhyme.rhyme_groups_of(poem.lines[3][-1])
    assert all(poem.to_dict()["rhyme"] == "唐" for poem in poems)


# ---- evaluation metrics -------------------------------------------------------------------------


def test_poem_metrics_on_known_poems():
    poems = [parse_poem(GUANQUELOU), parse_poem("白日依山尽，白日依山尽。白日依山尽，白日依山尽。")]
    metrics = poem_metrics(poems, train_lines={"白日依山尽"}, heads=["白黄欲更", "白白白黑"])
    assert metrics["format_rate"] == 0.5  # the second poem's last head is wrong
    assert metrics["copied_line_share"] == 5 / 8
    assert metrics["even_line_rhyme_rate"] == 1.0  # 尽 尽 rhyme with themselves
    assert metrics["repeated_chars_per_poem"] == (0 + 15) / 2
    assert metrics["distinct_2"] == 0.5  # 16 distinct bigrams (the second poem only repeats the first line's 4) of 32


def test_evaluate_generated_reports_each_setting_next_to_real_poems(tiny_model_dir, tiny_corpus, tmp_path):
    import shutil

    from conftest import FIXTURE_POEMS

    from poetry_lm.quality import evaluate_generated

    corpus = shutil.copytree(tiny_corpus, tmp_path / "corpus")
    (corpus / "test.txt").write_text("\n".join(FIXTURE_POEMS[1:8]) + "\n", encoding="utf-8")  # simplified quatrains
    result = evaluate_generated(tiny_model_dir, corpus, count=6, seed=1, settings_names=["no_prosody", "rhyme_strict_tones"])
    reference, strict = result["reference_test_split"], result["rhyme_strict_tones"]
    assert reference["poems"] == strict["poems"] == result["no_prosody"]["poems"] > 0
    assert strict["format_rate"] == 1.0 and strict["even_line_rhyme_rate"] == 1.0 and strict["tone_ok_ratio"] == 1.0

    (corpus / "test.txt").write_text(FIXTURE_POEMS[8] + "\n", encoding="utf-8")  # a 律诗 only
    with pytest.raises(PoetryError):
        evaluate_generated(tiny_model_dir, corpus, count=6)
