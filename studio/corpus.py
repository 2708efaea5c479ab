"""语料: poems per form and split, poets, characters and jieba words of the bundled corpus or an uploaded one."""

from __future__ import annotations

import html
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from poetry_lm import jobs
from poetry_lm.errors import PoetryError
from poetry_lm.text import corpus_stats
from poetry_lm.text.corpus import punctuated_lines

BUNDLED_CORPUS_LABEL = "整个内置语料（唐宋格律诗）"
JIEBA_SAMPLES = {"抽样 2,000 首": 2000, "抽样 5,000 首": 5000, "全部": None}
JIEBA_SECONDS_PER_1000 = 0.4  # measured on this 2-core CPU: the whole bundled corpus (227,287 poems) in 85 s
MAX_FOUND = 200  # poems listed by a search
PERCENT = st.column_config.NumberColumn(format="%.2f%%")  # every share with two decimals: 1.01%, 0.70%


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


@st.cache_data(show_spinner=False, max_entries=8)
def shipped_word_counts(path: str, version: float, poems: int) -> pd.DataFrame | None:
    """The word counts saved when the corpus was built (the bundled corpus has them), or None."""
    return corpus_stats.shipped_word_counts(Path(path), poems)


def words_section(path: str, version: float, table: pd.DataFrame, counts) -> None:
    """Frequent words: counted over every poem when the corpus was built, else by jieba here, on a sample."""
    st.markdown("**高频词（jieba 分词，两字以上）**")
    shipped = shipped_word_counts(path, version, len(table))
    if shipped is not None:
        st.caption(f"全部 {len(table):,} 首的统计，建语料时算好（jieba 按现代汉语训练，对古诗只能近似切分）。")
        words = shipped
    else:
        choice = st.radio("分词范围", list(JIEBA_SAMPLES), key="jieba_sample", horizontal=True)
        st.caption("jieba 按现代汉语训练，对古诗只能近似切分。这份语料没有预先算好的词频：默认随机抽样（种子固定）"
                   f"现场分词，每千首约需 {JIEBA_SECONDS_PER_1000:g} 秒，结果会缓存。")
        words = word_counts(path, version, JIEBA_SAMPLES[choice])
    st.dataframe(words, height=360, key="corpus_words", column_config={"次数": counts, "占比": PERCENT})


def search_poems(table: pd.DataFrame, query: str, limit: int = MAX_FOUND) -> pd.DataFrame:
    """Poems whose poet or title contains `query` (poet matches first), at most `limit`."""
    query = query.strip()
    by_poet = table[table.author.str.contains(query, regex=False)]
    by_title = table[table.title.str.contains(query, regex=False) & ~table.index.isin(by_poet.index)]
    return pd.concat([by_poet, by_title]).head(limit)


def poem_reader(table: pd.DataFrame) -> None:
    """读诗: find poems by poet or title and read one, with where it sits in the corpus."""
    st.markdown("**读诗：按诗人或标题查找**")
    query = st.text_input("诗人或标题", key="corpus_search", max_chars=20, placeholder="例如：李白、春望、送")
    if not query.strip():
        return
    found = search_poems(table, query)
    if found.empty:
        st.caption(f"没有诗人或标题含「{query.strip()}」的诗。")
        return
    more = f"（只列前 {MAX_FOUND} 首，换个更具体的词试试）" if len(found) == MAX_FOUND else ""
    labels = {index: f"《{row.title or '无题'}》{row.author or '佚名'}（{row.dynasty or '朝代不详'}）"
              for index, row in found.iterrows()}
    chosen = st.selectbox(f"找到 {len(found):,} 首{more}", list(labels), format_func=labels.get, key="corpus_poem")
    row = found.loc[chosen]
    lines = "".join(f'<div class="poem-line">{html.escape(line)}</div>' for line in punctuated_lines(row.poem))
    st.markdown(f'<div class="poem">{lines}</div>', unsafe_allow_html=True)
    st.caption(f"{row.form} · {corpus_stats.SPLIT_NAMES.get(row.split, row.split)}集"
               f"{'（模型训练时没见过）' if row.split != 'train' else ''}")


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
        st.dataframe(characters, height=360, key="corpus_chars", column_config={"次数": counts, "占比": PERCENT})
    with right:
        words_section(path, version, table, counts)
    poem_reader(table)
