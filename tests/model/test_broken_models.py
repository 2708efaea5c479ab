"""Damaged, foreign or hostile model folders: refused with a message that names the file, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import threading
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
    """Replace model.keras by another network of config.json's sizes, built by `build(shape, inputs)` with
    shape = (vocab_size, embedding_dim, units)."""
    import keras

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["model"]
    shape = (config["vocab_size"], config["embedding_dim"], config["units"])
    inputs = keras.Input(shape=(None,), dtype="int32")
    keras.Model(inputs, build(shape, inputs)).save(model_dir / "model.keras")


def _two(layer, units: int, lower):
    """Two stacked recurrent layers of `layer`, as config.json's layers = 2 says."""
    return layer(units, return_sequences=True)(layer(units, return_sequences=True)(lower))


def _head(vocab_size: int, lower):
    import keras

    return keras.layers.TimeDistributed(keras.layers.Dense(vocab_size), name="next_char_dist")(lower)


def _gru_model(model_dir: Path) -> None:
    import keras

    _same_model_with(model_dir, lambda s, x: _head(s[0], _two(
        keras.layers.GRU, s[2], keras.layers.Embedding(s[0], s[1], name="embedding")(x))))


def _no_embedding_layer(model_dir: Path) -> None:
    import keras

    _same_model_with(model_dir, lambda s, x: _head(s[0], _two(
        keras.layers.LSTM, s[2], keras.layers.Embedding(s[0], s[1], name="emb")(x))))


def _small_embedding(model_dir: Path) -> None:
    import keras

    _same_model_with(model_dir, lambda s, x: _head(s[0], _two(
        keras.layers.LSTM, s[2], keras.layers.Embedding(s[0] - 2, s[1], name="embedding")(x))))


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


def _rewrite_archive(model_dir: Path, edit_config=None, padding: int = 0) -> None:
    """model.keras with its config.json edited by `edit_config(config)`, or its weights padded with zeros
    (which deflate to almost nothing): what a hostile archive of a few hundred kB declares."""
    path = model_dir / "model.keras"
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    if edit_config:
        config = json.loads(entries["config.json"])
        edit_config(config)
        entries["config.json"] = json.dumps(config).encode()
    entries["model.weights.h5"] += b"\0" * padding
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def _layers(config: dict, class_name: str) -> list[dict]:
    return [layer["config"] for layer in config["config"]["layers"] if layer["class_name"] == class_name]


def _set_model_config(model_dir: Path, **sizes) -> None:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    config["model"].update(sizes)
    (model_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")


def _archive_lstm_6000(model_dir: Path) -> None:
    _rewrite_archive(model_dir, lambda c: _layers(c, "LSTM")[0].update(units=6000))


def _archive_and_config_lstm_6000(model_dir: Path) -> None:
    _rewrite_archive(model_dir, lambda c: [layer.update(units=6000) for layer in _layers(c, "LSTM")])
    _set_model_config(model_dir, units=6000)


def _archive_embedding_400m_rows(model_dir: Path) -> None:
    _rewrite_archive(model_dir, lambda c: _layers(c, "Embedding")[0].update(input_dim=4 * 10**8))


def _config_units_million(model_dir: Path) -> None:
    _set_model_config(model_dir, units=10**6)


def _weights_padded_with_zeros(model_dir: Path) -> None:
    _rewrite_archive(model_dir, padding=8 * 2**20)


def _markup_token_in_vocab(model_dir: Path) -> None:
    tokens = json.loads((model_dir / "vocab.json").read_text(encoding="utf-8"))
    tokens[-1] = "</script><img src=x onerror=alert(1)>"
    (model_dir / "vocab.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")


def _fifo(name: str):
    def make(model_dir: Path) -> None:
        (model_dir / name).unlink()
        os.mkfifo(model_dir / name)

    make.__name__ = f"_fifo_{name.replace('.', '_')}"
    return make


def _config_links_to_dev_zero(model_dir: Path) -> None:
    (model_dir / "config.json").unlink()
    (model_dir / "config.json").symlink_to("/dev/zero")


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
    (_small_embedding, "模型文件与 config.json 不符：vocab_size 为"),
    (_vocab_without_comma, "不是本工具能用的模型：词表缺少标点 ，"),
    (_zip_bomb_config, "模型文件中的 config.json 解压后有"),
    (_archive_lstm_6000, "模型文件与 config.json 不符：units 为 32/6,000，config.json 记为 32"),
    (_archive_and_config_lstm_6000, "个参数，但权重只有"),
    (_archive_embedding_400m_rows, "模型文件声明的 vocab_size = 400,000,000 超出上限"),
    (_config_units_million, "配置文件中的 units 应为 1 到 8,192 的整数，收到 1000000"),
    (_weights_padded_with_zeros, "模型文件中的 model.weights.h5 压缩比异常"),
    (_markup_token_in_vocab, "词表中的符号须是单个字符，发现 1 个不是：'</script><img src=x "),
    (_fifo("config.json"), "无法读取配置文件：{dir}/config.json（是特殊文件（管道或设备），不是普通文件）"),
    (_fifo("vocab.json"), "无法读取词表文件：{dir}/vocab.json（是特殊文件"),
    (_fifo("model.keras"), "无法读取模型文件：{dir}/model.keras（是特殊文件"),
    (_config_links_to_dev_zero, "无法读取配置文件：{dir}/config.json（是特殊文件"),
]


@pytest.mark.parametrize(("breaker", "message"), BROKEN_MODELS, ids=[b.__name__.strip("_") for b, _ in BROKEN_MODELS])
def test_broken_model_dirs_name_the_file(tiny_model_dir, tmp_path, breaker, message, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    breaker(broken)
    expected = message.format(dir=broken)
    assert expected in refusal(load_model_dir, broken)
    code, stderr = run_cli_in_process(cli_generate_args(broken), capsys)
    assert code == 2 and len(stderr) == 1 and expected in stderr[0]
    # Other models stay usable in the same process.
    assert load_model_dir(tiny_model_dir).vocab is not None
    assert PoemGenerator.load(tiny_model_dir, warm_up=False).generate(Settings("春", 5, 1, seed=0))


def refusal(load, path: Path, within_s: float = 60) -> str:
    """The PoetryError message `load(path)` raises. It runs in a thread so that a load that blocks (a FIFO)
    or allocates for minutes fails the test instead of hanging it (a guard, not a benchmark)."""
    outcome: list = []

    def run():
        try:
            load(path)
            outcome.append("loaded")
        except PoetryError as err:
            outcome.append(str(err))
        except BaseException as err:  # noqa: BLE001 - reported below as what it was
            outcome.append(f"{type(err).__name__}: {err}")

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(within_s)
    assert outcome, f"loading {path} did not finish within {within_s} s"
    return outcome[0]


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
