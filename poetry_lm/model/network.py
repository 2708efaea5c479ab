"""The network, its atomic save/load, and a model directory (model.keras + vocab.json + config.json)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras

from poetry_lm.errors import PoetryError
from poetry_lm.files import atomic_path
from poetry_lm.model.archive import check_model_file
from poetry_lm.model.config import CONFIG_FILE, MODEL_FILE, VOCAB_FILE, ModelConfig, RunInfo
from poetry_lm.text.vocab import PUNCTUATION, Vocabulary


def build_model(config: ModelConfig) -> keras.Model:
    """Embedding → stacked LSTM (return_sequences) → TimeDistributed(Dense(vocab, softmax)).

    Pad id 0 is masked, so the loss only counts real tokens. The LSTMs keep the defaults
    (tanh/sigmoid, no recurrent_dropout) that make them eligible for the fused cuDNN kernel.
    The "couplet" kind reads a whole 上联, so each LSTM is bidirectional: the 下联 character at a position
    answers the 上联 around it, before and after.
    """
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(config.vocab_size, config.embedding_dim, mask_zero=True, name="embedding")(inputs)
    for i in range(config.layers):
        lstm = keras.layers.LSTM(config.units, return_sequences=True, name=f"lstm_{i}")
        x = (keras.layers.Bidirectional(lstm, name=f"bilstm_{i}") if config.kind == "couplet" else lstm)(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    # float32 softmax even under a mixed-precision policy, for a stable loss.
    dense = keras.layers.Dense(config.vocab_size, activation="softmax", dtype="float32", name="next_char")
    outputs = keras.layers.TimeDistributed(dense, name="next_char_dist")(x)
    return keras.Model(inputs, outputs, name="couplet_bilstm" if config.kind == "couplet" else "poetry_lstm")


def save_model_atomic(model: keras.Model, path: Path) -> None:
    """Save a `.keras` file so that a crash mid-save never leaves a broken file at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".keras") as tmp:  # Keras insists on the .keras suffix
        model.save(tmp)


def check_architecture(model: keras.Model, vocab: Vocabulary, path: Path, kind: str = "poem") -> None:
    """The decoder needs Embedding → LSTMs → TimeDistributed(Dense) over this vocabulary (bidirectional LSTMs
    for the "couplet" kind); say so if not."""
    layers = {type(layer).__name__ for layer in model.layers}
    problems = []
    try:
        embedding = model.get_layer("embedding")
        if not isinstance(embedding, keras.layers.Embedding) or embedding.input_dim != len(vocab):
            problems.append(f"embedding 层应有 {len(vocab)} 行")
        output = model.get_layer("next_char_dist")
        if not isinstance(output, keras.layers.TimeDistributed) or not isinstance(output.layer, keras.layers.Dense):
            problems.append("输出层应为 TimeDistributed(Dense)")
    except ValueError as err:
        problems.append(str(err)[:80])
    wrapped = {type(layer.forward_layer).__name__ for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)}
    if kind == "couplet" and (wrapped != {"LSTM"} or "LSTM" in layers):
        problems.append("循环层应为双向 LSTM（对联模型）")
    elif kind == "poem" and ("LSTM" not in layers or layers & {"GRU", "SimpleRNN", "Bidirectional"}):
        problems.append("循环层应为 LSTM")
    missing = [mark for mark in PUNCTUATION if mark not in vocab]
    if missing:
        problems.append(f"词表缺少标点 {''.join(missing)}")
    if problems:
        raise PoetryError(f"{path} 不是本工具能用的模型：{'；'.join(problems)}")


def load_keras_file(path: Path, expected: ModelConfig | None = None) -> keras.Model:
    """Open a `.keras` file with safe_mode on; corrupt, missing, special or hostile files raise PoetryError
    naming the file. The archive's declared shape is checked first (against `expected` when given)."""
    path = Path(path)
    check_model_file(path, expected)
    try:
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # keras raises many types for a bad archive
        raise PoetryError(f"无法读取模型文件 {path}：{type(err).__name__}: {str(err)[:200]}") from None


@dataclass
class ModelDir:
    """A trained model as stored on disk, loaded and cross-checked."""

    path: Path
    model: keras.Model
    vocab: Vocabulary
    info: RunInfo

    @property
    def name(self) -> str:
        return self.path.name


def load_model_dir(path: Path) -> ModelDir:
    """Load model.keras, vocab.json and config.json from `path` and check they agree."""
    path = Path(path)
    if not path.is_dir():
        raise PoetryError(f"找不到模型目录：{path}")
    info = RunInfo.from_json(path / CONFIG_FILE)
    vocab = Vocabulary.from_json(path / VOCAB_FILE)
    model = load_keras_file(path / MODEL_FILE, expected=info.model)
    output_size = model.output_shape[-1]
    if output_size != len(vocab) or info.model.vocab_size != len(vocab):
        raise PoetryError(
            f"{path / VOCAB_FILE} 有 {len(vocab)} 个符号，但模型输出 {output_size} 类"
            f"（config.json 记为 {info.model.vocab_size}）：词表与模型不匹配"
        )
    check_architecture(model, vocab, path, info.model.kind)
    return ModelDir(path=path, model=model, vocab=vocab, info=info)


def save_model_dir(path: Path, model: keras.Model, vocab: Vocabulary, info: RunInfo) -> None:
    """Write the three files of a model directory (the caller renames the directory into place)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_model_atomic(model, path / MODEL_FILE)
    vocab.to_json(path / VOCAB_FILE)
    info.to_json(path / CONFIG_FILE)


def lstm_weights(model: keras.Model) -> tuple[list, list[tuple], tuple]:
    """(embedding matrix, [(kernel, recurrent_kernel, bias) per LSTM], (dense kernel, bias)).

    The decoder runs the same math step by step with these tensors (gate order i, f, c, o).
    """
    embedding = model.get_layer("embedding").embeddings
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    cells = [(layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias) for layer in lstms]
    dense = model.get_layer("next_char_dist").layer
    return embedding, cells, (dense.kernel, dense.bias)
