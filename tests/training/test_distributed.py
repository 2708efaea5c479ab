"""Scale-out: MirroredStrategy on two logical CPU devices, MultiWorkerMirroredStrategy with two local workers."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from poetry_lm.errors import PoetryError
from poetry_lm.model.config import TrainConfig
from poetry_lm.model.network import load_model_dir
from poetry_lm.serve import free_port
from poetry_lm.text.corpus import load_split
from poetry_lm.training.runs import read_events
from poetry_lm.training.trainer import train
from tests.conftest import REPO

# Shared by both subprocess scripts: count the replicas the strategy scope reports.
RECORD_REPLICAS = """
from poetry_lm.training import trainer as train_lib
from poetry_lm.model.config import TrainConfig

replicas = []
scope = train_lib._distribution_scope
def recording_scope(strategy):
    context, count = scope(strategy)
    replicas.append(count)
    return context, count
train_lib._distribution_scope = recording_scope
"""

# Virtual devices must be configured before any other TensorFlow op, so this runs in a fresh process.
MIRRORED_RUN = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    {record_replicas}

    out = train_lib.train(
        sys.argv[1], sys.argv[2], {"units": 32, "embedding_dim": 16, "layers": 1, "dropout": 0.0},
        TrainConfig(epochs=3, batch_size=32, max_poems=160, learning_rate=0.01, log_every_batches=1),
        strategy="mirrored",
    )
    print(json.dumps({"replicas": replicas, "out": str(out)}))
    """
).replace("{record_replicas}", RECORD_REPLICAS)


@pytest.mark.slow
def test_mirrored_strategy_on_two_cpu_devices_lowers_the_loss(tiny_corpus, tmp_path):
    out = tmp_path / "models" / "mirrored"
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_RUN, str(tiny_corpus), str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == [2]
    events = read_events(out / "train_log.jsonl")
    losses = [e["loss"] for e in events if e["event"] == "epoch"]
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2] and losses[2] < losses[0] - 0.2, losses
    # batch_size 32 is global (16 rows per replica); batches hold one poem length, and with two replicas only full
    # batches are kept, so each length contributes count // 32 steps.
    lengths = collections.Counter(len(poem) for poem in load_split(tiny_corpus, "train")[:160])
    steps = next(e for e in events if e["event"] == "start")["steps_per_epoch"]
    assert steps == sum(count // 32 for count in lengths.values()) > 0
    assert (out / "model.keras").is_file()


def test_mirrored_batch_must_split_evenly_over_replicas(tiny_corpus, tmp_path):
    from poetry_lm.training import trainer as train_lib

    with pytest.raises(PoetryError, match="须是副本数 2 的整数倍"):
        train_lib._datasets([[1, 2, 3]] * 10, [], TrainConfig(batch_size=5), replicas=2)


def test_multiworker_needs_tf_config(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(PoetryError, match="TF_CONFIG"):
        train(tiny_corpus, tmp_path / "models" / "mw", {"units": 8, "embedding_dim": 8, "layers": 1},
              TrainConfig(epochs=1, max_poems=32), strategy="multiworker")
    assert not (tmp_path / "models" / "mw").exists()


# One worker of a two-worker cluster on this machine; each keeps its own models folder (as on two hosts).
WORKER_RUN = textwrap.dedent(
    """
    import json, os, sys
    corpus, out, index, *ports = sys.argv[1:]
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
        "task": {"type": "worker", "index": int(index)},
    })
    {record_replicas}

    train_lib.train(
        corpus, out, {"units": 32, "embedding_dim": 16, "layers": 1, "dropout": 0.0},
        TrainConfig(epochs=3, batch_size=32, max_poems=160, learning_rate=0.01, log_every_batches=1,
                    seed=int(index)),  # different seeds: only synchronisation can make the weights agree
        strategy="multiworker",
    )
    print(json.dumps({"replicas": replicas}))
    """
).replace("{record_replicas}", RECORD_REPLICAS)


@pytest.mark.slow
def test_multiworker_two_processes_on_localhost(tiny_corpus, tmp_path):
    ports = [str(free_port()), str(free_port())]
    outs = [tmp_path / f"host{i}" / "models" / "mw" for i in range(2)]
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER_RUN, str(tiny_corpus), str(out), str(i), *ports],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i, out in enumerate(outs)
    ]
    results = [(worker.wait(timeout=400), *worker.communicate()) for worker in workers]
    for code, stdout, stderr in results:
        assert code == 0, stderr[-3000:]
        assert json.loads(stdout.strip().splitlines()[-1])["replicas"] == [2]
    losses = []
    expected_steps = sum(n // 32 for n in collections.Counter(map(len, load_split(tiny_corpus, "train")[:160])).values())
    for out in outs:
        events = read_events(out / "train_log.jsonl")
        losses.append([e["loss"] for e in events if e["event"] == "epoch"])
        # 160 poems at a global batch of 32 (16 rows per worker), full one-length batches only: same steps everywhere.
        assert next(e for e in events if e["event"] == "start")["steps_per_epoch"] == expected_steps
    assert losses[0][0] > losses[0][1] > losses[0][2], losses
    # Different seeds, yet identical weights: initial values are broadcast and gradients all-reduced.
    weights = [load_model_dir(out).model.get_weights() for out in outs]
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))


def test_distributed_validation_of_mixed_lengths_still_yields_batches():
    """Only full batches are kept with replicas; a small validation split of four lengths, none of
    which fills the global batch, must still give a batch (it gave none, and fit stopped)."""
    from poetry_lm.training.trainer import _datasets

    seqs = [np.zeros(length, np.int32) for length in (26, 34, 50, 66) for _ in range(5)] + [np.zeros(50, np.int32)] * 4
    _, valid, _ = _datasets(seqs * 4, seqs, TrainConfig(batch_size=32), replicas=2)
    batches = list(valid)
    assert batches and all(inputs.shape[0] == 8 for inputs, _ in batches)  # the 9 poems of length 50 → one batch of 8
