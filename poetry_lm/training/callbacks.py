"""The trainer's Keras callbacks: progress log, sample poems, best checkpoint, resumable backup, stop.

Each does one thing and writes into the run folder (`runs.py` names the files); the trainer
(`trainer.py`) chooses their order, which matters: the backup runs last and commits an epoch.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from poetry_lm.errors import PoetryError
from poetry_lm.files import atomic_path, keep_copy, write_atomic
from poetry_lm.model.config import RunInfo
from poetry_lm.model.network import ModelDir, save_model_atomic
from poetry_lm.text.vocab import Vocabulary


class ProgressLog(keras.callbacks.Callback):
    """Appends JSON lines (start, batch, epoch, samples, stopping, finishing, done) that the app follows.

    The ETA counts only measured steady-state time: the first batch of an epoch (which includes
    tracing) is not timed, and the time between epochs (validation, samples, checkpoint) is added
    once it has been seen. Until then `eta_s` is null rather than a wild guess.
    """

    def __init__(self, path: Path, epochs: int, steps: int, tokens_per_epoch: int, every: int):
        super().__init__()
        self.path, self.epochs, self.steps, self.every = Path(path), epochs, steps, every
        self.tokens_per_epoch = tokens_per_epoch
        self.seconds_per_batch: float | None = None
        self.between_epochs_s = 0.0
        self.last_batch_end: float | None = None

    def write(self, event: str, **fields) -> None:
        record = {"event": event, "time": round(time.time(), 3), **fields}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def notice(self, message: str) -> None:
        """Something the user should know that is not an error: one line on stderr, and in the log for the app."""
        print(f"注意：{message}", file=sys.stderr, flush=True)
        self.write("notice", message=message)

    def on_train_begin(self, logs=None):
        self.write("start", epochs=self.epochs, steps_per_epoch=self.steps, pid=os.getpid())

    def on_epoch_begin(self, epoch, logs=None):
        now = time.time()
        if self.last_batch_end is not None:
            self.between_epochs_s = now - self.last_batch_end
        self.epoch, self.epoch_start, self.batches_done = epoch, now, 0
        self.timed_from: tuple[float, int] | None = None

    def on_train_batch_end(self, batch, logs=None):
        now = self.last_batch_end = time.time()
        self.batches_done = batch + 1
        if self.timed_from is None:
            self.timed_from = (now, batch + 1)  # the epoch's first batch carries tracing: not timed
        else:
            self.seconds_per_batch = (now - self.timed_from[0]) / (batch + 1 - self.timed_from[1])
        if batch % self.every == 0 or batch == self.steps - 1:
            self.write(
                "batch", epoch=self.epoch + 1, batch=batch + 1, steps=self.steps, loss=float(logs["loss"]),
                chars_per_s=self._chars_per_s(), eta_s=self._eta(),
            )

    def _chars_per_s(self) -> float:
        elapsed = max((self.last_batch_end or time.time()) - self.epoch_start, 1e-6)
        return round(self.batches_done / self.steps * self.tokens_per_epoch / elapsed, 1)

    def _eta(self) -> float | None:
        if self.seconds_per_batch is None:
            return None
        batches_left = self.steps - self.batches_done + (self.epochs - self.epoch - 1) * self.steps
        return round(batches_left * self.seconds_per_batch + (self.epochs - self.epoch) * self.between_epochs_s, 1)

    def on_epoch_end(self, epoch, logs=None):
        self.write(
            "epoch", epoch=epoch + 1, epochs=self.epochs, batches=self.batches_done,
            loss=float(logs.get("loss", float("nan"))), val_loss=float(logs.get("val_loss", float("nan"))),
            seconds=round(time.time() - self.epoch_start, 2), chars_per_s=self._chars_per_s(), eta_s=self._eta(),
        )


class SamplePoems(keras.callbacks.Callback):
    """Writes a few acrostic poems from the current weights at the end of every epoch."""

    def __init__(self, log: ProgressLog, vocab: Vocabulary, info: RunInfo, work_dir: Path):
        super().__init__()
        self.log, self.vocab, self.info, self.work_dir = log, vocab, info, work_dir
        self.generator = None

    def on_epoch_end(self, epoch, logs=None):
        if keras.backend.backend() != "tensorflow" or self.model.stop_training:
            return  # JAX runs (GPU) skip samples (the decoder is TensorFlow code); a stop skips them too
        from poetry_lm.compose.generate import PoemGenerator, Settings  # TensorFlow code: not imported by JAX runs

        if self.generator is None:  # build (and trace) the decoder once, then refresh its weight copy
            self.generator = PoemGenerator(ModelDir(self.work_dir, self.model, self.vocab, self.info))
        else:
            self.generator.decoder.refresh_weights()
        poems = [
            self.generator.generate(Settings(heads, line_length=5 + 2 * (i % 2), num_candidates=1, seed=epoch))[0].text
            for i, heads in enumerate(self.info.train.sample_heads)
        ]
        self.log.write("samples", epoch=epoch + 1, poems=poems)


class SampleCouplets(keras.callbacks.Callback):
    """Answers a few fixed 上联 with the aligned model's most likely character per position, every epoch."""

    FIRST_LINES = ("明月松间照", "风吹杨柳千条绿")

    def __init__(self, log: ProgressLog, vocab: Vocabulary):
        super().__init__()
        self.log, self.vocab = log, vocab

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        answers = []
        for first in self.FIRST_LINES:
            probs = np.asarray(self.model.predict_on_batch(np.asarray([self.vocab.encode(first)], np.int32)))[0]
            probs[:, : self.vocab.first_char_id] = 0  # a character at every position
            answers.append(f"{first}，{self.vocab.decode(probs.argmax(axis=-1))}。")
        self.log.write("samples", epoch=epoch + 1, poems=answers)


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model with the lowest validation loss, atomically (temp file, fsync, rename)."""

    def __init__(self, path: Path, best: float = math.inf):
        super().__init__()
        self.path, self.best = Path(path), best

    def on_epoch_end(self, epoch, logs=None):
        val_loss = (logs or {}).get("val_loss")
        if val_loss is not None and val_loss < self.best:
            self.best = float(val_loss)
            save_model_atomic(self.model, self.path)


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """Resumable state that a kill at any instant leaves usable, restored from the newest save that reads.

    Each save writes its weights to a new file, then commits by renaming a small metadata file that
    names it (`training_metadata.json`: epoch, batch, weights file); the previous metadata stays as
    `.bkp`, and every finished epoch is also committed as `epoch_metadata.json`. A restore tries
    those three in turn and says in one line (`notice`) when it had to skip a damaged one.

    It also fixes two things of Keras 3.15's callback: a restore leaves `_current_epoch` at 0, so
    batch saves during the resumed epoch recorded epoch 0; and a batch `save_freq` never saves at an
    epoch's end. This callback runs last, so an epoch counts as done exactly when its logs, best
    checkpoint and backup are all written.
    """

    EPOCH_METADATA = "epoch_metadata.json"

    def __init__(self, backup_dir: Path, save_freq: int | str, notice: Callable[[str], None] = print):
        super().__init__(str(backup_dir), save_freq=save_freq, double_checkpoint=False, delete_checkpoint=False)
        self.folder, self.notice = Path(backup_dir), notice
        self._saves = 0

    @property
    def _commits(self) -> list[Path]:
        """The metadata files, newest first: latest save, the one before, the last finished epoch."""
        latest = Path(self._training_metadata_path)
        return [latest, Path(self._prev_training_metadata_path), self.folder / self.EPOCH_METADATA]

    def on_train_begin(self, logs=None):
        if not self.model.optimizer.built:  # its state is in the weights file too
            self.model.optimizer.build(self.model.trainable_variables)
        damaged = []
        for commit in (path for path in self._commits if path.exists()):
            try:
                metadata = json.loads(commit.read_text(encoding="utf-8"))
                epoch = int(metadata["epoch"])
                self.model.load_weights(self.folder / metadata.get("weights", "latest.weights.h5"))
            except Exception:  # noqa: BLE001 - any damage (empty, cut short, missing weights) means: try the next
                damaged.append(commit.name)
                continue
            self.model._initial_epoch = self._current_epoch = epoch
            self._saves = max((self._save_number(path) for path in self.folder.glob("weights-*.weights.h5")), default=0)
            if damaged:
                self.notice(f"备份 {'、'.join(damaged)} 已损坏，改从 {commit.name}（第 {epoch} 轮结束后）接着训练")
            return
        if damaged:  # weights may be half loaded from a damaged file: training on them would be wrong
            raise PoetryError(f"这次训练的备份都已损坏（{'、'.join(damaged)}）：加 --fresh 重新开始")

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch, self._last_batch_seen = epoch + 1, 0
        self._save_model(commit_epoch=True)

    def _save_model(self, commit_epoch: bool = False):
        """Weights to a new file, then the metadata naming it by rename (the commit), then old files go."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._saves += 1
        weights = f"weights-{self._saves}.weights.h5"
        with atomic_path(self.folder / weights, suffix=".weights.h5") as partial:  # Keras wants that ending
            self.model.save_weights(str(partial), overwrite=True)
        metadata = json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen, "weights": weights})
        latest, previous, finished = self._commits
        if latest.exists():
            keep_copy(latest, previous)
        write_atomic(latest, metadata)
        if commit_epoch:
            write_atomic(finished, metadata)
        self._remove_unreferenced()

    def _remove_unreferenced(self) -> None:
        """Weights files no metadata names any more, and partial files of saves a kill cut short."""
        named = set()
        for commit in self._commits:
            try:
                named.add(json.loads(commit.read_text(encoding="utf-8")).get("weights", "latest.weights.h5"))
            except (OSError, ValueError, AttributeError):
                continue
        for path in self.folder.glob("*.weights.h5"):  # partial saves (.weights-N…weights.h5) included
            if path.name not in named:
                path.unlink(missing_ok=True)

    @staticmethod
    def _save_number(path: Path) -> int:
        digits = path.name.removeprefix("weights-").removesuffix(".weights.h5")
        return int(digits) if digits.isascii() and digits.isdigit() else 0


class StopOnFile(keras.callbacks.Callback):
    """Ends training cleanly after the current batch when the STOP file appears (the app's stop button)."""

    def __init__(self, path: Path, log: ProgressLog):
        super().__init__()
        self.path, self.log = Path(path), log

    def on_train_batch_end(self, batch, logs=None):
        if self.path.exists() and not self.model.stop_training:
            self.model.stop_training = True
            # Keras still validates the part of the epoch that ran; say so, so the wait is explained.
            self.log.write("stopping", epoch=self.log.epoch + 1, batch=batch + 1, step="验证本轮已训练的部分")
