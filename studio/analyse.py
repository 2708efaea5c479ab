"""诗词分析: each character's 平仄, the rhyme, the matching pattern and every broken rule."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import streamlit as st

from poetry_lm.errors import PoetryError
from poetry_lm.prosody.analysis import MAX_POEM_CHARS, Analysis, analyse, parse_poem, verdict_line
from poetry_lm.prosody.cipu import MARKS, CiCheck, check_ci, recognise
from poetry_lm.prosody.couplet import CoupletReport, check_couplet, even_positions, tone_mark
from poetry_lm.prosody.rhyme import SYSTEMS
from poetry_lm.text.charforms import to_simplified
from poetry_lm.text.couplets import split_couplet

if TYPE_CHECKING:  # the generator module imports TensorFlow: the page draws without it
    from poetry_lm.compose.generate import Poem

PASTE_LABEL = "自己输入"
# 杜甫《登高》: a strict 七律 that rhymes in 平水韵 (灰) but not in today's readings (回 huí, 杯 bēi).
EXAMPLE_POEM = ("风急天高猿啸哀，渚清沙白鸟飞回。\n无边落木萧萧下，不尽长江滚滚来。\n"
                "万里悲秋常作客，百年多病独登台。\n艰难苦恨繁霜鬓，潦倒新停浊酒杯。")
# A verdict on a poem looks at the book of its time (平水韵) and, when asked, today's (中华新韵).
ANALYSIS_SYSTEM_LABELS = {"both": "平水韵或中华新韵（默认）", "pingshui": "只看平水韵", "xinyun": "中华新韵（并看平水韵）"}
KIND_NOTES = {
    "近体": "近体诗：按平仄、粘对、押平声韵检查",
    "古绝": "古绝：不守近体的平仄粘对，近体格律不适用，出律处只作对照",
    "古体": "古体（拗律）：不守近体的平仄粘对，近体格律不适用，出律处只作对照",
    "仄韵古绝": "仄韵古绝：押仄声韵，近体格律不适用",
    "仄韵古体": "仄韵古体：押仄声韵，近体格律不适用",
    "杂言": "非绝句、律诗：只标平仄与韵脚",
}
LEGEND = ("标记：平 / 仄，两 = 多音字平仄两可，？ = 字表中没有，下方为今音拼音（入声字今读多为平声，古属仄）；"
          "红色为出律，蓝圈为韵脚；点一下字可看格律谱。韵部写法：平水韵部（如 灰），中华新韵部（如 微）。")


def analysis_html(analysis: Analysis) -> str:
    """Each character over its 平仄 mark; broken rules in red, rhyme positions ringed."""
    broken = {(v.line, v.position) for v in analysis.violations}
    rows = []
    pinyin = analysis.pinyin or [[""] * len(line) for line in analysis.lines]
    for number, (line, marks, wanted, readings) in enumerate(
        zip(analysis.lines, analysis.marks, analysis.pattern_tones, pinyin, strict=True), 1
    ):
        cells = []
        for position, (char, mark, want, reading) in enumerate(
            zip(line, marks, wanted or "—" * len(line), readings, strict=True), 1
        ):
            classes = ["cell"]
            if (number, position) in broken:
                classes.append("bad")
            if number in analysis.rhyme_lines and position == len(line):
                classes.append("rhyme")
            cells.append(
                f'<span class="{" ".join(classes)}" data-want="{html.escape(want)}" tabindex="0"><b>{html.escape(char)}</b>'
                f"<i>{html.escape(mark)}</i><small>{html.escape(reading)}</small></span>"
            )
        pattern = f'<span class="want">谱 {html.escape(wanted)}</span>' if wanted else ""
        rows.append(f'<div class="tone-line">{"".join(cells)}{pattern}</div>')
    return f'<div class="tones">{"".join(rows)}</div>'


@st.cache_data(max_entries=64, show_spinner=False)
def cached_analysis(text: str, system: str) -> Analysis:
    """The analysis of one text: every tab reruns on every click, and the same poem need not be analysed again."""
    return analyse(text, system)


def couplet_check_html(report: CoupletReport) -> str:
    """A pasted couplet position by position: each character's 平仄 and word class, ✓/✗ where the even
    positions oppose and where the word classes match (对仗)."""
    evens = set(even_positions(len(report.first)))
    opposed = dict(zip(sorted(evens), report.opposed, strict=True))
    rows = []
    for label, line, classes in (("上联", report.first, report.classes[0]), ("下联", report.second, report.classes[1])):
        cells = "".join(f"<td>{html.escape(char)}<br><small>{tone_mark(char)} · {cls}</small></td>"
                        for char, cls in zip(line, classes, strict=True))
        rows.append(f"<tr><th>{label}</th>{cells}</tr>")
    marks = {True: "✓", False: "✗", None: "—"}
    tone_row = "".join(f"<td>{marks[opposed[j]] if j in evens else ''}</td>" for j in range(len(report.first)))
    class_row = "".join(f"<td>{marks[ok]}</td>" for ok in report.matched_classes)
    rows += [f"<tr><th>平仄相对</th>{tone_row}</tr>", f"<tr><th>对仗</th>{class_row}</tr>"]
    return f'<table class="couplet-table">{"".join(rows)}</table>'


def couplet_section(text: str) -> bool:
    """When the pasted text is two equally long lines, check it as a couplet too (True: it was one)."""
    try:
        first, second = split_couplet(to_simplified(text))
    except PoetryError:
        return False
    report = check_couplet(first, second)
    st.subheader("对联检查")
    left, middle, right = st.columns(3)
    left.metric("末字（上仄下平）", "合律" if report.end_tones_ok else "不合")
    fixed = [ok for ok in report.opposed if ok is not None]
    middle.metric("偶数位平仄相对", f"{sum(fixed)}/{len(fixed)}" if fixed else "—")
    right.metric("对仗（词性相同）", f"{report.parallel_share:.0%}")
    st.markdown(couplet_check_html(report), unsafe_allow_html=True)
    notes = []
    if report.reused:
        notes.append(f"下联重用了上联的字：{'、'.join(report.reused)}（叠字对叠字除外）")
    st.caption("；".join(notes) + ("。" if notes else "") + "词性由 jieba 分词标注，古汉语里只作参考；“两”为平仄两读。")
    return True


def ci_check_html(check: CiCheck) -> str:
    """A 词 clause by clause under its 谱: each character over its wanted tone (○●◎), red where it breaks it,
    rhyme ends circled."""
    rhyme_ends = {i for segment in check.pattern.segments for i in segment}
    rows = []
    for i, (line, tones, kept, mark) in enumerate(zip(check.lines, check.pattern.tones, check.cell_ok,
                                                       check.pattern.marks, strict=True)):
        cells = []
        for j, (char, tone, ok) in enumerate(zip(line, tones, kept, strict=True)):
            style = ' class="tone-bad"' if ok is False else ' class="rhyme"' if j == len(line) - 1 and i in rhyme_ends else ""
            cells.append(f"<td{style}>{html.escape(char)}<br><small>{MARKS[tone]}</small></td>")
        rows.append(f"<tr>{''.join(cells)}<td>{html.escape(mark)}</td></tr>")
    return f'<table class="couplet-table">{"".join(rows)}</table>'


def ci_section(text: str) -> bool:
    """When the pasted text has the clause lengths of a tune's 谱, check it as a 词 (True: it was one)."""
    try:
        matches = recognise(text)
    except PoetryError:
        return False
    if not matches:
        return False
    check = check_ci(text, matches[0])
    also = f"（句式也合 {'、'.join(p.tune for p in matches[1:])}）" if len(matches) > 1 else ""
    st.subheader(f"词：{check.pattern.tune}{also}")
    left, middle, right = st.columns(3)
    left.metric("句式", check.pattern.shape())
    middle.metric("平仄合谱", f"{check.tones_kept}/{check.tones_checked}")
    right.metric("押韵（词林正韵）", "合" if check.rhymes else "不合")
    st.markdown(ci_check_html(check), unsafe_allow_html=True)
    if check.violations:
        st.markdown("\n".join(f"- {violation}" for violation in check.violations))
    else:
        st.success("平仄、押韵都合谱")
    st.caption(f"谱由语料中 {check.pattern.poems} 首《{check.pattern.tune}》统计而来（主体占 {check.pattern.share:.0%}）："
               "○ 平，● 仄，◎ 可平可仄；圈出的是韵脚。")
    return True


def regulated_shape(text: str) -> bool:
    """Whether the text has the shape of a 绝句 or 律诗 (4 or 8 lines of 5 or 7): read as a poem, not a 词."""
    try:
        return len(parse_poem(text)) in (4, 8)
    except PoetryError:
        return False


def analysis_tab() -> None:
    """诗词分析: 平仄 of each character, rhyme, the matching pattern and every broken rule."""
    poems: list[Poem] = st.session_state.get("result", {}).get("poems", [])
    sources = [PASTE_LABEL] + [f"候选 {i + 1}：{p.display_lines()[0]}…" for i, p in enumerate(poems)]
    source = st.selectbox("分析哪首诗", sources, key="analyse_source")
    if source == PASTE_LABEL:
        text = st.text_area("粘贴一首五言或七言诗、一副对联或一首词（句间用标点或换行分开）", EXAMPLE_POEM, key="analyse_text", height=130,
                            max_chars=MAX_POEM_CHARS)
    else:
        text = poems[sources.index(source) - 1].text
        st.text("\n".join(poems[sources.index(source) - 1].display_lines()))
    system = st.radio("按哪部韵书判韵", list(SYSTEMS), format_func=ANALYSIS_SYSTEM_LABELS.get, key="analyse_system",
                      horizontal=True, help="古诗按它那个时代的韵书（平水韵）判；选了中华新韵时也看今音")
    if not regulated_shape(text) and ci_section(text):
        return
    is_couplet = couplet_section(text)
    try:
        analysis = cached_analysis(text, system)
    except PoetryError as err:
        if not is_couplet:  # a couplet of another length was checked above; there is no poem to analyse
            st.warning(str(err))
        return
    if analysis.kind != "近体":
        st.info(analysis.pattern)
    left, middle, right = st.columns([5, 3, 2])
    left.metric("体裁", analysis.pattern if analysis.kind == "近体" else KIND_NOTES[analysis.kind].split("：")[0])
    rhyme = f"押{analysis.rhyme_group}韵（{SYSTEMS[analysis.system]}）" if analysis.rhymes else "不押韵"
    middle.metric("韵", rhyme)
    ratio = f"{analysis.tone_ok_ratio:.0%}" if analysis.tone_ok_ratio is not None else "—"
    tones = f"{analysis.tone_ok}/{analysis.checked}（{ratio}）" if analysis.regulated else "不适用"
    right.metric("平仄合律" + ("（对照）" if analysis.kind in ("古绝", "古体") else ""), tones)
    st.markdown(analysis_html(analysis), unsafe_allow_html=True)
    rhymes = "、".join(f"{c}（{g}）" for c, g in zip(analysis.rhyme_chars, analysis.rhyme_groups, strict=True))
    st.caption(f"韵脚（第 {'、'.join(map(str, analysis.rhyme_lines))} 句末字）：{rhymes}。" + LEGEND)
    st.markdown("  \n".join(f"**{verdict_line(v).split('：')[0]}**：{verdict_line(v).split('：', 1)[1]}"
                            for v in analysis.verdicts))
    notes = [f"- {v.message}" for v in analysis.violations] + [f"- △ {v.message}" for v in analysis.cautions]
    if notes:
        st.markdown("\n".join(notes))
    else:
        st.success("无出律之处")
