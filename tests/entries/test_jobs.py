"""poetry_lm.jobs without the app: model listing, job files, status from progress logs, refusals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from poetry_lm import jobs
from poetry_lm.errors import PoetryError
from poetry_lm.training.runs import PROGRESS_FILE, STOP_FILE, clear_stale_stop, process_start_time, training_lock


def make_model(models, name):
    (models / name).mkdir(parents=True)
    (models / name / "model.keras").write_bytes(b"x")


def write_events(job, *events):
    job.run_dir.mkdir(parents=True, exist_ok=True)
    with open(job.run_dir / PROGRESS_FILE, "a", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps(event, ensure_ascii=False) + "\n")


def test_models_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(jobs.MODELS_ENV, str(tmp_path))
    assert jobs.models_dir() == tmp_path
    monkeypatch.delenv(jobs.MODELS_ENV)
    assert jobs.models_dir() == jobs.REPO_ROOT / "models"


def test_list_models_puts_bundled_first_and_skips_incomplete(tmp_path):
    for name in ("zeta", "default", "alpha"):
        make_model(tmp_path, name)
    (tmp_path / "half").mkdir()  # no model file
    (tmp_path / ".runs" / "x").mkdir(parents=True)
    assert jobs.list_models(tmp_path) == ["default", "alpha", "zeta"]
    assert jobs.list_models(tmp_path / "missing") == []


def test_command_line_follows_the_request(tmp_path):
    request = jobs.JobRequest("r1", tmp_path, size="mini", epochs=2, batch_size=16, learning_rate=1e-3, max_poems=50)
    args = request.command(tmp_path)
    assert args[:4] == [sys.executable, "-m", "poetry_lm", "train"]
    flags = dict(zip(args[4::2], args[5::2], strict=True))
    assert flags["--units"] == "32" and flags["--epochs"] == "2" and flags["--max-poems"] == "50"
    assert flags["--out"] == str((tmp_path / "r1").resolve())
    with pytest.raises(PoetryError, match="未知的模型大小"):
        jobs.JobRequest("r1", tmp_path, size="huge").command(tmp_path)


def test_start_refuses_bad_names_taken_names_and_missing_corpus(tmp_path):
    make_model(tmp_path, "default")
    with pytest.raises(PoetryError, match="模型名称"):
        jobs.start_job(tmp_path, jobs.JobRequest("../x", jobs.BUNDLED_CORPUS))
    with pytest.raises(PoetryError, match="已存在"):
        jobs.start_job(tmp_path, jobs.JobRequest("default", jobs.BUNDLED_CORPUS))
    with pytest.raises(PoetryError, match="找不到语料"):
        jobs.start_job(tmp_path, jobs.JobRequest("new", tmp_path / "nowhere"))
    assert jobs.latest_job(tmp_path) is None


def test_start_refused_while_the_trainer_holds_the_lock(tmp_path):
    with training_lock(tmp_path):
        with pytest.raises(PoetryError, match="已有训练任务"):
            jobs.start_job(tmp_path, jobs.JobRequest("new", jobs.BUNDLED_CORPUS))


def test_status_of_a_running_then_finished_job(tmp_path):
    # A live process whose command line names poetry_lm stands in for the trainer.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "poetry_lm"])
    try:
        job = jobs.Job("run", sleeper.pid, [], time.time(), str(tmp_path))
        job.run_dir.mkdir(parents=True)
        job.save()
        assert jobs.job_status(job).state == "starting"
        assert jobs.active_job(tmp_path).name == "run"
        write_events(
            job,
            {"event": "start", "epochs": 2, "steps_per_epoch": 10},
            {"event": "notice", "message": "备份 training_metadata.json 已损坏，改从 epoch_metadata.json（第 1 轮结束后）接着训练"},
            {"event": "batch", "epoch": 1, "batch": 5, "loss": 6.0, "eta_s": 15.0},
        )
        status = jobs.job_status(job)
        assert status.state == "running" and status.fraction == pytest.approx(0.25)
        assert status.notices == ["备份 training_metadata.json 已损坏，改从 epoch_metadata.json（第 1 轮结束后）接着训练"]
        assert (status.epoch, status.batch, status.eta_s) == (1, 5, 15.0)
        with pytest.raises(PoetryError, match="「run」"):
            jobs.start_job(tmp_path, jobs.JobRequest("other", jobs.BUNDLED_CORPUS))
        jobs.stop_job(job)
        assert (job.run_dir / STOP_FILE).exists() and jobs.Job.load(job.run_dir / jobs.JOB_FILE).stop_requested
        (job.run_dir / STOP_FILE).unlink()  # a STOP lost anyhow: the app repeats it
        jobs.job_status(jobs.latest_job(tmp_path))
        assert (job.run_dir / STOP_FILE).exists()
        write_events(
            job,
            {"event": "stopping", "epoch": 1, "batch": 6, "step": "验证本轮已训练的部分"},
            {"event": "batch", "epoch": 1, "batch": 7, "loss": 5.9},  # a late line: the counter stands still
        )
        status = jobs.job_status(job)
        assert (status.batch, status.phase) == (5, "验证本轮已训练的部分")
        write_events(
            job,
            {"event": "epoch", "epoch": 1, "loss": 5.0, "val_loss": 5.5, "eta_s": 10.0},
            {"event": "samples", "epoch": 1, "poems": ["春眠不觉晓，处处闻啼鸟。"]},
            {"event": "stopped", "out": str(job.out_dir)},
        )
        make_model(tmp_path, "run")
        status = jobs.job_status(job)
        assert status.state == "stopped" and status.samples == [(1, ["春眠不觉晓，处处闻啼鸟。"])]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_dead_process_without_final_event_is_failed(tmp_path):
    job = jobs.Job("crashed", pid=2**22 - 1, args=[], started=time.time(), models=str(tmp_path))
    job.run_dir.mkdir(parents=True)
    (job.run_dir / jobs.LOG_FILE).write_text("line\nerror: 语料文件不存在：x\n", encoding="utf-8")
    write_events(job, {"event": "start", "epochs": 1, "steps_per_epoch": 3})
    status = jobs.job_status(job)
    assert status.state == "failed" and status.message == "语料文件不存在：x"
    assert "line" in status.log_tail


def test_process_alive_ignores_other_programs_and_zombies():
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not jobs.process_alive(other.pid)  # alive, but not a poetry_lm process
    finally:
        other.kill()
        other.wait()
    finished = subprocess.Popen([sys.executable, "-c", "pass", "poetry_lm"])
    time.sleep(1.0)
    assert not jobs.process_alive(finished.pid)  # exited (a zombie until reaped): not alive


def test_loss_frame_and_resumed_runs():
    events = [
        {"event": "start", "epochs": 1, "steps_per_epoch": 4},
        {"event": "batch", "epoch": 1, "batch": 1, "loss": 9.0},
        {"event": "start", "epochs": 2, "steps_per_epoch": 4},  # a resume: only this attempt counts
        {"event": "batch", "epoch": 1, "batch": 2, "loss": 7.0},
        {"event": "epoch", "epoch": 1, "loss": 6.5, "val_loss": 6.8},
        {"event": "batch", "epoch": 2, "batch": 2, "loss": 6.0},
    ]
    frame = jobs.loss_frame(jobs.current_attempt(events))
    series = {name: rows[["轮", "损失"]].values.tolist() for name, rows in frame.groupby("曲线")}
    assert series == {"批损失": [[0.5, 7.0], [1.5, 6.0]], "训练损失": [[1.0, 6.5]], "验证损失": [[1.0, 6.8]]}
    stopped = [*events, {"event": "epoch", "epoch": 2, "batches": 2, "loss": 5.5, "val_loss": 6.0}]
    frame = jobs.loss_frame(jobs.current_attempt(stopped))
    assert frame[frame["曲线"] == "验证损失"]["轮"].tolist() == [1.0, 1.5]  # a stopped epoch ends where it stopped
    assert jobs.loss_frame([]).empty


def test_read_events_skips_a_cut_line(tmp_path):
    path = tmp_path / PROGRESS_FILE
    path.write_text('{"event": "start"}\n{"event": "ba', encoding="utf-8")
    assert jobs.read_events(path) == [{"event": "start"}]
    assert jobs.read_events(tmp_path / "none") == []


def test_format_seconds():
    assert jobs.format_seconds(None) == "未知"
    assert jobs.format_seconds(5.4) == "5 秒"
    assert jobs.format_seconds(125) == "2 分 5 秒"
    assert jobs.format_seconds(3725) == "1 小时 2 分"


def test_training_estimate_scales_with_work_and_precision():
    poems = ["床前明月光，疑是地上霜。举头望明月，低头思故乡。"] * 1000
    shape = {"units": 512, "layers": 2, "embedding_dim": 256, "vocab_size": 9624}
    one = jobs.estimate_training_seconds(poems, 1, shape, bfloat16=False)
    # 1,000 poems × 25 tokens × 3 × (4·512·768 + 4·512·1024 + 512·9624) multiply-adds, 16 batches, one start-up.
    macs = 3 * (4 * 512 * 768 + 4 * 512 * 1024 + 512 * 9624) * 25_000
    assert one == pytest.approx(macs / jobs.CPU_MACS_PER_S + 16 * jobs.CPU_SECONDS_PER_BATCH + jobs.CPU_RUN_OVERHEAD_S)
    assert jobs.estimate_training_seconds(poems, 3, shape, bfloat16=False) > 2.5 * one - 2 * jobs.CPU_RUN_OVERHEAD_S
    assert jobs.estimate_training_seconds(poems, 1, shape, bfloat16=True) < one
    smaller = jobs.estimate_training_seconds(poems, 1, {**shape, "units": 128}, bfloat16=False)
    assert smaller - jobs.CPU_RUN_OVERHEAD_S < (one - jobs.CPU_RUN_OVERHEAD_S) / 2


def test_a_new_upload_never_replaces_the_corpus_an_interrupted_run_was_trained_on(tmp_path):
    from poetry_lm.text.corpus import corpus_hash
    from tests.conftest import tiny_poems

    models, poems = tmp_path / "models", tiny_poems(60)
    first = jobs.save_uploaded_corpus(models, "mine", poems[:40])
    saved = corpus_hash(first)
    (models / ".runs" / "mine").mkdir(parents=True)
    (models / ".runs" / "mine" / PROGRESS_FILE).write_text('{"event": "start"}\n', encoding="utf-8")
    assert jobs.interrupted_run(models, "mine")
    with pytest.raises(PoetryError, match="「mine」有一次中断的训练.*已保留上次的语料.*丢弃上次的进度，重新开始"):
        jobs.save_uploaded_corpus(models, "mine", poems[20:])
    assert corpus_hash(first) == saved and list(jobs.uploaded_corpora(models)) == ["mine"]
    assert jobs.save_uploaded_corpus(models, "mine", poems[:40]) == first  # the same file again: resumes
    jobs.save_uploaded_corpus(models, "mine", poems[20:], fresh=True)  # a fresh start takes the new poems
    assert corpus_hash(first) != saved
    request = jobs.JobRequest(name="mine", corpus_dir=first, fresh=True)
    assert request.command(models)[-1] == "--fresh"


def test_a_stop_asked_for_while_the_trainer_loads_is_kept_and_an_old_one_is_cleared(tmp_path):
    """停止训练 pressed while TensorFlow still loads must stop the run at its first batch (it used to be
    cleared, so a few batches ran before the app repeated it); a STOP left by an earlier attempt must not."""
    assert time.time() - 3600 * 24 * 365 < process_start_time() <= time.time()
    stop = tmp_path / STOP_FILE
    stop.touch()
    clear_stale_stop(tmp_path)
    assert stop.exists()  # newer than this process
    old = process_start_time() - 60
    os.utime(stop, (old, old))
    clear_stale_stop(tmp_path)
    assert not stop.exists()
    clear_stale_stop(tmp_path)  # nothing to clear


def test_perplexities_before_and_after_are_read_from_metrics(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(
        {"test": {"perplexity_per_han": 118.2}, "base_test": {"perplexity_per_han": 131.3}}), encoding="utf-8")
    assert jobs.perplexities(jobs.model_metrics(tmp_path)) == (131.3, 118.2)
    assert jobs.perplexities(jobs.model_metrics(tmp_path / "none")) == (None, None)
    (tmp_path / "metrics.json").write_text("[1]", encoding="utf-8")
    assert jobs.perplexities(jobs.model_metrics(tmp_path)) == (None, None)


def test_a_ci_goes_to_a_model_that_has_read_ci(tmp_path, tiny_model_dir):
    models = tmp_path / "models"
    for name in ("default", "mine"):
        shutil.copytree(tiny_model_dir, models / name)
    assert jobs.ci_writer(models, "default") == "default"  # no 词 model: the chosen one writes
    shutil.copytree(tiny_model_dir, models / jobs.BUNDLED_CI_MODEL)
    config = models / jobs.BUNDLED_CI_MODEL / "config.json"
    info = json.loads(config.read_text(encoding="utf-8"))
    info["train"]["with_ci"] = True
    config.write_text(json.dumps(info), encoding="utf-8")
    assert jobs.learned_ci(models / jobs.BUNDLED_CI_MODEL) and not jobs.learned_ci(models / "mine")
    assert jobs.ci_writer(models, "default") == jobs.ci_writer(models, "mine") == jobs.BUNDLED_CI_MODEL
    shutil.copy(config, models / "mine" / "config.json")  # a model the user trained with --with-ci writes its own
    assert jobs.ci_writer(models, "mine") == "mine"
    assert jobs.list_models(models)[:2] == ["default", jobs.BUNDLED_CI_MODEL]
