"""Tone table, rhyme groups, tone patterns, the analyser, and generation under rhyme and tone masks."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

from poetry_lm.cli import main
from poetry_lm.compose.decode import free_cell_bias
from poetry_lm.compose.template import hidden_plan
from poetry_lm.errors import PoetryError
from poetry_lm.measure.quality import poem_metrics
from poetry_lm.prosody import constraints, meter, rhyme, tones
from poetry_lm.prosody.analysis import PoemReport, analyse, describe, parse_poem
from poetry_lm.prosody.cipu import ci_form
from poetry_lm.prosody.constraints import given_rhyme_advice, given_rhyme_tone
from poetry_lm.prosody.form import regulated_form
from poetry_lm.prosody.meter import poem_tones
from poetry_lm.prosody.options import DEFAULT_PROSODY, ProsodyOptions, check_prosody
from poetry_lm.prosody.tones import PING, ZE
from poetry_lm.text.corpus import load_split
from poetry_lm.text.vocab import Vocabulary

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
    ("chars", "system", "group"),
    [
        ("光霜乡长", "xinyun", "唐"), ("流楼愁舟", "xinyun", "尤"), ("家花斜", "xinyun", "麻"),
        ("时诗知枝", "xinyun", "支"), ("西低衣", "xinyun", "齐"), ("间山还", "xinyun", "寒"),
        ("光霜乡长", "pingshui", "阳"), ("间山还", "pingshui", "删"), ("东中风", "pingshui", "东"),
        ("家花斜", "pingshui", "麻"), ("光霜乡长", "both", "阳·唐"), ("间山还", "both", "删·寒"),
        ("冰钟", "xinyun", "庚"),  # 中华新韵's 庚 joins eng/ing/ong ...
        ("冰钟", "pingshui", None),  # ... but the rhyme book keeps 蒸 and 冬 apart,
        ("冰钟", "both", None),  # so a rhyme right to both ears rejects it
        ("鸟少", "pingshui", "筱"),  # 仄韵: the analyser knows the 仄 groups too
    ],
)
def test_known_rhyme_sets_share_their_group(chars, system, group):
    assert rhyme.shared_group(list(chars), system) == group


def test_different_rhymes_do_not_share_a_group():
    assert rhyme.shared_group(list("光流"), "xinyun") is None
    assert rhyme.shared_group(list("诗西"), "xinyun") is None  # 支 and 齐 are separate in 中华新韵
    assert set(rhyme.XINYUN_GROUPS) == set(rhyme.rhyme_weights("xinyun"))
    assert set(rhyme.PINGSHUI_GROUPS) <= set(rhyme.rhyme_weights("pingshui"))
    assert all(key.split(rhyme.PAIR_MARK)[0] in rhyme.PINGSHUI_GROUPS for key in rhyme.group_names("both"))


def test_rare_readings_do_not_make_a_rhyme():
    # 家 gū (大家 = 大姑) is in pypinyin's readings but never rhymes in the corpus: 疏 and 家 do not rhyme.
    assert "姑" in rhyme.xinyun_readings("家") and "姑" not in rhyme.rhyme_groups_of("家", "xinyun")
    assert rhyme.shared_group(list("疏家"), "xinyun") is None
    # A character's most common modern reading always stays (还 hái), beside the one verse uses (huán).
    assert rhyme.rhyme_groups_of("还", "xinyun") == {"寒", "开"}
    assert rhyme.rhyme_groups_of("还", "pingshui") == {"删"}  # 先 (xuán) is dropped: no rhyme uses it


def test_rare_reading_rule_on_known_evidence():
    rhymes = collections.Counter({"甲": 100, "乙": 5, "丙": 100})
    support = collections.Counter({("甲", "a"): 99, ("甲", "b"): 1, ("乙", "b"): 0, ("丙", "a"): 1, ("丙", "b"): 1})
    droppable = {"甲": frozenset("ab"), "乙": frozenset("ab"), "丙": frozenset("ab")}.get
    rare = rhyme.rare_readings(rhymes, support, droppable, keep_one=True)
    assert rare == {"甲": "b"}  # 乙: too few rhymes to judge; 丙: both rare, but one must stay
    assert rhyme.rare_readings(rhymes, support, droppable, keep_one=False) == {"甲": "b", "丙": "ab"}


def test_pingshui_table_is_read_from_the_package_and_simplified(tmp_path):
    source = tmp_path / "table.json"
    source.write_text(json.dumps({
        "ping": {"上平聲部": {"上平聲一東": ["東風"], "上平聲二冬": ["鍾鐘"]}},
        "ze": {"上聲部": {"上聲十七篠": ["鳥"]}},
    }, ensure_ascii=False), encoding="utf-8")
    assert rhyme.read_pingshui(source) == {"东": "东", "风": "东", "钟": "冬", "鸟": "筱"}
    committed = rhyme.rhyme_table()["pingshui"]
    assert rhyme.read_pingshui(rhyme.pingshui_source()) == committed  # the committed table is the package's


def test_building_the_table_from_a_corpus_is_reproducible(tmp_path, tiny_corpus):
    out = tmp_path / "rhymes.json"
    summary = rhyme.build_rhyme_table(tiny_corpus, out_file=out)
    again = tmp_path / "again.json"
    rhyme.build_rhyme_table(tiny_corpus, out_file=again)
    assert out.read_bytes() == again.read_bytes()
    table = json.loads(out.read_text(encoding="utf-8"))
    assert summary["poems"] == len(load_split(tiny_corpus, "train")) and set(table["weights"]) == set(rhyme.SYSTEMS)
    assert table["weights"]["pingshui"]["阳"] > 0


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
    analysis = analyse(JINGYESI, "xinyun")
    assert analysis.rhymes and analysis.rhyme_group == "唐" and analysis.rhyme_lines == [1, 2, 4]
    assert analyse(JINGYESI, "pingshui").rhyme_group == "阳" and analyse(JINGYESI).rhyme_group == "阳"
    assert analysis.kind == "古绝" and analysis.pattern.startswith("五言古绝：2 处不合近体的平仄、粘对或三平尾")
    assert analysis.pattern.endswith("按最接近的五言绝句·平起首句入韵对照")
    assert analysis.marks[0] == "平平平仄平"
    assert [(v.line, v.position, v.char, v.rule) for v in analysis.violations] == [(2, 4, "上", "二四六分明"), (3, 2, "头", "粘")]
    assert analysis.tone_ok == analysis.checked - 2
    assert "第2句第4字“上”应平而仄" in analysis.to_text()


def test_analyser_on_guanquelou_is_fully_regular():
    analysis = analyse(GUANQUELOU.replace("，", "\n"), "pingshui")
    assert analysis.pattern == "五言绝句·仄起首句不入韵"
    assert analysis.rhyme_group == "尤" and analysis.rhyme_lines == [2, 4]
    assert analysis.marks[0] == "仄仄平平仄"  # 白 日 are 入声
    assert analysis.violations == [] and analysis.tone_ok_ratio == 1.0


def test_analyser_uses_classical_readings_and_reports_broken_rhyme():
    assert analyse(BAIDICHENG, "xinyun").rhyme_group == "寒"  # 还 read huán
    assert analyse(BAIDICHENG, "pingshui").rhyme_group == "删"
    broken = analyse("白日依山尽，黄河入海流。欲穷千里目，更上一层天。")
    assert not broken.rhymes
    assert [v.rule for v in broken.violations] == ["押韵"]


@pytest.mark.parametrize("bad", ["", "白日依山尽abc", "白日依山，黄河入海流。", "一二三四五六"])
def test_analyser_rejects_bad_input_with_a_message(bad):
    with pytest.raises(PoetryError):
        analyse(bad)


def test_a_text_that_is_not_a_quatrain_or_regulated_verse_gets_no_pattern():
    three = analyse("春眠不觉晓，处处闻啼鸟。夜来风雨声。")
    assert not three.regulated and three.pattern.startswith("不是绝句或律诗（须 4 句或 8 句，现有 3 句）")
    assert three.checked == 0 and three.tone_ok_ratio is None and three.pattern_tones == ["", "", ""]
    assert "谱—" in three.to_text()
    assert analyse(GUANQUELOU).regulated


def test_analyse_cli_prints_text_and_json(capsys):
    assert main(["analyse", GUANQUELOU, "--system", "pingshui"]) == 0
    assert "押尤韵（平水韵）" in capsys.readouterr().out
    assert main(["analyse", JINGYESI, "--format", "json", "--system", "xinyun"]) == 0
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
    forms = constraints.poem_forms(line_length, len(heads), options)
    return constraints.plan_constraints(vocab, forms, count, options, np.random.default_rng(seed), free), free


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
    assert set(np.unique(plan.bias_rows[finite])) == {0.0, -plan.forms[0].soft_tone_penalty}


def test_a_ci_form_holds_soft_tones_more_firmly_than_a_shi(vocab):
    options, free = ProsodyOptions(tones="soft"), free_cell_bias(vocab)
    shi, ci = constraints.poem_forms(7, 4, options)[0], ci_form("浣溪沙")
    for form in (shi, ci):
        plan = constraints.plan_constraints(vocab, [form], 4, options, np.random.default_rng(0), free)
        assert set(np.unique(plan.bias_rows[np.isfinite(plan.bias_rows)])) == {0.0, -form.soft_tone_penalty}
    assert ci.soft_tone_penalty > shi.soft_tone_penalty  # chosen on validation 词 (cipu.CI_SOFT_TONE_PENALTY)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ProsodyOptions(rhyme=True, rhyme_group="无", rhyme_system="xinyun"), "未知韵部 '无'（中华新韵），可选：麻、波"),
        (ProsodyOptions(rhyme=True, rhyme_group="唐"), "未知韵部 '唐'（平水韵＋中华新韵），可选：庚·庚"),
        (ProsodyOptions(rhyme=True, rhyme_system="guangyun"), "韵书只能是 both/pingshui/xinyun"),
        (ProsodyOptions(tones="loud"), "平仄模式只能是 off/soft/strict"),
        (ProsodyOptions(rhyme=True, rhyme_scheme="odd"), "押韵方式只能是 even/first_and_even"),
    ],
)
def test_bad_prosody_options_name_the_valid_values(options, message):
    with pytest.raises(PoetryError, match=message):
        check_prosody(options)


def test_describe_stays_silent_without_options():
    form = regulated_form(5, 4)
    assert describe(["白日依山尽"] * 4, form, (None,), ProsodyOptions()) == PoemReport(None, None)


# ---- generation with the tiny model -------------------------------------------------------------


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    from poetry_lm.compose.generate import PoemGenerator

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
    from poetry_lm.compose.generate import Settings

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


@pytest.mark.parametrize(
    ("system", "chosen", "group_of"),
    [("xinyun", "唐", lambda g: g), ("pingshui", "阳", lambda g: g), ("both", "阳", lambda g: g.split("·")[0])],
)
def test_generation_with_a_chosen_group(generator, system, chosen, group_of):
    from poetry_lm.compose.generate import Settings

    options = ProsodyOptions(rhyme=True, rhyme_group=chosen, rhyme_system=system)
    poems = generator.generate(Settings(heads="江山如画", line_length=5, num_candidates=8, seed=3, prosody=options))
    for poem in poems:  # every even line ends in the group (both: one of its pairs with 新韵)
        assert group_of(poem.rhyme) == chosen, poem.rhyme
        assert all(poem.rhyme in rhyme.rhyme_groups_of(line[-1], system) for line in poem.lines[1::2]), poem.lines


def test_cli_rhymes_by_default_and_no_rhyme_turns_it_off(tiny_model_dir, capsys):
    base = ["generate", "--heads", "春花秋月", "--model", str(tiny_model_dir), "--num", "3", "--seed", "2", "--format", "jsonl"]
    assert main(base) == 0
    poems = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for poem in poems:
        assert poem["rhyme"] and rhyme.even_lines_rhyme(poem["lines"], "both") and poem["tone_ok_ratio"] is not None
    assert main([*base, "--no-rhyme", "--tones", "off"]) == 0
    assert all(json.loads(line)["rhyme"] is None for line in capsys.readouterr().out.splitlines())


# ---- evaluation metrics -------------------------------------------------------------------------


def test_poem_metrics_on_known_poems():
    poems = [parse_poem(GUANQUELOU), parse_poem("白日依山尽，白日依山尽。白日依山尽，白日依山尽。")]
    metrics = poem_metrics(poems, train_lines={"白日依山尽"}, heads=["白黄欲更", "白白白黑"])
    assert metrics["format_rate"] == 0.5  # the second poem's last head is wrong
    assert metrics["copied_line_share"] == 5 / 8
    assert metrics["rhyme_rate_xinyun"] == metrics["rhyme_rate_pingshui"] == 1.0  # 尽 尽 rhyme with themselves
    assert metrics["repeated_chars_per_poem"] == (0 + 15) / 2
    assert metrics["distinct_2"] == 0.5  # 16 distinct bigrams (the second poem only repeats the first line's 4) of 32
    assert metrics["variant_form_share"] == 0.0
    # lines given as they are (not read through to_simplified): 鴈 is a variant form of 雁
    assert poem_metrics([["鴈来秋水长"], ["雁来秋水长"]], set())["variant_form_share"] == 0.5


def test_evaluate_generated_reports_each_setting_next_to_real_poems(tiny_model_dir, tiny_corpus, tmp_path):
    import shutil

    from conftest import FIXTURE_POEMS

    from poetry_lm.measure.quality import evaluate_generated

    corpus = shutil.copytree(tiny_corpus, tmp_path / "corpus")
    (corpus / "test.txt").write_text("\n".join(FIXTURE_POEMS[1:8]) + "\n", encoding="utf-8")  # simplified quatrains
    result = evaluate_generated(tiny_model_dir, corpus, count=6, seed=1, settings_names=["no_prosody", "rhyme_strict_tones"])
    reference, strict = result["reference_test_split"], result["rhyme_strict_tones"]
    assert reference["poems"] == strict["poems"] == result["no_prosody"]["poems"] > 0
    assert strict["format_rate"] == 1.0 and strict["tone_ok_ratio"] == 1.0
    assert strict["rhyme_rate_both"] == strict["rhyme_rate_pingshui"] == strict["rhyme_rate_xinyun"] == 1.0

    (corpus / "test.txt").write_text(FIXTURE_POEMS[8] + "\n", encoding="utf-8")  # a 律诗 only
    with pytest.raises(PoetryError):
        evaluate_generated(tiny_model_dir, corpus, count=6)


def test_ze_rhyme_patterns_end_rhyme_lines_on_ze():
    assert poem_tones(5, 4, "仄", False) == ["仄仄平平仄", "平平仄仄平", "平平平仄仄", "仄仄仄平平"]
    assert poem_tones(5, 4, "仄", False, rhyme_tone="仄") == ["仄仄仄平平", "平平平仄仄", "平平仄仄平", "仄仄平平仄"]


def test_given_rhyme_ends_decide_the_rhyme_tone_or_get_advice():
    def tails(hidden, options=DEFAULT_PROSODY):
        plan = hidden_plan(hidden, "tail", 7)
        return (given_rhyme_tone(plan.fixed_cells, plan.lines, 7, options),
                given_rhyme_advice(plan.fixed_cells, plan.lines, 7, options))

    assert tails("山光水霜") == ("平", None)
    assert tails("花好月老") == ("仄", None)  # 好 and 老 share 皓
    tone, advice = tails("青山不老")  # 山 平, 老 仄: nothing rhymes both
    assert tone == "平" and "老 是仄声" in advice.message
    assert [fix for fix, _ in advice.fixes] == ["不要求押韵（平仄照旧）"] and not advice.fixes[-1][1].rhyme
    first = ProsodyOptions(rhyme=True, rhyme_scheme="first_and_even", tones="soft")
    _, advice = tails("山前水边", first)  # 山 (删) breaks 首句入韵; 前 and 边 (先) rhyme on the even lines
    assert advice.fixes[0][0] == "只让偶数句押韵" and advice.fixes[0][1].rhyme_scheme == "even"
    assert tails("青山不老", ProsodyOptions(rhyme=False, tones="soft"))[1] is None
