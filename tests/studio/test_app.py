"""The Streamlit studio through streamlit.testing.v1.AppTest: writing, bad input, models, a real training job."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from poetry_lm import jobs
from poetry_lm.errors import PoetryError
from poetry_lm.model.config import RunInfo
from poetry_lm.text.catalogue import load_catalogue
from tests.conftest import FIXTURE_POEMS, REPO

APP = str(REPO / "app.py")
POEM_LINE = re.compile(r'<div class="poem-line">(.*?)</div>')
SCRATCH = "从头训练新模型（很慢）"
TIMEOUT = 120


@pytest.fixture
def models(tmp_path, monkeypatch, tiny_model_dir) -> Path:
    """A tmp models dir: the bundled model (symlink, only read) and a tiny trained one; never the repo's."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "default").symlink_to(REPO / "models" / "default")
    shutil.copytree(tiny_model_dir, models / "tiny")
    monkeypatch.setenv(jobs.MODELS_ENV, str(models))
    return models


def start_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return wait_for_model(at)


def wait_for_model(at: AppTest, timeout: float = TIMEOUT) -> AppTest:
    """Rerun until the chosen model has loaded in the background (写诗 enabled) or failed (an error shows): the
    page itself draws before the model is ready, and in a browser a fragment reruns it every second."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        buttons = [b for b in at.button if b.key == "generate"]
        if (buttons and not buttons[0].disabled) or at.error or not buttons:
            return at
        time.sleep(0.2)
        at.run()
    raise AssertionError("the model did not load in time")


def open_tab(at: AppTest, name: str) -> AppTest:
    """Open one of the page's tabs (only the open tab runs), as a click on it does."""
    at.session_state["page"] = name
    return at.run()


def write(at: AppTest, heads: str, form: str = "七言", **widgets) -> AppTest:
    wait_for_model(open_tab(at, "写诗"))  # a model chosen just before loads first
    at.text_input(key="heads").input(heads)
    at.radio(key="form").set_value(form)
    for key, value in widgets.items():
        _widget(at, key).set_value(value)
    at.button(key="generate").click()
    at.run()
    assert not at.exception, at.exception
    return at


def _widget(at: AppTest, key: str):
    for kind in ("slider", "number_input", "checkbox", "selectbox", "radio", "toggle", "text_input", "select_slider"):
        found = [w for w in at.get(kind) if getattr(w, "key", None) == key]
        if found:
            return found[0]
    raise KeyError(key)


def poem_texts(at: AppTest) -> list[str]:
    """The candidates as shown on their cards, one line (with its punctuation) per row."""
    return ["\n".join(re.sub("<[^>]+>", "", line) for line in POEM_LINE.findall(md.value))
            for md in at.markdown if 'class="poem' in md.value and "poem-kept" not in md.value]


def messages(at: AppTest) -> str:
    return " ".join(str(m.value) for m in [*at.warning, *at.error, *at.info])


def test_generate_puts_heads_at_line_starts(models):
    at = write(start_app(), "春花秋月", num_candidates=3, seed=7)
    poems = poem_texts(at)
    assert len(poems) == 3
    for text in poems:
        lines = text.split("\n")
        assert [line[0] for line in lines] == list("春花秋月")
        assert all(len(line) == 8 for line in lines)  # seven characters and the punctuation
    assert not at.error
    # The same seed gives the same poems; the cards survive a rerun (e.g. toggling the vertical layout).
    first = poems
    at.toggle(key="vertical").set_value(True)
    at.run()
    assert poem_texts(at) == first
    assert any("poem-vertical" in md.value for md in at.markdown)
    write(at, "春花秋月", num_candidates=3, seed=7)
    assert poem_texts(at) == first


def test_simplified_heads_and_stale_poems_are_pointed_out(models):
    at = write(start_app(), "書劒", num_candidates=1, seed=3, placement="lines")  # traditional 書, variant 劒
    assert "書劒 → 书剑" in messages(at)
    assert [line[0] for line in poem_texts(at)[0].split("\n")] == ["书", "剑"]
    at.text_input(key="heads").input("春山").run()  # typed, not yet written
    assert "下面是藏头字「書劒」的结果" in " ".join(c.value for c in at.caption)


def test_five_character_form_and_downloads(models):
    at = write(start_app(), "山水", form="五言", num_candidates=2, placement="lines")
    for text in poem_texts(at):
        assert [len(line) for line in text.split("\n")] == [6, 6]
        assert text[0] == "山"
    assert {b.key for b in at.get("download_button")} >= {"download_0", "download_1", "download_all"}


@pytest.mark.parametrize(
    ("heads", "expected"),
    [
        ("", "请输入藏头字"),
        ("abc", "只能是汉字"),
        ("春a", "只能是汉字"),
        ("春" * 17, "最多 16 个"),
    ],
)
def test_bad_heads_show_a_chinese_message(models, heads, expected):
    at = write(start_app(), heads)
    assert expected in messages(at)
    assert not poem_texts(at)
    assert not at.exception


def test_out_of_vocabulary_heads_are_kept_and_named(models):
    at = write(start_app(), "龘春", num_candidates=1, seed=1, placement="lines")
    assert "龘" in " ".join(w.value for w in at.warning)
    lines = poem_texts(at)[0].split("\n")
    assert [line[0] for line in lines] == ["龘", "春"]


def test_model_selector_lists_models_and_switches(models):
    at = start_app()
    selector = at.selectbox(key="model")
    assert selector.options[0] == "唐宋诗（内置模型）" and selector.value == "default"  # a Chinese name for the bundled model
    assert "tiny" in selector.options
    selector.set_value("tiny")
    at.run()
    assert "每层 32 个单元" in " ".join(c.value for c in at.sidebar.caption)  # behind 高级：模型细节
    at = write(at, "明月", num_candidates=2)
    assert len(poem_texts(at)) == 2
    assert "「tiny」" in " ".join(c.value for c in at.caption)


def test_broken_model_shows_error_and_app_stays_usable(models):
    broken = models / "broken"
    shutil.copytree(models / "tiny", broken)
    (broken / "model.keras").write_bytes(b"not a keras archive")
    at = start_app()
    at.selectbox(key="model").set_value("broken")
    wait_for_model(at.run())
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "broken" in errors and "model.keras" in errors
    at.selectbox(key="model").set_value("tiny")
    at = write(at, "江河", num_candidates=1)
    assert poem_texts(at)


def test_special_and_hostile_model_folders_never_hold_up_the_page(models):
    """A FIFO config.json once blocked every page run for every user; a markup token reached the copy script."""
    for name in ("fifo", "markup"):
        shutil.copytree(models / "tiny", models / name)
    (models / "fifo" / "config.json").unlink()
    os.mkfifo(models / "fifo" / "config.json")
    tokens = json.loads((models / "markup" / "vocab.json").read_text(encoding="utf-8"))
    tokens[-1] = "</script><img src=x onerror=alert(1)>"
    (models / "markup" / "vocab.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    options = at.selectbox(key="model").options
    assert "fifo（无法使用）" in options and "markup（无法使用）" in options
    at.selectbox(key="model").set_value("markup")
    at.run()
    assert "词表中的符号须是单个字符" in " ".join(w.value for w in at.sidebar.warning)
    assert "<img" not in " ".join(m.value for m in at.markdown)


def test_an_unexpected_error_shows_one_line_and_the_other_tabs_still_work(models, monkeypatch):
    import studio.write

    def broken_tab(*args):
        raise IndexError("list index out of range")

    monkeypatch.setattr(studio.write, "write_tab", broken_tab)
    at = start_app()
    errors = [e.value for e in at.error]
    assert errors == ["「写诗」出了意外的错误（IndexError），其他功能不受影响；详情已记入服务器日志。"]
    open_tab(at, "诗词分析")
    assert not at.exception and at.text_area(key="analyse_text") is not None  # the analysis tab still works


def test_upload_validation_reports_kept_and_dropped(models):
    at = start_app()
    at.radio(key="train_corpus").set_value("上传文本文件")
    at.run()
    variant_poem = "劒气横秋色，鴈声下远空。登临千里目，独立万方风。"  # 劒 鴈: variants of 剑 雁
    data = "\n".join([*FIXTURE_POEMS[:3], "这不是诗", "hello world", FIXTURE_POEMS[0], variant_poem]).encode("utf-8")
    at.file_uploader(key="train_upload").set_value(("poems.txt", data, "text/plain"))
    at.run()
    summary = " ".join(s.value for s in at.success)
    assert "保留 4 首" in summary and "重复 1" in summary and "丢弃 2" in summary
    assert "2 个异体字已写作规范字" in summary
    at.file_uploader(key="train_upload").set_value(("bad.txt", b"\xff\xfe\x00garbage", "text/plain"))
    at.run()
    assert "二进制" in " ".join(e.value for e in at.error) or "UTF-8" in " ".join(e.value for e in at.error)


def test_an_interrupted_run_keeps_its_corpus_and_offers_a_fresh_start(models):
    jobs.save_uploaded_corpus(models, "half", FIXTURE_POEMS[:4])
    (models / ".runs" / "half").mkdir(parents=True)
    (models / ".runs" / "half" / "progress.jsonl").write_text('{"event": "start"}\n', encoding="utf-8")
    at = start_app()
    at.radio(key="train_mode").set_value(SCRATCH)
    at.run()
    at.radio(key="train_corpus").set_value("上传文本文件")
    at.text_input(key="train_name").input("half")
    at.run()
    data = "\n".join(FIXTURE_POEMS[2:]).encode("utf-8")  # not the poems the run was trained on
    at.file_uploader(key="train_upload").set_value(("poems.txt", data, "text/plain"))
    at.run()
    assert at.checkbox(key="train_fresh").label == "丢弃上次的进度，重新开始"
    at.button(key="start_training").click()
    at.run()
    assert "已保留上次的语料" in " ".join(e.value for e in at.error)
    assert jobs.latest_job(models) is None


def test_bad_run_names_and_taken_names_are_refused(models):
    at = start_app()
    for name, expected in [("../evil", "模型名称只能包含"), ("default", "已存在")]:
        at.text_input(key="train_name").input(name)
        at.button(key="start_training").click()
        at.run()
        assert expected in " ".join(e.value for e in at.error)
    assert jobs.latest_job(models) is None


def test_corpus_tab_statistics(models):
    """The tab draws the package's statistics of the bundled corpus (computed in tests/test_corpus_stats.py)."""
    at = open_tab(start_app(), "语料")
    corpus = at.tabs[3]  # tables in order: forms, poets, characters, words
    assert corpus.label == "语料" and len(corpus.dataframe) == 4
    kept = json.loads((REPO / "corpus" / "stats.json").read_text(encoding="utf-8"))["kept"]
    assert corpus.dataframe[0].value.loc["合计", "合计"] == kept == 227_287
    assert corpus.dataframe[1].value.iloc[0]["诗人"] == "陆游"  # the most prolific poet of the corpus
    assert len(corpus.dataframe[2].value) == 100 and len(corpus.dataframe[3].value) > 10
    caption = " ".join(c.value for c in corpus.caption)
    assert f"{kept:,} 首" in caption and str(REPO) not in caption  # no server path shown
    assert "建语料时算好" in caption and not [r for r in corpus.radio if r.key == "jieba_sample"]  # shipped word counts


def test_corpus_tab_finds_and_shows_a_poem(models):
    at = open_tab(start_app(), "语料")
    at.text_input(key="corpus_search").input("春望").run()
    chooser = at.selectbox(key="corpus_poem")
    assert chooser.options[0] == "《春望》杜甫（唐）"  # poems by a poet of that name first, then titles; the first shown
    shown = " ".join(md.value for md in at.markdown if 'class="poem"' in md.value)
    assert "国破山河在，" in shown and "城春草木深。" in shown
    at.text_input(key="corpus_search").input("没有这样的诗人").run()
    assert "没有诗人或标题含「没有这样的诗人」的诗" in " ".join(c.value for c in at.caption)


def test_poems_rhyme_by_default_in_both_systems(models):
    from poetry_lm.prosody import rhyme

    at = start_app()
    assert at.checkbox(key="rhyme").value and at.radio(key="tones").value == "soft"
    at = write(at, "春花秋月", num_candidates=4, seed=11)
    for text in poem_texts(at):
        assert rhyme.even_lines_rhyme([line[:-1] for line in text.split("\n")], "both"), text


def test_rhyme_and_tone_controls_reach_the_generator(models):
    from poetry_lm.prosody import rhyme

    at = start_app()
    at.radio(key="rhyme_system").set_value("xinyun").run()
    group = at.selectbox(key="rhyme_group_xinyun")
    assert any(option.startswith("唐（") for option in group.options)  # groups show example characters
    group.set_value("唐")
    at.radio(key="tones").set_value("strict")
    at = write(at, "春花秋月", num_candidates=4, seed=3)
    for text in poem_texts(at):
        lines = text.split("\n")
        assert [line[0] for line in lines] == list("春花秋月")
        assert all("唐" in rhyme.rhyme_groups_of(line[-2], "xinyun") for line in lines[1::2]), text
    notes = " ".join(c.value for c in at.caption)
    assert notes.count("韵部：唐") == 4 and "平仄合律" in notes


def test_analysis_tab_on_a_famous_poem_and_a_candidate(models):
    at = open_tab(start_app(), "诗词分析")
    tab = at.tabs[2]
    assert tab.label == "诗词分析"
    values = [m.value for m in tab.metric]
    # 登高: a strict 七律 that rhymes in 平水韵 and not in today's readings; each book's verdict is shown.
    assert values == ["七言律诗·仄起首句入韵", "押灰韵（平水韵）", "29/29（100%）"]
    page = " ".join(m.value for m in tab.markdown)
    assert "**平水韵**：押灰韵" in page and "**中华新韵**：不押（韵脚分属" in page and "<small>āi</small>" in page
    at.text_area(key="analyse_text").input("床前明月光，疑是地上霜。举头望明月，低头思故乡。").run()
    assert at.tabs[2].metric[0].value == "古绝" and at.tabs[2].metric[2].label == "平仄合律（对照）"
    assert "第3句第2字“头”应仄而平（粘）" in " ".join(m.value for m in at.tabs[2].markdown)
    at.radio(key="analyse_system").set_value("xinyun").run()
    assert at.tabs[2].metric[1].value == "押唐韵（中华新韵）"
    at.text_area(key="analyse_text").input("春眠不觉晓，处处闻啼鸟。夜来风雨声。").run()
    assert "不是绝句或律诗" in " ".join(i.value for i in at.tabs[2].info)
    at.text_area(key="analyse_text").input("床前明月光，hello")
    at.run()
    assert "只能有汉字" in " ".join(w.value for w in at.tabs[2].warning)
    at = open_tab(write(at, "江山如画", form="五言", num_candidates=2, seed=5), "诗词分析")
    source = at.selectbox(key="analyse_source")
    assert len(source.options) == 3
    source.select_index(1)
    at.run()
    assert not at.exception
    assert at.tabs[2].metric[0].value.startswith("五言绝句")


def click_start(at: AppTest, name: str, epochs: int, batch_size: int) -> None:
    """Fill the sidebar's run name, epochs and batch size, click 开始训练 and run the page."""
    at.number_input(key="train_epochs").set_value(epochs)
    at.selectbox(key="train_batch").set_value(batch_size)
    at.text_input(key="train_name").input(name)
    at.button(key="start_training").click()
    at.run()
    assert not at.exception, at.exception


def wait_until_finished(job: jobs.Job, deadline: float) -> jobs.JobStatus:
    """Poll the job's files until it is no longer running (or the monotonic deadline passes)."""
    while time.monotonic() < deadline and jobs.job_status(job).running:
        time.sleep(1)
    return jobs.job_status(job)


def _kill_job(models: Path) -> None:
    job = jobs.latest_job(models)
    if job is not None and jobs.process_alive(job.pid):
        os.killpg(job.pid, signal.SIGKILL)


@pytest.mark.slow
def test_training_job_runs_in_background_and_model_becomes_selectable(models, tiny_corpus):
    """Upload a tiny corpus, train the 迷你 model for 2 epochs in a real background process, then use it."""
    data = "".join(
        (tiny_corpus / f"{split}.txt").read_text(encoding="utf-8") for split in ("train", "valid", "test")
    ).encode("utf-8")
    at = start_app()
    at.radio(key="train_mode").set_value(SCRATCH)
    at.run()
    at.radio(key="train_corpus").set_value("上传文本文件")
    at.run()
    at.file_uploader(key="train_upload").set_value(("tiny.txt", data, "text/plain"))
    at.selectbox(key="train_size").set_value("mini")
    click_start(at, "小试", epochs=2, batch_size=32)
    try:
        job = jobs.latest_job(models)
        assert job is not None and job.name == "小试"
        assert (models / ".corpora" / "小试" / "train.txt").is_file()
        # A second start while this one runs is impossible in a second session too: the button is disabled and
        # says why, and the engine still refuses a start that races past the page.
        other = start_app()
        assert other.button(key="start_training").disabled
        assert any("正在运行：等它结束或先停止它" in w.value for w in other.sidebar.warning)
        with pytest.raises(PoetryError, match="已有训练任务"):
            jobs.check_can_start(models, "第二个")
        assert not (models / ".runs" / "第二个" / "job.json").exists()

        deadline = time.monotonic() + 150
        seen_progress = False
        while time.monotonic() < deadline:
            status = jobs.job_status(job)
            at.run()
            assert not at.exception, at.exception
            seen_progress |= bool(at.sidebar.get("progress"))
            if not status.running:
                break
            time.sleep(2)
        assert status.state == "done", f"{status.state}: {status.message}\n{status.log_tail}"
    finally:
        _kill_job(models)
    at.run()
    assert seen_progress
    assert "小试" in at.selectbox(key="model").options
    assert any("已完成" in s.value for s in at.success)
    assert len(status.samples) == 2  # sample poems after each epoch
    counts = jobs.loss_frame(status.events)["曲线"].value_counts()
    assert counts["训练损失"] == 2 and counts["验证损失"] == 2
    at.selectbox(key="model").set_value("小试")
    at = write(at, "春风", num_candidates=2, placement="lines")
    assert [line[0] for line in poem_texts(at)[0].split("\n")] == ["春", "风"]
    assert (models / "default").is_symlink()  # the bundled model is untouched


@pytest.mark.slow
def test_stop_button_keeps_a_model(models, tiny_corpus):
    """The stop button ends the run cleanly; the stopped run still becomes a usable model."""
    at = start_app()
    at.radio(key="train_mode").set_value(SCRATCH)
    at.run()
    at.radio(key="train_corpus").set_value("整个内置语料（唐宋格律诗）")
    at.run()
    at.selectbox(key="train_size").set_value("mini")
    at.number_input(key="train_max_poems").set_value(300)
    click_start(at, "停一停", epochs=50, batch_size=16)
    try:
        job = jobs.latest_job(models)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and jobs.job_status(job).state != "running":
            time.sleep(1)
        at.run()
        at.button(key="stop_training").click()
        at.run()
        assert "已请求停止" in " ".join(i.value for i in at.info)
        assert not [b for b in at.button if b.key == "stop_training"]  # the request, not the button beside it
        status = wait_until_finished(job, deadline)
        assert status.state == "stopped", f"{status.state}: {status.message}\n{status.log_tail}"
    finally:
        _kill_job(models)
    at.run()
    assert "停一停" in at.selectbox(key="model").options
    assert status.epoch < 50


def test_crashed_job_shows_error_with_log(models):
    """A job whose process is gone without a done/stopped event is reported as failed with its log."""
    work = models / ".runs" / "坏了"
    work.mkdir(parents=True)
    (work / jobs.LOG_FILE).write_text("Traceback ...\nerror: 语料文件不存在：/nowhere/train.txt\n", encoding="utf-8")
    jobs.Job("坏了", pid=2**22 - 1, args=[], started=time.time(), models=str(models)).save()
    at = start_app()
    errors = " ".join(e.value for e in at.error)
    assert "训练失败" in errors and "语料文件不存在" in errors
    assert any("Traceback" in c.value for c in at.sidebar.code)
    at.button(key="dismiss_job").click().run()  # the last job's banner folds away for this page
    assert not at.error and not at.sidebar.code
    assert "训练失败" in " ".join(e.value for e in start_app().error)  # another visitor still sees it


def small_poet_with_test_poems() -> str:
    """A poet of the bundled corpus with a handful of poems, some of them in the test split."""
    catalogue = load_catalogue(REPO / "corpus")
    counts = catalogue.groupby("author").split.agg(total="size", test=lambda split: (split == "test").sum())
    return counts[(counts.total.between(8, 20)) & (counts.test > 0)].index[0]


def test_fine_tune_form_offers_poets_and_estimates_before_starting(models):
    at = start_app()
    assert at.radio(key="train_mode").value == "微调当前模型（推荐，几分钟）"  # the first choice
    poets = at.multiselect(key="train_poets")
    assert any(option.startswith("李白（唐，") for option in poets.options)
    poets.set_value(["李白", "杜甫"])
    at.run()
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "训练" in captions and "测试" in captions
    assert any("预计用时约" in i.value for i in at.sidebar.info)
    assert at.number_input(key="train_epochs").value == 3 and at.selectbox(key="train_lr").value == 5e-4
    at.radio(key="train_mode").set_value(SCRATCH)
    at.run()
    assert at.number_input(key="train_epochs").value == 5 and at.selectbox(key="train_lr").value == 2e-3


@pytest.mark.slow
def test_fine_tune_one_poet_in_the_background(models):
    """Fine-tune the selected (tiny) model on one poet's poems: a real job; the result records both."""
    poet = small_poet_with_test_poems()
    at = start_app()
    at.selectbox(key="model").set_value("tiny")
    at.run()
    at.multiselect(key="train_poets").set_value([poet])
    click_start(at, "学一位诗人", epochs=2, batch_size=16)
    try:
        assert at.button(key="start_training").disabled  # while it runs, the button says so
        status = wait_until_finished(jobs.latest_job(models), time.monotonic() + 240)
        assert status.state == "done", f"{status.state}: {status.message}\n{status.log_tail}"
    finally:
        _kill_job(models)
    info = RunInfo.from_json(models / "学一位诗人" / "config.json")
    assert info.train.poets == (poet,) and Path(info.train.init_from) == (models / "tiny").resolve()
    metrics = json.loads((models / "学一位诗人" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["test"]["poems"] == metrics["base_test"]["poems"] > 0
    at.run()
    assert "学一位诗人" in at.selectbox(key="model").options


def test_side_by_side_uses_the_same_heads_settings_and_seed(models):
    """Two copies of one model, compared: with the same seed the two columns must be identical."""
    shutil.copytree(models / "tiny", models / "tiny-copy")
    at = start_app()
    at.selectbox(key="model").set_value("tiny")
    at.run()
    at.selectbox(key="compare_model").set_value("tiny-copy")
    at = write(at, "春风", form="五言", num_candidates=3, placement="lines")  # no seed given: one is drawn for both
    texts = poem_texts(at)
    assert len(texts) == 6 and texts[:3] == texts[3:]
    assert all([line[0] for line in text.split("\n")] == ["春", "风"] for text in texts)
    assert any("随机种子" in c.value and "tiny-copy" in c.value for c in at.caption)


def test_a_refused_start_is_shown_above_the_form(models, job_from_another_tab):
    """This tab was drawn while nothing ran; meanwhile another tab started a job; 开始训练 here starts
    nothing, and why shows outside the (possibly collapsed) training expander."""
    at = start_app()
    at.radio(key="train_mode").set_value(SCRATCH).run()
    at.text_input(key="train_name").input("我的").run()
    job_from_another_tab(models, "别的标签页")  # after this tab was drawn: its button is still enabled
    at.button(key="start_training").click().run()
    assert not at.exception, at.exception
    refusal = [w.value for w in at.sidebar.warning if "训练任务「别的标签页」正在运行" in w.value]
    assert refusal, messages(at)
    in_form = [w.value for w in at.sidebar.expander[0].warning]
    assert not [text for text in in_form if "正在运行" in text]
    assert at.button(key="start_training").disabled
    assert not (models / ".runs" / "我的" / "job.json").exists()


def test_position_theme_and_lock_and_rewrite(models):
    at = write(start_app(), "山水", form="五言", num_candidates=3, seed=2, position="tail", theme="明月", placement="lines",
               theme_strength=6.0)
    texts = poem_texts(at)
    assert all([line[-2] for line in text.split("\n")] == ["山", "水"] for text in texts), texts  # 藏尾
    assert any(ch in text for text in texts for ch in "明月")
    marked = [md.value for md in at.markdown if 'class="poem' in md.value][0]
    assert marked.count('class="poem-head"') == 2 and '<span class="poem-head">山</span>，' in marked

    first = texts[0].split("\n")
    at.checkbox(key="keep_0_0").check().run()
    at.button(key="rewrite_0").click().run()
    assert not at.exception, at.exception
    rewritten = poem_texts(at)
    assert len(rewritten) == 3 and all(text.split("\n")[0] == first[0] for text in rewritten)
    assert all(text.split("\n")[1][-2] == "水" for text in rewritten)  # the other line keeps its hidden character
    assert any(text.split("\n")[1] != first[1] for text in rewritten)
    assert "由第 1 首改写：保留第 1 句" in " ".join(c.value for c in at.caption)


def test_change_one_character_keeping_the_rest_or_rewriting_the_line(models):
    at = write(start_app(), "春山", form="五言", num_candidates=2, seed=8)
    before = poem_texts(at)[0].split("\n")
    at.selectbox(key="alt_line_0").set_value(1).run()
    at.selectbox(key="alt_char_0").set_value(2).run()
    choice = at.radio(key="alt_pick_0").value
    at.button(key="alt_keep_0").click().run()
    assert not at.exception, at.exception
    after = poem_texts(at)[0].split("\n")
    assert after[0] == before[0] and after[1] == before[1][:2] + choice + before[1][3:]
    at.selectbox(key="alt_line_0").set_value(0).run()
    at.selectbox(key="alt_char_0").set_value(1).run()
    choice = at.radio(key="alt_pick_0").value
    at.button(key="alt_reflow_0").click().run()
    assert not at.exception, at.exception
    for text in poem_texts(at):
        lines = text.split("\n")
        assert lines[0][:2] == after[0][0] + choice and lines[1] == after[1]


def test_a_style_sets_the_temperature_and_the_app_writes_what_the_api_writes(models):
    """The app starts from the same defaults as the Python API: the same heads, style and seed give the
    same poems in both; choosing a style moves the temperature slider, which stays free to move."""
    from poetry_lm.compose.generate import PoemGenerator
    from poetry_lm.compose.settings import DEFAULT_STYLE, STYLES, Settings, style_knobs

    at = start_app()
    assert at.radio(key="style").value == DEFAULT_STYLE
    at.radio(key="style").set_value("奇崛").run()
    assert at.slider(key="temperature").value == STYLES["奇崛"].temperature
    assert "奇崛：" in " ".join(c.value for c in at.caption)
    at = write(at, "春花秋月", num_candidates=2, seed=5)
    api = PoemGenerator.load(models / at.selectbox(key="model").value).generate(
        Settings("春花秋月", line_length=7, num_candidates=2, seed=5, **style_knobs("奇崛")))
    assert poem_texts(at) == ["\n".join(poem.display_lines()) for poem in api]
    at.slider(key="temperature").set_value(0.5).run()
    assert at.radio(key="style").value == "奇崛" and at.slider(key="temperature").value == 0.5


def test_the_pages_draw_without_tensorflow():
    """The page comes first: no studio module imports TensorFlow (studio/models.py loads it in the background)."""
    import subprocess
    import sys

    code = ("import sys, studio.write, studio.analyse, studio.corpus, studio.training, studio.models, studio.widgets\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'a page imports TensorFlow'")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_favourites_export_as_text_and_cards_and_edits_can_be_undone(models):
    import io
    import zipfile

    from PIL import Image

    from studio.cards import favourites_text, favourites_zip

    at = write(start_app(), "春山", form="五言", num_candidates=2, seed=3)
    before = poem_texts(at)
    assert {"card_0", "card_large_0", "card_1", "card_large_1"} <= {b.key for b in at.get("download_button")}
    at.button(key="favourite_0").click().run()
    at.button(key="favourite_1").click().run()
    assert any(e.label == "收藏（2 首）" for e in at.expander)
    kept = at.session_state["favourites"]
    text = favourites_text(kept)
    assert all(poem.replace("\n", "") in text.replace("\n", "") for poem in before)
    with zipfile.ZipFile(io.BytesIO(favourites_zip(kept, False, "春山"))) as archive:
        names = archive.namelist()
        assert names == ["01_春山.png", "02_春山.png", "收藏.txt"]
        assert all(Image.open(io.BytesIO(archive.read(name))).width >= 1080 for name in names[:2])
        assert archive.read("收藏.txt").decode("utf-8") == text
    at.button(key="favourite_0").click().run()  # a second click takes it back out
    assert len(at.session_state["favourites"]) == 1 and any(e.label == "收藏（1 首）" for e in at.expander)

    # An edit can be undone, and a rewrite draws fresh random numbers even with a fixed seed.
    at.checkbox(key="keep_0_0").check().run()
    at.button(key="rewrite_0").click().run()
    assert not at.exception, at.exception
    rewritten = poem_texts(at)
    assert rewritten != before and all(text.split("\n")[0] == before[0].split("\n")[0] for text in rewritten)
    at.button(key="undo").click().run()
    assert poem_texts(at) == before
    assert not [b for b in at.button if b.key == "undo"]


def test_tail_characters_that_cannot_rhyme_get_a_one_click_fix(models):
    at = wait_for_model(open_tab(start_app(), "写诗"))
    at.text_input(key="heads").input("青山不老")
    at.selectbox(key="position").set_value("tail")
    at.run()
    warning = " ".join(w.value for w in at.warning)
    assert "老 是仄声" in warning and at.checkbox(key="rhyme").value
    at.button(key="rhyme_fix_0").click().run()  # 不要求押韵
    assert not at.checkbox(key="rhyme").value and "是仄声" not in " ".join(w.value for w in at.warning)
    at.text_input(key="heads").input("花好月老")  # 好 and 老 rhyme on 仄: written as a 仄韵 poem, no advice
    at.checkbox(key="rhyme").check()
    at.run()
    assert "是仄声" not in " ".join(w.value for w in at.warning)


def test_comparison_cards_offer_what_every_card_offers(models):
    at = write(start_app(), "春山", form="五言", num_candidates=1, seed=4, compare_model="tiny")
    keys = {b.key for b in at.get("download_button")}
    assert {"download_left_0", "card_left_0", "card_large_right_0", "download_right_0"} <= keys
    assert {"favourite_left_0", "favourite_right_0"} <= {b.key for b in at.button}


def test_an_occasion_keeps_a_blessing_auspicious(models):
    from poetry_lm.compose.occasion import inauspicious_words

    at = write(start_app(), "生日快乐", num_candidates=4, seed=2, occasion="生日")
    texts = poem_texts(at)
    assert len(texts) == 4 and not [text for text in texts if inauspicious_words(text)]
    assert any(option.startswith("生日：") for option in at.selectbox(key="occasion").options)  # each says what it does


def test_a_name_becomes_a_whole_rhymed_quatrain_and_the_page_says_why(models):
    at = write(start_app(), "张伟", num_candidates=2, seed=1)  # the default: a whole poem
    for text in poem_texts(at):
        lines = text.split("\n")
        assert len(lines) == 4 and [line[0] for line in lines[:2]] == ["张", "伟"]
    notes = " ".join(c.value for c in at.caption)
    assert "「张伟」写成一首完整的绝句：藏字在第 1、2 句，第 3、4 句自由书写" in notes
    at.selectbox(key="placement").set_value("spread")
    at.button(key="generate").click().run()
    assert all([line[0] for line in text.split("\n")][0::2] == ["张", "伟"] for text in poem_texts(at))
    at = write(at, "春花秋月山", num_candidates=1, seed=2, placement="whole")
    assert len(poem_texts(at)[0].split("\n")) == 6
    assert "5 个藏字写成 6 句：第 6 句是补上的" in " ".join(c.value for c in at.caption)


def test_a_fine_tuned_model_offers_style_strength(models):
    """A model whose config names the model it was fine-tuned from gets a 风格强度 slider; others do not."""
    tuned = models / "tuned"
    shutil.copytree(models / "tiny", tuned)
    config = json.loads((tuned / "config.json").read_text(encoding="utf-8"))
    config["train"]["init_from"] = str(models / "tiny")
    (tuned / "config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    at = start_app()
    assert not [s for s in at.slider if s.key == "style_strength"]
    at.selectbox(key="model").set_value("tuned")
    at = write(at, "春山", form="五言", num_candidates=1, seed=1, style_strength=2.0)
    slider = at.slider(key="style_strength")
    assert slider.value == 2.0 and "从「tiny」微调来的" in slider.help
    assert len(poem_texts(at)) == 1


def test_a_finished_fine_tune_shows_what_changed_and_switches_to_the_new_model(models):
    """Perplexity before → after, the poet attribution before → after, three samples side by side, and a button that
    makes the new model the current one."""
    new = models / "李白风"
    shutil.copytree(models / "tiny", new)
    (new / "metrics.json").write_text(json.dumps({"test": {"perplexity_per_han": 118.2},
                                                  "base_test": {"perplexity_per_han": 131.3}}), encoding="utf-8")
    sample = {"heads": "春山", "base": ["春风吹柳絮，", "山色入帘栊。"], "tuned": ["春酒对明月，", "山花醉客来。"]}
    (new / "voice.json").write_text(json.dumps({
        "poet": "李白", "base_model": "default", "style_strength": 1.0, "attributed_before": 0.14,
        "attributed_after": 0.95, "held_out_attributed": 0.69, "samples": [sample] * 3}, ensure_ascii=False),
        encoding="utf-8")
    work = models / ".runs" / "李白风"
    work.mkdir(parents=True)
    (work / "progress.jsonl").write_text(json.dumps({"event": "start", "epochs": 3, "steps_per_epoch": 2}) + "\n"
                                         + json.dumps({"event": "done"}) + "\n", encoding="utf-8")
    jobs.Job("李白风", pid=2**22 - 1, args=[], started=time.time(), models=str(models)).save()
    at = start_app()
    shown = " ".join(m.value for m in at.sidebar.markdown)
    assert "131.3 → **118.2**（-10%）" in shown and "14% → **95%**" in shown
    assert sum("山花醉客来。" in t.value for t in at.sidebar.text) == 3
    at.button(key="use_new_model").click().run()
    assert at.selectbox(key="model").value == "李白风"


def test_ci_by_tune_from_the_searchable_picker_with_its_pattern(models):
    at = wait_for_model(open_tab(start_app(), "写诗"))
    at.radio(key="genre").set_value("词").run()
    picker = at.selectbox(key="tune")
    assert picker.options[0].startswith("浣溪沙（") and "首" in picker.options[0]
    assert any(option.startswith("望江南（单调）") for option in picker.options)
    picker.set_value("如梦令").run()
    assert any('class="ci-chart"' in md.value and "●" in md.value for md in at.markdown)  # the 谱 beside the picker
    assert any("如梦令" in c.value and "首统计" in c.value for c in at.caption)
    at.text_input(key="heads").input("春花秋月")
    at.slider(key="num_candidates").set_value(2)
    at.button(key="generate").click()
    at.run()
    assert not at.exception and not at.error
    poems = poem_texts(at)
    assert len(poems) == 2
    for text in poems:
        lines = text.split("\n")
        assert [len(line) - 1 for line in lines] == [6, 6, 5, 6, 2, 2, 6]  # each clause and its mark
        assert "".join(line[0] for line in lines[:4]) == "春花秋月"
    notes = " ".join(c.value for c in at.caption)
    assert "韵部：第" in notes and "平仄合律" in notes  # 词林正韵's 部


def test_a_two_stanza_ci_is_shown_by_stanza_and_too_many_heads_are_explained(models):
    at = wait_for_model(open_tab(start_app(), "写诗"))
    at.radio(key="genre").set_value("词").run()
    at.selectbox(key="tune").set_value("浣溪沙")
    at.selectbox(key="ci_placement").set_value("stanzas")
    at.text_input(key="heads").input("春花")
    at.slider(key="num_candidates").set_value(1)
    at.button(key="generate").click()
    at.run()
    lines = poem_texts(at)[0].split("\n")
    assert len(lines) == 7 and lines[3] == "\u3000" and lines[0][0] == "春" and lines[4][0] == "花"
    at.text_input(key="heads").input("一二三四五六七")
    at.button(key="generate").click()
    at.run()
    assert "最多藏 6 个字" in messages(at) and not at.exception
