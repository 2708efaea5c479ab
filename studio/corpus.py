"""语料: poems per form and split, poets, characters and jieba words of the bundled corpus or an uploaded one."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from poetry_lm import jobs
from poetry_lm.errors import PoetryError
from poetry_lm.text import corpus_stats

BUNDLED_CORPUS_LABEL = "整个内置语料（唐宋格律诗）"
JIEBA_SAMPLES = {"抽样 2,000 首": 2000, "抽样 5,000 首": 5000, "全部": None}


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
