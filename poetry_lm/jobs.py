"""Background training jobs for the app: start, follow, stop; all state lives on disk.

A job is `python -m poetry_lm train ...` started in its own session, writing its console output to
`<models>/.runs/<name>/train.log`. Next to it `job.json` records pid, arguments and start time, and
the trainer's own `progress.jsonl` records what happened. Any page, tab or process reads the same
files, so a reload shows the same job. This module never imports streamlit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from poetry_lm.errors import PoetryError
from poetry_lm.files import read_json_file
from poetry_lm.model.archive import check_model_file
from poetry_lm.model.config import CONFIG_FILE, MODEL_FILE, VOCAB_FILE, RunInfo
from poetry_lm.model.hardware import cpu_has_fast_bfloat16
from poetry_lm.paths import REPO_ROOT
from poetry_lm.text.catalogue import PoemFilter
from poetry_lm.text.corpus import corpus_hash, write_corpus
from poetry_lm.text.vocab import Vocabulary
from poetry_lm.training.runs import (
    PROGRESS_FILE,
    RUNS_DIR,
    STOP_FILE,
    attempts,
    check_run_name,
    is_training_running,
    read_events,
    run_dir,
)

MODELS_ENV = "POETRY_MODELS_DIR"
BUNDLED_CORPUS = REPO_ROOT / "corpus"
BUNDLED_MODEL = "default"
BUNDLED_CI_MODEL = "ci"  # the bundled model that has read the 宋词: what writes 词 unless the chosen model has too
CORPORA_DIR = ".corpora"
JOB_FILE, LOG_FILE, START_LOCK = "job.json", "train.log", ".start.lock"
FINAL_EVENTS = ("done", "stopped")

# Model sizes offered in the app: ModelConfig fields other than vocab_size.
MODEL_SIZES: dict[str, dict] = {
    "mini": {"units": 32, "embedding_dim": 16, "layers": 2, "dropout": 0.0},
    "small": {"units": 128, "embedding_dim": 64, "layers": 2, "dropout": 0.1},
    "medium": {"units": 256, "embedding_dim": 128, "layers": 2, "dropout": 0.2},
    "large": {"units": 512, "embedding_dim": 256, "layers": 2, "dropout": 0.3},
}


# Training cost on a 2-core x86-64 CPU (float32, length-grouped batches), measured with `bench` and
# fine-tuning runs (README, "Training speed"): sustained multiply-adds per second, a cost per batch
# for everything that does not scale with the model, and the start (TensorFlow, data, tracing) plus
# the end (test evaluation, saving) of a run.
CPU_MACS_PER_S = 65e9
CPU_SECONDS_PER_BATCH = 0.05
CPU_RUN_OVERHEAD_S = 30.0
CPU_BF16_SPEEDUP = 1.5  # mixed bfloat16 on CPUs with AVX512_BF16 (bench)


def model_shape(model_path: Path) -> dict | None:
    """units / layers / embedding_dim / vocab_size of a model directory (None if unreadable)."""
    try:
        return asdict(RunInfo.from_json(Path(model_path) / CONFIG_FILE).model)
    except PoetryError:
        return None


def estimate_training_seconds(
    poems: list[str], epochs: int, shape: dict, batch_size: int = 64, bfloat16: bool | None = None
) -> float:
    """How long training `poems` for `epochs` takes on a 2-core CPU: multiply-adds per token of the
    LSTMs and the output layer (×3 for the backward pass), plus per-batch and per-run costs.
    `bfloat16` (default: what the trainer will choose on this CPU) uses the measured bf16 speed."""
    if bfloat16 is None:
        bfloat16 = cpu_has_fast_bfloat16()
    units, layers, embedding = shape["units"], shape["layers"], shape["embedding_dim"]
    vocab = shape.get("vocab_size") or len({ch for poem in poems for ch in poem}) + 6
    macs_per_token = 4 * units * (embedding + units) + (layers - 1) * 4 * units * 2 * units + units * vocab
    tokens = sum(len(poem) + 1 for poem in poems) * epochs
    batches = math.ceil(len(poems) / batch_size) * epochs
    macs_per_s = CPU_MACS_PER_S * (CPU_BF16_SPEEDUP if bfloat16 else 1.0)
    return 3 * macs_per_token * tokens / macs_per_s + batches * CPU_SECONDS_PER_BATCH + CPU_RUN_OVERHEAD_S


def models_dir() -> Path:
    """The models directory: `$POETRY_MODELS_DIR`, or `models/` in the repository."""
    return Path(os.environ.get(MODELS_ENV) or REPO_ROOT / "models")


def list_models(models: Path, kind: str = "poem") -> list[str]:
    """Names of the model directories of `kind` that hold a model file, the bundled model first (the couplet
    model is not a poem model to write with)."""
    models = Path(models)
    if not models.is_dir():
        return []
    names = sorted(p.name for p in models.iterdir() if not p.name.startswith(".") and (p / MODEL_FILE).is_file()
                   and model_kind(p) == kind)
    return sorted(names, key=lambda name: (name != BUNDLED_MODEL, name != BUNDLED_CI_MODEL))


def model_kind(path: Path) -> str:
    """The kind its config.json declares ("poem" when it does not say, or cannot be read: the model list
    then shows why that folder does not load)."""
    try:
        return RunInfo.from_json(Path(path) / CONFIG_FILE).model.kind
    except (PoetryError, OSError):
        return "poem"


def learned_ci(path: Path) -> bool:
    """Whether the model was trained with the corpus's 词, each after its tune (`train --with-ci`)."""
    try:
        return RunInfo.from_json(Path(path) / CONFIG_FILE).train.with_ci
    except (PoetryError, OSError):
        return False


def ci_writer(models: Path, chosen: str) -> str:
    """The model that writes a 词: the chosen one when it has read 词, else the bundled 词 model when it is there
    (a model that never saw a tune before its 词 writes the form right and the words poorly), else the chosen one."""
    models = Path(models)
    if learned_ci(models / chosen) or not (models / BUNDLED_CI_MODEL / MODEL_FILE).is_file():
        return chosen
    return BUNDLED_CI_MODEL


def model_problem(path: Path) -> str | None:
    """Why a model folder cannot be used, found without loading it (None: it looks usable). Reads only
    regular files of bounded size without blocking, and the archive's directory and config: a FIFO, a
    device or a hostile archive in one folder never holds up the model list."""
    path = Path(path)
    try:
        info = RunInfo.from_json(path / CONFIG_FILE)
        vocab = Vocabulary.from_json(path / VOCAB_FILE)
        if len(vocab) != info.model.vocab_size:
            return "词表与配置不符"
        check_model_file(path / MODEL_FILE, info.model)
    except PoetryError as err:
        return str(err)
    except (OSError, zipfile.BadZipFile) as err:
        return f"无法读取 {MODEL_FILE}（{getattr(err, 'strerror', None) or type(err).__name__}）"
    return None


def uploaded_corpora(models: Path) -> dict[str, Path]:
    """The corpora saved from uploads for training runs, by run name."""
    folder = Path(models) / CORPORA_DIR
    if not folder.is_dir():
        return {}
    return {path.name: path for path in sorted(folder.iterdir())
            if not path.name.startswith(".") and (path / "train.txt").is_file()}


def interrupted_run(models: Path, name: str) -> bool:
    """True when a run named `name` was interrupted: its saved progress waits for a resume (or --fresh)."""
    return not (Path(models) / name).exists() and (run_dir(Path(models) / name) / PROGRESS_FILE).is_file()


def save_uploaded_corpus(models: Path, name: str, poems: list[str], fresh: bool = False) -> Path:
    """Write validated uploaded poems as a corpus directory `<models>/.corpora/<name>/`.

    An interrupted run of that name was trained on the corpus saved there: a different upload would
    make it impossible to resume, so it is refused unless `fresh` (the run starts again, its progress
    discarded by the trainer). The same poems again simply resume it."""
    out = Path(models) / CORPORA_DIR / check_run_name(name)
    staging = out.with_name(f".{name}.upload")
    shutil.rmtree(staging, ignore_errors=True)
    write_corpus(poems, staging)
    if out.is_dir() and interrupted_run(models, name) and not fresh and corpus_hash(out) != corpus_hash(staging):
        shutil.rmtree(staging, ignore_errors=True)
        raise PoetryError(
            f"「{name}」有一次中断的训练，用的是上次上传的语料；这次上传的内容不同，已保留上次的语料。"
            f"要接着训练请上传同一个文件；要用新语料重新开始，请勾选「丢弃上次的进度，重新开始」，或换一个名称"
        )
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staging, out)
    return out


@dataclass
class JobRequest:
    """What the training form asks for."""

    name: str
    corpus_dir: Path
    size: str = "small"  # from scratch only; a fine-tune keeps its base model's size
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 2e-3
    max_poems: int | None = None
    init_from: str | None = None  # fine-tune: the base model directory
    poem_filter: PoemFilter = field(default_factory=PoemFilter)
    mixed_precision: bool | None = None  # None: the trainer decides from the CPU
    fresh: bool = False  # discard an interrupted run of this name instead of resuming it

    def command(self, models: Path) -> list[str]:
        """The trainer's command line."""
        args = [
            sys.executable, "-m", "poetry_lm", "train",
            "--corpus", str(Path(self.corpus_dir).resolve()),
            "--out", str((Path(models) / self.name).resolve()),
            "--epochs", str(int(self.epochs)),
            "--batch-size", str(int(self.batch_size)),
            "--learning-rate", repr(float(self.learning_rate)),
        ]
        if self.init_from:
            args += ["--init-from", str(Path(self.init_from).resolve())]
        else:
            if self.size not in MODEL_SIZES:
                raise PoetryError(f"未知的模型大小 {self.size!r}（可选 {'/'.join(MODEL_SIZES)}）")
            shape = MODEL_SIZES[self.size]
            args += ["--units", str(shape["units"]), "--embedding-dim", str(shape["embedding_dim"]),
                     "--layers", str(shape["layers"]), "--dropout", repr(float(shape["dropout"]))]
        for flag, values in [("--poets", self.poem_filter.poets), ("--dynasty", self.poem_filter.dynasties),
                             ("--form", self.poem_filter.forms)]:
            if values:
                args += [flag, ",".join(values)]
        if self.max_poems:
            args += ["--max-poems", str(int(self.max_poems))]
        if self.mixed_precision is not None:
            args.append("--mixed-precision" if self.mixed_precision else "--no-mixed-precision")
        if self.fresh:
            args.append("--fresh")
        return args


@dataclass
class Job:
    """One training job as recorded in `job.json`."""

    name: str
    pid: int
    args: list[str]
    started: float
    models: str
    request: dict = field(default_factory=dict)
    stop_requested: bool = False

    @property
    def run_dir(self) -> Path:
        return run_dir(Path(self.models) / self.name)

    @property
    def out_dir(self) -> Path:
        return Path(self.models) / self.name

    def save(self) -> None:
        """Write job.json atomically (a reader never sees half a file)."""
        path = self.run_dir / JOB_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Job | None:
        try:
            return cls(**json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None


@contextlib.contextmanager
def _start_lock(models: Path):
    """Serialises the check-then-start of jobs between sessions and processes."""
    lock_dir = Path(models) / RUNS_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / START_LOCK, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_can_start(models: Path, name: str) -> str:
    """The checked run name; PoetryError if the name is bad or taken, or a job is running."""
    name = check_run_name(name)
    if os.path.lexists(Path(models) / name):
        raise PoetryError(f"模型「{name}」已存在：请换一个名称（已有模型不会被覆盖）")
    running = active_job(models)
    if running is not None or is_training_running(models):
        which = f"「{running.name}」" if running else ""
        raise PoetryError(f"已有训练任务{which}在运行：同一时间只能训练一个模型，请等它结束或先停止它")
    return name


def name_taken(models: Path, name: str) -> bool:
    """True if a model or a run (finished, running or interrupted) already uses `name`."""
    return (Path(models) / name).exists() or run_dir(Path(models) / name).exists()


def start_job(models: Path, request: JobRequest) -> Job:
    """Start training in a background process; raises PoetryError if one is running or the name is taken."""
    models = Path(models)
    name = check_run_name(request.name)
    if not (Path(request.corpus_dir) / "train.txt").is_file():
        raise PoetryError(f"找不到语料：{Path(request.corpus_dir) / 'train.txt'}")
    args = request.command(models)
    with _start_lock(models):
        check_can_start(models, name)
        work = run_dir(models / name)
        work.mkdir(parents=True, exist_ok=True)
        (work / STOP_FILE).unlink(missing_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        with open(work / LOG_FILE, "ab") as log:
            log.write(f"\n$ {' '.join(args)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=REPO_ROOT, env=env, start_new_session=True,
            )
        request_fields = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(request).items()}
        job = Job(name, process.pid, args, time.time(), str(models), request_fields)
        job.save()
    return job


def latest_job(models: Path) -> Job | None:
    """The most recently started job of a models directory (running or not)."""
    runs = Path(models) / RUNS_DIR
    jobs = [job for path in runs.glob(f"*/{JOB_FILE}") if (job := Job.load(path))] if runs.is_dir() else []
    return max(jobs, key=lambda job: job.started, default=None)


def active_job(models: Path) -> Job | None:
    """The latest job if it is still running, else None."""
    job = latest_job(models)
    return job if job is not None and job_status(job).running else None


def stop_job(job: Job) -> None:
    """Ask the trainer to stop after the current batch; it keeps the best checkpoint and finishes the model."""
    job.stop_requested = True
    job.save()
    (job.run_dir / STOP_FILE).touch()


def process_alive(pid: int) -> bool:
    """True while `pid` is a live (not zombie) poetry_lm process."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap our own finished child, or it lingers as a zombie
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return True  # no /proc: trust kill(0)
    # A recycled pid belongs to some other program.
    return state != "Z" and b"poetry_lm" in cmdline


def current_attempt(events: list[dict]) -> list[dict]:
    """Events of the latest attempt (a resumed run has several)."""
    return (attempts(events) or [[]])[-1]


@dataclass
class JobStatus:
    """What a job is doing now, read from its files."""

    state: str  # starting, running, done, stopped, failed
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    steps: int = 0
    eta_s: float | None = None
    loss: float | None = None
    samples: list[tuple[int, list[str]]] = field(default_factory=list)
    message: str = ""
    phase: str = ""  # what a stopping or finishing run is doing now
    notices: list[str] = field(default_factory=list)  # what the run said the user should know (a damaged backup skipped)
    log_tail: str = ""
    events: list[dict] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.state in ("starting", "running")

    @property
    def fraction(self) -> float:
        """Share of all batches done, 0..1."""
        if self.state == "done":
            return 1.0
        if not self.epochs or not self.steps:
            return 0.0
        done = (max(self.epoch, 1) - 1) * self.steps + self.batch
        return min(max(done / (self.epochs * self.steps), 0.0), 1.0)


def job_status(job: Job) -> JobStatus:
    """Read the job's progress log and process state."""
    events = current_attempt(read_events(job.run_dir / PROGRESS_FILE))
    alive = process_alive(job.pid)
    status = JobStatus(state="starting", events=events)
    stopping = False
    for event in events:
        kind = event.get("event")
        if kind == "batch" and stopping:
            continue  # the counter stands still once the run is stopping
        if kind == "start":
            status.epochs, status.steps = event.get("epochs", 0), event.get("steps_per_epoch", 0)
        elif kind == "batch":
            status.epoch, status.batch = event["epoch"], event["batch"]
            status.eta_s, status.loss = event.get("eta_s"), event.get("loss")
        elif kind == "epoch":
            status.epoch, status.eta_s = event["epoch"], event.get("eta_s")
            status.batch = event.get("batches", status.steps)  # a stopped epoch ends early
        elif kind in ("stopping", "finishing"):
            status.phase = event.get("step", "")
            stopping = stopping or kind == "stopping"
        elif kind == "samples":
            status.samples.append((event["epoch"], event.get("poems", [])))
        elif kind == "notice":
            status.notices.append(str(event.get("message", "")))
    final = next((e for e in reversed(events) if e.get("event") in FINAL_EVENTS), None)
    if final is not None and job.out_dir.joinpath(MODEL_FILE).is_file():
        status.state = final["event"]
        status.message = str(job.out_dir)
    elif alive:
        status.state = "running" if events else "starting"
        if job.stop_requested and not (job.run_dir / STOP_FILE).exists():
            # The trainer clears STOP when it begins, so a stop pressed during start-up is repeated.
            (job.run_dir / STOP_FILE).touch()
    else:
        status.state = "failed"
        status.log_tail = log_tail(job)
        status.message = _error_line(status.log_tail) or "训练进程意外退出"
    return status


def log_tail(job: Job, lines: int = 25) -> str:
    """The last lines of the job's console log."""
    try:
        text = (job.run_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _error_line(tail: str) -> str:
    """The CLI's one-line `error: ...` message, or the last line of a traceback."""
    lines = [line for line in tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    return lines[-1] if lines else ""


LOSS_SERIES = ("批损失", "训练损失", "验证损失")


def loss_frame(events: list[dict]) -> pd.DataFrame:
    """Long-form losses for a chart: one row per (position in epochs, series, loss).

    Batch losses sit at fractional epochs; the training and validation loss of each finished epoch
    sit at its end. Each series is its own rows, so every curve is continuous.
    """
    steps = next((e.get("steps_per_epoch") for e in events if e.get("event") == "start"), None) or 1
    rows = []
    for event in events:
        kind = event.get("event")
        if kind == "batch":
            rows.append((event["epoch"] - 1 + event["batch"] / steps, LOSS_SERIES[0], event.get("loss")))
        elif kind == "epoch":
            end = event["epoch"] - 1 + event.get("batches", steps) / steps  # a stopped epoch ends early
            rows.append((end, LOSS_SERIES[1], event.get("loss")))
            rows.append((end, LOSS_SERIES[2], event.get("val_loss")))
    return pd.DataFrame(rows, columns=["轮", "曲线", "损失"]).dropna().reset_index(drop=True)


def model_metrics(model_path: Path) -> dict:
    """A model folder's metrics.json ({} when missing or damaged)."""
    try:
        metrics = read_json_file(Path(model_path) / "metrics.json", "metrics.json")
    except PoetryError:
        return {}
    return metrics if isinstance(metrics, dict) else {}


def perplexities(metrics: dict) -> tuple[float | None, float | None]:
    """(the base model's, the trained model's) held-out perplexity per Han character, when recorded."""
    def per_han(key: str) -> float | None:
        value = (metrics.get(key) or {}).get("perplexity_per_han") if isinstance(metrics.get(key), dict) else None
        return float(value) if isinstance(value, int | float) else None

    return per_han("base_test"), per_han("test")


def model_voice(model_path: Path) -> dict | None:
    """A fine-tuned model's voice.json (measure.voice.voice_check), or None."""
    try:
        voice = read_json_file(Path(model_path) / "voice.json", "voice.json")
    except PoetryError:
        return None
    needed = {"poet", "attributed_before", "attributed_after", "held_out_attributed", "style_strength", "samples"}
    return voice if isinstance(voice, dict) and needed <= set(voice) else None


def format_seconds(seconds: float | None) -> str:
    """A short Chinese duration: 1 小时 2 分, 3 分 4 秒, 5 秒."""
    if seconds is None or seconds != seconds:
        return "未知"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} 小时 {minutes} 分"
    return f"{minutes} 分 {secs} 秒" if minutes else f"{secs} 秒"
