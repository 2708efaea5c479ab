"""写诗: heads, form, sampling and 格律 on the left; candidate cards on the right, each with 保留几句 and 换一个字
(what every card offers, 收藏 and 撤销: studio/cards.py)."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from poetry_lm import jobs
from poetry_lm.compose.occasion import OCCASIONS
from poetry_lm.compose.settings import (
    DEFAULT_STYLE,
    DEFAULT_STYLE_STRENGTH,
    DEFAULT_TEMPERATURE,
    DEFAULT_THEME_STRENGTH,
    MAX_HEADS,
    MAX_STYLE_STRENGTH,
    MAX_THEME_STRENGTH,
    STYLES,
    Settings,
    normalise_heads,
)
from poetry_lm.compose.template import (
    CI_PLACEMENTS,
    PLACEMENTS,
    POSITIONS,
    hidden_plan,
    locked_template,
    reflow_template,
)
from poetry_lm.compose.theme import NAMED_THEMES
from poetry_lm.errors import PoetryError
from poetry_lm.prosody.cipu import ci_form, ci_pattern, tune_names
from poetry_lm.prosody.constraints import given_rhyme_advice
from poetry_lm.prosody.options import DEFAULT_PROSODY, RHYME_SCHEMES, TONE_MODES, ProsodyOptions
from poetry_lm.prosody.rhyme import SYSTEMS, example_chars, group_names
from studio.cards import card_actions, favourites_panel, position_label, remember_result, undo_control
from studio.models import model_label, model_stamp, selected_generator, vocabulary_chars
from studio.widgets import (
    SCORE_HELP,
    SYSTEM_LABELS,
    poem_html,
    poem_notes,
    results_anchor,
    scroll_to_results,
)

if TYPE_CHECKING:  # the generator module imports TensorFlow: the page draws without it (studio/models.py)
    from poetry_lm.compose.generate import Poem, PoemGenerator

FORMS = {"七言": 7, "五言": 5}
GENRES = ("诗", "词")
TONE_LABELS = dict(zip(TONE_MODES, ["不限平仄", "宽：倾向合律", "严：必须合律"], strict=True))
SCHEME_LABELS = dict(zip(RHYME_SCHEMES, ["偶数句押韵", "首句和偶数句押韵"], strict=True))
AUTO_RHYME = "自动选择"
NO_COMPARISON = "不对比"


def temperature_hint(value: float) -> str:
    """One line on what the temperature does at this value."""
    if value < 0.5:
        mood = "偏保守：用字常见稳妥，候选彼此相近"
    elif value <= 1.1:
        mood = "适中：通顺与新意兼顾"
    else:
        mood = "偏大胆：用字新奇多变，也更容易不通"
    return f"温度控制随机性，越低越稳妥、越高越新奇。当前 {value:.2f}，{mood}。"


def prosody_controls(vocab_chars: list[str], ci: bool = False) -> ProsodyOptions:
    """The 格律 expander: rhyme (on by default), rhyme system, scheme and group, tonal pattern (soft by default);
    a 词 (`ci`) rhymes where its 谱 says, by 词林正韵, so only rhyme and tones are offered."""
    with st.expander("格律（押韵与平仄）"):
        st.session_state.setdefault("rhyme", DEFAULT_PROSODY.rhyme)
        st.session_state.setdefault("tones", DEFAULT_PROSODY.tones)
        if ci:
            rhyme = st.checkbox("押韵（按谱中韵位，用词林正韵）", key="rhyme")
            tones = st.radio("平仄", list(TONE_LABELS), format_func=TONE_LABELS.get, key="tones", horizontal=True,
                             help="按谱中定声的字位（○ 平 ● 仄）；◎ 可平可仄的字位不限")
            return replace(DEFAULT_PROSODY, rhyme=rhyme, tones=tones)
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


def show_poems(result: dict, generator: PoemGenerator, prosody: ProsodyOptions) -> None:
    """The candidates of the last 写诗 click as cards, best first, each with copy, downloads, 收藏 and edits."""
    poems: list[Poem] = result["poems"]
    st.caption(f"模型「{model_label(result['model'])}」· {len(poems)} 首候选 · 用时 {result['seconds'] * 1000:.0f} 毫秒 · "
               "按排序得分从高到低：通顺为主，兼顾用字新颖，字词重复扣分", help=SCORE_HELP)
    unknown = poems[0].unknown_heads if poems else []
    if unknown:
        st.warning(
            f"藏头字「{'、'.join(unknown)}」不在模型「{model_label(result['model'])}」的词表中：仍然放在句首，但模型没见过这些字，"
            "接下来的字可能不够贴切。"
        )
    note = free_lines_note(poems[0]) if poems else None
    if note:
        st.caption(note)
    undo_control()
    left, right = st.columns(2)
    vertical = left.toggle("竖排（从右到左）", key="vertical")
    right.text_input("诗卡标题（可选）", key="card_title", max_chars=12, placeholder="保存图片时印在卡上")
    if vertical and poems and len(poems[0].lines) > 5:  # a narrow card shows about five columns
        st.caption(f"竖排共 {len(poems[0].lines)} 列，卡片内可左右滑动查看全部；「保存图片」得到完整的一张。")
    columns = st.columns(2)
    for i, poem in enumerate(poems):
        with columns[i % 2], st.container(border=True):
            st.markdown(f"**第 {i + 1} 首**")
            st.markdown(poem_html(poem, vertical), unsafe_allow_html=True)
            st.caption(poem_notes(poem), help=SCORE_HELP)
            card_actions(poem, str(i), vertical)
            rewrite_control(poem, i)
            change_control(generator, poem, i, prosody)
    everything = "\n\n".join("\n".join(p.display_lines()) + f"\n（排序得分 {p.score or p.log_prob:.1f}）" for p in poems)
    st.download_button(
        "下载全部候选", everything + "\n",
        file_name=f"藏头{'词' if poems and poems[0].tune else '诗'}_{poems[0].heads if poems else ''}.txt",
        mime="text/plain", key="download_all",
    )


def free_lines_note(poem: Poem) -> str | None:
    """Why a poem has more lines than hidden characters (a whole 绝句 for a name; a line added for the rhyme)."""
    hidden_on = sorted({i for i, _ in poem.marked})
    free = [i + 1 for i in range(len(poem.lines)) if i not in hidden_on]
    if not poem.marked or not free or poem.tune:  # a 词's clauses are its 谱's: none is added
        return None
    where = "、".join(str(i + 1) for i in hidden_on)
    if len(poem.marked) > 4:
        return (f"{len(poem.marked)} 个藏字写成 {len(poem.lines)} 句：第 {free[-1]} 句是补上的，"
                "好让末句落在韵脚上（近体诗偶数句押韵）。")
    return f"「{poem.heads}」写成一首完整的绝句：藏字在第 {where} 句，第 {'、'.join(map(str, free))} 句自由书写，照样押韵。"


def tune_picker() -> str:
    """The 词牌 picker (type to search), each with how many 词 of it the corpus holds, and its 谱 beside it."""
    names = tune_names()
    tune = st.selectbox("词牌（可输入搜索）", names, key="tune", format_func=tune_label,
                        help="语料中写得够多（主体至少 30 首）的词牌才有谱；“单调”是上下阕相同的词牌只写一阕")
    pattern = ci_pattern(tune)
    chart = pattern.chart().replace("\n", "<br>")  # one line per 阕
    st.markdown(f'<div class="ci-chart">{chart}</div>', unsafe_allow_html=True)
    st.caption(f"《{pattern.tune}》{len(pattern.lengths)} 句 {sum(pattern.lengths)} 字，{len(chart.split('<br>'))} 阕；"
               f"谱由语料中 {pattern.poems} 首统计（主体占 {pattern.share:.0%}）：○ 平 ● 仄 ◎ 可平可仄，（韵N）为第 N 组韵脚")
    return tune


def ci_model_note(models: Path, model_name: str) -> None:
    """Which model writes the 词, when it is not the one chosen in the sidebar, or that the chosen one never read 词."""
    writer = jobs.ci_writer(models, model_name)
    if writer != model_name:
        st.caption(f"词由「{model_label(writer)}」写：它读过宋词，每首词牌在前。侧栏所选的「{model_label(model_name)}」"
                   "没有学过词，写诗时仍用它。")
    elif not jobs.learned_ci(models / model_name):
        st.caption(f"「{model_label(model_name)}」没有学过词：格律照谱，用语可能不像词。")


def tune_label(name: str) -> str:
    pattern = ci_pattern(name)
    return f"{name}（{pattern.poems} 首，{sum(pattern.lengths)} 字）"


def style_chosen() -> None:
    """A style sets the temperature slider to its own value (the slider stays free to move after)."""
    st.session_state["temperature"] = STYLES[st.session_state["style"]].temperature


def write_controls(models: Path, model_name: str | None, ready: bool, base: str | None = None) -> tuple[bool, dict]:
    """The input column: heads, form, sampling settings, 格律, the 写诗 button (enabled once the model is `ready`);
    风格强度 when the model was fine-tuned from `base`."""
    values = {
        "heads": st.text_input(
            f"藏头字（1 到 {MAX_HEADS} 个汉字，名字、祝福语都可以）", key="heads", placeholder="例如：春花秋月，或一个名字"
        ),
    }
    left, right = st.columns(2)
    with left:
        values["genre"] = st.radio("体裁", list(GENRES), key="genre", horizontal=True,
                                   help="诗：五言或七言绝句、律诗；词：按词牌的谱填词。对联在上方的「对联」页")
    with right:
        values["candidates"] = st.slider("候选数量", 1, 8, 4, key="num_candidates")
    values["tune"] = tune_picker() if values["genre"] == "词" else None
    if values["tune"] is not None and model_name is not None:
        ci_model_note(models, model_name)
    if values["tune"] is None:
        values["form"] = st.radio("诗体", list(FORMS), key="form", horizontal=True)
        line_length = FORMS[values["form"]]
    else:
        values["form"] = None
        line_length = min(ci_pattern(values["tune"]).lengths)
    positions = [*POSITIONS, *map(str, range(2, line_length))]
    left, right = st.columns(2)
    with left:
        values["position"] = st.selectbox(
            "藏在哪里", positions, key="position", format_func=position_label,
            help="藏头：每句第一字；藏尾：每句末字；第 N 字：每句同一位置；递增/递减：斜着藏（最多每句字数个字）",
        )
    with right:
        values["theme"] = st.text_input("主题（可选）", key="theme", max_chars=20, placeholder="例如：明月、边塞秋风",
                                        help=f"几个词或一个短语。{'、'.join(NAMED_THEMES)}这几个主题会带来它们的意象词"
                                             "（边塞：烽火、羌笛、玉门关……，取自唐宋诗中题目点明该主题的诗）；"
                                             "其他主题多用这些字和常与它们同现的字")
    values["occasion"] = st.selectbox(
        "场合", list(OCCASIONS), key="occasion", format_func=lambda name: f"{name}：{OCCASIONS[name].description}",
        help="祝福、生日、婚庆、乔迁/开业、春节：诗里不会出现死、泪、愁、断肠一类的字词，并多用这个场合的吉祥意象；"
             "送别：多用长亭、杨柳、故人；无：不限",
    )
    if values["tune"] is None:
        values["placement"] = st.selectbox(
            "藏在哪几句", list(PLACEMENTS), key="placement", format_func=PLACEMENTS.get,
            help="整首：一到三个字（例如名字）也写成一首完整的绝句，其余各句自由书写并照样押韵；藏字是 5、7 这样的单数时"
                 "补一句，让末句押韵。隔句分开：两个字藏在第 1、3 句。每字一句：有几个字就写几句",
        )
    else:
        values["placement"] = st.selectbox(
            "藏在哪几句", list(CI_PLACEMENTS), key="ci_placement", format_func=CI_PLACEMENTS.get,
            help="从第一句起：每句藏一字，依次往下；分散：均匀分到全词各句；分到各阕：上下阕各从第一句起藏一半",
        )
    values["theme_strength"] = st.slider(
        "主题强度", 0.0, MAX_THEME_STRENGTH, DEFAULT_THEME_STRENGTH, 0.5, key="theme_strength",
        help="只在填了主题时起作用：给主题字加的分（相关的字加一半）；越大，主题越常出现",
    )
    st.session_state.setdefault("style", DEFAULT_STYLE)
    st.session_state.setdefault("temperature", DEFAULT_TEMPERATURE)
    style = st.radio("风格", list(STYLES), key="style", horizontal=True, on_change=style_chosen,
                     help="一次设定温度和用字新颖度；温度仍可在下面单独调")
    st.caption(f"{style}：{STYLES[style].description}")
    values["style_strength"] = DEFAULT_STYLE_STRENGTH
    if base is not None:
        values["style_strength"] = st.slider(
            "风格强度", 0.0, MAX_STYLE_STRENGTH, DEFAULT_STYLE_STRENGTH, 0.5, key="style_strength",
            help=f"这个模型是从「{model_label(base)}」微调来的。0（默认）：只用微调后的模型，已经很像这位诗人；"
                 "调大会放大微调学到的用字与口吻（与起点模型相比变化的部分），更“像”，但也更刻意、更容易被看出不是原作",
        )
    values["specificity"] = STYLES[style].specificity
    values["temperature"] = st.slider("温度", 0.1, 2.0, step=0.05, key="temperature")
    st.caption(temperature_hint(values["temperature"]))
    with st.expander("高级：抽样细节"):
        left, right = st.columns(2)
        with left:
            values["top_k"] = st.number_input("只从最可能的几个字里选（0 为不限）", 0, 5000, 0, 10, key="top_k",
                                              help="即 top-k 抽样：每一步只在模型认为最可能的 k 个字里抽；越小越保守")
        with right:
            values["seed"] = st.number_input("随机种子（可选）", min_value=0, value=None, step=1, key="seed",
                                             help="留空则每次不同；填同一个数字会得到同样的诗")
    model_path = models / model_name if model_name else models
    values["prosody"] = prosody_controls(vocabulary_chars(str(model_path), model_stamp(model_path)) if model_name else [],
                                         ci=values["tune"] is not None)
    others = [name for name in jobs.list_models(models) if name != model_name]
    values["compare"] = st.selectbox(
        "与另一个模型对比", [NO_COMPARISON, *others], key="compare_model", format_func=model_label,
        help="用同样的藏头字、设置和随机种子，让两个模型各写一遍（例如基础模型与微调后的模型），并排比较",
    )
    rhyme_advice(values)
    clicked = st.button("写诗", key="generate", type="primary", disabled=not ready, width="stretch",
                        help=None if ready else "模型加载完成后可用")
    return clicked, values


def rhyme_advice(values: dict) -> None:
    """Before writing: given characters at rhyme positions (藏尾) that cannot rhyme as set, and the one
    click that fixes it, instead of a rhyme warning on every card."""
    if values["tune"] is not None:
        return  # a 词's segments each choose a 部 the given characters share, or write around them
    try:
        plan = hidden_plan(normalise_heads(values["heads"]), values["position"], FORMS[values["form"]],
                           values["placement"])
    except PoetryError:
        return  # the heads' own message comes with 写诗
    advice = given_rhyme_advice(plan.fixed_cells, plan.lines, plan.line_length, values["prosody"])
    if advice is None:
        return
    st.warning(advice.message)
    for k, (label, options) in enumerate(advice.fixes):
        st.button(f"一键修正：{label}", key=f"rhyme_fix_{k}", on_click=apply_prosody, args=(options,), width="stretch")


def apply_prosody(options: ProsodyOptions) -> None:
    """Set the 格律 controls to `options` (before they are drawn again)."""
    st.session_state.update(rhyme=options.rhyme, rhyme_scheme=options.rhyme_scheme, rhyme_system=options.rhyme_system)


def generate_poems(models: Path, generator: PoemGenerator, model_name: str, values: dict) -> None:
    """Run the generator (and the comparison model, with the same seed) for the form values; keep the
    result in the session, or show why not."""
    try:
        seed = None if values["seed"] is None else int(values["seed"])
        if seed is None and values["compare"] != NO_COMPARISON:
            seed = random.randrange(2**31)  # both models must draw the same random numbers
        settings = Settings(
            heads=values["heads"], line_length=FORMS.get(values["form"], 7), num_candidates=int(values["candidates"]),
            tune=values.get("tune"),
            temperature=float(values["temperature"]), specificity=float(values["specificity"]),
            top_k=int(values["top_k"]) or None,
            seed=seed, prosody=values["prosody"], position=values["position"], template=values.get("template"),
            theme=values["theme"].strip() or None, theme_strength=float(values["theme_strength"]),
            occasion=values.get("occasion"), placement=values.get("placement", "lines"),
            style_strength=float(values.get("style_strength", DEFAULT_STYLE_STRENGTH)),
        )
        started = time.perf_counter()
        result = {
            "model": model_name, "poems": generator.generate(settings), "seconds": 0.0, "seed": seed,
            "typed_heads": typed_heads(values["heads"]),
        }
        result["seconds"] = time.perf_counter() - started
        if values["compare"] != NO_COMPARISON:
            other = selected_generator(models, values["compare"], wait=True)
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
    st.caption(f"同样的藏头字、设置与随机种子 {result['seed']}：左边是「{model_label(result['model'])}」，右边是"
               f"「{model_label(result['compare']['model'])}」，各自按排序得分排列。")
    columns = st.columns(2)
    for column, side, side_key in zip(columns, (result, result["compare"]), ("left", "right"), strict=True):
        with column:
            st.markdown(f"**{model_label(side['model'])}**")
            for rank, poem in enumerate(side["poems"]):
                with st.container(border=True):
                    st.markdown(poem_html(poem, vertical), unsafe_allow_html=True)
                    st.caption(poem_notes(poem), help=SCORE_HELP)
                    card_actions(poem, f"{side_key}_{rank}", vertical)


@st.cache_data(max_entries=256, show_spinner=False)
def cell_alternatives(_generator: PoemGenerator, model: str, lines: tuple[str, ...], line: int, position: int,
                      prosody: ProsodyOptions, tune: str | None = None) -> list[tuple[str, float]]:
    """`alternatives`, cached per model, poem and cell (every rerun redraws the cards)."""
    from poetry_lm.compose.generate import alternatives

    return alternatives(_generator, list(lines), line, position, prosody, form=ci_form(tune) if tune else None)


def change_control(generator: PoemGenerator, poem: Poem, index: int, prosody: ProsodyOptions) -> None:
    """换一个字: the model's top characters for one cell given everything to its left (and the poem's
    rhyme and tones); keep the rest of the poem, or rewrite the rest of that line."""
    with st.expander("换一个字"):
        # One under the other, full width: in a narrow card two columns cut the lines ("4：圆明…").
        line = st.selectbox("第几句", range(len(poem.lines)), format_func=lambda k: f"第 {k + 1} 句：{poem.lines[k]}",
                            key=f"alt_line_{index}")
        cells = [j for j in range(len(poem.lines[line])) if (line, j) not in set(poem.marked)]
        position = st.selectbox("第几字", cells, format_func=lambda j: f"第 {j + 1} 字：{poem.lines[line][j]}",
                                key=f"alt_char_{index}")
        if position is None:
            st.caption("这一句只有藏字，不能换。")
            return
        found = [(char, prob) for char, prob in cell_alternatives(generator, str(generator.model_dir.path),
                                                                   tuple(poem.lines), line, position, prosody,
                                                                   poem.tune)
                 if char != poem.lines[line][position]]
        if not found:
            st.caption("这里没有别的字可选。")
            return
        choice = st.radio("换成", [char for char, _ in found], horizontal=True, key=f"alt_pick_{index}",
                          format_func=lambda char: f"{char} {dict(found)[char]:.0%}")
        if st.button(f"只把「{poem.lines[line][position]}」换成「{choice}」", key=f"alt_keep_{index}", width="stretch"):
            lines = [text if k != line else text[:position] + choice + text[position + 1 :]
                     for k, text in enumerate(poem.lines)]
            from poetry_lm.compose.generate import score_lines

            log_prob, per_char = score_lines(generator, lines, poem.form)
            remember_result()
            st.session_state["result"]["poems"][index] = replace(poem, lines=lines, log_prob=log_prob,
                                                                 char_log_probs=per_char, score=None)
            st.rerun()
        if position == len(poem.lines[line]) - 1:
            st.caption("这是句末的字：后面没有字可重写，只能单换这一个字。")
        elif st.button("换字，并重写这一句后面的字", key=f"alt_reflow_{index}", width="stretch"):
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
        if not keep or len(keep) == len(poem.lines):
            st.caption("勾选要保留的句子（至少一句，不能全选），其余的句子会重写；改写后可以撤销。")
        if st.button("重写其余各句", key=f"rewrite_{index}", disabled=not keep or len(keep) == len(poem.lines),
                     width="stretch"):
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
    generator, writer = None, model_name  # writer: the model that writes (a 词 goes to one that has read 词)
    with results:  # first, so the controls know whether 写诗 can be enabled
        results_anchor()
        if model_name is None:
            st.info("侧栏中还没有可用的模型。")
        else:
            writer = jobs.ci_writer(models, model_name) if st.session_state.get("genre") == "词" else model_name
            generator = selected_generator(models, writer)
    with controls:
        base = None if generator is None or generator.base_dir is None else generator.base_dir.path.name
        clicked, values = write_controls(models, model_name, ready=generator is not None, base=base)
    if generator is None:
        return
    with results:
        rewrite = st.session_state.pop("rewrite", None)
        if rewrite is not None:  # 重写其余各句: the same settings, with the kept lines as a template
            # A fresh seed: with the form's fixed seed a rewrite could come back unchanged.
            values = {**values, "template": rewrite["template"], "compare": NO_COMPARISON,
                      "seed": random.randrange(2**31)}
            kept = "、".join(str(k + 1) for k in rewrite["kept"])
            st.caption(f"由第 {rewrite['from']} 首改写：保留第 {kept} 句，其余重写。")
            remember_result()
        if clicked:
            st.session_state.pop("history", None)  # new heads or settings: the old edits are not undone into
        if clicked or rewrite is not None:
            generate_poems(models, generator, writer, values)
            scroll_to_results()
        if "result" in st.session_state:
            result = st.session_state["result"]
            result_notes(result, values["heads"])
            if "compare" in result:
                show_comparison(result)
            else:
                show_poems(result, generator, values["prosody"])
        elif not clicked:
            st.info("输入藏头字，选好诗体和温度，点「写诗」。每个藏头字会成为一句诗的第一个字。")
        favourites_panel()
