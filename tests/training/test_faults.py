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
    assert [line[0] for line in poem.lines] == ["春", "山"]
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
