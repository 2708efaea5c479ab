"""Benchmark: the compiled decoder against the classic per-character loop and a NumPy floor, and training speed.

Everything is measured in one process, side by side, on the same weights; ratios are per poem.
`python -m poetry_lm bench` prints a table and a JSON object; `--quick` is a smoke run for tests.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from poetry_lm.compose.decode import FREE, form_template, free_cell_bias
from poetry_lm.compose.generate import PoemGenerator, Settings
from poetry_lm.errors import PoetryError
from poetry_lm.model.config import ModelConfig
from poetry_lm.model.dataset import encode_poems, make_dataset
from poetry_lm.model.network import ModelDir, build_model, load_model_dir, lstm_weights
from poetry_lm.paths import DEFAULT_MODEL_DIR
from poetry_lm.prosody.form import regulated_form
from poetry_lm.text import corpus as corpus_lib
from poetry_lm.training.runs import read_events

# The classic Keras tang-poetry example's shape; its quality is in docs/results/seed_2x128_2ep_metrics.json.
SEED_CONFIG = {"units": 128, "embedding_dim": 128, "layers": 2, "dropout": 0.2, "batch_size": 64}


@dataclass(frozen=True)
class BenchPlan:
    """What one run measures and how often."""

    heads: str = "春花秋月"  # 七言绝句 acrostic
    line_length: int = 7
    candidates: int = 8
    repeats: int = 30  # timed decoder / floor calls
    classic_poems: int = 2  # the classic loop takes seconds per poem
    train_batches: int = 12  # batches per training variant, timed on a second pass over the same poems
    seed_config: bool = True  # also measure the seed configuration's training throughput
    precision_batches: int = 400  # from-scratch batches for the float32 / bfloat16 validation-loss comparison


FULL = BenchPlan()
QUICK = BenchPlan(heads="春花", repeats=3, classic_poems=1, train_batches=2, seed_config=False, precision_batches=0)


def timed(fn) -> float:
    """Seconds one call of `fn` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_ms(seconds: list[float]) -> float:
    return 1000 * statistics.median(seconds)


def side_by_side(contenders: dict, repeats: int, rounds: int = 3) -> dict[str, list[float]]:
    """Seconds per call of each contender, timed in alternating blocks so that load from other processes
    hits all alike.

    Blocks rather than single calls: a call right after a switch pays for the other library's thread
    pool still spinning (OpenBLAS's and TensorFlow's), measured at +40% for the decoder. Each block
    starts with one untimed call.
    """
    seconds = {name: [] for name in contenders}
    per_block = max(1, -(-repeats // rounds))
    for _ in range(rounds):
        for name, call in contenders.items():
            call()
            seconds[name] += [timed(call) for _ in range(per_block)]
    return seconds


class NumpyLSTM:
    """The decoder's step math as plain float32 NumPy matrix products: the floor the decoder is compared with."""

    def __init__(self, model):
        embedding, cells, (dense_kernel, dense_bias) = lstm_weights(model)
        self.embedding = np.asarray(embedding)
        # [x, h] @ [W; U]: one product per layer, as the compiled loop does.
        self.layers = [(np.concatenate([np.asarray(k), np.asarray(r)]), np.asarray(b)) for k, r, b in cells]
        self.dense_kernel, self.dense_bias = np.asarray(dense_kernel), np.asarray(dense_bias)

    @property
    def matrices(self) -> list[np.ndarray]:
        return [w for w, _ in self.layers] + [self.dense_kernel]

    def logits(self, inputs: np.ndarray) -> np.ndarray:
        """Next-token logits [B, T, V] for input ids [B, T], one step at a time with carried state."""
        batch = len(inputs)
        states = [(np.zeros((batch, w.shape[1] // 4), np.float32),) * 2 for w, _ in self.layers]
        out = []
        for t in range(inputs.shape[1]):
            x = self.embedding[inputs[:, t]]
            for layer, (w, b) in enumerate(self.layers):
                h, c = states[layer]
                i, f, g, o = np.split(np.concatenate([x, h], 1) @ w + b, 4, axis=1)
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                x = _sigmoid(o) * np.tanh(c)
                states[layer] = (x, c)
            out.append(x @ self.dense_kernel + self.dense_bias)
        return np.stack(out, axis=1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def classic_poem(model, vocab, forced_ids: np.ndarray, settings: Settings, rng: np.random.Generator):
    """One candidate the classic way: `model.predict` on the prefix for every character. (token ids, log_prob).

    The prefix is right-padded (pad id 0 is masked) to the poem length, as in Keras's char-RNN example:
    a static shape per call, because Keras 3.15's TimeDistributed goes wrong on a dynamic time axis and
    `predict` relaxes the shape of varying prefixes to one.
    """
    free_bias = free_cell_bias(vocab)
    is_char = np.arange(len(vocab)) >= vocab.first_char_id
    window = np.zeros((1, len(forced_ids) + 1), np.int32)
    window[0, 0] = vocab.bos_id
    used = np.zeros(len(vocab), np.float32)
    log_prob = 0.0
    for t, forced in enumerate(forced_ids):
        log_probs = _log_probs(model.predict(window, verbose=0)[0, t])
        if forced == FREE:
            scores = log_probs / settings.temperature + free_bias - settings.repetition_penalty * used
            weights = np.exp(scores - scores.max())
            token = int(rng.choice(len(vocab), p=weights / weights.sum()))
        else:
            token = int(forced)
        log_prob += log_probs[token]
        used[token] += is_char[token]
        window[0, t + 1] = token
    log_prob += _log_probs(model.predict(window, verbose=0)[0, -1])[vocab.eos_id]
    return window[0, 1:], log_prob


def _log_probs(probs: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):  # a probability that underflowed to 0 is a banned token
        return np.log(probs.astype(np.float64))


def check_correctness(generator: PoemGenerator, floor: NumpyLSTM, inputs: np.ndarray, log_prob: np.ndarray) -> dict:
    """Max differences on the decoder's own poems: its step vs `model.predict` (what the classic loop reads),
    and its log-probabilities vs the NumPy floor's.

    `inputs` is <bos> + the decoded tokens [B, T + 1]; the first row goes through `predict` with the
    classic loop's window shape, so the check reuses its traced function.
    """
    vocab, decoder = generator.vocab, generator.decoder
    predicted = generator.model_dir.model.predict(inputs[:1], verbose=0)[0]
    step_probs = [np.exp(_log_softmax(row)) for row in decoder.logits_along(list(inputs[0]))]
    targets = np.concatenate([inputs[:, 1:], np.full((len(inputs), 1), vocab.eos_id, np.int32)], axis=1)
    floor_log_probs = np.take_along_axis(_log_softmax(floor.logits(inputs)), targets[..., None], axis=-1)[..., 0]
    return {
        "step_vs_predict_max_abs_prob": float(np.abs(np.stack(step_probs) - predicted).max()),
        "decoder_vs_numpy_max_abs_log_prob": float(np.abs(floor_log_probs.sum(axis=1) - log_prob).max()),
    }


def measure_decoding(model_dir: ModelDir, plan: BenchPlan) -> dict:
    """Decoder (first call after load, then median), NumPy floor, weight-read floor, classic loop; ratios per poem."""
    load_seconds = time.perf_counter()
    generator = PoemGenerator(model_dir)
    generator.warm_up()  # what the app and CLI do at load
    load_seconds = time.perf_counter() - load_seconds
    traces_after_warm_up = generator.decoder.traces
    # Plain sampling (one row per candidate, no prosody masks): the work the floors and the classic loop do.
    settings = Settings(plan.heads, plan.line_length, plan.candidates, seed=0, search=1)
    first_call = timed(lambda: generator.generate(settings))

    vocab = generator.vocab
    form = regulated_form(plan.line_length, len(plan.heads))
    forced_ids = form_template(form, {(i, 0): vocab.id_of(ch) for i, ch in enumerate(plan.heads)}, vocab)
    bias_rows, bias_index = free_cell_bias(vocab)[None], np.zeros((plan.candidates, len(forced_ids)), np.int32)
    tokens, log_prob, *_ = generator.decoder(forced_ids, bias_rows, bias_index, settings.sampling(seed=0))
    floor = NumpyLSTM(model_dir.model)
    inputs = np.concatenate([np.full((plan.candidates, 1), vocab.bos_id, np.int32), tokens], axis=1)
    weights = np.concatenate([m.ravel() for m in floor.matrices])
    steps = inputs.shape[1]

    seeds = iter(range(10**6))  # a new seed per request, as from the app
    timings = side_by_side(
        {
            "decoder": lambda: generator.generate(replace(settings, seed=next(seeds))),
            "floor": lambda: floor.logits(inputs),
            "memory": lambda: [weights.sum() for _ in range(steps)],
        },
        plan.repeats,
    )
    traces_after_timing = generator.decoder.traces

    rng = np.random.default_rng(0)
    classic_poem(model_dir.model, vocab, forced_ids, settings, rng)  # warm-up: predict traces its function
    classic_s = [timed(lambda: classic_poem(model_dir.model, vocab, forced_ids, settings, rng)) for _ in range(plan.classic_poems)]

    decoder_ms, floor_ms, memory_ms = (median_ms(timings[name]) for name in ("decoder", "floor", "memory"))
    classic_poem_ms = median_ms(classic_s)
    decoder_poem_ms = decoder_ms / plan.candidates
    return {
        "poem": {"heads": plan.heads, "line_length": plan.line_length, "candidates": plan.candidates, "steps": steps},
        "decoder_build_and_warm_up_s": round(load_seconds, 3),
        "first_request_ms": round(1000 * first_call, 2),
        "decoder_ms": round(decoder_ms, 2),
        "decoder_poem_ms": round(decoder_poem_ms, 3),
        "candidates_per_s": round(1000 / decoder_poem_ms, 1),
        "numpy_floor_ms": round(floor_ms, 2),
        "weights_mb": round(weights.nbytes / 1e6, 2),
        "weight_read_floor_ms": round(memory_ms, 2),
        "classic_poem_ms": round(classic_poem_ms, 1),
        "classic_predict_calls_per_poem": steps,
        "speedup_vs_classic": round(classic_poem_ms / decoder_poem_ms, 1),
        "decoder_over_numpy_floor": round(decoder_ms / floor_ms, 2),
        "decoder_over_weight_read_floor": round(decoder_ms / memory_ms, 2),
        "decoder_traces": {"after_warm_up": traces_after_warm_up, "after_timing": traces_after_timing},
        "repeats": plan.repeats,
        "classic_poems": plan.classic_poems,
        "correctness": check_correctness(generator, floor, inputs, log_prob),
    }


# Training variants compared side by side on the same poems: how batches are shaped, and precision.
TRAINING_VARIANTS = {
    "padded_float32": {"by_length": False, "policy": "float32"},  # before: every batch padded to the longest poem
    "grouped_float32": {"by_length": True, "policy": "float32"},  # now: one poem length per batch
    "grouped_bfloat16": {"by_length": True, "policy": "mixed_bfloat16"},
}


def training_throughput(sequences: list[np.ndarray], config: ModelConfig, batch_size: int, batches: int,
                        by_length: bool = True, policy: str = "float32") -> dict:
    """Real (non-pad) target characters per second of `fit`, timed over a second pass on the same
    `batches` × `batch_size` poems (the first pass traces and warms up)."""
    sample = sequences[: batch_size * batches]
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_model(config)
        model.compile(optimizer=keras.optimizers.Adam(2e-3, clipnorm=1.0), loss="sparse_categorical_crossentropy")
        data = make_dataset(sample, batch_size, shuffle=False, by_length=by_length)
        model.fit(data, epochs=1, verbose=0, shuffle=False)  # the dataset orders itself
        start = time.perf_counter()
        model.fit(data, epochs=1, verbose=0, shuffle=False)  # the dataset orders itself
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy(previous)
    chars = sum(len(seq) - 1 for seq in sample)
    padded = len(sample) * (max(map(len, sample)) - 1)
    return {
        "units": config.units, "layers": config.layers, "embedding_dim": config.embedding_dim, "batch_size": batch_size,
        "by_length": by_length, "policy": policy, "poems": len(sample), "chars_per_s": round(chars / seconds, 1),
        "pad_share": round(0.0 if by_length else 1 - chars / padded, 3),
    }


def precision_quality(model_dir: ModelDir, poems: list[str], valid: list[str], config: ModelConfig, batch_size: int,
                      batches: int) -> dict:
    """Validation loss after the same `batches` from-scratch batches (same poems, order and seed) in float32 and in
    mixed bfloat16: what bf16 costs in quality, beside what it gains in speed."""
    train_seqs = encode_poems(poems[: batch_size * batches], model_dir.vocab)
    valid_data = make_dataset(encode_poems(valid, model_dir.vocab), 256, shuffle=False)
    result = {"batches": batches, "batch_size": batch_size, "valid_poems": len(valid)}
    for policy in ("float32", "mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        keras.mixed_precision.set_global_policy(policy)
        try:
            model = build_model(config)
            model.compile(optimizer=keras.optimizers.Adam(2e-3, clipnorm=1.0), loss="sparse_categorical_crossentropy")
            start = time.perf_counter()
            model.fit(make_dataset(train_seqs, batch_size, shuffle=True, seed=0), epochs=1, verbose=0, shuffle=False)
            seconds = time.perf_counter() - start
            val_loss = float(model.evaluate(valid_data, verbose=0))
        finally:
            keras.mixed_precision.set_global_policy("float32")
        result[policy] = {"val_loss": round(val_loss, 4), "seconds": round(seconds, 1)}
    result["val_loss_difference"] = round(result["mixed_bfloat16"]["val_loss"] - result["float32"]["val_loss"], 4)
    return result


def pipeline_throughput(sequences: list[np.ndarray], batch_size: int) -> dict:
    """One epoch of the tf.data pipeline alone (shuffle, pad, split), without a model."""
    start = time.perf_counter()
    data = make_dataset(sequences, batch_size, shuffle=True)
    chars = sum(int(np.count_nonzero(targets)) for _, targets in data.as_numpy_iterator())
    seconds = time.perf_counter() - start
    return {"batch_size": batch_size, "epoch_s": round(seconds, 3), "chars_per_s": round(chars / seconds, 1)}


def training_log_figures(path: Path) -> dict | None:
    """Throughput recorded when the model was trained (metrics.json, train_log.jsonl), or None if absent."""
    metrics_path, log_path = path / "metrics.json", path / "train_log.jsonl"
    if not metrics_path.is_file():
        return None
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    figures = {"source": "from the training log", "backend": metrics.get("backend"), "chars_per_s": metrics.get("chars_per_s")}
    if log_path.is_file():
        events = read_events(log_path)
        epoch_seconds = [e["seconds"] for e in events if e.get("event") == "epoch" and "seconds" in e]
        if epoch_seconds:
            figures["median_epoch_s"] = round(statistics.median(epoch_seconds), 2)
    return figures


def training_configs(model_dir: ModelDir, plan: BenchPlan) -> dict[str, tuple[ModelConfig, int]]:
    """Name → (model configuration, batch size): the model's own, and the seed configuration unless quick."""
    info = model_dir.info
    configs = {"this_model": (info.model, info.train.batch_size)}
    if plan.seed_config:
        seed = dict(SEED_CONFIG)
        batch_size = seed.pop("batch_size")
        configs["seed"] = (ModelConfig(vocab_size=len(model_dir.vocab), **seed), batch_size)
    return configs


def measure_training(model_dir: ModelDir, poems: list[str], valid: list[str], plan: BenchPlan) -> dict:
    """Training chars/s per configuration and variant (side by side, same poems), the input pipeline,
    and (full runs) the validation-loss cost of bfloat16."""
    # A fixed random sample, so every form is mixed in as in a real epoch.
    order = np.random.default_rng(0).permutation(len(poems))
    sample = [poems[i] for i in order[: 4096]]
    sequences = encode_poems(sample, model_dir.vocab)
    info = model_dir.info
    result = {
        "corpus_train_chars": sum(len(poem) + 1 for poem in poems),
        "pipeline": pipeline_throughput(encode_poems(poems, model_dir.vocab), info.train.batch_size),
    }
    for name, (config, batch_size) in training_configs(model_dir, plan).items():
        variants = {variant: training_throughput(sequences, config, batch_size, plan.train_batches, **options)
                    for variant, options in TRAINING_VARIANTS.items()}
        base = variants["padded_float32"]["chars_per_s"]
        for figures in variants.values():
            figures["vs_padded_float32"] = round(figures["chars_per_s"] / base, 2)
        result[name] = variants
    if plan.precision_batches:
        config, batch_size = training_configs(model_dir, plan)["seed"]
        shuffled = [poems[i] for i in order]
        result["precision"] = precision_quality(model_dir, shuffled, valid, config, batch_size, plan.precision_batches)
    result["training_log"] = training_log_figures(model_dir.path)
    return result


def machine() -> dict:
    """What the numbers were measured on, and how busy it was."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {
        "cpu": cpu, "cores": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
        "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
        "python": platform.python_version(),
    }


def run_bench(model_path: Path | None = None, corpus_dir: Path = Path("corpus"), quick: bool = False) -> dict:
    """All measurements as one JSON-ready dict."""
    plan = QUICK if quick else FULL
    model_dir = load_model_dir(Path(model_path) if model_path else DEFAULT_MODEL_DIR)
    poems = corpus_lib.load_split(corpus_dir, "train")  # read first: a bad corpus fails before minutes of timing
    valid = corpus_lib.load_split(corpus_dir, "valid")[:2000]
    needed = max(batch_size for _, batch_size in training_configs(model_dir, plan).values()) * plan.train_batches
    if len(poems) < needed:
        raise PoetryError(f"{corpus_dir} 的训练集只有 {len(poems)} 首诗，测训练速度至少需要 {needed} 首")
    result = {"model": str(model_dir.path), "plan": asdict(plan), "machine": machine()}
    result["decoding"] = measure_decoding(model_dir, plan)
    result["training"] = measure_training(model_dir, poems, valid, plan)
    result["machine"]["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    return result


def format_table(result: dict) -> str:
    """A readable summary of `run_bench`'s result."""
    d, tr, m = result["decoding"], result["training"], result["machine"]
    poem = d["poem"]
    rows = [
        ("machine", f"{m['cpu']}, {m['cores']} cores, load {m['load_average_1m']}→{m['load_average_1m_end']}"),
        ("poem", f"{poem['heads']} {poem['line_length']}-char acrostic, {poem['candidates']} candidates, {poem['steps']} steps"),
        ("decoder build + warm-up", f"{d['decoder_build_and_warm_up_s']:.2f} s; first request {d['first_request_ms']:.1f} ms"),
        ("decoder (median)", f"{d['decoder_ms']:.1f} ms per call, {d['decoder_poem_ms']:.2f} ms per poem, "
                             f"{d['candidates_per_s']:.0f} candidates/s"),
        ("classic predict loop", f"{d['classic_poem_ms']:.0f} ms per poem ({d['classic_predict_calls_per_poem']} predict calls)"),
        ("NumPy step floor", f"{d['numpy_floor_ms']:.1f} ms per call"),
        ("weight-read floor", f"{d['weight_read_floor_ms']:.1f} ms per call ({d['weights_mb']} MB per step)"),
        ("speed-up vs classic", f"{d['speedup_vs_classic']:.0f}x per poem"),
        ("decoder / floors", f"{d['decoder_over_numpy_floor']:.2f}x NumPy, {d['decoder_over_weight_read_floor']:.2f}x weight read"),
        ("decoder traces", f"{d['decoder_traces']['after_warm_up']} after warm-up, {d['decoder_traces']['after_timing']} after timing"),
        ("correctness", ", ".join(f"{k} {v:.1e}" for k, v in d["correctness"].items())),
        ("tf.data pipeline", f"{tr['pipeline']['chars_per_s']:,.0f} chars/s (one epoch in {tr['pipeline']['epoch_s']:.1f} s)"),
    ]
    for name in ("this_model", "seed"):
        for variant, t in tr.get(name, {}).items():
            rows.append((f"train {name} {t['layers']}x{t['units']}/{t['embedding_dim']} b{t['batch_size']} {variant}",
                         f"{t['chars_per_s']:,.0f} chars/s ({t['vs_padded_float32']:.2f}x padded float32; "
                         f"{t['pad_share']:.0%} padding)"))
    if "precision" in tr:
        q = tr["precision"]
        rows.append((f"bf16 quality ({q['batches']} batches from scratch)",
                     f"val loss float32 {q['float32']['val_loss']:.3f} vs bf16 {q['mixed_bfloat16']['val_loss']:.3f} "
                     f"({q['val_loss_difference']:+.3f}); {q['float32']['seconds']:.0f} s vs {q['mixed_bfloat16']['seconds']:.0f} s"))
    log = tr.get("training_log")
    if log:
        rows.append(("training log (not measured here)", f"{log['chars_per_s']:,.0f} chars/s, median epoch "
                                                         f"{log.get('median_epoch_s', 'n/a')} s, backend {log['backend']}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def classic_answer(writer, first: str, settings, rng: np.random.Generator) -> str:
    """One 下联 the classic way: the poem model's `predict` on the growing prefix for every character, its
    log-probabilities plus the aligned model's times the weight, the same masks (end tone, no 上联 character)."""
    vocab, n = writer.vocab, len(first)
    aligned = writer.aligned_log_probs([first])[0]
    window = np.zeros((1, 2 * n + 2), np.int32)
    window[0, : n + 2] = [vocab.bos_id, *vocab.encode(first), vocab.punctuation_ids[0]]
    _, bias_rows, index, _, _ = writer.answer_plan([first], [{}], settings)  # the writer's own masks
    for j in range(n):
        log_probs = _log_probs(writer.poem.model.predict(window, verbose=0)[0, n + 1 + j])
        scores = (log_probs + writer.weight * aligned[j]) / settings.temperature + bias_rows[index[0, n + 1 + j]]
        weights = np.exp(scores - scores.max())
        window[0, n + 2 + j] = int(rng.choice(len(vocab), p=weights / weights.sum()))
    return vocab.decode(window[0, n + 2 :])


def couplet_bench(writer, first: str = "风吹杨柳千条绿", candidates: int = 8, repeats: int = 9) -> dict:
    """8 下联 candidates for one 上联: the writer (both models in one compiled loop, checks included) against
    the classic loop (`classic_answer`, once per candidate), side by side."""
    from poetry_lm.compose.couplet import CoupletSettings

    settings = CoupletSettings(first=first, num_candidates=candidates, seed=0)
    rng = np.random.default_rng(0)
    writer.write(settings)  # traced already by load(); once more so both start warm
    seconds = side_by_side({
        "writer": lambda: writer.write(settings),
        "classic": lambda: [classic_answer(writer, first, settings, rng) for _ in range(candidates)],
    }, repeats)
    writer_ms, classic_ms = median_ms(seconds["writer"]), median_ms(seconds["classic"])
    return {"first": first, "candidates": candidates, "search": settings.search, "writer_ms": round(writer_ms, 1),
            "classic_ms": round(classic_ms, 1), "speedup": round(classic_ms / writer_ms, 1),
            "repeats": repeats, "machine": machine()}
