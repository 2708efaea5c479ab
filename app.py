"""藏头诗工坊: the Streamlit studio over `poetry_lm` (write poems, train models, look at the corpus).

Only UI lives here: every action calls `poetry_lm` (generate, jobs, corpus, prosody) and shows
its PoetryError messages, which are already Chinese, with st.warning/st.error.
Run: `streamlit run app.py` (models from `$POETRY_MODELS_DIR`, default `models/`).
"""

from __future__ import annotations

import html
import json
import random
import time
from dataclasses import replace
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from poetry_lm.quiet import import_tensorflow_quietly

import_tensorflow_quietly()  # before poetry_lm.generate imports TensorFlow: no native start-up lines

from poetry_lm import corpus_stats, jobs
from poetry_lm.analysis import Analysis, analyse
from poetry_lm.card import card_png, form_note, render_card
from poetry_lm.catalogue import PoemFilter, poet_table, select
from poetry_lm.config import CONFIG_FILE, MODEL_FILE, VOCAB_FILE, RunInfo
from poetry_lm.corpus import (
    FORM_NAMES,
    is_han,
    parse_uploaded_corpus,
    punctuated_lines,
)
from poetry_lm.errors import PoetryError, read_json_file
from poetry_lm.generate import Poem, PoemGenerator, alternatives, score_lines
from poetry_lm.rhyme import SYSTEMS, example_chars, group_names
from poetry_lm.settings import (
    DEFAULT_PROSODY,
    DEFAULT_TEMPERATURE,
    DEFAULT_THEME_STRENGTH,
    MAX_HEADS,
    MAX_THEME_STRENGTH,
    RHYME_SCHEMES,
    TONE_MODES,
    ProsodyOptions,
    Settings,
)
from poetry_lm.template import POSITIONS, locked_template, position_name, reflow_template

FORMS = {"七言": 7, "五言": 5}
SIZE_LABELS = {
    "mini": "迷你（32 单元，测试用）",
    "small": "小（128 单元）",
    "medium": "中（256 单元）",
    "large": "大（512 单元）",
}
TONE_LABELS = dict(zip(TONE_MODES, ["不限平仄", "宽：倾向合律", "严：必须合律"], strict=True))
SYSTEM_LABELS = {"both": "两者兼顾（平水韵＋中华新韵）", "pingshui": "平水韵", "xinyun": "中华新韵"}
SCHEME_LABELS = dict(zip(RHYME_SCHEMES, ["偶数句押韵", "首句和偶数句押韵"], strict=True))
DROP_REASONS = {
    "empty": "空行",
    "not_punctuated": "句末没有标点",
    "non_han": "含非汉字字符",
    "not_regulated": "不是五言/七言的绝句或律诗",
}
AUTO_RHYME = "自动选择"
NO_COMPARISON = "不对比"
BUNDLED_CORPUS_LABEL = "整个内置语料（唐宋格律诗）"
BUNDLED_SUBSET_LABEL = "内置语料中的诗人、朝代或体裁"
TRAIN_MODES = {"finetune": "微调当前模型（推荐，几分钟）", "scratch": "从头训练新模型（很慢）"}
# Epochs and learning rate per mode (True: fine-tuning): a warm start needs fewer, gentler steps.
MODE_DEFAULTS = {True: {"train_epochs": 3, "train_lr": 5e-4}, False: {"train_epochs": 5, "train_lr": 2e-3}}
UPLOAD_LABEL = "上传文本文件"
LEARNING_RATES = [1e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2]
BATCH_SIZES = [16, 32, 64, 128, 256]
JIEBA_SAMPLES = {"抽样 2,000 首": 2000, "抽样 5,000 首": 5000, "全部": None}
POLL_SECONDS = 2.0  # while a job runs
IDLE_POLL_SECONDS = 5.0  # otherwise: notice a job started from another tab

CSS = """
<style>
.poem { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", "Songti SC", serif; font-size: 1.35rem;
        line-height: 1.9; letter-spacing: 0.06em; padding: 0.2rem 0; white-space: nowrap; overflow-x: auto; }
.poem-head { color: #b3261e; font-weight: 700; background: #fbe9e7; border-radius: 0.2em; padding: 0 0.08em; }
.poem-vertical { writing-mode: vertical-rl; text-orientation: upright; height: 10.5em; margin-left: auto;
                 overflow-x: auto; max-width: 100%; }
.poem-vertical .poem-line { margin-left: 0.4em; }
.tones { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; margin: 0.5rem 0; }
.tone-line { display: flex; align-items: center; gap: 0.25rem; margin-bottom: 0.35rem; }
.tones .cell { display: inline-flex; flex-direction: column; align-items: center; width: 2.3rem; padding: 0.1rem 0;
               border: 1px solid #e0d6d0; border-radius: 0.3rem; }
.tones .cell b { font-size: 1.4rem; font-weight: 500; }
.tones .cell i { font-style: normal; font-size: 0.8rem; color: #666; }
.tones .bad { background: #fdecea; border-color: #b3261e; }
.tones .bad i { color: #b3261e; font-weight: 700; }
.tones .rhyme { box-shadow: 0 0 0 2px #1e6fb3 inset; }
.tones .want { margin-left: 0.8rem; color: #888; font-size: 0.85rem; }
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
</style>
"""


# ---------- models ----------


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


# ---------- writing ----------


def position_label(position: str) -> str:
    return position_name(position) if position in POSITIONS else f"藏中（每句第 {position} 字）"


def temperature_hint(value: float) -> str:
    """One line on what the temperature does at this value."""
    if value < 0.5:
        mood = "偏保守：用字常见稳妥，候选彼此相近"
    elif value <= 1.1:
        mood = "适中：通顺与新意兼顾"
    else:
        mood = "偏大胆：用字新奇多变，也更容易不通"
    return f"温度控制随机性，越低越稳妥、越高越新奇。当前 {value:.2f}，{mood}。"


def prosody_controls(vocab_chars: list[str]) -> ProsodyOptions:
    """The 格律 expander: rhyme (on by default), rhyme system, scheme and group, tonal pattern (soft by default)."""
    with st.expander("格律（押韵与平仄）"):
        st.session_state.setdefault("rhyme", DEFAULT_PROSODY.rhyme)
        st.session_state.setdefault("tones", DEFAULT_PROSODY.tones)
        rhyme = st.checkbox("押韵（韵脚只用平声字）", key="rhyme")
        system = st.radio("韵书", list(SYSTEMS), format_func=SYSTEM_LABELS.get, key="rhyme_system",
                          horizontal=True, disabled=not rhyme,
                          help="两者兼顾：韵脚同属一个平水韵部、也同属一个中华新韵部，古今读来都押韵")
        scheme = st.selectbox(
            "押韵位置", list(SCHEME_LABELS), format_func=SCHEME_LABELS.get, key="rhyme_scheme", disabled=not rhyme
        )
        groups = group_names(system)

        def group_label(name: str) -> str:
            if name == AUTO_RHYME:
                return name
            examples = example_chars(name, system, vocab_chars)
            return f"{name}（{'、'.join(examples)}…）" if examples else name

        group = st.selectbox("韵部", [AUTO_RHYME, *groups], format_func=group_label, key=f"rhyme_group_{system}",
                             disabled=not rhyme)
        tones = st.radio("平仄", list(TONE_LABELS), format_func=TONE_LABELS.get, key="tones", horizontal=True)
    return ProsodyOptions(
        rhyme=rhyme, rhyme_scheme=scheme, rhyme_group=None if group == AUTO_RHYME else group, tones=tones,
        rhyme_system=system,
    )


def poem_html(poem: Poem, vertical: bool) -> str:
    """A poem card body: one line per row (or column, right to left), hidden characters highlighted."""
    marked = set(poem.marked)

    def cell(i: int, j: int, char: str) -> str:
        text = html.escape(char)
        return f'<span class="poem-head">{text}</span>' if (i, j) in marked else text

    rows = "".join(
        f'<div class="poem-line">{"".join(cell(i, j, char) for j, char in enumerate(line))}</div>'
        for i, line in enumerate(poem.display_lines())
    )
    return f'<div class="poem{" poem-vertical" if vertical else ""}">{rows}</div>'


def poem_notes(poem: Poem) -> str:
    """Score and prosody notes under a card."""
    notes = [f"模型得分（对数概率）{poem.log_prob:.1f}，所写各字平均 {poem.free_log_prob:.2f}"]
    if poem.rhyme:
        notes.append(f"韵部：{poem.rhyme}")
    if poem.tone_ok_ratio is not None:
        notes.append(f"平仄合律 {poem.tone_ok_ratio:.0%}")
    return " · ".join(notes + poem.conflicts)


COPY_BUTTON = """
<button id="copy" style="font: 0.95rem sans-serif; padding: 0.35rem 0.6rem; border: 1px solid #d8cfc8;
  border-radius: 0.5rem; background: white; cursor: pointer; width: 100%; white-space: nowrap;">复制</button>
<script>
const button = document.getElementById("copy");
button.addEventListener("click", async () => {
  try { await navigator.clipboard.writeText(TEXT); button.textContent = "已复制"; }
  catch (err) { button.textContent = "复制失败：请手动选择文字"; }
  setTimeout(() => { button.textContent = "复制"; }, 1500);
});
</script>
"""


def copy_button(text: str) -> None:
    """A one-click 复制 button (a tiny component: Streamlit has no clipboard button of its own)."""
    components.html(COPY_BUTTON.replace("TEXT", json.dumps(text, ensure_ascii=False)), height=44)


@st.cache_data(max_entries=64, show_spinner=False)
def poem_card(
    lines: tuple[str, ...], marked: tuple[tuple[int, int], ...], position: str, vertical: bool, title: str | None
) -> bytes:
    """The PNG poem card of one candidate (cached: every rerun redraws the download buttons)."""
    note = form_note(list(lines), position_name(position)) if marked else None
    return card_png(render_card(list(lines), set(marked), title=title, note=note, vertical=vertical))


def show_poems(result: dict, generator: PoemGenerator, prosody: ProsodyOptions) -> None:
    """The candidates of the last 写诗 click as cards, best first, each with copy and download."""
    poems: list[Poem] = result["poems"]
    st.caption(f"模型「{result['model']}」· {len(poems)} 首候选 · 用时 {result['seconds'] * 1000:.0f} 毫秒 · 按模型得分从高到低排列")
    unknown = poems[0].unknown_heads if poems else []
    if unknown:
        st.warning(
            f"藏头字「{'、'.join(unknown)}」不在模型「{result['model']}」的词表中：仍然放在句首，但模型没见过这些字，"
            "接下来的字可能不够贴切。"
        )
    left, right = st.columns(2)
    vertical = left.toggle("竖排（从右到左）", key="vertical")
    right.text_input("诗卡标题（可选）", key="card_title", max_chars=12, placeholder="保存为图片时印在卡上")
    if vertical and poems and len(poems[0].lines) > 5:  # a narrow card shows about five columns
        st.caption(f"竖排共 {len(poems[0].lines)} 列，卡片内可左右滑动查看全部；「保存为图片」得到完整的一张。")
    columns = st.columns(2)
    for i, poem in enumerate(poems):
        with columns[i % 2], st.container(border=True):
            st.markdown(f"**第 {i + 1} 首**")
            st.markdown(poem_html(poem, vertical), unsafe_allow_html=True)
            st.caption(poem_notes(poem))
            left, right = st.columns(2)  # cards are narrow: two buttons a row
            with left:
                copy_button("\n".join(poem.display_lines()))
            right.download_button(
                "下载文本", "\n".join(poem.display_lines()) + "\n", file_name=f"藏头诗_{poem.heads}_{i + 1}.txt",
                mime="text/plain", key=f"download_{i}", width="stretch",
            )
            st.download_button(
                "保存为图片",
                poem_card(tuple(poem.lines), tuple(poem.marked), poem.position, vertical, st.session_state.get("card_title") or None),
                file_name=f"藏头诗_{poem.heads}_{i + 1}.png", mime="image/png", key=f"card_{i}", width="stretch",
                help="诗卡 PNG：竖排从右到左（关掉上方「竖排」则为横排），藏头字标红",
            )
            rewrite_control(poem, i)
            change_control(generator, poem, i, prosody)
    everything = "\n\n".join("\n".join(p.display_lines()) + f"\n（得分 {p.log_prob:.1f}）" for p in poems)
    st.download_button(
        "下载全部候选", everything + "\n", file_name=f"藏头诗_{poems[0].heads if poems else ''}.txt",
        mime="text/plain", key="download_all",
    )


def write_controls(models: Path, model_name: str | None) -> tuple[bool, dict]:
    """The input column: heads, form, sampling settings, 格律, the 写诗 button."""
    values = {
        "heads": st.text_input(
            f"藏头字（1 到 {MAX_HEADS} 个汉字，每字开头一句）", key="heads", placeholder="例如：春花秋月"
        ),
    }
    left, right = st.columns(2)
    with left:
        values["form"] = st.radio("诗体", list(FORMS), key="form", horizontal=True)
    with right:
        values["candidates"] = st.slider("候选数量", 1, 8, 4, key="num_candidates")
    line_length = FORMS[values["form"]]
    positions = [*POSITIONS, *map(str, range(2, line_length))]
    left, right = st.columns(2)
    with left:
        values["position"] = st.selectbox(
            "藏在哪里", positions, key="position", format_func=position_label,
            help="藏头：每句第一字；藏尾：每句末字；第 N 字：每句同一位置；递增/递减：斜着藏（最多每句字数个字）",
        )
    with right:
        values["theme"] = st.text_input("主题（可选）", key="theme", max_chars=20, placeholder="例如：明月、边塞秋风",
                                        help="几个词或一个短语：诗会多用这些字和常与它们同现的字")
    values["theme_strength"] = st.slider(
        "主题强度", 0.0, MAX_THEME_STRENGTH, DEFAULT_THEME_STRENGTH, 0.5, key="theme_strength",
        help="只在填了主题时起作用：给主题字加的分（相关的字加一半）；越大，主题越常出现",
    )
    values["temperature"] = st.slider("温度", 0.1, 2.0, DEFAULT_TEMPERATURE, 0.05, key="temperature")
    st.caption(temperature_hint(values["temperature"]))
    left, right = st.columns(2)
    with left:
        values["top_k"] = st.number_input("top-k（0 为不限）", 0, 5000, 0, 10, key="top_k",
                                          help="只在模型认为最可能的 k 个字里抽样；越小越保守")
    with right:
        values["seed"] = st.number_input("随机种子（可选）", min_value=0, value=None, step=1, key="seed",
                                         help="留空则每次不同；填同一个数字会得到同样的诗")
    model_path = models / model_name if model_name else models
    values["prosody"] = prosody_controls(vocabulary_chars(str(model_path), model_stamp(model_path)) if model_name else [])
    others = [name for name in jobs.list_models(models) if name != model_name]
    values["compare"] = st.selectbox(
        "与另一个模型对比", [NO_COMPARISON, *others], key="compare_model",
        help="用同样的藏头字、设置和随机种子，让两个模型各写一遍（例如基础模型与微调后的模型），并排比较",
    )
    clicked = st.button("写诗", key="generate", type="primary", disabled=model_name is None, width="stretch")
    return clicked, values


def generate_poems(models: Path, generator: PoemGenerator, model_name: str, values: dict) -> None:
    """Run the generator (and the comparison model, with the same seed) for the form values; keep the
    result in the session, or show why not."""
    try:
        seed = None if values["seed"] is None else int(values["seed"])
        if seed is None and values["compare"] != NO_COMPARISON:
            seed = random.randrange(2**31)  # both models must draw the same random numbers
        settings = Settings(
            heads=values["heads"], line_length=FORMS[values["form"]], num_candidates=int(values["candidates"]),
            temperature=float(values["temperature"]), top_k=int(values["top_k"]) or None,
            seed=seed, prosody=values["prosody"], position=values["position"], template=values.get("template"),
            theme=values["theme"].strip() or None, theme_strength=float(values["theme_strength"]),
        )
        started = time.perf_counter()
        result = {
            "model": model_name, "poems": generator.generate(settings), "seconds": 0.0, "seed": seed,
            "typed_heads": typed_heads(values["heads"]),
        }
        result["seconds"] = time.perf_counter() - started
        if values["compare"] != NO_COMPARISON:
            other = selected_generator(models, values["compare"])
            if other is not None:
                result["compare"] = {"model": values["compare"], "poems": other.generate(settings)}
    except PoetryError as err:
        st.session_state.pop("result", None)
        st.warning(str(err))
    except Exception as err:  # never a traceback in the page
        st.session_state.pop("result", None)
        st.error(f"写诗时出错：{type(err).__name__}: {err}")
    else:
        st.session_state["result"] = result


def show_comparison(result: dict) -> None:
    """Two models side by side: the same heads, settings and seed; candidates in rank order."""
    vertical = st.toggle("竖排（从右到左）", key="vertical")
    st.caption(f"同样的藏头字、设置与随机种子 {result['seed']}：左边是「{result['model']}」，右边是"
               f"「{result['compare']['model']}」，各自按模型得分排列。")
    columns = st.columns(2)
    for column, side in zip(columns, (result, result["compare"]), strict=True):
        with column:
            st.markdown(f"**{side['model']}**")
            for poem in side["poems"]:
                with st.container(border=True):
                    st.markdown(poem_html(poem, vertical), unsafe_allow_html=True)
                    st.caption(poem_notes(poem))
                    copy_button("\n".join(poem.display_lines()))


@st.cache_data(max_entries=256, show_spinner=False)
def cell_alternatives(_generator: PoemGenerator, model: str, lines: tuple[str, ...], line: int, position: int,
                      prosody: ProsodyOptions) -> list[tuple[str, float]]:
    """`alternatives`, cached per model, poem and cell (every rerun redraws the cards)."""
    return alternatives(_generator, list(lines), line, position, prosody)


def change_control(generator: PoemGenerator, poem: Poem, index: int, prosody: ProsodyOptions) -> None:
    """换一个字: the model's top characters for one cell given everything to its left (and the poem's
    rhyme and tones); keep the rest of the poem, or rewrite the rest of that line."""
    with st.expander("换一个字"):
        left, right = st.columns(2)
        line = left.selectbox("第几句", range(len(poem.lines)), format_func=lambda k: f"{k + 1}：{poem.lines[k]}",
                              key=f"alt_line_{index}")
        cells = [j for j in range(len(poem.lines[line])) if (line, j) not in set(poem.marked)]
        position = right.selectbox("第几字", cells, format_func=lambda j: f"{j + 1}：{poem.lines[line][j]}",
                                   key=f"alt_char_{index}")
        if position is None:
            st.caption("这一句只有藏字，不能换。")
            return
        found = [(char, prob) for char, prob in cell_alternatives(generator, str(generator.model_dir.path),
                                                                   tuple(poem.lines), line, position, prosody)
                 if char != poem.lines[line][position]]
        if not found:
            st.caption("这里没有别的字可选。")
            return
        choice = st.radio("换成", [char for char, _ in found], horizontal=True, key=f"alt_pick_{index}",
                          format_func=lambda char: f"{char} {dict(found)[char]:.0%}")
        keep, reflow = st.columns(2)
        if keep.button("只换这个字", key=f"alt_keep_{index}"):
            lines = [text if k != line else text[:position] + choice + text[position + 1 :]
                     for k, text in enumerate(poem.lines)]
            log_prob, per_char = score_lines(generator, lines)
            st.session_state["result"]["poems"][index] = replace(poem, lines=lines, log_prob=log_prob,
                                                                 char_log_probs=per_char)
            st.rerun()
        if reflow.button("换字并重写本句其余", key=f"alt_reflow_{index}", disabled=position == len(poem.lines[line]) - 1):
            st.session_state["rewrite"] = {
                "template": reflow_template(poem.lines, line, position, choice), "from": index + 1,
                "kept": [k for k in range(len(poem.lines)) if k != line],
            }
            st.rerun()


def rewrite_control(poem: Poem, index: int) -> None:
    """Tick the lines to keep and rewrite the rest: kept lines (and the hidden characters) are forced
    cells, so what is rewritten is conditioned on them and rhymes with them."""
    with st.expander("保留几句，重写其余"):
        keep = {k for k, line in enumerate(poem.lines) if st.checkbox(line, key=f"keep_{index}_{k}")}
        if st.button("重写其余各句", key=f"rewrite_{index}", disabled=not keep or len(keep) == len(poem.lines)):
            st.session_state["rewrite"] = {
                "template": locked_template(poem.lines, keep, poem.marked), "from": index + 1, "kept": sorted(keep),
            }
            st.rerun()


def typed_heads(raw: str) -> str:
    """The heads as the user typed them, whitespace aside."""
    return "".join(str(raw or "").split())


def result_notes(result: dict, heads_now: str) -> None:
    """Say when traditional or variant heads were written in standard simplified forms, and when the
    poems shown belong to other heads."""
    typed, used = result.get("typed_heads", ""), result["poems"][0].heads if result["poems"] else ""
    if used and typed != used:
        st.info(f"藏头字已按规范简体字处理：{typed} → {used}（语料的繁体字已转为简体，异体字已写作规范字）")
    if typed_heads(heads_now) != typed:
        st.caption(f"下面是藏头字「{typed}」的结果；点「写诗」按新的藏头字重写。")


def write_tab(models: Path, model_name: str | None) -> None:
    """Main area: settings on the left, candidate cards on the right."""
    controls, results = st.columns([5, 8], gap="medium")
    with controls:
        clicked, values = write_controls(models, model_name)
    with results:
        if model_name is None:
            st.info("侧栏中还没有可用的模型。")
            return
        generator = selected_generator(models, model_name)
        if generator is None:
            return
        rewrite = st.session_state.pop("rewrite", None)
        if rewrite is not None:  # 重写其余各句: the same settings, with the kept lines as a template
            values = {**values, "template": rewrite["template"], "compare": NO_COMPARISON}
            kept = "、".join(str(k + 1) for k in rewrite["kept"])
            st.caption(f"由第 {rewrite['from']} 首改写：保留第 {kept} 句，其余重写。")
        if clicked or rewrite is not None:
            generate_poems(models, generator, model_name, values)
        if "result" in st.session_state:
            result = st.session_state["result"]
            result_notes(result, values["heads"])
            if "compare" in result:
                show_comparison(result)
            else:
                show_poems(result, generator, values["prosody"])
        elif not clicked:
            st.info("输入藏头字，选好诗体和温度，点「写诗」。每个藏头字会成为一句诗的第一个字。")


# ---------- training ----------


@st.cache_data(show_spinner="正在检查上传的语料…", max_entries=4)
def check_upload(data: bytes) -> tuple[list[str], dict]:
    """Validated poems of an uploaded file plus its kept/dropped counts."""
    poems, stats = parse_uploaded_corpus(data)
    return poems, {"read": stats.read, "kept": stats.kept, "duplicates": stats.duplicates, "dropped": stats.dropped,
                   "per_form": stats.per_form, "variants_replaced": stats.variants_replaced}


def upload_summary(stats: dict) -> str:
    dropped = sum(stats["dropped"].values())
    reasons = "，".join(f"{DROP_REASONS.get(k, k)} {v}" for k, v in sorted(stats["dropped"].items()))
    forms = "，".join(f"{k} {v}" for k, v in sorted(stats["per_form"].items()))
    text = f"读入 {stats['read']} 行：保留 {stats['kept']} 首（{forms}），重复 {stats['duplicates']}，丢弃 {dropped}"
    text += f"（{reasons}）" if reasons else ""
    variants = stats["variants_replaced"]
    return text + (f"；{variants} 个异体字已写作规范字（如 劒 → 剑）" if variants else "")


def suggest_run_name(models: Path) -> str:
    """A model name not taken yet: 我的模型-1, 我的模型-2, ..."""
    number = 1
    while jobs.name_taken(models, f"我的模型-{number}"):
        number += 1
    return f"我的模型-{number}"


def poet_label(row) -> str:
    return f"{row.author}（{row.dynasty}，{row.poems:,} 首）"


@st.cache_data(max_entries=2)
def bundled_poets(version: float) -> pd.DataFrame:
    """Poets of the bundled corpus with at least 5 poems (computed once per corpus version)."""
    return poet_table(bundled_table(), min_poems=5)


def bundled_selection() -> tuple[PoemFilter, pd.DataFrame] | None:
    """Poets, or dynasties and forms, of the bundled corpus; None until something is chosen."""
    catalogue = bundled_table()
    kind = st.radio("范围", ["按诗人", "按朝代/体裁"], horizontal=True, key="train_scope")
    if kind == "按诗人":
        poets = bundled_poets(corpus_stats.corpus_version(jobs.BUNDLED_CORPUS))
        labels = dict(zip(poets.author, (poet_label(row) for row in poets.itertuples()), strict=True))
        chosen = st.multiselect("诗人（可多选，可输入名字搜索）", list(labels), format_func=labels.get,
                                key="train_poets", placeholder="例如 李白、杜甫")
        poem_filter = PoemFilter(poets=tuple(chosen))
    else:
        dynasties = st.multiselect("朝代", sorted(set(catalogue.dynasty) - {""}), key="train_dynasties")
        forms = st.multiselect("体裁", list(FORM_NAMES.values()), key="train_forms")
        poem_filter = PoemFilter(dynasties=tuple(dynasties), forms=tuple(forms))
    if not poem_filter:
        st.caption("请先选择诗人、朝代或体裁。")
        return None
    try:
        selected = select(catalogue, poem_filter)
    except PoetryError as err:
        st.warning(str(err))
        return None
    counts = selected.split.value_counts()
    st.caption(f"已选 {len(selected):,} 首：训练 {counts.get('train', 0):,} · 验证 {counts.get('valid', 0):,} · "
               f"测试 {counts.get('test', 0):,}（测试诗不参与训练，用来比较训练前后的困惑度）")
    return poem_filter, selected[selected.split == "train"]


def corpus_choice(fine_tune: bool) -> tuple[Path | None, list[str] | None, PoemFilter, list[str]]:
    """(corpus dir, uploaded poems, filter, training poems): part of the bundled corpus, all of it, or an upload."""
    sources = [BUNDLED_SUBSET_LABEL, UPLOAD_LABEL, BUNDLED_CORPUS_LABEL]
    source = st.radio("语料", sources if fine_tune else sources[::-1], key="train_corpus")
    if source == BUNDLED_SUBSET_LABEL:
        chosen = bundled_selection()
        if chosen is None:
            return None, None, PoemFilter(), []
        return jobs.BUNDLED_CORPUS, None, chosen[0], chosen[1].poem.tolist()
    if source == BUNDLED_CORPUS_LABEL:
        catalogue = bundled_table()
        return jobs.BUNDLED_CORPUS, None, PoemFilter(), catalogue.poem[catalogue.split == "train"].tolist()
    upload = st.file_uploader("UTF-8 文本，每行一首五言或七言的绝句/律诗", type=["txt"], key="train_upload")
    if upload is None:
        return None, None, PoemFilter(), []
    try:
        poems, stats = check_upload(upload.getvalue())
    except PoetryError as err:
        st.error(str(err))
        return None, None, PoemFilter(), []
    st.success(upload_summary(stats))
    return None, poems, PoemFilter(), poems


def start_training(
    models: Path, corpus_dir: Path | None, poems: list[str] | None, request: jobs.JobRequest, notice
) -> None:
    """Start the background job (saving an uploaded corpus first); refusals are shown, not raised."""
    try:
        jobs.check_can_start(models, request.name)
        if corpus_dir is None:
            if not poems:
                raise PoetryError("请先选择语料：内置语料中的诗人/朝代/体裁、整个内置语料，或上传一个有效的诗歌文本文件")
            corpus_dir = jobs.save_uploaded_corpus(models, request.name, poems)
        request.corpus_dir = corpus_dir
        jobs.start_job(models, request)
    except PoetryError as err:
        notice.error(str(err))
        return
    st.rerun()


def mode_defaults() -> None:
    """Switching between fine-tuning and training from scratch resets epochs and learning rate to that mode's defaults."""
    st.session_state.update(MODE_DEFAULTS[st.session_state["train_mode"] == TRAIN_MODES["finetune"]])


def training_form(models: Path, base_model: str | None, busy: bool, notice) -> None:
    """Fine-tune the current model (first choice) or train from scratch, with the duration estimated up front."""
    with st.expander("训练 / 微调模型", expanded=not busy):
        modes = [TRAIN_MODES["finetune"], TRAIN_MODES["scratch"]] if base_model else [TRAIN_MODES["scratch"]]
        mode = st.radio("方式", modes, key="train_mode", on_change=mode_defaults)
        fine_tune = mode == TRAIN_MODES["finetune"]
        if fine_tune:
            st.caption(f"从当前模型「{base_model}」的权重出发，在所选的诗上再学几轮：几分钟就能学到一位诗人的用字与口吻。")
        else:
            st.caption("从随机权重开始学。CPU 上很慢：小模型在整个内置语料上每轮也要半小时以上。")
        corpus_dir, poems, poem_filter, train_poems = corpus_choice(fine_tune)
        size = None
        if not fine_tune:
            size = st.selectbox("模型大小", list(SIZE_LABELS), index=1, format_func=SIZE_LABELS.get, key="train_size")
        st.session_state.setdefault("train_epochs", MODE_DEFAULTS[fine_tune]["train_epochs"])
        st.session_state.setdefault("train_lr", MODE_DEFAULTS[fine_tune]["train_lr"])
        epochs = st.number_input("训练轮数", 1, 200, key="train_epochs")
        batch_size = st.selectbox("批大小", BATCH_SIZES, index=2, key="train_batch")
        learning_rate = st.selectbox("学习率", LEARNING_RATES, format_func=lambda v: f"{v:g}", key="train_lr")
        max_poems = st.number_input("最多使用多少首诗训练（0 为全部）", 0, 1_000_000, 0, 100, key="train_max_poems")
        if "train_name" not in st.session_state:
            st.session_state["train_name"] = suggest_run_name(models)
        name = st.text_input("模型名称", key="train_name", help="字母、数字、下划线、短横线或汉字")
        shape = jobs.model_shape(models / base_model) if fine_tune else jobs.MODEL_SIZES[size]
        if train_poems and shape:
            poems_used = train_poems[: int(max_poems)] if max_poems else train_poems
            seconds = jobs.estimate_training_seconds(poems_used, int(epochs), shape)
            st.info(f"预计用时约 {jobs.format_seconds(seconds)}（{len(poems_used):,} 首 × {int(epochs)} 轮，"
                    f"按 2 核 CPU 上实测的训练速度估算）")
        if st.button("开始训练", key="start_training", type="primary", disabled=busy,
                     help="已有训练任务在运行时不能开始新的任务" if busy else None):
            request = jobs.JobRequest(
                name=name.strip(), corpus_dir=corpus_dir or jobs.BUNDLED_CORPUS, size=size or "small",
                epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(learning_rate),
                max_poems=int(max_poems) or None, init_from=str(models / base_model) if fine_tune else None,
                poem_filter=poem_filter,
            )
            start_training(models, corpus_dir, poems, request, notice)


def show_progress(status: jobs.JobStatus) -> None:
    """Progress bar with epoch, batch and ETA."""
    if status.state == "starting":
        st.progress(0.0, text="正在启动训练进程（加载 TensorFlow、准备数据）…")
        return
    if status.state == "running":
        position = f"第 {max(status.epoch, 1)}/{status.epochs} 轮 · 第 {status.batch}/{status.steps} 批"
        if status.phase:  # stopping or finishing: say what it is doing instead of an ETA
            st.progress(status.fraction, text=f"{position} · 正在收尾：{status.phase}…")
            return
        eta = "估算中" if status.eta_s is None else jobs.format_seconds(status.eta_s)
        text = f"{position} · 预计剩余 {eta}"
        if status.loss is not None:
            text += f" · 损失 {status.loss:.3f}"
        st.progress(status.fraction, text=text)


def loss_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Batch loss as a faint line, training and validation loss per epoch as lines with points;
    the y axis fits the data (not from 0), the legend sits below where it is never clipped."""
    colors = alt.Scale(domain=list(jobs.LOSS_SERIES), range=["#c9b8b0", "#b3261e", "#1e6fb3"])
    base = alt.Chart(frame).encode(
        x=alt.X("轮:Q", title="轮"),
        y=alt.Y("损失:Q", title="损失", scale=alt.Scale(zero=False, nice=True)),
        color=alt.Color("曲线:N", scale=colors, legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["曲线", alt.Tooltip("轮:Q", format=".2f"), alt.Tooltip("损失:Q", format=".3f")],
    )
    batches = base.transform_filter(alt.datum["曲线"] == jobs.LOSS_SERIES[0]).mark_line(strokeWidth=1)
    epochs = base.transform_filter(alt.datum["曲线"] != jobs.LOSS_SERIES[0]).mark_line(point=True, strokeWidth=2.5)
    return (batches + epochs).properties(height=220, title="损失曲线")


def show_curves_and_samples(status: jobs.JobStatus) -> None:
    """Loss curve (train/validation) from progress.jsonl and the sample poems of each epoch."""
    frame = jobs.loss_frame(status.events)
    if not frame.empty:
        st.altair_chart(loss_chart(frame), key="loss_chart")
    if status.samples:
        with st.expander("每轮示例诗", expanded=status.running):
            for epoch, poems in reversed(status.samples):
                st.markdown(f"**第 {epoch} 轮**")
                for text in poems:
                    st.text("\n".join(punctuated_lines(text)))


def job_panel(models: Path) -> None:
    """The latest job: live while it runs, then its outcome.

    The panel polls even when no job runs (more slowly), so a page opened before someone starts
    a job in another tab picks the new job up; whenever the job or its running state differs from
    what the page was drawn with, the whole page is redrawn (model list, start button).
    """
    drawn = jobs.latest_job(models)
    drawn_key = job_key(drawn)

    @st.fragment(run_every=POLL_SECONDS if drawn_key[1] else IDLE_POLL_SECONDS)
    def panel() -> None:
        current = jobs.latest_job(models)
        if job_key(current) != drawn_key:
            st.rerun(scope="app")
        if current is None:
            return
        status = jobs.job_status(current)
        st.markdown(f"**训练任务「{current.name}」**")
        if status.running:
            show_progress(status)
            if current.stop_requested:
                st.info("已请求停止：训练会在当前批次结束后停下，保留最佳检查点并生成模型。")
            elif st.button("停止训练", key="stop_training"):
                jobs.stop_job(current)
                st.info("已请求停止：训练会在当前批次结束后停下，保留最佳检查点并生成模型。")
        elif status.state in jobs.FINAL_EVENTS:
            verb = "已完成" if status.state == "done" else "已停止（保留了最佳检查点）"
            st.success(f"训练{verb}：模型「{current.name}」已加入上方的模型列表。")
        else:
            st.error(f"训练失败：{status.message}")
            st.code(status.log_tail or "（没有日志）", language=None)
        show_curves_and_samples(status)

    panel()


def job_key(job: jobs.Job | None) -> tuple[str | None, bool]:
    """What the page shows of the training jobs: the latest job's name and whether it runs."""
    return (None, False) if job is None else (job.name, jobs.job_status(job).running)


def training_sidebar(models: Path, base_model: str | None) -> None:
    st.header("训练")
    job_panel(models)
    # Refusals go above the form: its expander may be collapsed in this tab.
    notice = st.container()
    active = jobs.active_job(models)
    if active is not None:
        # Also the answer to a click that raced another tab's start: a disabled button's click is dropped.
        notice.warning(f"训练任务「{active.name}」正在运行：等它结束或先停止它，才能开始新的任务。")
    training_form(models, base_model, busy=active is not None, notice=notice)


# ---------- corpus ----------


def corpus_sources(models: Path) -> dict[str, Path]:
    """The bundled corpus and every uploaded corpus saved for a training run."""
    uploaded = {f"上传：{name}": path for name, path in jobs.uploaded_corpora(models).items()}
    return {BUNDLED_CORPUS_LABEL: jobs.BUNDLED_CORPUS, **uploaded}


@st.cache_resource(show_spinner="正在统计语料…", max_entries=8)
def poem_table(path: str, version: float) -> pd.DataFrame:
    """The corpus as a table, shared read-only by every session (a cached copy per rerun would cost
    a second for the bundled corpus)."""
    return corpus_stats.poem_table(Path(path))


@st.cache_data(show_spinner="正在统计语料…", max_entries=8)
def corpus_summary(path: str, version: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(forms per split, poets, characters) of a corpus, computed once per corpus version."""
    table = poem_table(path, version)
    return corpus_stats.form_counts(table), corpus_stats.top_poets(table), corpus_stats.character_counts(list(table.poem))


@st.cache_data(show_spinner="正在用 jieba 分词…", max_entries=8)
def word_counts(path: str, version: float, sample: int | None) -> pd.DataFrame:
    return corpus_stats.word_counts(list(poem_table(path, version).poem), sample)


def form_chart(forms: pd.DataFrame) -> alt.Chart:
    """Poems per form as horizontal bars: the Chinese labels stay upright."""
    totals = forms.drop(index=corpus_stats.TOTAL)[corpus_stats.TOTAL].rename("首数").rename_axis("诗体").reset_index()
    return alt.Chart(totals).mark_bar(color="#b3261e").encode(
        x=alt.X("首数:Q", axis=alt.Axis(format=",d")),
        y=alt.Y("诗体:N", sort=None, title=None),
        tooltip=["诗体", alt.Tooltip("首数:Q", format=",d")],
    ).properties(height=160)


def bundled_table() -> pd.DataFrame:
    """The bundled corpus as a poem table (cached until the corpus changes)."""
    path = jobs.BUNDLED_CORPUS
    return poem_table(str(path), corpus_stats.corpus_version(path))


def corpus_tab(models: Path) -> None:
    """Statistics of the bundled or an uploaded corpus."""
    sources = corpus_sources(models)
    label = st.selectbox("语料", list(sources), key="corpus_view")
    path = str(sources[label])
    version = corpus_stats.corpus_version(Path(path))
    try:
        table = poem_table(path, version)
    except PoetryError as err:
        st.warning(str(err))
        return
    if table.empty:
        st.warning(f"「{label}」中没有诗")
        return
    st.caption(f"{label} · 共 {len(table):,} 首 · {int(table.characters.sum()):,} 字")
    counts = st.column_config.NumberColumn(format="localized")  # thousands separators
    left, right = st.columns(2)
    with left:
        st.markdown("**各诗体数量**")
        forms, poets, characters = corpus_summary(path, version)
        st.dataframe(forms, key="corpus_forms", column_config=dict.fromkeys(forms.columns, counts))
        st.altair_chart(form_chart(forms), key="corpus_form_chart")
    with right:
        st.markdown("**诗人（按首数）**")
        if poets.empty:
            st.caption("这份语料没有作者信息。")
        st.dataframe(poets, height=360, key="corpus_poets", column_config={"首数": counts})
    left, right = st.columns(2)
    with left:
        st.markdown("**字频（前 100）**")
        st.dataframe(characters, height=360, key="corpus_chars", column_config={
            "次数": counts, "占比": st.column_config.NumberColumn(format="percent"),
        })
    with right:
        st.markdown("**高频词（jieba 分词，两字以上）**")
        choice = st.radio("分词范围", list(JIEBA_SAMPLES), key="jieba_sample", horizontal=True)
        st.caption("jieba 按现代汉语训练，对古诗只能近似切分；全量分词约需十几秒，默认随机抽样（种子固定），结果会缓存。")
        st.dataframe(word_counts(path, version, JIEBA_SAMPLES[choice]), height=360, key="corpus_words",
                     column_config={"次数": counts})


# ---------- analysis ----------

PASTE_LABEL = "自己输入"
EXAMPLE_POEM = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。"


def analysis_html(analysis: Analysis) -> str:
    """Each character over its 平仄 mark; broken rules in red, rhyme positions ringed."""
    broken = {(v.line, v.position) for v in analysis.violations}
    rows = []
    for number, (line, marks, wanted) in enumerate(
        zip(analysis.lines, analysis.marks, analysis.pattern_tones, strict=True), 1
    ):
        cells = []
        for position, (char, mark, want) in enumerate(zip(line, marks, wanted or "—" * len(line), strict=True), 1):
            classes = ["cell"]
            if (number, position) in broken:
                classes.append("bad")
            if number in analysis.rhyme_lines and position == len(line):
                classes.append("rhyme")
            cells.append(
                f'<span class="{" ".join(classes)}" title="谱：{want}"><b>{html.escape(char)}</b>'
                f"<i>{html.escape(mark)}</i></span>"
            )
        pattern = f'<span class="want">谱 {html.escape(wanted)}</span>' if wanted else ""
        rows.append(f'<div class="tone-line">{"".join(cells)}{pattern}</div>')
    return f'<div class="tones">{"".join(rows)}</div>'


def analysis_tab() -> None:
    """诗词分析: 平仄 of each character, rhyme, the matching pattern and every broken rule."""
    poems: list[Poem] = st.session_state.get("result", {}).get("poems", [])
    sources = [PASTE_LABEL] + [f"候选 {i + 1}：{p.display_lines()[0]}…" for i, p in enumerate(poems)]
    source = st.selectbox("分析哪首诗", sources, key="analyse_source")
    if source == PASTE_LABEL:
        text = st.text_area("粘贴一首五言或七言诗（句间用标点或换行分开）", EXAMPLE_POEM, key="analyse_text", height=130)
    else:
        text = poems[sources.index(source) - 1].text
        st.text("\n".join(poems[sources.index(source) - 1].display_lines()))
    system = st.radio("按哪部韵书判韵", list(SYSTEMS), format_func=SYSTEM_LABELS.get, key="analyse_system",
                      horizontal=True)
    try:
        analysis = analyse(text, system)
    except PoetryError as err:
        st.warning(str(err))
        return
    except Exception as err:  # never a traceback in the page
        st.error(f"分析时出错：{type(err).__name__}: {err}")
        return
    if not analysis.regulated:
        st.info(analysis.pattern)
    left, middle, right = st.columns([5, 2, 3])
    left.metric("格式", analysis.pattern if analysis.regulated else "非绝句、律诗")
    middle.metric("韵", f"{analysis.rhyme_group}韵" if analysis.rhymes else "不押韵")
    ratio = f"{analysis.tone_ok_ratio:.0%}" if analysis.tone_ok_ratio is not None else "—"
    right.metric("平仄合律", f"{analysis.tone_ok}/{analysis.checked}（{ratio}）")
    st.markdown(analysis_html(analysis), unsafe_allow_html=True)
    rhymes = "、".join(f"{c}（{g}）" for c, g in zip(analysis.rhyme_chars, analysis.rhyme_groups, strict=True))
    st.caption(f"韵脚（第 {'、'.join(map(str, analysis.rhyme_lines))} 句末字）：{rhymes}。"
               "标记：平 / 仄，两 = 多音字平仄两可，？ = 字表中没有；红色为出律，圈出的是韵脚；悬停可看格律谱。")
    if analysis.violations:
        st.markdown("\n".join(f"- {v.message}" for v in analysis.violations))
    else:
        st.success("无出律之处")


# ---------- page ----------


def main() -> None:
    st.set_page_config(page_title="藏头诗工坊", page_icon="📜", layout="wide")
    st.markdown(CSS, unsafe_allow_html=True)
    models = jobs.models_dir()
    with st.sidebar:
        model_name = model_selector(models)
        st.divider()
        training_sidebar(models, model_name)
    st.title("藏头诗工坊")
    st.caption("字级 LSTM 语言模型（读过 22 万首唐宋格律诗）写藏头诗：五言、七言，可控温度、押韵与平仄；"
               "侧栏可以把模型微调成某位诗人或你自己语料的风格。它模仿用字与格式，并不懂诗意。")
    write, analysis, corpus = st.tabs(["写诗", "诗词分析", "语料"])
    with write:
        write_tab(models, model_name)
    with analysis:
        analysis_tab()
    with corpus:
        corpus_tab(models)


main()
