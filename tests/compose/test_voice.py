"""风格强度: a fine-tuned model's voice turned up by contrast with the model it started from."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from poetry_lm.compose.generate import PoemGenerator, fine_tuned_from
from poetry_lm.compose.settings import Settings
from poetry_lm.errors import PoetryError
from poetry_lm.model.network import load_model_dir, lstm_weights


@pytest.fixture(scope="module")
def tuned_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model 'fine-tuned' by hand: its output bias lifts 山, and its config names the tiny model as its
    start (init_from), as a real fine-tuning run records it."""
    out = tmp_path_factory.mktemp("tuned") / "tuned"
    shutil.copytree(tiny_model_dir, out)
    model_dir = load_model_dir(out)
    _, _, (_, bias) = lstm_weights(model_dir.model)
    lifted = np.asarray(bias.numpy()).copy()
    lifted[model_dir.vocab.id_of("山")] += 3.0
    bias.assign(lifted)
    model_dir.model.save(out / "model.keras")
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    config["train"]["init_from"] = str(tiny_model_dir)
    (out / "config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return out


def mountain_share(generator, strength: float) -> float:
    poems = [p for seed in range(4) for p in generator.generate(
        Settings("春花秋月", 5, 8, seed=seed, style_strength=strength, placement="lines"))]
    text = "".join("".join(line[1:] for line in p.lines) for p in poems)
    return text.count("山") / len(text)


def test_a_fine_tuned_model_loads_its_base_and_strength_turns_its_voice_up(tuned_dir, tiny_model_dir):
    tuned = PoemGenerator.load(tuned_dir)
    assert tuned.base_dir is not None and tuned.base_dir.path == tiny_model_dir
    plain = PoemGenerator.load(tuned_dir, with_base=False)
    base = PoemGenerator.load(tiny_model_dir)
    assert base.base_dir is None  # not fine-tuned: no contrast, whatever the strength
    # α = 0 is the fine-tuned model alone.
    same = Settings("春花秋月", 5, 3, seed=7, style_strength=0.0, placement="lines")
    assert [p.text for p in tuned.generate(same)] == [p.text for p in plain.generate(same)]
    shares = [mountain_share(tuned, strength) for strength in (0.0, 2.0)]
    assert mountain_share(base, 0.0) < shares[0] < shares[1]  # what fine-tuning changed, amplified


def test_a_missing_base_leaves_a_working_model_without_contrast(tuned_dir, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(tuned_dir, moved)
    config = json.loads((moved / "config.json").read_text(encoding="utf-8"))
    config["train"]["init_from"] = str(tmp_path / "gone")
    (moved / "config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    assert fine_tuned_from(load_model_dir(moved)) is None
    assert PoemGenerator.load(moved).generate(Settings("春花", 5, 1, seed=1, style_strength=2.0))


def test_style_strength_is_checked(tiny_model_dir):
    with pytest.raises(PoetryError, match="风格强度须在 0 到 3"):
        PoemGenerator.load(tiny_model_dir).generate(Settings("春花", style_strength=5.0))


def test_after_fine_tuning_on_one_poet_the_voice_check_is_written_beside_the_model(tuned_dir, tmp_path):
    """voice.json: the attribution before → after and three side-by-side samples, for the sidebar."""
    from poetry_lm import jobs
    from poetry_lm.measure.voice import VOICE_FILE, voice_check
    from poetry_lm.text.corpus import write_corpus
    from tests.conftest import tiny_poems

    poems = tiny_poems(600)
    corpus = tmp_path / "corpus"
    write_corpus(poems, corpus, [("唐", "李白" if i % 2 == 0 else "杜甫", f"诗{i}") for i in range(len(poems))])
    assert voice_check(tuned_dir, corpus) is None  # fine-tuned on no one poet: nothing to check
    config = json.loads((tuned_dir / "config.json").read_text(encoding="utf-8"))
    config["train"]["poets"] = ["李白"]
    (tuned_dir / "config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    record = voice_check(tuned_dir, corpus)
    assert record["poet"] == "李白" and 0 <= record["attributed_before"] <= 1 and 0 <= record["attributed_after"] <= 1
    assert len(record["samples"]) == 3 and all(s["base"] and s["tuned"] for s in record["samples"])
    assert jobs.model_voice(tuned_dir) == record and (tuned_dir / VOICE_FILE).is_file()
    (tuned_dir / VOICE_FILE).write_text("{", encoding="utf-8")
    assert jobs.model_voice(tuned_dir) is None  # damaged: the panel shows no voice line, not an error
    from poetry_lm.measure.voice import format_voice, voice_report

    report = voice_report({"tuned": (PoemGenerator.load(tuned_dir), 1.0)}, corpus, "李白", heads=6, candidates=2,
                          realism=True)
    assert 0.0 <= report["tuned"]["discriminator_auc"] <= 1.0 and report["tuned"]["poems"] == 2 * min(6, report["held_out"]["poems"])
    assert "| tuned |" in format_voice("李白", report)
