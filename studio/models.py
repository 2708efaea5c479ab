"""The sidebar's model choice and the generators, loaded in the background: one per model file per process.

TensorFlow and a model take seconds to load (12 s on this CPU after a restart), so no page waits for
them: the page draws at once, says what it is waiting for, and enables 写诗 when the model is ready.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from poetry_lm import jobs
from poetry_lm.errors import PoetryError
from poetry_lm.files import read_json_file
from poetry_lm.model.config import CONFIG_FILE, MODEL_FILE, VOCAB_FILE, RunInfo
from poetry_lm.quiet import import_tensorflow_quietly
from poetry_lm.text.corpus import is_han

if TYPE_CHECKING:
    from poetry_lm.compose.generate import PoemGenerator

LOAD_CHECK_S = 1.0  # how often a waiting page looks whether its model is ready


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


@dataclass
class Loading:
    """One model file's load: under way (neither set), ready (`generator`) or failed (`error`)."""

    started: float
    generator: PoemGenerator | None = None
    error: PoetryError | None = None


class ModelLoader:
    """Loads each model file once per process in a background thread (TensorFlow first), keeping the newest
    version of each file; pages ask for its state and never block on it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loads: dict[tuple[str, float], Loading] = {}

    def state(self, path: str, stamp: float, start: bool = True) -> Loading | None:
        """The load of this version of the model file, started now if nobody asked for it before (None when
        not started and `start` is false)."""
        with self._lock:
            load = self._loads.get((path, stamp))
            if load is None and not start:
                return None
            if load is None:
                # A replaced file's older version goes, so its generator's memory is freed.
                self._loads = {key: old for key, old in self._loads.items() if key[0] != path}
                load = self._loads[(path, stamp)] = Loading(time.time())
                threading.Thread(target=self._load, args=(path, load), daemon=True, name=f"load {path}").start()
            return load

    def wait(self, path: str, stamp: float, timeout: float = 300) -> Loading:
        """The load, once it has finished (or `timeout` seconds have passed)."""
        load = self.state(path, stamp)
        deadline = time.time() + timeout
        while load.generator is None and load.error is None and time.time() < deadline:
            time.sleep(0.1)
        return load

    @staticmethod
    def _load(path: str, load: Loading) -> None:
        try:
            import_tensorflow_quietly()
            from poetry_lm.compose.generate import PoemGenerator  # TensorFlow: only here, off the page's thread

            load.generator = PoemGenerator.load(Path(path))  # warms the compiled decoder
            logging.getLogger("studio").info("loaded %s in %.1f s", path, time.time() - load.started)
        except PoetryError as err:
            load.error = err
        except Exception as err:  # a damaged model must never take the app down
            logging.getLogger("studio").exception("loading %s failed", path)
            load.error = PoetryError(f"{type(err).__name__}: {str(err)[:200]}")


@st.cache_resource
def model_loader() -> ModelLoader:
    """The process's one loader, shared by every session."""
    return ModelLoader()


BUNDLED_LABEL = "唐宋诗（内置模型）"
BUNDLED_CI_LABEL = "唐宋诗词（内置词模型）"


def model_label(name: str) -> str:
    """A model's name as the page shows it: the bundled ones in Chinese, the others as trained."""
    return {jobs.BUNDLED_MODEL: BUNDLED_LABEL, jobs.BUNDLED_CI_MODEL: BUNDLED_CI_LABEL}.get(name, name)


def model_summary(path: Path) -> tuple[str, str | None]:
    """About a model directory: one plain line, and the technical details (shape, validation loss) for 高级."""
    try:
        shape = RunInfo.from_json(path / CONFIG_FILE).model
    except PoetryError:
        return "（读不到 config.json）", None
    plain = f"认识 {shape.vocab_size:,} 个字的逐字写诗网络"
    details = (f"结构：{shape.layers} 层 LSTM（一种能记住前文的循环神经网络），每层 {shape.units} 个单元，"
               f"词表 {shape.vocab_size} 字。")
    loss = jobs.model_metrics(path).get("best_val_loss")
    if isinstance(loss, int | float) and not isinstance(loss, bool):  # older or interrupted runs may lack it
        details += (f"\n\n最佳验证损失 {loss:.3f}：在训练时没见过的诗上，模型猜下一个字的平均“意外程度”"
                    f"（越低越好；相当于每一步在约 {math.exp(loss):,.0f} 个字里犹豫）。")
    return plain, details


def model_selector(models: Path) -> str | None:
    """The sidebar model list: every `<models>/<name>/` with a model file, the bundled one first."""
    st.header("模型")
    names = jobs.list_models(models)
    if not names:
        st.error(f"在 {models} 中没有找到模型（需要 <名称>/{MODEL_FILE}）")
        return None
    problems = {name: jobs.model_problem(models / name) for name in names}
    name = st.selectbox("选择模型", names, key="model", help="训练完成的新模型会出现在这里",
                        format_func=lambda n: f"{model_label(n)}（无法使用）" if problems[n] else model_label(n))
    plain, details = model_summary(models / name)
    st.caption(plain)
    if details:
        with st.expander("高级：模型细节"):
            st.caption(details)
    if problems[name]:
        st.warning(f"这个模型无法使用：{problems[name]}")
    return name


def model_key(models: Path, name: str) -> tuple[str, float]:
    """What identifies one version of a model file: its resolved path and modification time."""
    path = models / name
    return str(path.resolve()), model_stamp(path)


def start_loading(models: Path, name: str | None) -> None:
    """Start loading the chosen model, if nothing has yet. The app calls this once the write tab is drawn:
    importing TensorFlow in a thread holds Python's interpreter lock for seconds, and the heads box comes first."""
    if name is not None:
        model_loader().state(*model_key(models, name))


def selected_generator(models: Path, name: str, wait: bool = False) -> PoemGenerator | None:
    """The generator of the chosen model when it is ready; otherwise None, after saying on the page what it is
    waiting for (and looking again every second) or why the model cannot be loaded. `wait` blocks instead."""
    key = model_key(models, name)
    load = model_loader().wait(*key) if wait else model_loader().state(*key, start=False)
    if load is None:  # not asked for yet: the end of this page run starts it
        load = Loading(time.time())
    if load.error is not None:
        st.error(f"模型「{model_label(name)}」无法加载：{load.error}。请在侧栏选择其他模型。")
        return None
    if load.generator is None:
        # Said here, where the poems will be; `wait_for_model`, at the end of the page, keeps it current.
        st.session_state[WAITING] = (st.empty(), name, key)
        show_waiting(st.session_state[WAITING][0], name, load.started)
    return load.generator


WAITING = "_waiting_for_model"


def show_waiting(slot, name: str, started: float) -> None:
    seconds = time.time() - started
    slot.info(f"正在后台加载 TensorFlow 和模型「{model_label(name)}」并编译解码器（已 {seconds:.0f} 秒，重启后第一次约 10 秒）。"
              "加载完成后「写诗」按钮自动可用；其他功能现在就能用。")


def wait_for_model() -> None:
    """At the end of a page run whose model is still loading: update the notice every second, mostly asleep
    (a sleeping page run costs the loader nothing, where a fragment polling every second slowed it 3×), and
    rerun the page once the model is ready. A click meanwhile interrupts this at the next update, as usual."""
    waiting = st.session_state.pop(WAITING, None)
    if waiting is None:
        return
    slot, name, key = waiting
    loader = model_loader()
    while True:
        load = loader.state(*key)
        if load.generator is not None or load.error is not None:
            st.rerun()
        show_waiting(slot, name, load.started)
        time.sleep(LOAD_CHECK_S)
