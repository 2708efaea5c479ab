"""The couplet measures: BLEU-2, the rule rates, the held-out log-probabilities and the weight chosen on valid."""

from __future__ import annotations

import json
import math

import pytest

from poetry_lm.compose.couplet import WEIGHT_FILE, CoupletWriter
from poetry_lm.measure.couplet import answer_log_probs, bleu2, calibrate_weight, held_out_couplets, rule_rates
from poetry_lm.model.network import load_model_dir


def test_bleu2_of_identical_lines_is_one_and_of_disjoint_lines_zero():
    assert bleu2(["明月松间照"], ["明月松间照"]) == pytest.approx(1.0)
    assert bleu2(["明月松间照"], ["清泉石上流"]) == 0.0


def test_bleu2_is_the_geometric_mean_of_unigram_and_bigram_precision():
    # 清泉石下流 against 清泉石上流: 4 of 5 characters, 2 of 4 bigrams (清泉, 泉石).
    assert bleu2(["清泉石下流"], ["清泉石上流"]) == pytest.approx(math.sqrt(4 / 5 * 2 / 4))


def test_rule_rates_of_real_couplets():
    rates = rule_rates([("两个黄鹂鸣翠柳", "一行白鹭上青天"), ("天涯若比邻", "海内存知己")])
    assert rates["couplets"] == 2 and rates["end_tones"] == 0.5 and rates["no_reuse"] == 1.0
    assert 0 < rates["parallel_rate"] <= 1


def test_held_out_couplets_come_from_their_split(tiny_corpus):
    pairs = held_out_couplets(tiny_corpus, "valid")
    assert pairs == held_out_couplets(tiny_corpus, "valid", None)
    assert held_out_couplets(tiny_corpus, "valid", 3, seed=1) == held_out_couplets(tiny_corpus, "valid", 3, seed=1)


@pytest.fixture(scope="module")
def writer(tiny_model_dir, tiny_couplet_dir) -> CoupletWriter:
    return CoupletWriter(load_model_dir(tiny_model_dir), load_model_dir(tiny_couplet_dir), weight=1.0)


def test_the_product_at_weight_zero_is_the_poem_model_alone(writer, tiny_corpus):
    pairs = held_out_couplets(tiny_corpus, "train", 40)
    scores = answer_log_probs(writer, pairs, weights=(0.0, 1.0))
    assert scores["product"][0.0] == pytest.approx(scores["poem_model"], abs=1e-5)
    assert scores["characters"] == sum(len(second) for _, second in pairs)
    assert all(value < 0 for value in (scores["poem_model"], scores["aligned_model"], scores["product"][1.0]))


def test_calibration_saves_the_best_weight_on_valid_beside_the_aligned_model(writer, tiny_corpus, tmp_path):
    import shutil

    copy = tmp_path / "couplet"
    shutil.copytree(writer.aligned.path, copy)
    local = CoupletWriter(writer.poem, load_model_dir(copy), weight=1.0)
    record = calibrate_weight(local, tiny_corpus, count=50)
    scores = {float(w): v for w, v in record["valid_log_prob_per_char"].items()}
    assert record["weight"] == max(scores, key=scores.get) == local.weight
    assert json.loads((copy / WEIGHT_FILE).read_text(encoding="utf-8"))["weight"] == record["weight"]


@pytest.mark.slow
def test_the_couplet_bench_compares_the_writer_with_the_classic_loop(capsys, tiny_model_dir, tiny_couplet_dir):
    from poetry_lm import cli

    assert cli.main(["bench", "--couplet", "--quick", "--model", str(tiny_model_dir),
                     "--couplet-model", str(tiny_couplet_dir)]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["candidates"] == 8 and result["writer_ms"] > 0 and result["classic_ms"] > 0
    assert result["speedup"] == pytest.approx(result["classic_ms"] / result["writer_ms"], rel=0.01)


def test_the_classic_answer_keeps_the_same_masks(writer):
    import numpy as np

    from poetry_lm.compose.couplet import CoupletSettings
    from poetry_lm.measure.bench import classic_answer

    second = classic_answer(writer, "明月松间照", CoupletSettings(first="明月松间照"), np.random.default_rng(0))
    assert len(second) == 5 and not set(second) & set("明月松间照")
