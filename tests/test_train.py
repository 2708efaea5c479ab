"""Training: a tiny run whose loss falls, its output directory, and resume after an interruption."""

import csv
import json

import pytest

from poetry_lm import train as train_module
from poetry_lm.config import RunInfo, TrainConfig
from poetry_lm.errors import PoetryError
from poetry_lm.train import PROGRESS_FILE, check_run_name, read_events, run_dir, train
from tests.conftest import TINY_MODEL


def test_tiny_run_loss_falls_and_writes_model_dir(tiny_model_dir):
    rows = list(csv.DictReader(open(tiny_model_dir / "history.csv", encoding="utf-8")))
    assert len(rows) == 2
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])
    assert float(rows[1]["val_loss"]) < float(rows[0]["val_loss"])
    metrics = json.loads((tiny_model_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["test"]["bits_per_char"] > 0 and metrics["epochs_run"] == 2
    info = RunInfo.from_json(tiny_model_dir / "config.json")
    assert info.model.units == TINY_MODEL["units"] and info.tokens["bos"] == "<bos>" and info.corpus_hash
    log = read_events(tiny_model_dir / "train_log.jsonl")
    kinds = {e["event"] for e in log}
    assert {"start", "batch", "epoch", "samples", "done"} <= kinds
    batch = next(e for e in log if e["event"] == "batch")
    assert batch["chars_per_s"] > 0 and batch["eta_s"] >= 0
    samples = [e for e in log if e["event"] == "samples"]
    assert len(samples) == 2 and samples[0]["poems"][0].startswith("春")


def test_existing_model_is_never_overwritten(tiny_corpus, tiny_model_dir):
    before = (tiny_model_dir / "model.keras").read_bytes()
    with pytest.raises(PoetryError, match="已存在"):
        train(tiny_corpus, tiny_model_dir, TINY_MODEL, TrainConfig(epochs=1))
    assert (tiny_model_dir / "model.keras").read_bytes() == before


@pytest.mark.parametrize("name", ["..", "../evil", ".hidden", "a/b", "", "x" * 65, "-rf", "名 字"])
def test_run_names_are_sanitised(name):
    with pytest.raises(PoetryError, match="模型名称"):
        check_run_name(name)


def test_good_run_names_pass():
    assert check_run_name("唐诗-v2_small") == "唐诗-v2_small"


@pytest.mark.slow
def test_resume_after_interruption(tmp_path, tiny_corpus, monkeypatch):
    out = tmp_path / "models" / "resumed"
    config = TrainConfig(epochs=3, batch_size=32, backup_every_batches=2, log_every_batches=1)
    original = train_module.ProgressLog.on_train_batch_end

    def interrupt_in_epoch_2(self, batch, logs=None):
        original(self, batch, logs)
        if self.epoch == 1 and batch == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module.ProgressLog, "on_train_batch_end", interrupt_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_corpus, out, TINY_MODEL, config)
    assert not out.exists()  # no half-written model directory
    assert (run_dir(out) / "backup").is_dir()

    monkeypatch.setattr(train_module.ProgressLog, "on_train_batch_end", original)
    train(tiny_corpus, out, TINY_MODEL, config)
    log = read_events(out / "train_log.jsonl")
    starts = [i for i, e in enumerate(log) if e["event"] == "start"]
    assert len(starts) == 2
    resumed_epochs = {e["epoch"] for e in log[starts[1] :] if e["event"] == "epoch"}
    assert resumed_epochs == {2, 3}  # epoch 1 is not trained again
    assert (out / "model.keras").is_file() and not (run_dir(out) / "backup").exists()
    assert log[-1]["event"] == "done"
    assert (run_dir(out) / PROGRESS_FILE).exists()
