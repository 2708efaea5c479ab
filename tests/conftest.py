"""Shared fixtures: a tiny corpus built in the test and a tiny model trained once per session."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from poetry_lm import cli  # noqa: E402
from poetry_lm.model.config import TrainConfig  # noqa: E402
from poetry_lm.text.corpus import collect_poems, write_corpus  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TINY_ARGS = ["--units", "32", "--embedding-dim", "16", "--layers", "2", "--dropout", "0"]  # TINY_MODEL as CLI flags

# Real poems in traditional and simplified form, covering the four regulated forms.
FIXTURE_POEMS = [
    "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。",
    "红豆生南国，春来发几枝。愿君多采撷，此物最相思。",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    "月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。",
    "独在异乡为异客，每逢佳节倍思亲。遥知兄弟登高处，遍插茱萸少一人。",
    "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。",
    "好雨知时节，当春乃发生。随风潜入夜，润物细无声。野径云俱黑，江船火独明。晓看红湿处，花重锦官城。",
    "昔人已乘黄鹤去，此地空余黄鹤楼。黄鹤一去不复返，白云千载空悠悠。晴川历历汉阳树，芳草萋萋鹦鹉洲。日暮乡关何处是，烟波江上使人愁。",
    "风急天高猿啸哀，渚清沙白鸟飞回。无边落木萧萧下，不尽长江滚滚来。万里悲秋常作客，百年多病独登台。艰难苦恨长相续，潦倒新停浊酒杯。",
]


def tiny_poems(count: int = 400) -> list[str]:
    """The fixture poems plus the first `count` poems of the committed training split."""
    real = (REPO / "corpus" / "train.txt").read_text(encoding="utf-8").splitlines()[:count]
    poems, _ = collect_poems(FIXTURE_POEMS + real)
    return poems


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A corpus directory (train/valid/test) of a few hundred real poems."""
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(tiny_poems(), out)
    return out


TINY_MODEL = {"units": 32, "embedding_dim": 16, "layers": 2, "dropout": 0.0}


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_corpus, tmp_path_factory) -> Path:
    """A model directory trained for two epochs on the tiny corpus (a few seconds)."""
    from poetry_lm.training.trainer import train

    out = tmp_path_factory.mktemp("models") / "tiny"
    return train(tiny_corpus, out, TINY_MODEL, TrainConfig(epochs=2, batch_size=32, log_every_batches=2))


def corpus_with_ci(tiny_corpus: Path, out: Path, counts: dict[str, int]) -> Path:
    """A copy of `tiny_corpus` at `out` with a `ci/` folder of the first `counts[split]` 词 of each committed split."""
    import shutil

    shutil.copytree(tiny_corpus, out)
    (out / "ci").mkdir()
    for split, count in counts.items():
        for suffix, header in [(".txt", 0), (".meta.tsv", 1)]:
            lines = (REPO / "corpus" / "ci" / f"{split}{suffix}").read_text(encoding="utf-8").splitlines()
            (out / "ci" / f"{split}{suffix}").write_text("\n".join(lines[: count + header]) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def tiny_couplet_dir(tiny_corpus, tiny_model_dir) -> Path:
    """An aligned couplet model trained for one epoch on the tiny corpus's 律诗, started from the tiny poem model's
    embedding (so it shares its vocabulary)."""
    from poetry_lm.training.trainer import train

    out = tiny_model_dir.parent / "couplet"
    config = TrainConfig(epochs=1, batch_size=32, log_every_batches=2, init_from=str(tiny_model_dir))
    return train(tiny_corpus, out, {"kind": "couplet", "units": 16, "layers": 1, "dropout": 0.0}, config)


@pytest.fixture
def job_from_another_tab():
    """Start a stand-in training job in a models dir, as another tab or a CLI would: a live
    process whose command line names poetry_lm (what jobs.process_alive checks), killed afterwards."""
    import time

    from poetry_lm import jobs

    processes = []

    def start(models: Path, name: str) -> jobs.Job:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "poetry_lm"])
        processes.append(process)
        jobs.run_dir(models / name).mkdir(parents=True, exist_ok=True)
        job = jobs.Job(name, pid=process.pid, args=[], started=time.time(), models=str(models))
        job.save()
        return job

    yield start
    for process in processes:
        process.kill()
        process.wait()


# ----- the CLI as a user runs it ---------------------------------------------------------------


CLI_FLAGS = {"temperature": "--temperature", "top_k": "--top-k", "num_candidates": "--num", "seed": "--seed",
             "line_length": "--chars"}


def cli_generate_args(model_dir: Path, heads: str = "春花", **overrides) -> list[str]:
    args = ["generate", "--heads", heads, "--model", str(model_dir), "--num", "2", "--chars", "5"]
    for key, value in overrides.items():
        args += [CLI_FLAGS[key], str(value)]
    return args


def run_cli_in_process(argv: list[str], capsys) -> tuple[int, list[str]]:
    """Exit code and stderr lines of `python -m poetry_lm argv`, run in this process."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    return code, capsys.readouterr().err.splitlines()


def run_cli(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI in a fresh interpreter (TensorFlow start-up included)."""
    return subprocess.run(
        [sys.executable, "-m", "poetry_lm", *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def assert_one_line_error(stderr: str, fragment: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], stderr
