"""Bad heads, settings and arguments: a precise PoetryError through the Python API, `cli.main` in-process,
and (slow) the real CLI in a subprocess, where stderr is exactly one `error:` line and the exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from poetry_lm.compose.generate import PoemGenerator, Settings, normalise_heads
from poetry_lm.errors import PoetryError
from poetry_lm.model.config import TrainConfig
from poetry_lm.training.trainer import train
from tests.conftest import REPO, TINY_MODEL, assert_one_line_error, cli_generate_args, run_cli, run_cli_in_process

# (heads, fragment of the expected message)
BAD_HEADS = [
    ("", "请输入藏头字"),
    ("  \t\n　", "请输入藏头字"),
    ("spring", "藏头字只能是汉字，请去掉：s、p、r、i、n、g"),
    ("春2024", "请去掉：2、0、4"),
    ("春🌸", "请去掉：🌸"),
    ("春，花！", "请去掉：，、！"),
    ("春天的花开得很好看啊真的太好看了呀", "藏头字最多 16 个，现在有 17 个字符"),
    ("床前明月光疑是地上霜" * 1000, "藏头字最多 16 个，现在有 10000 个字符"),
    ("春\ufa6e", "请去掉：U+FA6E"),  # unassigned code points inside the CJK blocks
    ("春\U0002ffff", "请去掉：U+2FFFF"),
    ("春\u0301花", "请去掉：U+0301"),  # a combining mark is named, not echoed invisibly
    ("春\ufe0f", "请去掉：U+FE0F"),
]
# (settings overrides, fragment of the expected message)
BAD_SETTINGS = [
    ({"temperature": 0.0}, "温度须在 0.05 到 5.0 之间，收到 0.0"),
    ({"temperature": -1.0}, "温度须在 0.05 到 5.0 之间，收到 -1.0"),
    ({"temperature": 1e9}, "温度须在 0.05 到 5.0 之间"),
    ({"temperature": float("nan")}, "温度须是有限的数，收到 「nan」"),
    ({"top_k": 0}, "top-k 须在 1 到词表大小"),
    ({"top_k": -5}, "top-k 须在 1 到词表大小"),
    ({"top_k": 999_999}, "top-k 须在 1 到词表大小"),
    ({"num_candidates": 0}, "候选数量须在 1 到 64 之间，收到 0"),
    ({"num_candidates": 10_000}, "候选数量须在 1 到 64 之间，收到 10000"),
    ({"seed": -1}, "随机种子须是 0 到"),
    ({"line_length": 6}, "每句字数只能是 5（五言）或 7（七言），收到 6"),
]
@pytest.fixture(scope="module")
def generator(tiny_model_dir) -> PoemGenerator:
    return PoemGenerator.load(tiny_model_dir)





# ----- heads and settings: Python API -------------------------------------------------------------


@pytest.mark.parametrize(("heads", "message"), BAD_HEADS)
def test_bad_heads_raise_precise_message(generator, heads, message):
    with pytest.raises(PoetryError) as err:
        generator.generate(Settings(heads=heads))
    assert message in str(err.value)


@pytest.mark.parametrize(("overrides", "message"), BAD_SETTINGS)
def test_bad_settings_raise_precise_message(generator, overrides, message):
    with pytest.raises(PoetryError) as err:
        generator.generate(Settings(heads="春花", **overrides))
    assert message in str(err.value)


def test_top_k_equal_to_vocabulary_is_allowed(generator):
    poems = generator.generate(Settings(heads="春", line_length=5, num_candidates=1, top_k=len(generator.vocab), seed=1))
    assert poems[0].lines[0].startswith("春")


def test_mixed_traditional_and_simplified_heads_are_normalised(generator):
    assert normalise_heads(" 春 風\t秋月 ") == "春风秋月"
    poems = generator.generate(Settings(heads="春風秋月", line_length=5, num_candidates=2, seed=3))
    for poem in poems:
        assert [line[0] for line in poem.lines] == list("春风秋月")
        assert all(len(line) == 5 for line in poem.lines)


def test_out_of_vocabulary_heads_are_still_honoured(generator):
    assert "龘" not in generator.vocab
    poems = generator.generate(Settings(heads="龘春", line_length=7, num_candidates=3, seed=5))
    for poem in poems:
        assert poem.unknown_heads == ["龘"]
        assert poem.lines[0][0] == "龘" and poem.lines[1][0] == "春"
        assert poem.text.endswith("。")


# ----- heads and settings: CLI ------------------------------------------------------------------


@pytest.mark.parametrize(("heads", "message"), BAD_HEADS)
def test_cli_bad_heads_in_process(tiny_model_dir, capsys, heads, message):
    code, err = run_cli_in_process(cli_generate_args(tiny_model_dir, heads), capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0]


@pytest.mark.parametrize(("overrides", "message"), BAD_SETTINGS)
def test_cli_bad_settings_in_process(tiny_model_dir, capsys, overrides, message):
    code, err = run_cli_in_process(cli_generate_args(tiny_model_dir, **overrides), capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--heads", "春", "--seed", "abc"], "argument --seed: invalid int value: 'abc'"),
        (["generate", "--heads", "春", "--num", "1.5"], "argument --num: invalid int value"),
        (["generate"], "请给出 --heads（藏字）或 --template（模板）之一"),
        (["generate", "--heads", "春", "--template", "＿＿＿＿＿"], "请给出 --heads（藏字）或 --template（模板）之一"),
        (["generate", "--heads", "春", "--tones", "loud"], "argument --tones: invalid choice"),
    ],
)
def test_cli_usage_errors_are_one_line(capsys, argv, message):
    code, err = run_cli_in_process(argv, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv_overrides", "message"),
    [({"heads": "spring"}, BAD_HEADS[2][1]), ({"temperature": 0.0}, BAD_SETTINGS[0][1]), ({"top_k": 999_999}, "top-k")],
    ids=["heads", "temperature", "top_k_vs_vocab"],
)
def test_cli_subprocess_stderr_is_one_line(tiny_model_dir, argv_overrides, message):
    """End to end in a fresh interpreter; every other case is checked in process above."""
    result = run_cli(cli_generate_args(tiny_model_dir, **argv_overrides))
    assert result.returncode == 2 and result.stdout == ""
    assert_one_line_error(result.stderr, message)


NOISY_CLI = """
import ctypes, sys
from poetry_lm.prosody import analysis
from poetry_lm import cli
from poetry_lm.errors import PoetryError
real_analyse = analysis.analyse
def noisy_analyse(text, system):
    # What TensorFlow's C++ logging does on some CPUs: write to file descriptor 2 directly.
    line = b"E0000 00:00:1 util.cc:131] oneDNN supports DT_INT32 only on platforms with AVX-512.\\n"
    ctypes.CDLL(None).write(2, line, len(line))
    if text == "bad":
        raise PoetryError("坏输入")
    return real_analyse(text, system)
analysis.analyse = noisy_analyse
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("text", "code", "stderr"), [("bad", 2, ["error: 坏输入"]), ("床前明月光", 0, [])])
def test_native_stderr_never_reaches_the_user(text, code, stderr):
    """Whatever native code writes to fd 2 during a command, stderr is the CLI's own line or nothing."""
    result = subprocess.run(
        [sys.executable, "-c", NOISY_CLI, "analyse", text], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == code and result.stderr.splitlines() == stderr, result.stderr
    assert code or "床前明月光" in result.stdout


@pytest.mark.slow
def test_tensorflow_verbose_logging_stays_off_stderr(tiny_model_dir):
    """Real TensorFlow with every native log level switched on: the CLI still prints only its own lines."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_MAX_VLOG_LEVEL": "1"}
    for argv, code, stderr in [
        (cli_generate_args(tiny_model_dir, top_k=999_999), 2, 1),
        ([*cli_generate_args(tiny_model_dir), "--seed", "3"], 0, 0),
    ]:
        result = subprocess.run([sys.executable, "-m", "poetry_lm", *argv], cwd=REPO, capture_output=True,
                                text=True, timeout=120, env=env)
        assert result.returncode == code and len(result.stderr.splitlines()) == stderr, result.stderr[-2000:]


def test_bad_heads_are_refused_before_tensorflow_is_imported(tiny_model_dir):
    code = f"""
import sys
from poetry_lm import cli
status = cli.main({cli_generate_args(tiny_model_dir, heads="spring")!r})
assert status == 2, status
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "model loaded before the input was checked"
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_cli_subprocess_usage_error_and_success_are_clean(tiny_model_dir):
    result = run_cli(["generate", "--heads", "春", "--seed", "-x"])
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "argument --seed")
    result = run_cli([*cli_generate_args(tiny_model_dir, "龘春"), "--format", "jsonl", "--seed", "1"])
    assert result.returncode == 0, result.stderr
    poems = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(poems) == 2 and all(p["lines"][0][0] == "龘" for p in poems)
    # The only stderr line is the note about the unknown head, not TensorFlow start-up noise.
    assert result.stderr.splitlines() == ["注意：龘 不在模型词表中，按未知字处理（仍作为藏头）"]



@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("春" * 1_000_000 + "\n", "第 1 行不是规范的绝句或律诗"),
        (b"\xff\xfe\x00poem\n", "语料文件不是 UTF-8 编码"),
        ("床前明月光，疑是地上霜。\n", "第 1 行不是规范的绝句或律诗"),  # half a poem
    ],
    ids=["one_megabyte_line", "invalid_utf8", "half_a_poem"],
)
def test_corpus_files_are_checked_before_training(tiny_corpus, tmp_path, content, message):
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, corpus)
    path = corpus / "train.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(PoetryError, match=message):
        train(corpus, tmp_path / "models" / "x", TINY_MODEL, TrainConfig(epochs=1))
    assert not (tmp_path / "models" / ".runs" / "x").exists()  # refused before a run folder, let alone a batch


def test_bench_json_path_is_checked_first(tiny_model_dir, capsys):
    code, err = run_cli_in_process(["bench", "--quick", "--model", str(tiny_model_dir), "--json", "/nonexistent/dir/x.json"], capsys)
    assert code == 2 and err == ["error: --json 的目录不存在：/nonexistent/dir"]


def test_analyse_names_direction_marks_by_code_point(capsys):
    code, err = run_cli_in_process(["analyse", "床前明月光\u202e，疑是地上霜。"], capsys)
    assert code == 2 and err == ["error: 诗中只能有汉字和标点，请去掉：U+202E"]


def test_refused_existing_out_dir_creates_nothing_beside_it(tiny_corpus, tmp_path):
    existing = tmp_path / "parent" / "taken"
    existing.mkdir(parents=True)
    with pytest.raises(PoetryError, match="已存在"):
        train(tiny_corpus, existing, TINY_MODEL, TrainConfig(epochs=1))
    assert sorted(p.name for p in (tmp_path / "parent").iterdir()) == ["taken"]  # no .runs/ or lock file


# ----- round three: every input that once gave a traceback or more than one line ------------------

NOT_UTF8 = b"\xff\xfe".decode("utf-8", "surrogateescape")  # what a shell hands Python for bytes that are not UTF-8


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--heads", "春风", "--position", "²"], "藏字位置只能是 head/tail/rising/falling 或 1 到 7 的数字，收到 「²」"),
        (["generate", "--heads", "春风", "--position", "①"], "收到 「①」"),
        (["generate", "--template", f"春风{NOT_UTF8}＿＿"], "参数 --template 不是有效的 UTF-8 文本"),
        (["generate", "--heads", "春风", "--theme", f"a{NOT_UTF8}b"], "参数 --theme 不是有效的 UTF-8 文本"),
        (["analyse", f"{NOT_UTF8}床前明月光"], "参数 poem 不是有效的 UTF-8 文本"),
        (["generate", "--heads", "春风", "--image", "/proc"], "图片目录不可写：/proc"),
        (["evaluate", "--max-order", "40"], "n-gram 基线的最高阶数须在 2 到 10 之间，收到 40"),
        (["evaluate", "--max-order", "1"], "n-gram 基线的最高阶数须在 2 到 10 之间，收到 1"),
        (["generate", "--heads", "春", "--theme", "abc\ndef"], "主题「abc\\ndef」里没有可用的汉字"),
        (["generate", "--heads", "春", "--model", "x\ny"], "找不到模型目录：x\\ny"),
        (["alternatives", "床前明月光，疑是地上霜", "--line", "1", "--char", "2", "--top", "0"], "候选字数须在 1 到 131,072（词表的上限）之间，收到 「0」"),
        (["alternatives", "床前明月光，疑是地上霜", "--line", "1", "--char", "2", "--top", "-1"], "收到 「-1」"),
        (["alternatives", "床前明月光，疑是地上霜", "--line", "1", "--char", "2", "--top", str(10**12)], "候选字数须在 1 到 131,072"),
        (["alternatives", "床前明月光，疑是地上霜", "--line", "3", "--char", "2"], "没有第 3 句第 2 字"),
        (["generate", "--template", "＿＿＿＿＿，" * 17], "模板有 17 句：最多 16 句"),
        (["generate", "--template", "＿" * 7000], "模板太长（7,000 个字符）"),
        (["analyse", "床前明月光，" * 700], "分析最多接受 4,000 个"),
        (["analyse", "床前明月光，" * 201], "这首诗有 201 句：分析最多接受 200 句"),
    ],
    ids=["superscript_two", "circled_one", "template_not_utf8", "theme_not_utf8", "poem_not_utf8", "image_proc",
         "max_order_40", "max_order_1", "theme_newline", "model_newline", "top_0", "top_negative", "top_huge",
         "no_such_cell", "template_17_lines", "template_7000_chars", "analyse_4200_chars", "analyse_201_lines"],
)
def test_cli_refuses_with_one_line_before_any_work(capsys, argv, message):
    """Each was a traceback, two lines or minutes of work; now one `error:` line, before a model is loaded."""
    started = time.perf_counter()
    code, err = run_cli_in_process(argv, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert time.perf_counter() - started < 30  # a hang guard: these used to run for minutes


def test_the_image_folder_is_refused_before_the_model_loads(tiny_model_dir):
    code = f"""
import sys
from poetry_lm import cli
status = cli.main({[*cli_generate_args(tiny_model_dir), "--image", "/proc"]!r})
assert status == 2, status
assert "tensorflow" not in sys.modules, "the model loaded before the image folder was checked"
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr.startswith("error: 图片目录不可写：/proc")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"num_candidates": 2.0}, "候选数量须是整数，收到 「2.0」"),
        ({"seed": 1.5}, "随机种子须是整数，收到 「1.5」"),
        ({"search": 2.0}, "每首候选的抽样次数须是整数"),
        ({"top_k": 3.0}, "top-k须是整数"),
        ({"temperature": "1"}, "温度须是有限的数，收到 「'1'」"),
        ({"prosody": None}, "prosody 须是 ProsodyOptions，收到 「None」"),
        ({"theme": 5}, "theme 须是文字"),
        ({"position": 2.5}, "藏字位置只能是"),
        ({"line_length": True}, "每句字数须是整数"),
    ],
)
def test_api_settings_of_the_wrong_kind_raise_poetry_error(generator, overrides, message):
    with pytest.raises(PoetryError) as err:
        generator.generate(Settings(heads="春花", **overrides))
    assert message in str(err.value)


def test_api_settings_accept_numpy_numbers(generator):
    import numpy as np

    poems = generator.generate(Settings("春花", 5, num_candidates=np.int64(1), seed=np.int64(3), temperature=np.float32(0.9)))
    assert [line[0] for line in poems[0].lines[:2]] == ["春", "花"] and len(poems[0].lines) == 4  # a whole 绝句


def test_api_alternatives_bounds(generator):
    from poetry_lm.compose.generate import alternatives

    for top in (0, -1, 10**12, 2.5):
        with pytest.raises(PoetryError, match="候选字数须在 1 到 131,072"):
            alternatives(generator, ["春风吹落花", "明月照高楼"], 0, 1, top=top)


def test_dangling_link_as_out_is_refused_before_training(tiny_corpus, tmp_path):
    out = tmp_path / "models" / "linked"
    out.parent.mkdir()
    out.symlink_to(tmp_path / "nowhere")
    with pytest.raises(PoetryError, match="是一个指向不存在位置的链接"):
        train(tiny_corpus, out, TINY_MODEL, TrainConfig(epochs=1))
    assert sorted(p.name for p in out.parent.iterdir()) == ["linked"]


def test_init_from_a_config_beyond_the_bounds_is_refused_and_leaves_no_run(tiny_corpus, tiny_model_dir, tmp_path, capsys):
    source = tmp_path / "huge"
    shutil.copytree(tiny_model_dir, source)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config["model"]["units"] = 10**6
    (source / "config.json").write_text(json.dumps(config), encoding="utf-8")
    models = tmp_path / "models"
    code, err = run_cli_in_process(["train", "--corpus", str(tiny_corpus), "--out", str(models / "ft"),
                                    "--init-from", str(source), "--epochs", "1"], capsys)
    assert code == 2 and len(err) == 1 and "配置文件中的 units 应为 1 到 8,192 的整数，收到 1000000" in err[0]
    assert not (models / ".runs" / "ft").exists() and not (models / "ft").exists()


def test_every_prosody_data_command_names_a_builder_that_exists():
    """The corpus-based data builds are one table in the CLI: each command reaches a real function (nothing is run)."""
    import importlib

    from poetry_lm.cli import build_parser

    for command, builder in [("build-rhymes", "build_rhyme_table"), ("build-related", "build_related"),
                             ("build-themes", "build_theme_lexicons"), ("build-stock-words", "build_stock_words")]:
        args = build_parser().parse_args(["prosody", command, "--corpus", "somewhere"])
        module, function = args.run.args[0].split(":")
        assert function == builder and callable(getattr(importlib.import_module(module), function))
        assert args.corpus == "somewhere"
