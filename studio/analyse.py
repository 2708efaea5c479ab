"""诗词分析: each character's 平仄, the rhyme, the matching pattern and every broken rule."""

from __future__ import annotations

import html

import streamlit as st

from poetry_lm.compose.generate import Poem
from poetry_lm.errors import PoetryError
from poetry_lm.prosody.analysis import MAX_POEM_CHARS, Analysis, analyse
from poetry_lm.prosody.rhyme import SYSTEMS
from studio.widgets import SYSTEM_LABELS

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


@st.cache_data(max_entries=64, show_spinner=False)
def cached_analysis(text: str, system: str) -> Analysis:
    """The analysis of one text: every tab reruns on every click, and the same poem need not be analysed again."""
    return analyse(text, system)


def analysis_tab() -> None:
    """诗词分析: 平仄 of each character, rhyme, the matching pattern and every broken rule."""
    poems: list[Poem] = st.session_state.get("result", {}).get("poems", [])
    sources = [PASTE_LABEL] + [f"候选 {i + 1}：{p.display_lines()[0]}…" for i, p in enumerate(poems)]
    source = st.selectbox("分析哪首诗", sources, key="analyse_source")
    if source == PASTE_LABEL:
        text = st.text_area("粘贴一首五言或七言诗（句间用标点或换行分开）", EXAMPLE_POEM, key="analyse_text", height=130,
                            max_chars=MAX_POEM_CHARS)
    else:
        text = poems[sources.index(source) - 1].text
        st.text("\n".join(poems[sources.index(source) - 1].display_lines()))
    system = st.radio("按哪部韵书判韵", list(SYSTEMS), format_func=SYSTEM_LABELS.get, key="analyse_system",
                      horizontal=True)
    try:
        analysis = cached_analysis(text, system)
    except PoetryError as err:
        st.warning(str(err))
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
