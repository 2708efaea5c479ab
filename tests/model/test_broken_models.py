"""Damaged, foreign or hostile model folders: refused with a message that names the file, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from poetry_lm.compose.generate import PoemGenerator, Settings
from poetry_lm.errors import PoetryError
from poetry_lm.model.network import load_model_dir
from tests.conftest import assert_one_line_error, cli_generate_args, run_cli, run_cli_in_process

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
