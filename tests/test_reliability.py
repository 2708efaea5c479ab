"""Bad input, faults and concurrency: every case gets a precise PoetryError, never a traceback.

The same cases run through the Python API, `cli.main` in-process, and (slow) the real CLI in a
subprocess, where stderr must be exactly one `error:` line and the exit code 2.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from poetry_lm import cli
from poetry_lm.config import TrainConfig
from poetry_lm.corpus import MAX_UPLOAD_BYTES, parse_uploaded_corpus
from poetry_lm.errors import PoetryError
from poetry_lm.generate import PoemGenerator, Settings, normalise_heads
from poetry_lm.model import load_model_dir
from poetry_lm.runs import attempts, check_run_name, is_training_running, read_events, training_lock
from poetry_lm.train import train
from tests.conftest import TINY_MODEL

REPO = Path(__file__).resolve().parent.parent
TINY_ARGS = ["--units", "32", "--embedding-dim", "16", "--layers", "2", "--dropout", "0"]

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
    ({"temperature": float("nan")}, "温度须在 0.05 到 5.0 之间，收到 nan"),
    ({"top_k": 0}, "top-k 须在 1 到词表大小"),
    ({"top_k": -5}, "top-k 须在 1 到词表大小"),
    ({"top_k": 999_999}, "top-k 须在 1 到词表大小"),
    ({"num_candidates": 0}, "候选数量须在 1 到 64 之间，收到 0"),
    ({"num_candidates": 10_000}, "候选数量须在 1 到 64 之间，收到 10000"),
    ({"seed": -1}, "随机种子须是 0 到"),
    ({"line_length": 6}, "每句字数只能是 5（五言）或 7（七言），收到 6"),
]
CLI_FLAGS = {"temperature": "--temperature", "top_k": "--top-k", "num_candidates": "--num", "seed": "--seed",
             "line_length": "--chars"}


@pytest.fixture(scope="module")
def generator(tiny_model_dir) -> PoemGenerator:
    return PoemGenerator.load(tiny_model_dir)


def cli_generate_args(model_dir: Path, heads: str = "春花", **overrides) -> list[str]:
    args = ["generate", "--heads", heads, "--model", str(model_dir), "--num", "2", "--chars", "5"]
    for key, value in overrides.items():
        args += [CLI_FLAGS[key], str(value)]
    return args


def run_cli_in_process(argv: list[str], capsys) -> tuple[int, list[str]]:
    """Exit code and stderr lines of `python -m poetry_lm argv`, run in this process."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    return code, capsys.readouterr().err.splitlines()


def run_cli(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI in a fresh interpreter (TensorFlow start-up included)."""
    return subprocess.run(
        [sys.executable, "-m", "poetry_lm", *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def assert_one_line_error(stderr: str, fragment: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], stderr


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
from poetry_lm import analysis, cli
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


# ----- uploaded corpus --------------------------------------------------------------------------

GOOD_LINES = ["白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。".encode("gbk"), "文件不是 UTF-8 编码（第 0 字节出错）"),
        (bytes(range(1, 256)) * 4, "文件不是 UTF-8 编码"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "文件看起来是二进制文件"),
        ("\n".join(GOOD_LINES).encode("utf-16"), "文件看起来是二进制文件"),
        (b"", "文件是空的"),
        (b"\n \r\n\t\n", "文件是空的"),
        ("hello world\n今天天气很好\n春眠不觉晓\n".encode(), "文件中 3 行都不是符合格律的五言/七言绝句或律诗"),
        (b"x" * (MAX_UPLOAD_BYTES + 1), "上限为 20 MB"),
    ],
    ids=["gbk", "not-utf8", "png", "utf16", "empty", "blank", "no-poems", "huge"],
)
def test_bad_uploads_raise_precise_message(data, message):
    with pytest.raises(PoetryError) as err:
        parse_uploaded_corpus(data)
    assert message in str(err.value)


def test_upload_reports_kept_and_dropped_counts():
    lines = [*GOOD_LINES, GOOD_LINES[0], "这不是诗", "春眠不觉晓，处处闻啼鸟。", "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。"]
    poems, stats = parse_uploaded_corpus(("\ufeff" + "\n".join(lines)).encode("utf-8"))
    assert poems[-1] == "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    assert (stats.read, stats.kept, stats.duplicates, sum(stats.dropped.values())) == (6, 3, 1, 2)


def test_upload_counts_every_line_and_names_the_right_reason():
    data = "\n".join([GOOD_LINES[0], "hello world", "", GOOD_LINES[1], "  ", "hello world。"]).encode()
    poems, stats = parse_uploaded_corpus(data)
    assert len(poems) == 2 and stats.read == 6  # a 6-line file is 6 lines read, blank ones included
    assert stats.dropped == {"non_han": 2, "empty": 2}  # not "no final punctuation"


def test_upload_size_limit_is_a_parameter():
    with pytest.raises(PoetryError, match="文件太大"):
        parse_uploaded_corpus("\n".join(GOOD_LINES).encode(), max_bytes=10)


# ----- models -----------------------------------------------------------------------------------


def _break_model_file(model_dir: Path) -> None:
    (model_dir / "model.keras").unlink()


def _truncate(model_dir: Path) -> None:
    path = model_dir / "model.keras"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _random_bytes(model_dir: Path) -> None:
    (model_dir / "model.keras").write_bytes(os.urandom(4096))


def _foreign_zip(model_dir: Path) -> None:
    with zipfile.ZipFile(model_dir / "model.keras", "w") as archive:
        archive.writestr("hello.txt", "not a keras model")


def _short_vocab(model_dir: Path) -> None:
    tokens = json.loads((model_dir / "vocab.json").read_text(encoding="utf-8"))
    (model_dir / "vocab.json").write_text(json.dumps(tokens[:-3], ensure_ascii=False), encoding="utf-8")


def _newer_config(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    (model_dir / "config.json").write_text(json.dumps({**config, "version": 99}), encoding="utf-8")


def _garbled_vocab(model_dir: Path) -> None:
    (model_dir / "vocab.json").write_bytes(b"\xff\xfe[broken")


def _config_version_string(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    (model_dir / "config.json").write_text(json.dumps({**config, "version": "2"}), encoding="utf-8")


def _config_version_null(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    (model_dir / "config.json").write_text(json.dumps({**config, "version": None}), encoding="utf-8")


def _config_is_a_directory(model_dir: Path) -> None:
    (model_dir / "config.json").unlink()
    (model_dir / "config.json").mkdir()


def _vocab_symlink_loop(model_dir: Path) -> None:
    (model_dir / "vocab.json").unlink()
    (model_dir / "vocab.json").symlink_to(model_dir / "vocab.json")


def _same_model_with(model_dir: Path, build) -> None:
    """Replace model.keras by another network over the same vocabulary size (built by `build(vocab_size, inputs)`)."""
    import keras

    vocab_size = len(json.loads((model_dir / "vocab.json").read_text(encoding="utf-8")))
    inputs = keras.Input(shape=(None,), dtype="int32")
    keras.Model(inputs, build(vocab_size, inputs)).save(model_dir / "model.keras")


def _gru_model(model_dir: Path) -> None:
    import keras

    _same_model_with(model_dir, lambda v, x: keras.layers.TimeDistributed(keras.layers.Dense(v), name="next_char_dist")(
        keras.layers.GRU(8, return_sequences=True)(keras.layers.Embedding(v, 4, name="embedding")(x))))


def _no_embedding_layer(model_dir: Path) -> None:
    import keras

    _same_model_with(model_dir, lambda v, x: keras.layers.TimeDistributed(keras.layers.Dense(v), name="next_char_dist")(
        keras.layers.LSTM(8, return_sequences=True)(keras.layers.Embedding(v, 4, name="emb")(x))))


def _small_embedding(model_dir: Path) -> None:
    import keras

    _same_model_with(model_dir, lambda v, x: keras.layers.TimeDistributed(keras.layers.Dense(v), name="next_char_dist")(
        keras.layers.LSTM(8, return_sequences=True)(keras.layers.Embedding(v - 2, 4, name="embedding")(x))))


def _vocab_without_comma(model_dir: Path) -> None:
    tokens = json.loads((model_dir / "vocab.json").read_text(encoding="utf-8"))
    tokens[tokens.index("，")] = "㐀"  # same size, no comma
    (model_dir / "vocab.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")


def _zip_bomb_config(model_dir: Path) -> None:
    path = model_dir / "model.keras"
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries["config.json"] = b" " * (64 * 2**20) + entries["config.json"]  # 64 MB of spaces: ~60 kB compressed
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def _unsafe_lambda_model(model_dir: Path) -> None:
    """A .keras archive with a Lambda layer: arbitrary code that safe_mode must refuse."""
    import keras

    inputs = keras.Input(shape=(3,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    keras.Model(inputs, outputs).save(model_dir / "model.keras")


BROKEN_MODELS = [
    (_break_model_file, "找不到模型文件：{dir}/model.keras"),
    (_truncate, "模型文件已损坏（不是有效的 .keras 压缩包）：{dir}/model.keras"),
    (_random_bytes, "模型文件已损坏（不是有效的 .keras 压缩包）：{dir}/model.keras"),
    (_foreign_zip, "无法读取模型文件 {dir}/model.keras"),
    (_unsafe_lambda_model, "无法读取模型文件 {dir}/model.keras"),
    (_short_vocab, "{dir}/vocab.json 有"),
    (_newer_config, "{dir}/config.json 来自更新的版本（99 > 1）"),
    (_garbled_vocab, "词表文件已损坏：{dir}/vocab.json"),
    (_config_version_string, "配置文件的 version 应为非负整数，收到 '2'"),
    (_config_version_null, "配置文件的 version 应为非负整数，收到 None"),
    (_config_is_a_directory, "无法读取配置文件：{dir}/config.json"),
    (_vocab_symlink_loop, "无法读取词表文件：{dir}/vocab.json"),
    (_gru_model, "不是本工具能用的模型：循环层应为 LSTM"),
    (_no_embedding_layer, "不是本工具能用的模型：No such layer: embedding"),
    (_small_embedding, "不是本工具能用的模型：embedding 层应有"),
    (_vocab_without_comma, "不是本工具能用的模型：词表缺少标点 ，"),
    (_zip_bomb_config, "模型文件中的 config.json 解压后有"),
]


@pytest.mark.parametrize(("breaker", "message"), BROKEN_MODELS, ids=[b.__name__.strip("_") for b, _ in BROKEN_MODELS])
def test_broken_model_dirs_name_the_file(tiny_model_dir, tmp_path, breaker, message, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    breaker(broken)
    expected = message.format(dir=broken)
    with pytest.raises(PoetryError) as err:
        load_model_dir(broken)
    assert expected in str(err.value)
    code, stderr = run_cli_in_process(cli_generate_args(broken), capsys)
    assert code == 2 and len(stderr) == 1 and expected in stderr[0]
    # Other models stay usable in the same process.
    assert load_model_dir(tiny_model_dir).vocab is not None
    assert PoemGenerator.load(tiny_model_dir, warm_up=False).generate(Settings("春", 5, 1, seed=0))


def test_missing_model_dir(tmp_path):
    with pytest.raises(PoetryError, match="找不到模型目录"):
        load_model_dir(tmp_path / "nowhere")


@pytest.mark.slow
def test_cli_subprocess_corrupt_model(tiny_model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    _truncate(broken)
    result = run_cli(cli_generate_args(broken))
    assert result.returncode == 2
    assert_one_line_error(result.stderr, f"模型文件已损坏（不是有效的 .keras 压缩包）：{broken}/model.keras")


# ----- run names, training settings, unwritable or full disk ------------------------------------


@pytest.mark.parametrize("name", ["", "..", "../evil", "a/b", "/etc", ".hidden", "-rf", "名 字", "x" * 65, "a\x00b"])
def test_path_like_run_names_are_rejected(name):
    with pytest.raises(PoetryError, match="模型名称只能包含"):
        check_run_name(name)


@pytest.mark.parametrize("name", ["tang7", "古风_v2", "my-model", "唐诗-v2_small"])
def test_plain_run_names_are_accepted(name):
    assert check_run_name(name) == name


@pytest.mark.parametrize(
    ("config", "model", "message"),
    [
        (TrainConfig(epochs=0), {}, "训练参数 epochs 须是 1 到 10,000 之间的整数，收到 0"),
        (TrainConfig(batch_size=-8), {}, "训练参数 batch_size 须是 1 到 65,536 之间的整数"),
        (TrainConfig(batch_size=99999999999999999999), {}, "训练参数 batch_size 须是 1 到 65,536 之间的整数"),
        (TrainConfig(), {"units": 0}, "训练参数 units 须是 1 到 8,192 之间的整数"),
        (TrainConfig(min_count=1_000_000), {}, "min_count 1000000 太大"),
        (TrainConfig(learning_rate=0.0), {}, "学习率须在 0 到 1 之间"),
        (TrainConfig(), {"dropout": 1.0}, "dropout 须在 0 到 1 之间"),
    ],
)
def test_impossible_training_settings_are_refused(tiny_corpus, tmp_path, config, model, message):
    with pytest.raises(PoetryError) as err:
        train(tiny_corpus, tmp_path / "models" / "bad", model, config)
    assert message in str(err.value)
    assert not (tmp_path / "models" / "bad").exists()


def test_unwritable_models_dir_fails_early(tiny_corpus, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("models/ cannot live under a file")
    with pytest.raises(PoetryError, match=f"模型目录不可写.*：{blocker}/models"):
        train(tiny_corpus, blocker / "models" / "run1", {}, TrainConfig())
    code, err = run_cli_in_process(["train", "--corpus", str(tiny_corpus), "--out", str(blocker / "models" / "x")], capsys)
    assert code == 2 and len(err) == 1 and "模型目录不可写" in err[0]


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_disk_full_while_saving_is_a_clear_error(tiny_corpus, tiny_model_dir, tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models / "default")
    before = _tree_digest(models / "default")

    def disk_full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr("poetry_lm.train.save_model_dir", disk_full)
    with pytest.raises(PoetryError, match="磁盘空间已满") as err:
        train(tiny_corpus, models / "full", {"units": 8, "embedding_dim": 8, "layers": 1, "dropout": 0.0},
              TrainConfig(epochs=1, batch_size=64, max_poems=64))
    assert "已有模型未受影响" in str(err.value)
    assert sorted(p.name for p in models.iterdir()) == [".runs", "default"]  # no half-written "full"
    assert _tree_digest(models / "default") == before
    assert not is_training_running(models)  # the lock went with the failed run


# ----- concurrency ------------------------------------------------------------------------------


def test_second_training_start_is_refused_while_one_runs(tiny_corpus, tmp_path):
    models = tmp_path / "models"
    with training_lock(models):
        assert is_training_running(models)
        with pytest.raises(PoetryError, match="已有一个训练任务在运行"):
            train(tiny_corpus, models / "second", {}, TrainConfig(epochs=1))
    assert not is_training_running(models)
    assert not (models / "second").exists()


def _train_argv(corpus: Path, out: Path, epochs: int, batch_size: int = 8) -> list[str]:
    return ["train", "--corpus", str(corpus), "--out", str(out), "--epochs", str(epochs), *TINY_ARGS,
            "--batch-size", str(batch_size), "--backup-every", "2", "--log-every", "1"]


def _popen_cli(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "poetry_lm", *argv], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_simultaneous_cli_trainings_exactly_one_runs(tiny_corpus, tmp_path):
    models = tmp_path / "models"
    runs = [_popen_cli(_train_argv(tiny_corpus, models / name, epochs=1, batch_size=32)) for name in ("a", "b")]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    assert_one_line_error(refused, "已有一个训练任务在运行")
    assert [p.name for p in models.iterdir() if not p.name.startswith(".")] in (["a"], ["b"])


# ----- SIGKILL and resume -----------------------------------------------------------------------


def _attempts(progress: Path) -> list[list[dict]]:
    return attempts(read_events(progress))


def _cli_run(corpus: Path, tmp_path: Path, name: str, epochs: int) -> tuple[Path, Path, Path, list[str]]:
    """(models folder, model folder, progress log, train argv) of a CLI run named `name`."""
    models = tmp_path / "models"
    return models, models / name, models / ".runs" / name / "progress.jsonl", _train_argv(corpus, models / name, epochs)


def _kill_when(process: subprocess.Popen, progress: Path, attempt: int, reached) -> None:
    """SIGKILL `process` as soon as attempt number `attempt` has logged an event for which `reached` is true."""
    deadline = time.time() + 240
    while time.time() < deadline:
        runs = _attempts(progress)
        if len(runs) > attempt and any(reached(e) for e in runs[attempt]):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.kill()
    raise AssertionError("training never reached the kill point")


def _batch(epoch: int, batch: int):
    return lambda e: e["event"] == "batch" and e["epoch"] == epoch and e["batch"] >= batch


@pytest.mark.slow
def test_sigkill_twice_mid_epoch_resumes_from_saved_epoch(tiny_corpus, tmp_path):
    models, out, progress, argv = _cli_run(tiny_corpus, tmp_path, "resumed", epochs=3)

    # Kill 1: a few batches into epoch 2 (backups every 2 batches exist by then).
    _kill_when(_popen_cli(argv), progress, 0, _batch(2, 6))
    assert not out.exists()
    assert not is_training_running(models)  # the kernel dropped the dead run's lock
    # Kill 2: a few batches into the resumed epoch; Keras's own callback would then restart at epoch 1.
    _kill_when(_popen_cli(argv), progress, 1, _batch(2, 6))
    assert not out.exists()

    result = run_cli(argv, timeout=300)
    assert result.returncode == 0, result.stderr
    attempts = _attempts(progress)
    assert len(attempts) == 3
    for resumed in attempts[1:]:
        first_batch = next(e for e in resumed if e["event"] == "batch")
        assert first_batch["epoch"] == 2, "a resumed attempt restarted from scratch"
    finished_epochs = sorted({e["epoch"] for e in read_events(progress) if e["event"] == "epoch"})
    assert finished_epochs == [1, 2, 3]
    assert attempts[-1][-1]["event"] == "done"

    # The same kind of model as an uninterrupted run: loadable, same shape, writes poems.
    model_dir = load_model_dir(out)
    assert (model_dir.info.model.units, model_dir.info.model.layers) == (32, 2)
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["epochs_run"] == 3
    poem = PoemGenerator(model_dir).generate(Settings("春山", 5, 1, seed=0))[0]
    assert [line[0] for line in poem.lines] == ["春", "山"]
    assert sorted(p.name for p in models.iterdir()) == [".runs", "resumed"]


@pytest.mark.slow
def test_sigkill_at_an_epoch_boundary_counts_every_epoch_once(tiny_corpus, tmp_path):
    """Killed the moment epoch 1 is logged (its checkpoint and backup may be half written)."""
    models, out, progress, argv = _cli_run(tiny_corpus, tmp_path, "boundary", epochs=2)
    _kill_when(_popen_cli(argv), progress, 0, lambda e: e["event"] == "epoch")

    result = run_cli(argv, timeout=300)
    assert result.returncode == 0, result.stderr
    history = (out / "history.csv").read_text(encoding="utf-8").splitlines()
    assert [row.split(",")[0] for row in history] == ["epoch", "1", "2"]
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["epochs_run"] == 2
    assert not [p.name for p in (models / ".runs" / "boundary").iterdir() if p.suffix == ".keras"]


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
