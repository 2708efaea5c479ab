"""Training: a tiny run whose loss falls, its output directory, resume after an interruption, warm starts."""

import csv
import json
import shutil

import numpy as np
import pytest

from poetry_lm import cli
from poetry_lm.errors import PoetryError
from poetry_lm.model.config import ModelConfig, RunInfo, TrainConfig
from poetry_lm.model.hardware import cpu_has_fast_bfloat16
from poetry_lm.model.network import build_model, lstm_weights
from poetry_lm.text.catalogue import load_catalogue
from poetry_lm.text.corpus import load_split, write_corpus
from poetry_lm.text.vocab import Vocabulary
from poetry_lm.training import callbacks
from poetry_lm.training import trainer as train_module
from poetry_lm.training.runs import PROGRESS_FILE, attempts, read_events, run_dir
from poetry_lm.training.trainer import train
from poetry_lm.training.warm_start import copy_weights_by_token
from tests.conftest import REPO, TINY_MODEL, corpus_with_ci


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
    batches = [e for e in log if e["event"] == "batch"]
    assert batches[0]["eta_s"] is None  # the first batch includes tracing: no guess yet
    assert all(b["chars_per_s"] > 0 for b in batches) and batches[-1]["eta_s"] >= 0
    samples = [e for e in log if e["event"] == "samples"]
    assert len(samples) == 2 and samples[0]["poems"][0].startswith("春")


def test_existing_model_is_never_overwritten(tiny_corpus, tiny_model_dir):
    before = (tiny_model_dir / "model.keras").read_bytes()
    with pytest.raises(PoetryError, match="已存在"):
        train(tiny_corpus, tiny_model_dir, TINY_MODEL, TrainConfig(epochs=1))
    assert (tiny_model_dir / "model.keras").read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("model", [TINY_MODEL, {**TINY_MODEL, "kind": "couplet"}], ids=["poem", "couplet"])
def test_resume_after_interruption(tmp_path, tiny_corpus, monkeypatch, model):
    """The same guarantees for the aligned couplet model as for the poem model."""
    out = tmp_path / "models" / "resumed"
    config = TrainConfig(epochs=3, batch_size=32, backup_every_batches=2, log_every_batches=1)
    original = callbacks.ProgressLog.on_train_batch_end

    def interrupt_in_epoch_2(self, batch, logs=None):
        original(self, batch, logs)
        if self.epoch == 1 and batch == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.ProgressLog, "on_train_batch_end", interrupt_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_corpus, out, model, config)
    assert not out.exists()  # no half-written model directory
    assert (run_dir(out) / "backup").is_dir()

    monkeypatch.setattr(callbacks.ProgressLog, "on_train_batch_end", original)
    train(tiny_corpus, out, model, config)
    log = read_events(out / "train_log.jsonl")
    starts = [i for i, e in enumerate(log) if e["event"] == "start"]
    assert len(starts) == 2
    resumed_epochs = {e["epoch"] for e in log[starts[1] :] if e["event"] == "epoch"}
    assert resumed_epochs == {2, 3}  # epoch 1 is not trained again
    assert (out / "model.keras").is_file() and not (run_dir(out) / "backup").exists()
    assert log[-1]["event"] == "done"
    assert (run_dir(out) / PROGRESS_FILE).exists()


# ----- warm start and fine-tuning on a slice of the corpus ------------------------------------------


@pytest.fixture(scope="module")
def catalogued_corpus(tmp_path_factory):
    """The tiny poems with metadata: alternately by 甲 (唐) and 乙 (宋)."""
    poems = [poem for split, count in [("train", 300), ("valid", 40), ("test", 60)]
             for poem in load_split(REPO / "corpus", split)[:count]]  # poems of every split
    metas = [("唐", "甲", f"诗{i}") if i % 2 == 0 else ("宋", "乙", f"诗{i}") for i in range(len(poems))]
    out = tmp_path_factory.mktemp("catalogued")
    write_corpus(poems, out, metas)
    return out


def test_copy_weights_by_token_keeps_known_rows_and_gives_new_tokens_a_low_bias():
    base_vocab = Vocabulary.build(["春风，花月。"])
    vocab = base_vocab.extended(Vocabulary.build(["雪夜，春山。"]))
    assert vocab.tokens[: len(base_vocab)] == base_vocab.tokens and {"雪", "夜", "山"} <= set(vocab.tokens)
    config = {"embedding_dim": 4, "units": 8, "layers": 2, "dropout": 0.0}
    source = build_model(ModelConfig(vocab_size=len(base_vocab), **config))
    target = build_model(ModelConfig(vocab_size=len(vocab), **config))
    copy_weights_by_token(source, base_vocab, target, vocab)
    src_emb, src_cells, (src_kernel, src_bias) = lstm_weights(source)
    emb, cells, (kernel, bias) = lstm_weights(target)
    known = len(base_vocab)
    np.testing.assert_array_equal(np.asarray(emb)[:known], np.asarray(src_emb))
    np.testing.assert_array_equal(np.asarray(kernel)[:, :known], np.asarray(src_kernel))
    np.testing.assert_array_equal(np.asarray(bias)[known:], np.asarray(src_bias).min())
    for cell, src_cell in zip(cells, src_cells, strict=True):  # the LSTMs are copied as they are
        for weight, src_weight in zip(cell, src_cell, strict=True):
            np.testing.assert_array_equal(np.asarray(weight), np.asarray(src_weight))


def test_warm_start_model_shape_comes_from_the_source(tiny_model_dir, catalogued_corpus, tmp_path):
    with pytest.raises(PoetryError, match="模型结构由该模型决定"):
        train(catalogued_corpus, tmp_path / "m" / "bigger", {"units": 64},
              TrainConfig(epochs=1, init_from=str(tiny_model_dir)))
    assert not (tmp_path / "m" / "bigger").exists()


@pytest.mark.slow
def test_fine_tune_on_one_poet_from_the_cli(tiny_model_dir, catalogued_corpus, tmp_path, capsys):
    out = tmp_path / "models" / "jia"
    code = cli.main(["train", "--corpus", str(catalogued_corpus), "--out", str(out), "--init-from", str(tiny_model_dir),
                     "--poets", "甲", "--epochs", "2", "--batch-size", "16", "--learning-rate", "0.001"])
    assert code == 0, capsys.readouterr().err
    info = RunInfo.from_json(out / "config.json")
    assert info.train.poets == ("甲",) and info.train.init_from == str(tiny_model_dir)
    assert info.model.units == TINY_MODEL["units"]
    base_tokens = json.loads((tiny_model_dir / "vocab.json").read_text(encoding="utf-8"))
    assert json.loads((out / "vocab.json").read_text(encoding="utf-8"))[: len(base_tokens)] == base_tokens
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    poet_test = load_catalogue(catalogued_corpus).query("split == 'test' and author == '甲'")
    assert metrics["test"]["poems"] == metrics["base_test"]["poems"] == len(poet_test) > 0
    # Two epochs on 甲's poems: the held-out poems of 甲 are more likely than under the base model.
    assert metrics["test"]["loss_per_han"] < metrics["base_test"]["loss_per_han"]


def test_unknown_poet_is_one_clear_error(tiny_model_dir, catalogued_corpus, tmp_path, capsys):
    code = cli.main(["train", "--corpus", str(catalogued_corpus), "--out", str(tmp_path / "m" / "x"),
                     "--init-from", str(tiny_model_dir), "--poets", "甲,丙丁"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and err == ["error: 语料中没有这些诗人：丙丁"]


def test_progress_eta_uses_steady_batches_and_time_between_epochs(tmp_path, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(callbacks.time, "time", lambda: now[0])
    log = callbacks.ProgressLog(tmp_path / PROGRESS_FILE, epochs=2, steps=4, tokens_per_epoch=400, every=1)

    def at(t, call, *args):
        now[0] = t
        call(*args)

    at(0, log.on_train_begin)
    at(0, log.on_epoch_begin, 0)
    for t, batch in [(30, 0), (31, 1), (32, 2), (33, 3)]:  # the first batch took 30 s: tracing
        at(t, log.on_train_batch_end, batch, {"loss": 5.0})
    at(40, log.on_epoch_end, 0, {"loss": 5.0, "val_loss": 5.5})
    at(45, log.on_epoch_begin, 1)  # 12 s from the last batch to the next epoch (validation, samples)
    at(50, log.on_train_batch_end, 0, {"loss": 4.0})
    at(51, log.on_train_batch_end, 1, {"loss": 4.0})
    at(52, log.on_epoch_end, 1, {"loss": 4.0, "val_loss": 4.5})  # stopped after 2 of 4 batches
    events = read_events(tmp_path / PROGRESS_FILE)
    # 1 s per batch once tracing is over, plus 12 s per epoch end still to come once that was seen.
    assert [e["eta_s"] for e in events if e["event"] == "batch"] == [None, 6.0, 5.0, 4.0, 3.0 + 12.0, 2.0 + 12.0]
    last_epoch = [e for e in events if e["event"] == "epoch"][-1]
    assert (last_epoch["epoch"], last_epoch["batches"]) == (2, 2)


# ----- interrupted runs: nothing trained is lost, nothing mismatched is resumed ----------------------


def _interrupt_in_first_epoch(monkeypatch):
    original = callbacks.ProgressLog.on_train_batch_end

    def interrupt(self, batch, logs=None):
        original(self, batch, logs)
        if batch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.ProgressLog, "on_train_batch_end", interrupt)
    return original


def test_a_failure_while_finishing_keeps_the_trained_weights(tmp_path, tiny_corpus, monkeypatch):
    out = tmp_path / "models" / "finish"
    config = TrainConfig(epochs=2, batch_size=64, log_every_batches=1)
    original = train_module._finish
    monkeypatch.setattr(train_module, "_finish", lambda *args: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        train(tiny_corpus, out, TINY_MODEL, config)
    assert (run_dir(out) / train_module.TRAINED_FILE).is_file() and not out.exists()
    monkeypatch.setattr(train_module, "_finish", original)
    train(tiny_corpus, out, TINY_MODEL, config)
    epochs = [e for e in read_events(out / "train_log.jsonl") if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]  # the rerun trained nothing again
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["epochs_run"] == 2
    leftovers = {p.name for p in run_dir(out).iterdir()}
    assert not leftovers & {"best.keras", train_module.TRAINED_FILE, "backup", "staging"}, leftovers


def _history_epochs(model_dir) -> list[int]:
    return [int(row["epoch"]) for row in csv.DictReader(open(model_dir / "history.csv", encoding="utf-8"))]


def test_a_kill_between_logging_an_epoch_and_backing_it_up_counts_it_once(tmp_path, tiny_corpus, monkeypatch):
    """Killed while epoch 1's best checkpoint is half written: epoch 1 is logged, not yet backed up."""
    out = tmp_path / "models" / "boundary"
    config = TrainConfig(epochs=2, batch_size=32, log_every_batches=1, backup_every_batches=2)
    original = callbacks.save_model_atomic

    def killed_mid_save(model, path):
        (path.parent / f".{path.stem}-half.keras").write_bytes(b"PK")  # what a SIGKILL leaves behind
        raise KeyboardInterrupt

    monkeypatch.setattr(callbacks, "save_model_atomic", killed_mid_save)  # BestCheckpoint's save
    with pytest.raises(KeyboardInterrupt):
        train(tiny_corpus, out, TINY_MODEL, config)
    logged = [e["epoch"] for e in read_events(run_dir(out) / PROGRESS_FILE) if e["event"] == "epoch"]
    assert logged == [1]
    monkeypatch.setattr(callbacks, "save_model_atomic", original)
    train(tiny_corpus, out, TINY_MODEL, config)

    assert _history_epochs(out) == [1, 2]  # the repeated epoch replaces its first record
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["epochs_run"] == 2
    assert not list(run_dir(out).glob(".*.keras")) and not list(out.glob(".*"))


def test_a_kill_after_an_epoch_is_backed_up_does_not_repeat_it(tmp_path, tiny_corpus, monkeypatch):
    """Epoch 1 fully committed (logs, best, backup), then killed at the start of epoch 2."""
    out = tmp_path / "models" / "committed"
    config = TrainConfig(epochs=2, batch_size=32, log_every_batches=1, backup_every_batches=1000)
    original = callbacks.ProgressLog.on_epoch_begin

    def killed_at_epoch_2(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt
        original(self, epoch, logs)

    monkeypatch.setattr(callbacks.ProgressLog, "on_epoch_begin", killed_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_corpus, out, TINY_MODEL, config)
    monkeypatch.setattr(callbacks.ProgressLog, "on_epoch_begin", original)
    train(tiny_corpus, out, TINY_MODEL, config)
    log = read_events(out / "train_log.jsonl")
    resumed = attempts(log)[-1]
    assert [e["epoch"] for e in resumed if e["event"] == "epoch"] == [2]  # epoch 1 was not trained again
    assert _history_epochs(out) == [1, 2]


def test_resuming_with_other_settings_is_refused_and_fresh_starts_over(tmp_path, tiny_corpus, monkeypatch):
    out = tmp_path / "models" / "resum"
    config = TrainConfig(epochs=1, batch_size=32, log_every_batches=1, backup_every_batches=1)
    original = _interrupt_in_first_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_corpus, out, TINY_MODEL, config)
    monkeypatch.setattr(callbacks.ProgressLog, "on_train_batch_end", original)
    with pytest.raises(PoetryError, match=r"「resum」有一次中断的训练，但这次的设置不同（units: 32 → 48.*--fresh"):
        train(tiny_corpus, out, {**TINY_MODEL, "units": 48}, config)
    other_corpus = tmp_path / "other"
    write_corpus(load_split(tiny_corpus, "train")[:100], other_corpus)
    with pytest.raises(PoetryError, match="语料内容不同"):
        train(other_corpus, out, TINY_MODEL, config)
    train(tiny_corpus, out, {**TINY_MODEL, "units": 48}, config, fresh=True)
    assert RunInfo.from_json(out / "config.json").model.units == 48
    assert len([e for e in read_events(out / "train_log.jsonl") if e["event"] == "start"]) == 1


def test_a_missing_split_is_refused_before_any_training(tmp_path, tiny_corpus):
    corpus = tmp_path / "no_test"
    shutil.copytree(tiny_corpus, corpus)
    (corpus / "test.txt").unlink()
    out = tmp_path / "models" / "early"
    with pytest.raises(PoetryError, match="test.txt"):
        train(corpus, out, TINY_MODEL, TrainConfig(epochs=1))
    assert not run_dir(out).exists()  # no empty run folder left behind


@pytest.mark.parametrize(
    ("flags", "expected"),
    [("fpu avx2 fma", False), ("fpu avx2 avx512f avx512_bf16", True), ("fpu amx_bf16 amx_tile", True), (None, False)],
    ids=["avx2_only", "avx512_bf16", "amx", "no_cpuinfo"],
)
def test_mixed_precision_default_follows_the_cpu(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    if flags is not None:
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert cpu_has_fast_bfloat16(cpuinfo) is expected


def test_the_decided_precision_is_recorded(tiny_model_dir):
    recorded = RunInfo.from_json(tiny_model_dir / "config.json").train.mixed_precision
    assert recorded is cpu_has_fast_bfloat16()


def test_shipped_model_is_float32_whatever_the_training_precision(tiny_model_dir):
    import keras

    model = keras.models.load_model(tiny_model_dir / "model.keras", safe_mode=True)
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}


def test_a_failed_run_leaves_the_callers_precision_policy(tmp_path, tiny_corpus, monkeypatch):
    import keras

    monkeypatch.setattr(train_module, "_finish", lambda *args: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        train(tiny_corpus, tmp_path / "m" / "p", TINY_MODEL, TrainConfig(epochs=1, mixed_precision=True))
    assert keras.mixed_precision.global_policy().name == "float32"


def test_a_run_with_ci_learns_the_tune_prefixed_ci_and_scores_the_held_out_ones(tmp_path, tiny_corpus, tiny_model_dir):
    """`--with-ci`: the corpus's 词 join the poems (each after its tune), and metrics.json scores the test 词 with
    the new model and with the one it started from."""
    corpus = corpus_with_ci(tiny_corpus, tmp_path / "corpus", {"train": 60, "valid": 10, "test": 10})
    out = train(corpus, tmp_path / "models" / "shici", None,
                TrainConfig(epochs=1, batch_size=32, init_from=str(tiny_model_dir), with_ci=True, max_poems=100))
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["ci_test"]["poems"] == 10 and metrics["base_ci_test"]["poems"] == 10
    assert 0 < metrics["ci_test"]["loss_per_han"] < 20 and metrics["test"]["poems"] > 0  # the 诗 test as before
    first_tune = (corpus / "ci" / "train.meta.tsv").read_text(encoding="utf-8").splitlines()[1].split("\t")[1]
    assert set(first_tune) <= set(Vocabulary.from_json(out / "vocab.json").tokens)  # the tunes were read


def test_a_run_with_ci_needs_the_ci_folder(tmp_path, tiny_corpus):
    with pytest.raises(PoetryError, match="词的语料文件无法读取"):
        train(tiny_corpus, tmp_path / "models" / "x", TINY_MODEL, TrainConfig(epochs=1, with_ci=True))
