"""The Kneser-Ney baseline against values worked out by hand on a toy corpus."""

import math

import pytest

from poetry_lm.measure.ngram import EOS_MARK, UNK_MARK, KneserNey

# Toy corpus "ab", "b" with <bos>/<eos> marks: \x02ab\x03, \x02b\x03; V = 5 (a, b, end, unknown, one more).
# Unigrams use continuation counts: a ← {bos} = 1, b ← {a, bos} = 2, end ← {b} = 1; total 4, 3 types;
# count-of-counts n1 = 2, n2 = 1, so D1 = 2 / (2 + 2) = 0.5 and P1(w) = (max(c − 0.5, 0) + 0.5·3/5) / 4.
# Bigrams keep raw counts: bos·a 1, a·b 1, b·end 2, bos·b 1; n1 = 3, n2 = 1, D2 = 3 / 5 = 0.6.
P1 = {"a": 0.2, "b": 0.45, EOS_MARK: 0.2, UNK_MARK: 0.075}
BIGRAM = {
    ("\x02", "a"): (1 - 0.6 + 0.6 * 2 * 0.2) / 2,  # 0.32
    ("a", "b"): (1 - 0.6 + 0.6 * 1 * 0.45) / 1,  # 0.67
    ("b", EOS_MARK): (2 - 0.6 + 0.6 * 1 * 0.2) / 2,  # 0.76
}


@pytest.fixture
def model():
    return KneserNey(["ab", "b"], max_order=2, vocab_size=5)


def test_unigrams_match_hand_computed_values(model):
    for token, expected in P1.items():
        assert model.prob("", token, order=2) == pytest.approx(expected)
    assert sum(P1.values()) + P1[UNK_MARK] == pytest.approx(1.0)  # the fifth, unseen token gets 1/V's share too


def test_bigrams_match_hand_computed_values(model):
    for (history, token), expected in BIGRAM.items():
        assert model.prob(history, token, order=2) == pytest.approx(expected)
    scored = model.score_poem("ab", order=2)
    assert [token for token, _ in scored] == ["a", "b", EOS_MARK]
    assert [lp for _, lp in scored] == pytest.approx([math.log(0.32), math.log(0.67), math.log(0.76)])


def test_unseen_context_backs_off_and_unknown_characters_are_scored(model):
    assert model.prob(EOS_MARK, "a", order=2) == pytest.approx(P1["a"])  # context never seen: P = P1
    scored = model.score_poem("z", order=2)
    assert scored[0] == (UNK_MARK, pytest.approx(math.log((0 + 0.6 * 2 * P1[UNK_MARK]) / 2)))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_distribution_sums_to_one(order):
    poems = ["床前明月光，疑是地上霜。", "明月几时有，把酒问青天。", "月落乌啼霜满天，江枫渔火对愁眠。"]
    model = KneserNey(poems, max_order=4, vocab_size=40)
    tokens = sorted(model.known - {"\x02"}) + [UNK_MARK]
    tokens += [chr(0x4E00 + i) for i in range(40 - len(tokens))]  # the rest of a 40-token vocabulary
    for context in ["\x02", "\x02床前", "明月", "霜满天，"]:
        assert sum(model.prob(context, t, order) for t in tokens) == pytest.approx(1.0)
