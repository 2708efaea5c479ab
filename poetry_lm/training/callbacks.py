"""The trainer's Keras callbacks: progress log, sample poems, best checkpoint, resumable backup, stop.

Each does one thing and writes into the run folder (`runs.py` names the files); the trainer
(`trainer.py`) chooses their order, which matters: the backup runs last and commits an epoch.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import keras

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
    """BackupAndRestore that re-reads the epoch after a restore and commits every finished epoch.

    Keras 3.15 restores the weights but leaves `_current_epoch` at 0, so batch-level saves during
    the resumed epoch record epoch 0 and a second kill restarts from scratch. With a batch
    `save_freq` it also never saves at an epoch's end, so a kill between two epochs repeats the
    finished one; this callback runs last and saves there, so an epoch counts as done exactly when
    its logs, best checkpoint and backup are all written.
    """

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.save_freq != "epoch":
            self._save_model()

    def _load_model(self):
        super()._load_model()
        if os.path.exists(self._training_metadata_path):
            with open(self._training_metadata_path, encoding="utf-8") as f:
                self._current_epoch = json.load(f)["epoch"]


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
