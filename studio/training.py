"""训练 (sidebar): fine-tune the current model or train from scratch in a background job, and watch it learn."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from poetry_lm import jobs
from poetry_lm.errors import PoetryError
from poetry_lm.text import corpus_stats
from poetry_lm.text.catalogue import PoemFilter, poet_table, select
from poetry_lm.text.corpus import (
    FORM_NAMES,
    parse_uploaded_corpus,
    punctuated_lines,
)
from studio.corpus import BUNDLED_CORPUS_LABEL, bundled_table
from studio.models import model_label

SIZE_LABELS = {
    "mini": "迷你（32 单元，测试用）",
    "small": "小（128 单元）",
    "medium": "中（256 单元）",
    "large": "大（512 单元）",
}
DROP_REASONS = {
    "empty": "空行",
    "not_punctuated": "句末没有标点",
    "non_han": "含非汉字字符",
    "not_regulated": "不是五言/七言的绝句或律诗",
}
BUNDLED_SUBSET_LABEL = "内置语料中的诗人、朝代或体裁"
TRAIN_MODES = {"finetune": "微调当前模型（推荐，几分钟）", "scratch": "从头训练新模型（很慢）"}
# Epochs and learning rate per mode (True: fine-tuning): a warm start needs fewer, gentler steps.
MODE_DEFAULTS = {True: {"train_epochs": 3, "train_lr": 5e-4}, False: {"train_epochs": 5, "train_lr": 2e-3}}
UPLOAD_LABEL = "上传文本文件"
LEARNING_RATES = [1e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2]
BATCH_SIZES = [16, 32, 64, 128, 256]
POLL_SECONDS = 2.0  # while a job runs
IDLE_POLL_SECONDS = 5.0  # otherwise: notice a job started from another tab


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
        chosen = st.multiselect("诗人（可多选，可输入名字搜索）", list(labels), format_func=labels.get, select_all=False,
                                key="train_poets", placeholder="例如 李白、杜甫")
        poem_filter = PoemFilter(poets=tuple(chosen))
    else:
        dynasties = st.multiselect("朝代", sorted(set(catalogue.dynasty) - {""}), key="train_dynasties", select_all=False)
        forms = st.multiselect("体裁", list(FORM_NAMES.values()), key="train_forms", select_all=False)
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
            corpus_dir = jobs.save_uploaded_corpus(models, request.name, poems, fresh=request.fresh)
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
            st.caption(f"从当前模型「{model_label(base_model)}」的权重出发，在所选的诗上再学几轮：几分钟就能学到一位诗人的用字与口吻。")
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
        fresh = False
        if jobs.interrupted_run(models, name.strip()):
            st.caption(f"「{name.strip()}」有一次中断的训练：用相同的设置和语料开始，会从中断处接着训练。")
            fresh = st.checkbox("丢弃上次的进度，重新开始", key="train_fresh",
                                help="上次已训练的轮数会被删除，用这次的设置和语料从头训练；不影响已有模型")
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
                poem_filter=poem_filter, fresh=fresh,
            )
            start_training(models, corpus_dir, poems, request, notice)


def show_progress(status: jobs.JobStatus) -> None:
    """Progress bar with epoch, batch and ETA, and what the run said the user should know."""
    for notice in status.notices:
        st.info(notice)
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


LOSS_COLORS = dict(zip(jobs.LOSS_SERIES, ["#c9b8b0", "#b3261e", "#1e6fb3"], strict=True))


def loss_legend() -> str:
    """The chart's legend as a line of HTML above it: a Vega legend is cut off in the narrow sidebar."""
    keys = "".join(f'<span style="white-space: nowrap; margin-right: 0.8em;"><span style="color: {color};">━</span> {name}</span>'
                   for name, color in LOSS_COLORS.items())
    return f'<div style="font-size: 0.8rem; line-height: 1.6;">{keys}</div>'


def loss_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Batch loss as a faint line, training and validation loss per epoch as lines with points;
    the y axis fits the data (not from 0); the legend is `loss_legend`, drawn by the page."""
    colors = alt.Scale(domain=list(LOSS_COLORS), range=list(LOSS_COLORS.values()))
    base = alt.Chart(frame).encode(
        x=alt.X("轮:Q", title="轮"),
        y=alt.Y("损失:Q", title="损失", scale=alt.Scale(zero=False, nice=True)),
        color=alt.Color("曲线:N", scale=colors, legend=None),
        tooltip=["曲线", alt.Tooltip("轮:Q", format=".2f"), alt.Tooltip("损失:Q", format=".3f")],
    )
    batches = base.transform_filter(alt.datum["曲线"] == jobs.LOSS_SERIES[0]).mark_line(strokeWidth=1)
    epochs = base.transform_filter(alt.datum["曲线"] != jobs.LOSS_SERIES[0]).mark_line(point=True, strokeWidth=2.5)
    return (batches + epochs).properties(height=220, title="损失曲线")


def show_curves_and_samples(status: jobs.JobStatus) -> None:
    """Loss curve (train/validation) from progress.jsonl and the sample poems of each epoch."""
    frame = jobs.loss_frame(status.events)
    if not frame.empty:
        st.markdown(loss_legend(), unsafe_allow_html=True)
        st.altair_chart(loss_chart(frame), key="loss_chart")
    if status.samples:
        with st.expander("每轮示例诗", expanded=status.running):
            for epoch, poems in reversed(status.samples):
                st.markdown(f"**第 {epoch} 轮**")
                for number, text in enumerate(poems, 1):  # each its own poem: a 五言 and a 七言 must not run together
                    with st.container(border=True):
                        st.caption(sample_label(number, text))
                        st.text("\n".join(punctuated_lines(text)))


def sample_label(number: int, text: str) -> str:
    """示例 1 · 五言 4 句: what a sample poem is, read from its lines."""
    lines = punctuated_lines(text)
    lengths = {len(line) - 1 for line in lines}  # each line ends in one punctuation mark
    form = f"{lengths.pop()}言 " if len(lengths) == 1 else ""
    return f"示例 {number} · {form}{len(lines)} 句".replace("5言", "五言").replace("7言", "七言")


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
            else:  # stopped in the click's callback, so the rerun draws the request, never the button beside it
                st.button("停止训练", key="stop_training", on_click=jobs.stop_job, args=(current,))
        elif st.session_state.get("dismissed_job") == job_id(current):
            return
        else:
            if status.state in jobs.FINAL_EVENTS:
                verb = "已完成" if status.state == "done" else "已停止（保留了最佳检查点）"
                st.success(f"训练{verb}：模型「{current.name}」已加入上方的模型列表。")
                fine_tune_result(models, current, alive=jobs.process_alive(current.pid))
            else:
                st.error(f"训练失败：{status.message}")
                st.code(status.log_tail or "（没有日志）", language=None)
            st.button("知道了，收起", key="dismiss_job", on_click=st.session_state.update,
                      kwargs={"dismissed_job": job_id(current)}, help="只对这个页面收起；下一次训练会重新显示")
        show_curves_and_samples(status)

    panel()


def use_model(name: str) -> None:
    st.session_state["model"] = name


def fine_tune_result(models: Path, job: jobs.Job, alive: bool) -> None:
    """What a fine-tuning changed: held-out perplexity before → after, the poet attribution before → after and three
    side-by-side samples (voice.json, written by the run after training), and the button that switches to it."""
    metrics = jobs.model_metrics(models / job.name)
    before, after = jobs.perplexities(metrics)
    if before and after:
        st.markdown(f"留出诗上的困惑度（每字，越低越好）：{before:.1f} → **{after:.1f}**（{after / before - 1:+.0%}）")
    voice = jobs.model_voice(models / job.name)
    if voice is None and alive:
        st.caption("正在检验风格：让诗人归属分类器读起点模型与新模型写的诗（约半分钟）…")
    elif voice is not None:
        st.markdown(f"像{voice['poet']}的诗（分类器判断）：{voice['attributed_before']:.0%} → "
                    f"**{voice['attributed_after']:.0%}**（{voice['poet']}自己的留出诗：{voice['held_out_attributed']:.0%}）")
        with st.expander("同样的藏头字：起点模型 | 新模型（风格强度 "
                         f"{voice['style_strength']:g}）", expanded=True):
            for sample in voice["samples"]:
                left, right = st.columns(2)
                left.text("\n".join(sample["base"]))
                right.text("\n".join(sample["tuned"]))
    if st.session_state.get("model") != job.name and (models / job.name).is_dir():
        st.button(f"用「{job.name}」写诗", key="use_new_model", on_click=use_model, args=(job.name,), type="primary")


def job_id(job: jobs.Job) -> str:
    """One job among all runs of the same name."""
    return f"{job.name}@{job.started}"


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
