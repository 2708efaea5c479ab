"""The aligned couplet model: a bidirectional LSTM over the 上联 with a softmax per 下联 position, trained with the
same trainer, files and checks as the poem model."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from poetry_lm.compose.generate import PoemGenerator
from poetry_lm.errors import PoetryError
from poetry_lm.model.config import ModelConfig
from poetry_lm.model.dataset import encode_couplets, make_dataset
from poetry_lm.model.network import build_model, load_model_dir, save_model_atomic
from poetry_lm.text.vocab import Vocabulary


def test_the_couplet_network_is_bidirectional_and_answers_every_position(tmp_path):
    model = build_model(ModelConfig(vocab_size=50, embedding_dim=8, units=6, layers=2, kind="couplet"))
    assert [type(layer).__name__ for layer in model.layers].count("Bidirectional") == 2
    assert model.predict_on_batch(np.ones((3, 7), np.int32)).shape == (3, 7, 50)
    save_model_atomic(model, tmp_path / "m.keras")
    assert keras.models.load_model(tmp_path / "m.keras", safe_mode=True).output_shape == (None, None, 50)


def test_couplet_batches_read_the_first_line_and_predict_the_second():
    vocab = Vocabulary.build(["明月松间照，清泉石上流。"])
    batches = list(make_dataset(encode_couplets([("明月松间照", "清泉石上流")], vocab), 4, shuffle=False, aligned=True))
    inputs, targets = (np.asarray(part) for part in batches[0])
    assert vocab.decode(inputs[0]) == "明月松间照" and vocab.decode(targets[0]) == "清泉石上流"


def test_a_couplet_run_trains_on_the_middle_couplets_and_keeps_the_poem_models_vocabulary(
        tiny_couplet_dir, tiny_model_dir):
    aligned, poem = load_model_dir(tiny_couplet_dir), load_model_dir(tiny_model_dir)
    assert aligned.info.model.kind == "couplet" and aligned.vocab.tokens[: len(poem.vocab)] == poem.vocab.tokens
    # The embedding starts from the poem model's (one epoch moves it only a little).
    start = keras.ops.convert_to_numpy(poem.model.get_layer("embedding").embeddings)
    now = keras.ops.convert_to_numpy(aligned.model.get_layer("embedding").embeddings)[: len(start)]
    assert np.corrcoef(start.ravel(), now.ravel())[0, 1] > 0.9
    metrics = json.loads((tiny_couplet_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["test"]["couplets"] > 0 and metrics["test"]["perplexity_per_han"] > 1
    assert "base_test" not in metrics  # the poem model is no baseline for another task
    samples = [json.loads(line) for line in (tiny_couplet_dir / "train_log.jsonl").read_text().splitlines()
               if '"samples"' in line]
    first, second = samples[-1]["poems"][0].rstrip("。").split("，")
    assert first == "明月松间照" and len(second) == 5


def test_a_couplet_model_is_refused_where_a_poem_model_is_needed(tiny_couplet_dir):
    with pytest.raises(PoetryError, match="对联模型"):
        PoemGenerator(load_model_dir(tiny_couplet_dir))


def test_a_couplet_config_with_a_poem_archive_is_refused(tiny_couplet_dir, tiny_model_dir, tmp_path):
    """config.json says couplet but the archive holds the poem network: the folder does not load."""
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_couplet_dir, broken)
    info = json.loads((broken / "config.json").read_text(encoding="utf-8"))
    poem_info = json.loads((tiny_model_dir / "config.json").read_text(encoding="utf-8"))
    shutil.copy(tiny_model_dir / "model.keras", broken / "model.keras")
    shutil.copy(tiny_model_dir / "vocab.json", broken / "vocab.json")
    info["model"] = {**poem_info["model"], "kind": "couplet"}
    (broken / "config.json").write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(PoetryError, match="双向"):
        load_model_dir(broken)


def test_an_unknown_kind_in_config_is_a_clear_error(tiny_couplet_dir, tmp_path):
    import shutil

    odd = tmp_path / "odd"
    shutil.copytree(tiny_couplet_dir, odd)
    info = json.loads((odd / "config.json").read_text(encoding="utf-8"))
    info["model"]["kind"] = "haiku"
    (odd / "config.json").write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(PoetryError, match="kind"):
        load_model_dir(odd)
