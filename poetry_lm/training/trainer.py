"""Training: check everything first, `fit` with the callbacks of `callbacks.py`, resumable runs, atomic output.

A run named N writes its working state to `<models>/.runs/N/` (progress.jsonl, backup/, best.keras,
history.csv) and only when it has finished renames a complete directory into `<models>/N/`,
so a half-written model directory is never visible. Running the same command again resumes.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import errno
import functools
import io
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import keras
import numpy as np

from poetry_lm.errors import PoetryError
from poetry_lm.files import write_atomic
from poetry_lm.model.config import SHAPE_LIMITS, ModelConfig, RunInfo, TrainConfig
from poetry_lm.model.dataset import batches_per_epoch, encode_couplets, encode_poems, make_dataset
from poetry_lm.model.hardware import cpu_has_fast_bfloat16
from poetry_lm.model.network import (
    CONFIG_FILE,
    VOCAB_FILE,
    ModelDir,
    build_model,
    load_keras_file,
    load_model_dir,
    save_model_atomic,
    save_model_dir,
)
from poetry_lm.model.scoring import evaluate_aligned, evaluate_loss
from poetry_lm.text import corpus as corpus_lib
from poetry_lm.text.catalogue import PoemFilter, write_subset
from poetry_lm.text.ci import load_lm_texts
from poetry_lm.text.couplets import parallel_couplets
from poetry_lm.text.vocab import BOS, EOS, PAD, UNK, Vocabulary
from poetry_lm.training.callbacks import (
    BestCheckpoint,
    ProgressLog,
    ResumableBackup,
    SampleCouplets,
    SamplePoems,
    StopOnFile,
)
from poetry_lm.training.multiworker_compat import build_from_one_replica, multiworker_strategy
from poetry_lm.training.runs import (
    BEST_FILE,
    HISTORY_FILE,
    PROGRESS_FILE,
    STOP_FILE,
    attempts,
    check_run_name,
    clear_stale_stop,
    finished_epochs,
    read_events,
    run_dir,
    training_lock,
)
from poetry_lm.training.warm_start import copy_embedding_by_token, copy_weights_by_token, warm_start_model_config

SUBSET_DIR = "corpus"  # inside a run folder: the poems a filtered run reads
TRAINED_FILE = "trained.keras"  # the weights fit() ended with, kept until the model folder is in place
# Settings a resumed run may change: how long it runs and how often it logs and saves.
RESUMABLE_CHANGES = ("epochs", "log_every_batches", "backup_every_batches")


def _distribution_scope(strategy: str | None):
    """A tf.distribute strategy scope for building and compiling the model (None: default)."""

    if not strategy:
        return contextlib.nullcontext(), 1
    import tensorflow as tf

    if strategy == "mirrored":
        chosen = tf.distribute.MirroredStrategy()
    elif strategy == "multiworker":
        chosen = multiworker_strategy()
    else:
        raise PoetryError(f"未知的分布式策略 {strategy!r}（可选 mirrored / multiworker）")
    return chosen.scope(), chosen.num_replicas_in_sync


def train(
    corpus_dir: Path,
    out_dir: Path,
    model_config: dict | None = None,
    train_config: TrainConfig = TrainConfig(),
    strategy: str | None = None,
    fresh: bool = False,
) -> Path:
    """Train a model on a corpus directory and write the finished model directory to `out_dir`.

    `model_config` holds ModelConfig fields other than vocab_size. Re-running after an
    interruption resumes from the last backup (same settings only); `fresh` discards it instead.
    Returns `out_dir`.
    """
    out_dir = Path(out_dir)
    check_run_name(out_dir.name)
    check_train_config(train_config, model_config or {})
    if complete_finished_run(out_dir):  # the same command again after a kill during the final cleanup
        return out_dir
    refuse_existing(out_dir)  # before anything is created next to it (run folder, lock file)
    policy = keras.mixed_precision.global_policy()  # a run sets its own; the caller's comes back afterwards
    try:
        check_writable(out_dir.parent)
        with training_lock(out_dir.parent):
            if fresh:
                discard_interrupted_run(out_dir)
            return _train_locked(Path(corpus_dir), out_dir, model_config, train_config, strategy)
    except OSError as err:
        # Disk full or a vanished/unwritable folder mid-run: the finished model only ever
        # appears by rename, so nothing half-written is visible and existing models are untouched.
        raise PoetryError(f"训练时读写文件失败（{_os_reason(err)}）：{err.filename or out_dir.parent}；已有模型未受影响") from None
    finally:
        keras.mixed_precision.set_global_policy(policy)


def _os_reason(err: OSError) -> str:
    return "磁盘空间已满" if err.errno == errno.ENOSPC else (err.strerror or type(err).__name__)


def check_writable(models_dir: Path) -> None:
    """Raise PoetryError unless `models_dir` exists or can be created, and accepts a new file."""
    try:
        Path(models_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=models_dir):
            pass
    except OSError as err:
        raise PoetryError(f"模型目录不可写（{_os_reason(err)}）：{models_dir}") from None


# Upper bounds far above any sensible run, so absurd values fail here instead of deep inside TensorFlow.
TRAIN_LIMITS = {"epochs": 10_000, "batch_size": 65_536, **SHAPE_LIMITS}


def check_train_config(train_config: TrainConfig, model_config: dict) -> None:
    """Raise PoetryError for a training setting that cannot work (zero epochs, negative sizes...)."""
    positive = {
        "epochs": train_config.epochs, "batch_size": train_config.batch_size,
        "backup_every_batches": train_config.backup_every_batches, "log_every_batches": train_config.log_every_batches,
        "min_count": train_config.min_count,
        "max_poems": 1 if train_config.max_poems is None else train_config.max_poems,
        **{key: model_config[key] for key in ("units", "layers", "embedding_dim") if key in model_config},
    }
    for name, value in positive.items():
        limit = TRAIN_LIMITS.get(name, 2**31 - 1)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
            raise PoetryError(f"训练参数 {name} 须是 1 到 {limit:,} 之间的整数，收到 {value!r}")
    if not 0 < train_config.learning_rate <= 1:
        raise PoetryError(f"学习率须在 0 到 1 之间，收到 {train_config.learning_rate}")
    if not 0 <= model_config.get("dropout", 0.0) < 1:
        raise PoetryError(f"dropout 须在 0 到 1 之间（不含 1），收到 {model_config['dropout']}")


def complete_finished_run(out_dir: Path) -> bool:
    """True when `out_dir` is a finished model whose run folder still holds working state (a kill came
    after the model folder was renamed into place, before the cleanup): that state is removed now."""
    work = run_dir(out_dir)
    if not (Path(out_dir) / CONFIG_FILE).is_file() or not work.is_dir():
        return False
    freed = remove_working_state(work)
    if freed:
        print(f"注意：{out_dir} 已训练完成；已清理上次结束时没清理完的临时文件（{freed / 2**20:,.1f} MB）",
              file=sys.stderr, flush=True)
    return bool(freed)


def refuse_existing(out_dir: Path) -> None:
    """A finished model is never overwritten: its name cannot be trained again. A link there, even one to
    nowhere, is taken too: the finished folder could never be renamed onto it."""
    if os.path.lexists(out_dir):
        kind = "是一个指向不存在位置的链接" if not out_dir.exists() else "已存在"
        raise PoetryError(f"{out_dir} {kind}：换一个模型名称（已有模型不会被覆盖）")


def _train_locked(corpus_dir, out_dir, model_config, train_config, strategy) -> Path:
    refuse_existing(out_dir)  # again under the lock: another process may have finished it meanwhile
    work = run_dir(out_dir)
    created = not work.exists()
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _train_in(work, corpus_dir, out_dir, model_config, train_config, strategy)
    except PoetryError:
        if created and not (work / PROGRESS_FILE).exists():
            shutil.rmtree(work, ignore_errors=True)  # refused before training: leave no empty run folder
        raise


def _train_in(work, corpus_dir, out_dir, model_config, train_config, strategy) -> Path:
    """One attempt of a run: read and check everything, build or restore, fit, finish."""
    clear_stale_stop(work)
    started = time.time()
    if train_config.mixed_precision is None:  # recorded as decided, so a resume elsewhere keeps it
        train_config = replace(train_config, mixed_precision=cpu_has_fast_bfloat16())
    data_dir, (train_poems, valid_poems, test_poems) = _read_splits(work, corpus_dir, train_config)
    source = load_model_dir(Path(train_config.init_from)) if train_config.init_from else None
    if source is not None:
        model_config = warm_start_model_config(source.info.model, model_config or {})
    kind = (model_config or {}).get("kind", "poem")
    check_resume_matches(work, out_dir.name, model_config or {}, train_config, corpus_lib.corpus_hash(data_dir))
    vocab = _run_vocabulary(work, train_poems, source, train_config.min_count)
    info = RunInfo(
        model=ModelConfig(vocab_size=len(vocab), **(model_config or {})),
        train=train_config,
        tokens={"pad": PAD, "unk": UNK, "bos": BOS, "eos": EOS},
        corpus_hash=corpus_lib.corpus_hash(data_dir),
        corpus_dir=str(corpus_dir),
        backend=keras.backend.backend(),
    )
    info.to_json(work / CONFIG_FILE)

    keras.utils.set_random_seed(train_config.seed)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if train_config.mixed_precision else "float32")
    train_seqs, valid_seqs = training_sequences(kind, train_poems, vocab), training_sequences(kind, valid_poems, vocab)
    if not train_seqs:  # poems were checked to be there: only a couplet run can find nothing to learn
        raise PoetryError(f"{corpus_dir} 的训练集中没有律诗，取不出对联")
    scope, replicas = _distribution_scope(strategy)
    train_data, valid_data, steps = _datasets(train_seqs, valid_seqs, train_config, replicas, aligned=kind == "couplet")
    with scope:
        model = _compiled_model(info, train_config, strategy, source, vocab)
    targets = sum(len(s) // 2 if kind == "couplet" else len(s) - 1 for s in train_seqs)
    log = ProgressLog(work / PROGRESS_FILE, train_config.epochs, steps, targets, train_config.log_every_batches)
    remove_partial_saves(work)  # temp files of saves a kill interrupted
    trained_path = work / TRAINED_FILE
    if trained_path.exists():  # an earlier attempt finished training and died while finishing
        model.set_weights(load_keras_file(trained_path).get_weights())
    else:
        try:
            # shuffle=False: the datasets shuffle themselves; Keras would only warn that it ignores it.
            model.fit(
                train_data, validation_data=valid_data, epochs=train_config.epochs, verbose=0, shuffle=False,
                callbacks=_callbacks(work, log, vocab, info, train_config),
            )
        except KeyboardInterrupt:
            log.write("stopped", reason="interrupted")
            raise
        # The end of training, kept until the model folder is in place (a stop ends mid-epoch,
        # after the last backup).
        save_model_atomic(model, trained_path)
    stopped = (work / STOP_FILE).exists() or any(e["event"] == "stopping" for e in read_events(work / PROGRESS_FILE))
    elapsed = time.time() - started + _previous_train_time(work / PROGRESS_FILE)
    info = replace(info, train_time_s=round(elapsed, 1))
    final_event = "stopped" if stopped else "done"
    return _finish(work, out_dir, model, vocab, info, test_poems, source, log, steps, final_event)


def training_sequences(kind: str, poems: list[str], vocab: Vocabulary) -> list[np.ndarray]:
    """What a model of `kind` learns from `poems`: whole poems (the language model), or the parallel couplets
    of their 律诗 (the aligned couplet model)."""
    return encode_couplets(parallel_couplets(poems), vocab) if kind == "couplet" else encode_poems(poems, vocab)


def _read_splits(work: Path, corpus_dir: Path, train_config: TrainConfig) -> tuple[Path, tuple[list[str], ...]]:
    """(the folder the run reads, its train/valid/test poems), every split read and checked before training.

    A filtered (fine-tuning) run writes its subset into the run's own folder first.
    """
    data_dir = corpus_dir
    poem_filter = PoemFilter(train_config.poets, train_config.dynasties, train_config.forms)
    if poem_filter:
        data_dir = work / SUBSET_DIR
        write_subset(corpus_dir, data_dir, poem_filter)
    train_poems, valid_poems, test_poems = (corpus_lib.load_split(data_dir, split) for split in corpus_lib.SPLITS)
    train_poems = train_poems[: train_config.max_poems]
    if train_config.with_ci:  # every 词 (max_poems caps the 诗 only); the test split's 词 are scored apart
        train_poems = train_poems + load_lm_texts(corpus_dir, "train")
        valid_poems = valid_poems + load_lm_texts(corpus_dir, "valid")
    if not train_poems:
        raise PoetryError(f"{corpus_dir} 的训练集是空的")
    return data_dir, (train_poems, valid_poems, test_poems)


def _run_vocabulary(work: Path, train_poems: list[str], source: ModelDir | None, min_count: int) -> Vocabulary:
    """The run's vocabulary, saved in the run folder: a resumed run reuses the one its backup was
    trained with; a warm start extends the source's (in standard character forms); otherwise built
    from the training poems. A damaged saved copy is built again: the same settings and poems (which
    a resume checks) give the same vocabulary."""
    vocab_path = work / VOCAB_FILE
    if source is not None:
        vocab = source.vocab.standardised().extended(Vocabulary.build(train_poems, min_count))
    else:
        vocab = Vocabulary.build(train_poems, min_count)
    if vocab_path.exists():
        try:
            vocab = Vocabulary.from_json(vocab_path)
        except PoetryError:
            print(f"注意：上次保存的词表已损坏，已按相同的设置和语料重建：{vocab_path}", file=sys.stderr, flush=True)
    if len(vocab) <= vocab.first_char_id:
        raise PoetryError(f"min_count {min_count} 太大：训练集中没有一个字出现这么多次")
    vocab.to_json(vocab_path)
    return vocab


def _compiled_model(info: RunInfo, train_config: TrainConfig, strategy, source: ModelDir | None, vocab) -> keras.Model:
    """The network, warm-started from `source` when given, compiled (call inside the strategy scope)."""
    model = build_model(info.model)
    if strategy == "multiworker":
        model._maybe_symbolic_build = functools.partial(build_from_one_replica, model)
    if source is not None and source.info.model.kind != info.model.kind:  # a couplet model from the poem model
        copy_embedding_by_token(source.model, source.vocab, model, vocab)
    elif source is not None:  # a resumed run then restores its own newer weights over these
        copy_weights_by_token(source.model, source.vocab, model, vocab)
    model.compile(
        optimizer=keras.optimizers.Adam(train_config.learning_rate, clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
    )
    return model


def _callbacks(work: Path, log: ProgressLog, vocab: Vocabulary, info: RunInfo, train_config: TrainConfig) -> list:
    return [
        log,
        BestCheckpoint(work / BEST_FILE, best=_best_val_loss(work / PROGRESS_FILE)),
        SampleCouplets(log, vocab) if info.model.kind == "couplet" else SamplePoems(log, vocab, info, work),
        StopOnFile(work / STOP_FILE, log),
        # Last, so its end-of-epoch save commits an epoch whose other records are written. It keeps
        # its backup when fit returns: the folder goes only once the model folder is in place.
        ResumableBackup(work / "backup", save_freq=train_config.backup_every_batches, notice=log.notice),
    ]


def check_resume_matches(work: Path, name: str, model_config: dict, train_config: TrainConfig, corpus_hash: str) -> None:
    """Refuse to resume an interrupted run under different settings or data: its state would not fit."""
    if not (work / CONFIG_FILE).exists():
        return
    try:
        previous = RunInfo.from_json(work / CONFIG_FILE)
    except PoetryError:
        previous = None
    if previous is None:
        differences = ["上次的配置文件已损坏"]
    else:
        before = {k: v for k, v in asdict(previous.model).items() if k != "vocab_size"}
        now = asdict(ModelConfig(vocab_size=0, **model_config))
        differences = [f"{key}: {before[key]} → {now[key]}" for key in before if before[key] != now[key]]
        before_train, now_train = asdict(previous.train), asdict(train_config)
        differences += [f"{key}: {before_train[key]} → {now_train[key]}" for key in before_train
                        if key not in RESUMABLE_CHANGES and before_train[key] != now_train[key]]
        if previous.corpus_hash != corpus_hash:
            differences.append("语料内容不同")
    if differences:
        raise PoetryError(
            f"「{name}」有一次中断的训练，但这次的设置不同（{'；'.join(differences)}）：要接着训练请用相同的设置；"
            f"要重新开始请换一个名称，或加 --fresh 丢弃上次的进度"
        )


def discard_interrupted_run(out_dir: Path) -> None:
    """Delete the saved state of an interrupted run (`train --fresh`); a finished model is never touched."""
    work = run_dir(out_dir)
    if work.is_dir():
        shutil.rmtree(work)


def _datasets(train_seqs, valid_seqs, train_config: TrainConfig, replicas: int, aligned: bool = False):
    """(train, valid or None, steps per epoch) for one machine or `replicas` synchronised replicas.

    batch_size is the global batch: each replica gets batch_size / replicas rows. With more than
    one replica only full batches are kept, because a final batch smaller than the replica count
    leaves a replica an empty shard and tf.distribute fails reducing its gradients.
    """
    batch_size, distributed = train_config.batch_size, replicas > 1
    if distributed and (batch_size % replicas or len(train_seqs) < batch_size):
        raise PoetryError(
            f"分布式训练的 batch_size（{batch_size}）须是副本数 {replicas} 的整数倍，且不大于训练诗数 {len(train_seqs)}"
        )
    train_data = make_dataset(train_seqs, batch_size, shuffle=True, seed=train_config.seed, drop_remainder=distributed,
                              aligned=aligned)
    steps = batches_per_epoch(train_seqs, batch_size, drop_remainder=distributed)
    # Validation batches shrink to what the validation split fills (a multiple of the replicas); with
    # only full batches kept, that is what its largest length group fills, or it would yield none.
    fillable = max(collections.Counter(map(len, valid_seqs)).values(), default=0) if distributed else len(valid_seqs)
    valid_batch = min(batch_size, fillable // replicas * replicas)
    valid_data = (
        make_dataset(valid_seqs, valid_batch, shuffle=False, drop_remainder=distributed, aligned=aligned)
        if valid_batch else None
    )
    return train_data, valid_data, steps


def _finish(work, out_dir, model, vocab, info, test_poems, base, log, steps, final_event) -> Path:
    """Assemble the model directory in a staging folder, then rename it into place.

    `base` is the warm start's source model (or None): it is scored on the same test poems.
    """
    log.write("finishing", step="保存模型")
    best = load_keras_file(work / BEST_FILE) if (work / BEST_FILE).exists() else model
    # An uncompiled float32 copy: the shipped file carries no optimizer state (half the size), and no
    # bfloat16 policy from a mixed-precision run, so it predicts in float32 on every machine.
    keras.mixed_precision.set_global_policy("float32")
    final_model = build_model(info.model)
    final_model.set_weights(best.get_weights())
    staging = work / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    save_model_dir(staging, final_model, vocab, info)
    epochs = finished_epochs(read_events(work / PROGRESS_FILE))
    write_history(epochs, staging / HISTORY_FILE)
    log.write("finishing", step=f"在 {len(test_poems):,} 首测试诗上评估")
    evaluate = evaluate_aligned if info.model.kind == "couplet" else evaluate_loss
    metrics = {"test": evaluate(final_model, vocab, test_poems) if test_poems else None}
    if info.train.with_ci:  # the held-out 词, and what the starting model made of them
        ci_test = load_lm_texts(Path(info.corpus_dir), "test")
        metrics["ci_test"] = evaluate_loss(final_model, vocab, ci_test)
        if base is not None:
            metrics["base_ci_test"] = evaluate_loss(base.model, base.vocab, ci_test)
    if base is not None and test_poems and base.info.model.kind == info.model.kind:  # what training changed
        metrics["base_test"] = evaluate_loss(base.model, base.vocab, test_poems)
    metrics.update(
        epochs_run=len(epochs),
        best_val_loss=min((e["val_loss"] for e in epochs if e["val_loss"] == e["val_loss"]), default=None),
        train_time_s=info.train_time_s,
        chars_per_s=round(float(np.median([e["chars_per_s"] for e in epochs])), 1) if epochs else None,
        steps_per_epoch=steps,
        parameters=int(final_model.count_params()),
        backend=keras.backend.backend(),
    )
    write_atomic(staging / "metrics.json", json.dumps(metrics, ensure_ascii=False, indent=2))
    # The final event goes in before the log is copied, so the shipped log ends with it too.
    log.write(final_event, out=str(out_dir), train_time_s=info.train_time_s)
    shutil.copy(work / PROGRESS_FILE, staging / "train_log.jsonl")
    os.replace(staging, out_dir)
    remove_working_state(work)
    return out_dir


def remove_working_state(work: Path) -> int:
    """Once the model folder is in place the run's checkpoints, backup and subset are not needed
    (progress.jsonl and job files stay for the app). Returns the bytes freed."""
    leftovers = [work / name for name in (BEST_FILE, TRAINED_FILE, "backup", SUBSET_DIR, "staging")]
    leftovers += list(work.glob(".*.keras"))  # temp files of saves a kill cut short
    freed = sum(_size_of(path) for path in leftovers)
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return freed


def _size_of(path: Path) -> int:
    if path.is_symlink() or not path.exists():
        return 0
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def remove_partial_saves(work: Path) -> None:
    """Delete temp files of atomic saves that a kill cut short (`.best-*.keras` and the like)."""
    for partial in work.glob(".*.keras"):
        partial.unlink(missing_ok=True)


def write_history(epochs: list[dict], path: Path) -> None:
    """history.csv: one row per finished epoch (1-based), its training and validation loss."""
    rows = io.StringIO(newline="")
    writer = csv.writer(rows)
    writer.writerow(["epoch", "loss", "val_loss"])
    writer.writerows([e["epoch"], e["loss"], e["val_loss"]] for e in epochs)
    write_atomic(path, rows.getvalue())


def _best_val_loss(progress_path: Path) -> float:
    """Best validation loss of an interrupted run, so a resume does not overwrite a better best.keras."""
    losses = [e["val_loss"] for e in finished_epochs(read_events(progress_path)) if e["val_loss"] == e["val_loss"]]
    return min(losses, default=math.inf)


def _previous_train_time(progress_path: Path) -> float:
    """Seconds spent in earlier (interrupted) attempts of this run."""
    return sum(attempt[-1]["time"] - attempt[0]["time"] for attempt in attempts(read_events(progress_path))[:-1])


def train_config_from_args(**values) -> TrainConfig:
    """TrainConfig from CLI/app values, ignoring ones left unset."""
    return replace(TrainConfig(), **{k: v for k, v in values.items() if v is not None})

