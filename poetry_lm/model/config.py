"""Model and training configuration as plain data, saved with the model as config.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.files import read_json_file, write_atomic

CONFIG_VERSION = 1
# A model directory: the network, its vocabulary and this configuration.
MODEL_FILE, VOCAB_FILE, CONFIG_FILE = "model.keras", "vocab.json", "config.json"


# Upper bounds of a network's sizes, far above any sensible model: a config or archive beyond them is
# refused before anything is built (the trainer uses the same bounds for its settings).
SHAPE_LIMITS = {"vocab_size": 2**17, "embedding_dim": 8_192, "units": 8_192, "layers": 16}
# What a network does: "poem" predicts the next character of a poem (the language model); "couplet" reads a
# 上联 and predicts the 下联 character at each position (an aligned bidirectional model).
MODEL_KINDS = ("poem", "couplet")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network: Embedding → `layers` × LSTM(`units`) → TimeDistributed(Dense); for the
    "couplet" kind each LSTM is bidirectional (`MODEL_KINDS`)."""

    vocab_size: int
    embedding_dim: int = 128
    units: int = 256
    layers: int = 2
    dropout: float = 0.2
    kind: str = "poem"


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained; all of it is recorded in config.json."""

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 2e-3
    min_count: int = 1
    seed: int = 0
    max_poems: int | None = None  # cap on training poems (tiny runs, tests)
    backup_every_batches: int = 200  # resumable-state save interval
    log_every_batches: int = 10
    sample_heads: tuple[str, ...] = ("春花秋月", "山水")
    mixed_precision: bool | None = None  # bfloat16 compute; None: on where the CPU does bf16 in hardware
    init_from: str | None = None  # model directory whose weights start this run (warm start)
    # Train only on these poems of the corpus (catalogue.PoemFilter); empty: all of it.
    poets: tuple[str, ...] = ()
    dynasties: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    # Also learn the corpus's 词 (`<corpus>/ci/`), each as its tune, 。, then the 词 (text.ci.lm_text).
    with_ci: bool = False


@dataclass
class RunInfo:
    """Everything config.json holds: both configs plus token strings and provenance."""

    model: ModelConfig
    train: TrainConfig
    tokens: dict[str, str] = field(default_factory=dict)
    corpus_hash: str = ""
    corpus_dir: str = ""
    train_time_s: float = 0.0
    backend: str = ""
    version: int = CONFIG_VERSION

    def to_json(self, path: Path) -> None:
        write_atomic(Path(path), json.dumps(asdict(self), ensure_ascii=False, indent=2))

    @classmethod
    def from_json(cls, path: Path) -> RunInfo:
        data = read_json_file(path, "配置文件")
        if not isinstance(data, dict):
            raise PoetryError(f"配置文件格式不对（应为 JSON 对象）：{path}")
        version = data.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise PoetryError(f"配置文件的 version 应为非负整数，收到 {version!r}：{path}")
        if version > CONFIG_VERSION:
            raise PoetryError(f"{path} 来自更新的版本（{version} > {CONFIG_VERSION}），请升级 poetry_lm")
        try:
            model = ModelConfig(**_known(ModelConfig, data["model"]))
            check_model_config(model, path)
            train_fields = _known(TrainConfig, data.get("train", {}))
            for name in ("sample_heads", "poets", "dynasties", "forms"):  # JSON lists back to tuples
                if name in train_fields:
                    train_fields[name] = tuple(train_fields[name])
            rest = {k: v for k, v in data.items() if k not in ("model", "train")}
            return cls(model=model, train=TrainConfig(**train_fields), **_known(cls, rest))
        except (KeyError, TypeError, AttributeError) as err:
            raise PoetryError(f"配置文件缺少字段或格式不对：{path}（{err}）") from None


def check_model_config(model: ModelConfig, path: Path) -> None:
    """Sizes that are positive integers within SHAPE_LIMITS, and a dropout in [0, 1); PoetryError otherwise."""
    for name, limit in SHAPE_LIMITS.items():
        value = getattr(model, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
            raise PoetryError(f"配置文件中的 {name} 应为 1 到 {limit:,} 的整数，收到 {repr(value)[:20]}：{path}")
    if model.kind not in MODEL_KINDS:
        raise PoetryError(f"配置文件中的 kind 应为 {' / '.join(MODEL_KINDS)} 之一，收到 {repr(model.kind)[:20]}：{path}")
    if not isinstance(model.dropout, int | float) or isinstance(model.dropout, bool) or not 0 <= model.dropout < 1:
        raise PoetryError(f"配置文件中的 dropout 应在 0 到 1 之间，收到 {repr(model.dropout)[:20]}：{path}")


def _known(cls, values: dict) -> dict:
    """Only the keys `cls` declares: older configs load, unknown extras are ignored."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in values.items() if k in names}
