"""Training under faults: bad run names and settings, unwritable or full disks, two runs at once, SIGKILL and resume."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poetry_lm.compose.generate import PoemGenerator, Settings
from poetry_lm.errors import PoetryError
from poetry_lm.model.config import TrainConfig
from poetry_lm.model.network import load_model_dir
from poetry_lm.training.runs import attempts, check_run_name, is_training_running, read_events, training_lock
from poetry_lm.training.trainer import train
from tests.conftest import REPO, TINY_ARGS, assert_one_line_error, run_cli, run_cli_in_process

# ----- run names, training settings, unwritable or full disk ------------------------------------


@pytest.mark.parametrize("name", ["", "..", "../evil", "a/b", "/etc", ".hidden", "-rf", "名 字", "x" * 65, "a\x00b"])
def test_path_like_run_names_are_rejected(name):
    with pytest.raises(PoetryError, match="模型名称只能包含"):
        check_run_name(name)


@pytest.mark.parametrize("name", ["tang7", "古风_v2", "my-model", "唐诗-v2_small"])
def test_plain_run_names_are_accepted(name):
    assert check_run_name(name) == name


@pytest.mark.parametrize(
    ("config", "model", "message"),
    [
        (TrainConfig(epochs=0), {}, "训练参数 epochs 须是 1 到 10,000 之间的整数，收到 0"),
        (TrainConfig(batch_size=-8), {}, "训练参数 batch_size 须是 1 到 65,536 之间的整数"),
        (TrainConfig(batch_size=99999999999999999999), {}, "训练参数 batch_size 须是 1 到 65,536 之间的整数"),
        (TrainConfig(), {"units": 0}, "训练参数 units 须是 1 到 8,192 之间的整数"),
        (TrainConfig(min_count=1_000_000), {}, "min_count 1000000 太大"),
        (TrainConfig(learning_rate=0.0), {}, "学习率须在 0 到 1 之间"),
        (TrainConfig(), {"dropout": 1.0}, "dropout 须在 0 到 1 之间"),
    ],
)
def test_impossible_training_settings_are_refused(tiny_corpus, tmp_path, config, model, message):
    with pytest.raises(PoetryError) as err:
        train(tiny_corpus, tmp_path / "models" / "bad", model, config)
    assert message in str(err.value)
    assert not (tmp_path / "models" / "bad").exists()


def test_unwritable_models_dir_fails_early(tiny_corpus, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("models/ cannot live under a file")
    with pytest.raises(PoetryError, match=f"模型目录不可写.*：{blocker}/models"):
        train(tiny_corpus, blocker / "models" / "run1", {}, TrainConfig())
    code, err = run_cli_in_process(["train", "--corpus", str(tiny_corpus), "--out", str(blocker / "models" / "x")], capsys)
    assert code == 2 and len(err) == 1 and "模型目录不可写" in err[0]


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_disk_full_while_saving_is_a_clear_error(tiny_corpus, tiny_model_dir, tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models / "default")
    before = _tree_digest(models / "default")

    def disk_full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr("poetry_lm.training.trainer.save_model_dir", disk_full)
    with pytest.raises(PoetryError, match="磁盘空间已满") as err:
        train(tiny_corpus, models / "full", {"units": 8, "embedding_dim": 8, "layers": 1, "dropout": 0.0},
              TrainConfig(epochs=1, batch_size=64, max_poems=64))
    assert "已有模型未受影响" in str(err.value)
    assert sorted(p.name for p in models.iterdir()) == [".runs", "default"]  # no half-written "full"
    assert _tree_digest(models / "default") == before
    assert not is_training_running(models)  # the lock went with the failed run


# ----- concurrency ------------------------------------------------------------------------------


def test_second_training_start_is_refused_while_one_runs(tiny_corpus, tmp_path):
    models = tmp_path / "models"
    with training_lock(models):
        assert is_training_running(models)
        with pytest.raises(PoetryError, match="已有一个训练任务在运行"):
            train(tiny_corpus, models / "second", {}, TrainConfig(epochs=1))
    assert not is_training_running(models)
    assert not (models / "second").exists()


def _train_argv(corpus: Path, out: Path, epochs: int, batch_size: int = 8) -> list[str]:
    return ["train", "--corpus", str(corpus), "--out", str(out), "--epochs", str(epochs), *TINY_ARGS,
            "--batch-size", str(batch_size), "--backup-every", "2", "--log-every", "1"]


def _popen_cli(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "poetry_lm", *argv], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_simultaneous_cli_trainings_exactly_one_runs(tiny_corpus, tmp_path):
    models = tmp_path / "models"
    runs = [_popen_cli(_train_argv(tiny_corpus, models / name, epochs=1, batch_size=32)) for name in ("a", "b")]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    assert_one_line_error(refused, "已有一个训练任务在运行")
    assert [p.name for p in models.iterdir() if not p.name.startswith(".")] in (["a"], ["b"])


# ----- SIGKILL and resume -----------------------------------------------------------------------


def _attempts(progress: Path) -> list[list[dict]]:
    return attempts(read_events(progress))


def _cli_run(corpus: Path, tmp_path: Path, name: str, epochs: int) -> tuple[Path, Path, Path, list[str]]:
    """(models folder, model folder, progress log, train argv) of a CLI run named `name`."""
    models = tmp_path / "models"
    return models, models / name, models / ".runs" / name / "progress.jsonl", _train_argv(corpus, models / name, epochs)


def _kill_when(process: subprocess.Popen, progress: Path, attempt: int, reached) -> None:
    """SIGKILL `process` as soon as attempt number `attempt` has logged an event for which `reached` is true."""
    deadline = time.time() + 240
    while time.time() < deadline:
        runs = _attempts(progress)
        if len(runs) > attempt and any(reached(e) for e in runs[attempt]):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.kill()
    raise AssertionError("training never reached the kill point")


def _batch(epoch: int, batch: int):
    return lambda e: e["event"] == "batch" and e["epoch"] == epoch and e["batch"] >= batch


@pytest.mark.slow
def test_sigkill_twice_mid_epoch_resumes_from_saved_epoch(tiny_corpus, tmp_path):
    models, out, progress, argv = _cli_run(tiny_corpus, tmp_path, "resumed", epochs=3)

    # Kill 1: a few batches into epoch 2 (backups every 2 batches exist by then).
    _kill_when(_popen_cli(argv), progress, 0, _batch(2, 6))
    assert not out.exists()
    assert not is_training_running(models)  # the kernel dropped the dead run's lock
    # Kill 2: a few batches into the resumed epoch; Keras's own callback would then restart at epoch 1.
    _kill_when(_popen_cli(argv), progress, 1, _batch(2, 6))
    assert not out.exists()

    result = run_cli(argv, timeout=300)
    assert result.returncode == 0, result.stderr
    attempts = _attempts(progress)
    assert len(attempts) == 3
    for resumed in attempts[1:]:
        first_batch = next(e for e in resumed if e["event"] == "batch")
        assert first_batch["epoch"] == 2, "a resumed attempt restarted from scratch"
    finished_epochs = sorted({e["epoch"] for e in read_events(progress) if e["event"] == "epoch"})
    assert finished_epochs == [1, 2, 3]
    assert attempts[-1][-1]["event"] == "done"

    # The same kind of model as an uninterrupted run: loadable, same shape, writes poems.
    model_dir = load_model_dir(out)
    assert (model_dir.info.model.units, model_dir.info.model.layers) == (32, 2)
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["epochs_run"] == 3
    poem = PoemGenerator(model_dir).generate(Settings("春山", 5, 1, seed=0))[0]
    assert [line[0] for line in poem.lines[:2]] == ["春", "山"] and len(poem.lines) == 4  # a whole 绝句
    assert sorted(p.name for p in models.iterdir()) == [".runs", "resumed"]


@pytest.mark.slow
def test_sigkill_at_an_epoch_boundary_counts_every_epoch_once(tiny_corpus, tmp_path):
    """Killed the moment epoch 1 is logged (its checkpoint and backup may be half written)."""
    models, out, progress, argv = _cli_run(tiny_corpus, tmp_path, "boundary", epochs=2)
    _kill_when(_popen_cli(argv), progress, 0, lambda e: e["event"] == "epoch")

    result = run_cli(argv, timeout=300)
    assert result.returncode == 0, result.stderr
    history = (out / "history.csv").read_text(encoding="utf-8").splitlines()
    assert [row.split(",")[0] for row in history] == ["epoch", "1", "2"]
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["epochs_run"] == 2
    assert not [p.name for p in (models / ".runs" / "boundary").iterdir() if p.suffix == ".keras"]


# ----- damaged saved state: atomic writes, fallbacks, a cleanup a kill cut short ---------------

SMALL = {"units": 8, "embedding_dim": 8, "layers": 1, "dropout": 0.0}


def _small_config(epochs: int = 3) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=32, max_poems=160, backup_every_batches=2, log_every_batches=1)


def _interrupted_run(corpus: Path, out: Path, monkeypatch, stop_in_epoch: int = 2) -> Path:
    """A run stopped by Ctrl-C a batch into epoch `stop_in_epoch` (earlier epochs committed, batch saves since)."""
    from poetry_lm.training.callbacks import ProgressLog

    original = ProgressLog.on_train_batch_end

    def interrupt(self, batch, logs=None):
        original(self, batch, logs)
        if self.epoch + 1 == stop_in_epoch and batch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(ProgressLog, "on_train_batch_end", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(corpus, out, SMALL, _small_config())
    monkeypatch.setattr(ProgressLog, "on_train_batch_end", original)
    return out.parent / ".runs" / out.name


def _first_batch_of_last_attempt(progress: Path) -> dict:
    return next(e for e in _attempts(progress)[-1] if e["event"] == "batch")


@pytest.mark.parametrize(
    ("damaged", "restored_from", "resumed_epoch"),
    [
        (["training_metadata.json"], "training_metadata.json.bkp", 2),
        (["training_metadata.json", "training_metadata.json.bkp"], "epoch_metadata.json", 2),
    ],
)
def test_a_damaged_backup_falls_back_to_an_older_commit_with_one_line(
    tiny_corpus, tmp_path, monkeypatch, capsys, damaged, restored_from, resumed_epoch
):
    out = tmp_path / "models" / "run"
    work = _interrupted_run(tiny_corpus, out, monkeypatch)
    for name in damaged:
        (work / "backup" / name).write_bytes(b"")  # what a kill during an in-place rewrite used to leave
    capsys.readouterr()
    train(tiny_corpus, out, SMALL, _small_config())
    notices = [line for line in capsys.readouterr().err.splitlines() if line.startswith("注意：")]
    assert notices == [f"注意：备份 {'、'.join(damaged)} 已损坏，改从 {restored_from}（第 1 轮结束后）接着训练"]
    assert _first_batch_of_last_attempt(work / "progress.jsonl")["epoch"] == resumed_epoch
    assert load_model_dir(out).info.model.units == 8
    assert not (work / "backup").exists()


def test_when_every_backup_is_damaged_the_run_says_to_start_fresh(tiny_corpus, tmp_path, monkeypatch):
    out = tmp_path / "models" / "run"
    work = _interrupted_run(tiny_corpus, out, monkeypatch)
    for metadata in (work / "backup").glob("*.json*"):
        metadata.write_bytes(b"{")
    with pytest.raises(PoetryError, match="这次训练的备份都已损坏.*加 --fresh 重新开始"):
        train(tiny_corpus, out, SMALL, _small_config())
    train(tiny_corpus, out, SMALL, _small_config(), fresh=True)
    assert load_model_dir(out).info.model.units == 8


def test_a_damaged_run_vocabulary_is_built_again(tiny_corpus, tmp_path, monkeypatch, capsys):
    out = tmp_path / "models" / "run"
    work = _interrupted_run(tiny_corpus, out, monkeypatch)
    saved = (work / "vocab.json").read_text(encoding="utf-8")
    (work / "vocab.json").write_bytes(b"")
    capsys.readouterr()
    train(tiny_corpus, out, SMALL, _small_config())
    assert "注意：上次保存的词表已损坏，已按相同的设置和语料重建" in capsys.readouterr().err
    assert (out / "vocab.json").read_text(encoding="utf-8") == saved
    assert _first_batch_of_last_attempt(work / "progress.jsonl")["epoch"] == 2  # the backup still fitted


def test_the_trainer_writes_its_state_files_by_rename(tiny_corpus, tmp_path, monkeypatch):
    """vocab.json, config.json and the backup's metadata are replaced whole, never rewritten in place."""
    renamed = []
    real_replace = os.replace

    def recording_replace(source, target, *args, **kwargs):
        renamed.append(Path(target).relative_to(tmp_path / "models").as_posix())
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", recording_replace)
    train(tiny_corpus, tmp_path / "models" / "run", SMALL, _small_config(epochs=2))
    for name in (".runs/run/vocab.json", ".runs/run/config.json", ".runs/run/backup/training_metadata.json",
                 ".runs/run/backup/training_metadata.json.bkp", ".runs/run/backup/epoch_metadata.json",
                 ".runs/run/best.keras", ".runs/run/trained.keras", "run"):
        assert name in renamed, (name, sorted(set(renamed)))


def test_rerunning_a_finished_run_completes_its_cleanup(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "models" / "run"
    train(tiny_corpus, out, SMALL, _small_config(epochs=1))
    work = out.parent / ".runs" / "run"
    # What a kill right after the model folder was renamed into place leaves behind.
    (work / "backup").mkdir()
    (work / "backup" / "weights-3.weights.h5").write_bytes(b"\0" * 2**20)
    shutil.copy(out / "model.keras", work / "trained.keras")
    capsys.readouterr()
    assert train(tiny_corpus, out, SMALL, _small_config(epochs=1)) == out
    assert "已训练完成；已清理上次结束时没清理完的临时文件" in capsys.readouterr().err
    assert sorted(p.name for p in work.iterdir()) == ["config.json", "progress.jsonl", "vocab.json"]
    with pytest.raises(PoetryError, match="已存在"):  # nothing left to complete: the name stays taken
        train(tiny_corpus, out, SMALL, _small_config(epochs=1))


@pytest.mark.slow
def test_state_files_never_read_empty_during_a_run_and_a_kill_anywhere_resumes(tiny_corpus, tmp_path):
    """The attack: poll the run folder for a 0-byte or cut-short state file while training saves every
    2 batches, SIGKILL at one such moment, and re-run. No reader may ever see a part of a file."""
    models, out, progress, argv = _cli_run(tiny_corpus, tmp_path, "watched", epochs=3)
    work = models / ".runs" / "watched"
    watched = [work / "vocab.json", work / "config.json", work / "backup" / "training_metadata.json",
               work / "backup" / "epoch_metadata.json"]
    process = _popen_cli(argv)
    reads, torn = 0, []
    deadline = time.time() + 240
    while process.poll() is None and time.time() < deadline:
        for path in watched:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError:
                continue  # not written yet
            reads += 1
            try:
                json.loads(text)
            except ValueError:
                torn.append((path.name, len(text)))
        if len(_attempts(progress)) and any(_batch(2, 4)(e) for e in read_events(progress)):
            process.send_signal(signal.SIGKILL)
            process.wait()
    assert reads > 100 and not torn, (reads, torn[:5])
    result = run_cli(argv, timeout=300)
    assert result.returncode == 0, result.stderr
    assert _first_batch_of_last_attempt(progress)["epoch"] == 2
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["epochs_run"] == 3
