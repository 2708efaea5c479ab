"""对联 tab: answer a 上联, or write a couplet hiding two characters (藏头/藏尾), with a 横批 and a red 春联 picture.

The writer (`poetry_lm.compose.couplet`) holds the poem model and the aligned couplet model; it is loaded once
per process, when the tab is first opened.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from poetry_lm import jobs
from poetry_lm.compose.card import SHARE_WIDTH, card_png, couplet_hidden_cells, render_spring_couplet
from poetry_lm.compose.occasion import OCCASIONS
from poetry_lm.errors import PoetryError
from poetry_lm.model.config import MODEL_FILE
from poetry_lm.prosody.couplet import even_positions
from studio.models import model_stamp
from studio.widgets import copy_button

if TYPE_CHECKING:
    from poetry_lm.compose.couplet import Couplet, CoupletWriter

COUPLET_MODEL = "couplet"  # models/<this>: the aligned model the tab writes with, beside the bundled poem model
MODES = {"answer": "对下联", "hidden": "藏头 / 藏尾对联"}
INKS = {"gold": "金字", "black": "黑字"}
EXAMPLE_FIRST = "风吹杨柳千条绿"


@st.cache_resource(max_entries=2, show_spinner=False)
def couplet_writer(poem_path: str, aligned_path: str, stamps: tuple[float, float]) -> CoupletWriter:
    """The process's writer for these two model files (a replaced file changes `stamps`: loaded again)."""
    from poetry_lm.compose.couplet import CoupletWriter

    return CoupletWriter.load(Path(poem_path), Path(aligned_path))


@st.cache_data(max_entries=64, show_spinner=False)
def spring_card(first: str, second: str, banner: str, hidden: tuple, ink: str, min_width: int = 0) -> bytes:
    """The 春联 PNG of one couplet (cached: a picture clicked twice is drawn once)."""
    return card_png(render_spring_couplet(first, second, banner, set(hidden), ink=ink, min_width=min_width))


def couplet_tab(models: Path) -> None:
    st.caption("对联由两个模型一起写：写诗的语言模型把上下联当作律诗的一联来读，另一个双向 LSTM 按上联每个位置给出下联的字；"
               "平仄（上联收仄、下联收平、偶数位相对）和不重字由解码时的约束保证。数据是语料中律诗的颔联、颈联（约 23 万副），"
               "所以只写五言和七言。")
    mode = st.radio("做什么", list(MODES), format_func=MODES.get, key="couplet_mode", horizontal=True)
    if mode == "answer":
        first = st.text_input("上联（五字或七字）", EXAMPLE_FIRST, key="couplet_first", max_chars=20)
        request = {"first": first}
    else:
        left, middle, right = st.columns(3)
        hidden = left.text_input("两个藏字（上联、下联各一）", "春福", key="couplet_hidden", max_chars=4)
        position = middle.radio("藏在", ["head", "tail"], format_func={"head": "句首（藏头）", "tail": "句末（藏尾）"}.get,
                                key="couplet_position", horizontal=True)
        length = right.radio("每句", [7, 5], format_func=lambda n: f"{n} 字", key="couplet_length", horizontal=True)
        request = {"hidden": hidden, "position": position, "length": length}
    occasion = st.selectbox("场合", list(OCCASIONS), key="couplet_occasion",
                            format_func=lambda name: f"{name}：{OCCASIONS[name].description}",
                            help="春联选「春节」、喜联选「婚庆」：多用应景的词，吉庆场合不出现死、泪、愁一类的字词")
    left, middle, right = st.columns(3)
    temperature = left.slider("温度", 0.3, 1.5, 0.8, 0.05, key="couplet_temperature",
                              help="低：更稳妥常见；高：更出人意料")
    # One box per mode: a whole couplet gets its 横批 by default, an answer does not.
    banner = middle.checkbox("加横批（四字）", value=mode == "hidden", key=f"couplet_banner_{mode}")
    strict = right.checkbox("偶数位平仄严格相对", key="couplet_strict",
                            help="默认尽量相对（极少数位置为了通顺会让步）；勾选后每个偶数位都必须相对")
    if st.button("对下联" if mode == "answer" else "写对联", type="primary", key="couplet_go"):
        from poetry_lm.compose.couplet import CoupletSettings, check_couplet_settings

        try:
            settings = check_couplet_settings(CoupletSettings(
                **request, temperature=temperature, banner=banner, strict_tones=strict, num_candidates=6,
                occasion=occasion))
        except PoetryError as err:
            st.error(str(err))
            return
        writer = _writer(models)
        if writer is None:
            return
        with st.spinner("正在写…"):
            st.session_state["couplets"] = writer.write(settings)
    couplets: list[Couplet] = st.session_state.get("couplets", [])
    if couplets:
        ink = st.radio("春联字色", list(INKS), format_func=INKS.get, key="couplet_ink", horizontal=True)
        for notice in couplets[0].notes:
            st.info(notice)
        for rank, couplet in enumerate(couplets):
            _couplet_card(couplet, rank, ink)


def _writer(models: Path) -> CoupletWriter | None:
    poem_path, aligned_path = models / jobs.BUNDLED_MODEL, models / COUPLET_MODEL
    if not (aligned_path / MODEL_FILE).is_file():
        st.error(f"没有找到对联模型（{aligned_path}）：用 `python -m poetry_lm train --kind couplet` 训练一个。")
        return None
    with st.spinner("第一次使用：正在加载两个模型并编译解码器（约十几秒）…"):
        return couplet_writer(str(poem_path), str(aligned_path), (model_stamp(poem_path), model_stamp(aligned_path)))


def couplet_html(couplet: Couplet) -> str:
    """The couplet as text, hidden characters marked, with its checks in one line."""
    cells = couplet_hidden_cells(couplet)

    def line(i: int, text: str) -> str:
        return "".join(f'<span class="poem-head">{html.escape(c)}</span>' if (i, j) in cells else html.escape(c)
                       for j, c in enumerate(text))

    report = couplet.report
    opposed = sum(ok is not False for ok in report.opposed)
    checks = (f"末字 {'合律' if report.end_tones_ok else '未按上仄下平'} · 偶数位相对 {opposed}/{len(even_positions(len(couplet.first)))}"
              f" · 对仗（词性相同）{report.parallel_share:.0%}")
    banner = f'<div class="couplet-banner">{html.escape(couplet.banner)}</div>' if couplet.banner else ""
    return (f'<div class="couplet">{banner}<div>上联：{line(0, couplet.first)}</div>'
            f'<div>下联：{line(1, couplet.second)}</div><div class="couplet-checks">{checks}</div></div>')


def _couplet_card(couplet: Couplet, rank: int, ink: str) -> None:
    text = (f"横批：{couplet.banner}\n" if couplet.banner else "") + f"上联：{couplet.first}\n下联：{couplet.second}"
    name = f"对联_{couplet.hidden or couplet.first}_{rank + 1}"
    with st.container(border=True):
        st.markdown(couplet_html(couplet), unsafe_allow_html=True)
        card_args = (couplet.first, couplet.second, couplet.banner, tuple(sorted(couplet_hidden_cells(couplet))), ink)
        copy, image, large = st.columns(3, vertical_alignment="center")
        with copy:
            copy_button(text)
        image.download_button("保存春联图", functools.partial(spring_card, *card_args), file_name=f"{name}.png",
                              mime="image/png", key=f"spring_{rank}", width="stretch", on_click="ignore",
                              help="两条竖排红纸，上联在右、下联在左，横批在上（PNG）")
        large.download_button("手机大图", functools.partial(spring_card, *card_args, SHARE_WIDTH),
                              file_name=f"{name}_大图.png", mime="image/png", key=f"spring_large_{rank}",
                              width="stretch", on_click="ignore", help=f"同一张春联图，至少 {SHARE_WIDTH} 像素宽")
        if rank == 0:
            st.image(spring_card(*card_args), width=320)
