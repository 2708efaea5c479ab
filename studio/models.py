"""The sidebar's model choice and the cached generators: one per model file per process."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from poetry_lm import jobs
from poetry_lm.compose.generate import PoemGenerator
from poetry_lm.errors import PoetryError
from poetry_lm.files import read_json_file
from poetry_lm.model.config import CONFIG_FILE, MODEL_FILE, VOCAB_FILE, RunInfo
from poetry_lm.text.corpus import (
    is_han,
)


def model_stamp(path: Path) -> float:
    """Modification time of the model file, so a replaced model is loaded again."""
    try:
        return (path / MODEL_FILE).stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(max_entries=8)
def vocabulary_chars(path: str, stamp: float) -> list[str]:
    """A model's characters, most frequent first (for example rhyme characters); none if unreadable."""
    try:
        tokens = read_json_file(Path(path) / VOCAB_FILE, "词表文件")
    except PoetryError:
        return []
    return [token for token in tokens if isinstance(token, str) and len(token) == 1 and is_han(token)]


@st.cache_resource(show_spinner="正在加载模型并编译解码器…", max_entries=4)
def load_generator(path: str, stamp: float) -> PoemGenerator:
    """One generator per model file per process, shared by every session."""
    return PoemGenerator.load(Path(path))


def model_summary(path: Path) -> str:
    """One line about a model directory: shape, vocabulary, best validation loss."""
    try:
        shape = RunInfo.from_json(path / CONFIG_FILE).model
    except PoetryError:
        return "（读不到 config.json）"
    text = f"{shape.layers}×LSTM {shape.units} 单元 · 词表 {shape.vocab_size} 字"
    try:
        text += f" · 最佳验证损失 {read_json_file(path / 'metrics.json', 'metrics.json')['best_val_loss']:.3f}"
    except (PoetryError, KeyError, TypeError, ValueError):
        pass  # older or interrupted runs may lack metrics
    return text


def model_selector(models: Path) -> str | None:
    """The sidebar model list: every `<models>/<name>/` with a model file, the bundled one first."""
    st.header("模型")
    names = jobs.list_models(models)
    if not names:
        st.error(f"在 {models} 中没有找到模型（需要 <名称>/{MODEL_FILE}）")
        return None
    problems = {name: jobs.model_problem(models / name) for name in names}
    name = st.selectbox("选择模型", names, key="model", help="训练完成的新模型会出现在这里",
                        format_func=lambda n: f"{n}（无法使用）" if problems[n] else n)
    st.caption(model_summary(models / name))
    if problems[name]:
        st.warning(f"这个模型无法使用：{problems[name]}")
    return name


def selected_generator(models: Path, name: str) -> PoemGenerator | None:
    """The cached generator of the chosen model, or None after showing why it cannot be loaded."""
    path = models / name
    try:
        return load_generator(str(path.resolve()), model_stamp(path))
    except PoetryError as err:
        st.error(f"模型「{name}」无法加载：{err}。请在侧栏选择其他模型。")
    except Exception as err:  # a damaged model must never take the app down
        st.error(f"模型「{name}」无法加载（{path / MODEL_FILE}）：{type(err).__name__}: {err}")
    return None
