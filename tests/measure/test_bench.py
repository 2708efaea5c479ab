"""The benchmark's structure and correctness checks, and the decoder's speed-related guarantees.

No timing assertions: timings on a shared CPU are noise. What is checked is that every figure is
a finite positive number, the correctness checks agree to float precision, and nothing retraces.
"""

import contextlib
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from poetry_lm import cli
from poetry_lm.compose.decode import form_template, free_cell_bias
from poetry_lm.compose.generate import PoemGenerator, Settings
from poetry_lm.compose.settings import Sampling
from poetry_lm.measure.bench import NumpyLSTM, format_table
from poetry_lm.model.network import load_model_dir
from poetry_lm.prosody.form import regulated_form
from tests.conftest import REPO


def numbers(tree, path=""):
    """(path, value) for every number in a nested dict."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from numbers(value, f"{path}.{key}")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path, tree


@pytest.fixture(scope="module")
def quick_run(tiny_model_dir, tiny_corpus, tmp_path_factory):
    """`bench --quick --json FILE` through the CLI: (the JSON file's result, what it printed)."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    argv = ["bench", "--quick", "--model", str(tiny_model_dir), "--corpus", str(tiny_corpus), "--json", str(out)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(argv) == 0
    return json.loads(out.read_text(encoding="utf-8")), printed.getvalue()


@pytest.fixture(scope="module")
def quick_result(quick_run):
    return quick_run[0]


def test_quick_bench_reports_every_figure(quick_result):
    decoding, training = quick_result["decoding"], quick_result["training"]
    for key in ("decoder_ms", "decoder_poem_ms", "candidates_per_s", "classic_poem_ms", "numpy_floor_ms",
                "weight_read_floor_ms", "speedup_vs_classic", "decoder_over_numpy_floor",
                "decoder_over_weight_read_floor", "first_request_ms"):
        assert key in decoding
    for key in ("pipeline", "this_model", "corpus_train_chars"):
        assert key in training
    variants = training["this_model"]
    assert set(variants) == {"padded_float32", "grouped_float32", "grouped_bfloat16"}
    assert {v["units"] for v in variants.values()} == {32}  # the tiny model's own configuration
    assert variants["padded_float32"]["vs_padded_float32"] == 1.0 and variants["grouped_float32"]["pad_share"] == 0
    assert 0 < variants["padded_float32"]["pad_share"] < 1  # mixed forms: padding is real work lost
    assert training["training_log"]["source"] == "from the training log"
    for path, value in numbers({k: v for k, v in quick_result.items() if k != "plan"}):
        if "correctness" in path or "load_average" in path or "pad_share" in path:
            continue
        assert math.isfinite(value) and value > 0, path


def test_quick_bench_correctness_checks_agree(quick_result):
    correctness = quick_result["decoding"]["correctness"]
    assert correctness["step_vs_predict_max_abs_prob"] < 1e-5
    assert correctness["decoder_vs_numpy_max_abs_log_prob"] < 1e-3


def test_quick_bench_never_retraces(quick_result):
    assert quick_result["decoding"]["decoder_traces"] == {"after_warm_up": 1, "after_timing": 1}


def test_table_names_the_machine_and_ratios(quick_result):
    table = format_table(quick_result)
    for label in ("machine", "decoder (median)", "classic predict loop", "NumPy step floor", "speed-up vs classic",
                  "tf.data pipeline", "train this_model"):
        assert label in table


def test_bench_cli_prints_the_table_then_the_json(quick_run):
    result, printed = quick_run
    lines = printed.rstrip("\n").splitlines()
    assert json.loads(lines[-1]) == result  # the last line is the JSON, as written to --json
    assert "\n".join(lines[:-1]).strip() == format_table(result).strip()


@pytest.mark.parametrize("flag", ["--model", "--corpus"])
def test_bench_bad_paths_are_one_line_errors(tiny_model_dir, tmp_path, capsys, flag):
    argv = ["bench", "--quick", "--model", str(tiny_model_dir), flag, str(tmp_path / "missing")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_no_retrace_across_request_shapes(tiny_model_dir):
    generator = PoemGenerator.load(tiny_model_dir, warm_up=True)
    assert generator.decoder.traces == 1
    for heads, line_length, candidates, temperature, top_k, penalty in [
        ("春花秋月", 7, 8, 0.8, None, 1.5),
        ("山", 5, 1, 1.3, 5, 0.0),
        ("春江花月夜明", 7, 3, 0.3, 1, 3.0),
        ("风雨", 5, 16, 2.0, None, 1.5),
    ]:
        generator.generate(Settings(heads, line_length, candidates, temperature, top_k, seed=7, repetition_penalty=penalty))
    assert generator.decoder.traces == 1


def test_compiled_log_prob_is_the_full_models(tiny_model_dir):
    """The loop's column-major weights give the same log-probability as the full-sequence model."""
    model_dir = load_model_dir(tiny_model_dir)
    generator = PoemGenerator(model_dir)
    vocab = generator.vocab
    forced = form_template(regulated_form(7, 4), {(i, 0): vocab.id_of(ch) for i, ch in enumerate("春花秋月")}, vocab)
    bias_rows, bias_index = free_cell_bias(vocab)[None], np.zeros((4, len(forced)), np.int32)
    tokens, log_prob, *_ = generator.decoder(forced, bias_rows, bias_index, Sampling(temperature=1.0, seed=3))
    inputs = np.concatenate([np.full((4, 1), vocab.bos_id), tokens], axis=1).astype("int32")
    targets = np.concatenate([tokens, np.full((4, 1), vocab.eos_id)], axis=1)
    probs = np.asarray(model_dir.model(inputs))
    expected = np.log(np.take_along_axis(probs, targets[..., None], axis=-1)[..., 0]).sum(axis=1)
    np.testing.assert_allclose(log_prob, expected, atol=1e-3)
    floor = NumpyLSTM(model_dir.model).logits(inputs)
    floor_probs = np.exp(floor - floor.max(-1, keepdims=True))
    np.testing.assert_allclose(floor_probs / floor_probs.sum(-1, keepdims=True), probs, atol=1e-5)


def test_decoder_follows_weight_changes(tiny_model_dir):
    """After refresh_weights the decoder uses the current weights (samples during training)."""
    model_dir = load_model_dir(tiny_model_dir)
    generator = PoemGenerator(model_dir)
    settings = Settings("春花", line_length=5, num_candidates=2, seed=5)
    before = [(p.text, p.log_prob) for p in generator.generate(settings)]
    dense = model_dir.model.get_layer("next_char_dist").layer
    dense.kernel.assign(dense.kernel.numpy() * 0.5)
    assert [(p.text, p.log_prob) for p in generator.generate(settings)] == before  # a copy until refreshed
    generator.decoder.refresh_weights()
    after = [(p.text, p.log_prob) for p in generator.generate(settings)]
    assert after != before
    assert after == [(p.text, p.log_prob) for p in PoemGenerator(model_dir).generate(settings)]


def test_training_stays_eligible_for_fused_cudnn_lstm(tiny_corpus):
    """tanh/sigmoid, no recurrent dropout, not unrolled, biased, and masks right-padded: cuDNN's conditions."""
    import keras

    from poetry_lm.model.config import ModelConfig
    from poetry_lm.model.dataset import encode_poems, make_dataset
    from poetry_lm.model.network import build_model
    from poetry_lm.text.corpus import load_split
    from poetry_lm.text.vocab import Vocabulary

    lstms = [layer for layer in build_model(ModelConfig(vocab_size=50)).layers if isinstance(layer, keras.layers.LSTM)]
    assert lstms
    for layer in lstms:
        assert layer.cell.activation is keras.activations.tanh
        assert layer.cell.recurrent_activation is keras.activations.sigmoid
        assert layer.cell.recurrent_dropout == 0 and layer.cell.use_bias and not layer.unroll
        assert layer.use_cudnn in ("auto", True)
    poems = load_split(tiny_corpus, "train")
    sequences = encode_poems(poems, Vocabulary.build(poems))
    for inputs, _ in make_dataset(sequences, 64, shuffle=True):  # one length per batch: no padding at all
        assert (np.asarray(inputs) != 0).all()
    inputs, _ = next(iter(make_dataset(sequences, 64, shuffle=True, by_length=False)))
    real = np.asarray(inputs) != 0
    # The padded variant (bench): right-padded, once a row has a pad everything after it is pad.
    assert (real[:, 1:] <= real[:, :-1]).all() and real[:, 0].all() and not real.all()


def test_length_grouped_batches_train_in_a_fresh_process(tiny_corpus):
    """make_dataset alone makes its batches safe for Keras (no train/evaluate import installs the fix first)."""
    code = f"""
import keras
from poetry_lm.model.config import ModelConfig
from poetry_lm.text.corpus import load_split
from poetry_lm.model.dataset import encode_poems, make_dataset
from poetry_lm.model.network import build_model
from poetry_lm.text.vocab import Vocabulary
poems = load_split({str(tiny_corpus)!r}, "train")
vocab = Vocabulary.build(poems)
data = make_dataset(encode_poems(poems, vocab), 64, shuffle=True)
model = build_model(ModelConfig(vocab_size=len(vocab), embedding_dim=8, units=8, layers=1, dropout=0.0))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(data, epochs=1, verbose=0, shuffle=False)
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
