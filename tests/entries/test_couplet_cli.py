"""`python -m poetry_lm couplet`: answers, hidden couplets, 横批, 春联 pictures, and one-line refusals."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from poetry_lm import cli
from tests.conftest import run_cli_in_process


def couplet_args(poem: object, aligned: object, *extra: str) -> list[str]:
    return ["couplet", "--model", str(poem), "--couplet-model", str(aligned), "--seed", "1", *extra]


@pytest.mark.parametrize("extra, message", [
    ([], "--first"),
    (["--first", "明月松间照", "--heads", "张伟"], "--first"),
    (["--first", "明月松间照耀"], "6 个字"),
    (["--first", "moon"], "只能是汉字"),
    (["--heads", "张"], "两个汉字"),
    (["--heads", "张伟", "--chars", "6"], "五言和七言"),
    (["--heads", "春好", "--position", "tail"], "换个顺序"),
    (["--first", "明月松间照", "--num", "0"], "候选数"),
])
def test_bad_requests_are_one_line_and_checked_before_the_models_load(capsys, tmp_path, extra, message):
    """The model paths do not even exist: the request is refused first."""
    code, err = run_cli_in_process(couplet_args(tmp_path / "none", tmp_path / "none", *extra), capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_a_missing_couplet_model_is_one_line(capsys, tiny_model_dir, tmp_path):
    code, err = run_cli_in_process(couplet_args(tiny_model_dir, tmp_path / "nothing", "--first", "明月松间照"), capsys)
    assert code == 2 and len(err) == 1 and "找不到对联模型" in err[0]


def test_answers_as_jsonl(capsys, tiny_model_dir, tiny_couplet_dir):
    assert cli.main(couplet_args(tiny_model_dir, tiny_couplet_dir, "--first", "明月松间照", "--num", "3",
                                 "--format", "jsonl")) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3 and all(row["first"] == "明月松间照" and len(row["second"]) == 5 for row in rows)
    assert all(row["end_tones_ok"] for row in rows)


def test_a_hidden_couplet_with_a_banner_and_its_spring_pictures(capsys, tiny_model_dir, tiny_couplet_dir, tmp_path):
    out = tmp_path / "cards"
    assert cli.main(couplet_args(tiny_model_dir, tiny_couplet_dir, "--heads", "张伟", "--banner", "--num", "2",
                                 "--image", str(out))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("【") for line in lines)
    first, second = lines[0].split("】", 1)[1].split("。")[0].strip().split("，")
    assert first[0] == "张" and second[0] == "伟" and len(first) == len(second) == 7
    pictures = sorted(out.glob("*.png"))
    assert len(pictures) == 2
    with Image.open(pictures[0]) as image:
        assert image.height > image.width  # two tall strips under a banner
