"""What a `.keras` archive declares, read and bounded before Keras builds anything from it.

A `.keras` file is a zip holding `config.json` (the network's layers and sizes) and the weights.
Keras allocates every variable the config declares before it reads a weight, so a hostile archive
of a few hundred kB could declare gigabytes. Everything here reads only the zip's directory and
its small config, with the standard library (no Keras: the app's model list uses it too), and
refuses in well under a second.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.files import check_regular_file
from poetry_lm.model.config import SHAPE_LIMITS, ModelConfig

# What an archive of this tool holds, unpacked: weights of at most a few hundred MB, and small JSON.
MAX_WEIGHTS_BYTES = 2 * 2**30
MAX_JSON_ENTRY_BYTES = 4 * 2**20
MAX_ARCHIVE_BYTES = MAX_WEIGHTS_BYTES + 2**26  # the weights and a little JSON, stored
MAX_ENTRIES = 16
# Keras stores weights uncompressed and float weights hardly compress; a large entry that unpacks to
# many times its stored size is padding (a zip bomb), whatever it claims to be.
MAX_COMPRESSION_RATIO = 10
MIN_BYTES_PER_PARAMETER = 2  # float16 at the least: the declared sizes must be backed by the weights' bytes
RECURRENT_LAYERS = ("LSTM", "GRU", "SimpleRNN")


@dataclass
class DeclaredShape:
    """The sizes an archive's config.json declares, layer by layer."""

    embeddings: list[tuple[int, int]] = field(default_factory=list)  # (input_dim, output_dim)
    recurrent_units: list[int] = field(default_factory=list)
    dense_units: list[int] = field(default_factory=list)
    layer_count: int = 0
    bidirectional: int = 0  # wrappers holding two recurrent layers (a forward and a backward one) each

    def parameters(self) -> int:
        """Parameters these layers hold at least (LSTM-sized recurrent layers, as this tool builds)."""
        total = sum(rows * width for rows, width in self.embeddings)
        width = max((w for _, w in self.embeddings), default=0)
        for units in self.recurrent_units:
            total += 4 * (width + units + 1) * units
            width = units
        return total + sum((width + 1) * units for units in self.dense_units)


def check_model_file(path: Path, expected: ModelConfig | None = None) -> DeclaredShape:
    """Everything known about a `.keras` file before Keras opens it: a readable regular file of bounded size,
    a zip, and an archive whose declared shape is within bounds (and matches `expected`)."""
    check_regular_file(path, "模型文件", MAX_ARCHIVE_BYTES)
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise PoetryError(f"无法读取模型文件（{err.strerror or type(err).__name__}）：{path}") from None
    # Keras reports a truncated archive as "File not found"; check the zip first to say what is wrong.
    if not zipfile.is_zipfile(path):
        raise PoetryError(f"模型文件已损坏（不是有效的 .keras 压缩包）：{path}")
    return check_archive(path, expected)


def check_archive(path: Path, expected: ModelConfig | None = None) -> DeclaredShape:
    """Refuse an archive whose entries or declared shape go beyond what a model of this tool can be, or
    (with `expected`, from the folder's config.json) whose shape differs from it. Reads no weights."""
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise PoetryError(f"模型文件有 {len(entries):,} 个条目，不像是本工具写的：{path}")
        for entry in entries:
            _check_entry(entry, path)
        names = {entry.filename: entry for entry in entries}
        if "config.json" not in names:
            return DeclaredShape()  # Keras itself says it is no model; nothing gets built
        try:
            config = json.loads(archive.read("config.json").decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as err:
            raise PoetryError(f"模型文件中的 config.json 已损坏：{path}（{str(err)[:80]}）") from None
    shape = declared_shape(config)
    _check_bounds(shape, path)
    if expected is not None:
        _check_matches(shape, expected, path)
    weights = names.get("model.weights.h5")
    needed = shape.parameters() * MIN_BYTES_PER_PARAMETER
    if needed > (weights.file_size if weights else 0):
        have = f"{weights.file_size:,} 字节" if weights else "没有权重"
        raise PoetryError(f"模型文件声明了 {shape.parameters():,} 个参数，但权重只有 {have}：{path}")
    return shape


def _check_entry(entry: zipfile.ZipInfo, path: Path) -> None:
    limit = MAX_JSON_ENTRY_BYTES if entry.filename.endswith(".json") else MAX_WEIGHTS_BYTES
    if entry.file_size > limit:
        raise PoetryError(f"模型文件中的 {entry.filename} 解压后有 {entry.file_size:,} 字节，超出上限 {limit:,}：{path}")
    if entry.file_size > 2**20 and entry.file_size > MAX_COMPRESSION_RATIO * max(entry.compress_size, 1):
        raise PoetryError(
            f"模型文件中的 {entry.filename} 压缩比异常（{entry.compress_size:,} → {entry.file_size:,} 字节）：{path}"
        )


def declared_shape(config) -> DeclaredShape:
    """Every Embedding, recurrent and Dense layer anywhere in a Keras config (nested models and wrappers too)."""
    shape = DeclaredShape()
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        layer, settings = node.get("class_name"), node.get("config")
        if isinstance(layer, str) and isinstance(settings, dict) and "name" in settings:
            shape.layer_count += 1
            if layer == "Embedding":
                shape.embeddings.append((_size(settings, "input_dim"), _size(settings, "output_dim")))
            elif layer in RECURRENT_LAYERS:
                shape.recurrent_units.append(_size(settings, "units"))
            elif layer == "Bidirectional":
                shape.bidirectional += 1
            elif layer == "Dense":
                shape.dense_units.append(_size(settings, "units"))
        stack.extend(node.values())
    return shape


def _size(settings: dict, key: str) -> int:
    value = settings.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PoetryError(f"模型文件中的 {key} 应为正整数，收到 {repr(value)[:20]}")
    return value


def _check_bounds(shape: DeclaredShape, path: Path) -> None:
    sizes = [("vocab_size", rows) for rows, _ in shape.embeddings]
    sizes += [("embedding_dim", width) for _, width in shape.embeddings]
    sizes += [("units", units) for units in shape.recurrent_units]
    sizes += [("vocab_size", units) for units in shape.dense_units]
    sizes += [("layers", len(shape.recurrent_units) - shape.bidirectional)]
    for name, value in sizes:
        if value > SHAPE_LIMITS[name]:
            raise PoetryError(f"模型文件声明的 {name} = {value:,} 超出上限 {SHAPE_LIMITS[name]:,}：{path}")
    if shape.layer_count > 4 * SHAPE_LIMITS["layers"] + 8:
        raise PoetryError(f"模型文件声明了 {shape.layer_count:,} 层，不像是本工具的模型：{path}")


def _check_matches(shape: DeclaredShape, expected: ModelConfig, path: Path) -> None:
    """The archive against the folder's config.json: the same sizes, or one of them is not what it says."""
    declared = {
        "vocab_size": sorted({rows for rows, _ in shape.embeddings} | set(shape.dense_units)),
        "embedding_dim": sorted({width for _, width in shape.embeddings}),
        "units": sorted(set(shape.recurrent_units)),
        "layers": [len(shape.recurrent_units) - shape.bidirectional] if shape.recurrent_units else [],
    }
    for name, values in declared.items():
        wanted = getattr(expected, name)
        if values and values != [wanted]:
            shown = "/".join(f"{v:,}" for v in values)
            raise PoetryError(f"模型文件与 config.json 不符：{name} 为 {shown}，config.json 记为 {wanted:,}：{path}")
