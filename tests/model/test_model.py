"""Model shapes, atomic save, safe-mode load, and the decoder step matching the full model."""

import os
import stat
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from poetry_lm.compose.decode import Decoder
from poetry_lm.errors import PoetryError
from poetry_lm.model.config import ModelConfig
from poetry_lm.model.keras_compat import patch_time_distributed
from poetry_lm.model.network import build_model, load_keras_file, load_model_dir, save_model_atomic
from poetry_lm.text.vocab import Vocabulary

CONFIG = ModelConfig(vocab_size=50, embedding_dim=8, units=16, layers=3, dropout=0.1)


def test_architecture_and_shapes():
    model = build_model(CONFIG)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Embedding", "LSTM", "Dropout", "LSTM", "Dropout", "LSTM", "Dropout", "TimeDistributed"]
    assert all(layer.return_sequences and layer.recurrent_dropout == 0 for layer in model.layers if isinstance(layer, keras.layers.LSTM))
    probs = model(np.ones((3, 11), dtype="int32"))
    assert probs.shape == (3, 11, 50)
    np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, rtol=1e-5)


def test_atomic_save_and_plain_safe_load(tmp_path):
    model = build_model(CONFIG)
    path = tmp_path / "model.keras"
    save_model_atomic(model, path)
    assert zipfile.is_zipfile(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no temp files left behind
    loaded = keras.models.load_model(path, safe_mode=True)
    tokens = np.arange(1, 13, dtype="int32").reshape(2, 6)
    np.testing.assert_allclose(np.asarray(loaded(tokens)), np.asarray(model(tokens)), rtol=1e-6)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_saved_model_follows_the_umask(tmp_path, umask, mode):
    """A saved model is as readable as any file the user creates (mkstemp alone would give 0600)."""
    previous = os.umask(umask)
    try:
        save_model_atomic(build_model(CONFIG), tmp_path / "model.keras")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "model.keras").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == mode


def test_time_distributed_fix_matches_static_steps():
    """Length-grouped batches give TimeDistributed a dynamic time axis; with keras_compat it is the static result."""
    patch_time_distributed()
    model = build_model(CONFIG)
    tokens = np.arange(1, 37, dtype="int32").reshape(3, 12)
    run_dynamic = tf.function(model.__call__, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    np.testing.assert_allclose(np.asarray(run_dynamic(tokens)), np.asarray(model(tokens)), rtol=1e-5, atol=1e-7)


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    model = build_model(CONFIG)
    path = tmp_path / "model.keras"
    save_model_atomic(model, path)
    before = path.read_bytes()

    def broken_save(self, filepath, *args, **kwargs):
        open(filepath, "wb").write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError):
        save_model_atomic(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_corrupt_file_is_reported_with_its_name(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(PoetryError, match="model.keras"):
        load_keras_file(path)


def test_model_dir_round_trip(tiny_model_dir):
    model_dir = load_model_dir(tiny_model_dir)
    assert model_dir.model.output_shape[-1] == len(model_dir.vocab) == model_dir.info.model.vocab_size
    for name in ("model.keras", "vocab.json", "config.json", "history.csv", "metrics.json"):
        assert (tiny_model_dir / name).is_file()


def test_decoder_step_reproduces_full_model(tiny_model_dir):
    model_dir = load_model_dir(tiny_model_dir)
    vocab: Vocabulary = model_dir.vocab
    decoder = Decoder(model_dir.model, vocab)
    ids = vocab.encode("床前明月光，疑是地上霜。", add_bounds=True)[:-1]
    full = np.asarray(model_dir.model(np.asarray([ids], dtype="int32")))[0]
    states = decoder.initial_states(1)
    for t, token in enumerate(ids):
        logits, states = decoder.step(np.asarray([token], dtype="int32"), states)
        np.testing.assert_allclose(keras.ops.softmax(logits)[0], full[t], atol=1e-5)
