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
