"""藏头诗工坊: the Streamlit studio over `poetry_lm` (write poems, train models, look at the corpus).

This file is the entry: page setup, the model choice and the tabs. Each tab lives in `studio/`
(write, couplet, analyse, corpus; the training sidebar in `studio/training.py`), and only UI lives there:
every action calls `poetry_lm` and shows its PoetryError messages, already Chinese.
Run: `streamlit run app.py` (models from `$POETRY_MODELS_DIR`, default `models/`).
"""

from __future__ import annotations

import streamlit as st

from poetry_lm import jobs
from studio.analyse import analysis_tab
from studio.corpus import corpus_tab
from studio.couplet import couplet_tab
from studio.models import model_selector, start_loading, wait_for_model
from studio.training import training_sidebar
from studio.widgets import CSS, no_traceback
from studio.write import write_tab


def main() -> None:
    st.set_page_config(page_title="藏头诗工坊", page_icon="📜", layout="wide")
    st.markdown(CSS, unsafe_allow_html=True)
    models = jobs.models_dir()
    model_name = None
    with st.sidebar:
        with no_traceback("模型"):
            model_name = model_selector(models)
        st.divider()
        training_slot = st.container()  # filled after the tabs: the heads box must not wait for the poet tables
    st.title("藏头诗工坊")
    st.caption("一个逐字写诗的小型神经网络（LSTM 语言模型，读过 22 万首唐宋格律诗）写藏头诗：五言、七言，"
               "可控温度、押韵与平仄；侧栏可以把模型微调成某位诗人或你自己语料的风格。它模仿用字与格式，并不懂诗意。")
    # Only the open tab runs (a click on another reruns the page): a fresh page computes no corpus statistics,
    # and a click in one tab does not redo the others' work.
    write, couplet, analysis, corpus = st.tabs(["写诗", "对联", "诗词分析", "语料"], key="page", on_change="rerun")
    for tab, name, draw in [(write, "写诗", lambda: write_tab(models, model_name)),
                            (couplet, "对联", lambda: couplet_tab(models)), (analysis, "诗词分析", analysis_tab),
                            (corpus, "语料", lambda: corpus_tab(models))]:
        if tab.open:
            with tab, no_traceback(name):
                draw()
    start_loading(models, model_name)  # after the open tab is drawn (see studio/models.py)
    with training_slot, no_traceback("训练"):
        training_sidebar(models, model_name)
    wait_for_model()  # last: the page is complete while it waits


main()
