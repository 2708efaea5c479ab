"""`python -m poetry_lm ci`: the tunes, one tune's 谱, and a 词 checked against its tune."""

from __future__ import annotations

from poetry_lm import cli
from tests.conftest import run_cli_in_process


def test_ci_list_names_the_tunes_most_written_first(capsys):
    assert cli.main(["ci", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 60 and lines[0].startswith("浣溪沙") and "7。7。7。7，7。7。" in lines[0]


def test_ci_show_draws_the_pattern_by_an_alias_too(capsys):
    assert cli.main(["ci", "show", "忆江南"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("望江南") and "（韵1）" in out and "○" in out and "●" in out


def test_ci_check_recognises_and_checks(capsys):
    assert cli.main(["ci", "check", "常记溪亭日暮，沉醉不知归路。兴尽晚回舟，误入藕花深处。争渡，争渡，惊起一滩鸥鹭。"]) == 0
    out = capsys.readouterr().out
    assert "词牌：如梦令" in out and "押韵：合" in out


def test_unknown_tunes_and_shapes_are_one_line(capsys):
    code, err = run_cli_in_process(["ci", "show", "不存在的调"], capsys)
    assert code == 2 and len(err) == 1 and "没有「不存在的调」的词谱" in err[0]
    code, err = run_cli_in_process(["ci", "check", "春眠不觉晓，处处闻啼鸟。"], capsys)
    assert code == 2 and len(err) == 1 and "不合任何已有词谱" in err[0]


def test_generate_ci_writes_clauses_of_the_tune_as_jsonl(tiny_model_dir, capsys):
    import json

    argv = ["generate", "--ci", "浣溪沙", "--heads", "春花秋月", "--num", "2", "--seed", "1", "--format", "jsonl",
            "--model", str(tiny_model_dir)]
    assert cli.main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert row["tune"] == "浣溪沙" and [len(line) for line in row["lines"]] == [7] * 6
        assert "".join(line[0] for line in row["lines"][:4]) == "春花秋月" and row["rhyme"].startswith("第")


def test_generate_ci_prints_the_tune_and_its_stanzas(tiny_model_dir, capsys):
    argv = ["generate", "--ci", "浣溪沙", "--heads", "春花", "--num", "1", "--placement", "stanzas",
            "--model", str(tiny_model_dir)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    first, second = out.split("\n\n")[:2]
    assert first.startswith("《浣溪沙》\n春") and second.startswith("花")  # one head per 阕
    assert len(first.splitlines()) == 4 and second.count("\n") >= 2


def test_generate_ci_refuses_a_bad_tune_or_too_many_heads_in_one_line(capsys):
    code, err = run_cli_in_process(["generate", "--ci", "浣溪", "--heads", "春"], capsys)
    assert code == 2 and len(err) == 1 and "没有「浣溪」的词谱" in err[0]
    code, err = run_cli_in_process(["generate", "--ci", "如梦令", "--heads", "一二三四五六七八"], capsys)
    assert code == 2 and len(err) == 1 and "最多藏 7 个字" in err[0]
