"""Run folders on disk: names, the one-training-at-a-time lock, and the progress log's events.

What the app's job manager needs to know about training runs, without Keras or TensorFlow: the
trainer writes these files (`trainer.py`), `jobs.py` and the app read them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from pathlib import Path

from poetry_lm.errors import PoetryError

RUNS_DIR = ".runs"
PROGRESS_FILE, STOP_FILE, BEST_FILE, HISTORY_FILE = "progress.jsonl", "STOP", "best.keras", "history.csv"
LOCK_FILE = ".train.lock"
_RUN_NAME_RE = re.compile(r"^[A-Za-z0-9_\-\u4e00-\u9fff]{1,64}$")


def check_run_name(name: str) -> str:
    """A run name is a plain folder name: letters, digits, _ and -, or Chinese; nothing path-like."""
    if not _RUN_NAME_RE.fullmatch(name or "") or name.startswith(("-", ".")):
        raise PoetryError(f"模型名称只能包含字母、数字、下划线、短横线或汉字（最多 64 个），收到 {name!r}")
    return name


def process_start_time() -> float:
    """When this process started (wall clock): a stop asked for while it loaded TensorFlow is newer."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time() - time.process_time()  # no /proc: roughly, CPU seconds so far since start


def clear_stale_stop(work: Path) -> None:
    """Remove a STOP left by an earlier attempt; keep one asked for since this process started
    (the app's 停止训练 pressed while the trainer was still loading)."""
    stop = Path(work) / STOP_FILE
    with contextlib.suppress(FileNotFoundError):
        if stop.stat().st_mtime < process_start_time() - 1.0:  # btime has one-second resolution
            stop.unlink()


def run_dir(out_dir: Path) -> Path:
    """Working directory of the run whose finished model goes to `out_dir`."""
    out_dir = Path(out_dir)
    return out_dir.parent / RUNS_DIR / out_dir.name


@contextlib.contextmanager
def training_lock(models_dir: Path):
    """Hold the one-training-at-a-time lock of a models directory, or raise PoetryError.

    An flock on `<models>/.runs/.train.lock`: the kernel releases it when the process dies,
    so a killed run never leaves a stale lock behind.
    """
    lock_dir = Path(models_dir) / RUNS_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PoetryError("已有一个训练任务在运行：同一时间只能训练一个模型") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_training_running(models_dir: Path) -> bool:
    """True while some process holds the training lock of `models_dir`."""
    lock_path = Path(models_dir) / RUNS_DIR / LOCK_FILE
    if not lock_path.exists():
        return False
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def read_events(path: Path) -> list[dict]:
    """The JSON events of a progress log, skipping a line cut short by a kill (no file: none)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def attempts(events: list[dict]) -> list[list[dict]]:
    """The events split into attempts, each from its `start` on (a resumed run has several)."""
    starts = [i for i, event in enumerate(events) if event.get("event") == "start"]
    ends = [*starts[1:], len(events)]
    return [events[begin:end] for begin, end in zip(starts, ends, strict=False)]


def finished_epochs(events: list[dict]) -> list[dict]:
    """One `epoch` event per finished epoch, in order.

    A kill between logging an epoch and backing it up makes the resumed run repeat that epoch;
    its later record replaces the earlier one, so the history never counts an epoch twice.
    """
    by_epoch = {event["epoch"]: event for event in events if event.get("event") == "epoch"}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]
