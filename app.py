"""藏头诗工坊: the Streamlit studio over `poetry_lm` (write poems, train models, look at the corpus).

This file is the entry: page setup, the model choice and the tabs. Each tab lives in `studio/`
(write, analyse, corpus; the training sidebar in `studio/training.py`), and only UI lives there:
every action calls `poetry_lm` and shows its PoetryError messages, already Chinese.
Run: `streamlit run app.py` (models from `$POETRY_MODELS_DIR`, default `models/`).
"""

from __future__ import annotations

import streamlit as st

from poetry_lm.quiet import import_tensorflow_quietly

import_tensorflow_quietly()  # before the pages import poetry_lm.compose.generate (TensorFlow): no native start-up lines

from poetry_lm import jobs
from studio.analyse import analysis_tab
from studio.corpus import corpus_tab
from studio.models import model_selector
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
        with no_traceback("训练"):
            training_sidebar(models, model_name)
    st.title("藏头诗工坊")
    st.caption("字级 LSTM 语言模型（读过 22 万首唐宋格律诗）写藏头诗：五言、七言，可控温度、押韵与平仄；"
               "侧栏可以把模型微调成某位诗人或你自己语料的风格。它模仿用字与格式，并不懂诗意。")
    write, analysis, corpus = st.tabs(["写诗", "诗词分析", "语料"])
    with write, no_traceback("写诗"):
        write_tab(models, model_name)
    with analysis, no_traceback("诗词分析"):
        analysis_tab()
    with corpus, no_traceback("语料"):
        corpus_tab(models)


main()
