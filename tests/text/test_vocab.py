"""Vocabulary: ids, special tokens, JSON round trip."""

import json

import pytest

from poetry_lm.errors import PoetryError
from poetry_lm.text.vocab import BOS, EOS, PAD, SPECIAL_TOKENS, UNK, Vocabulary


def test_build_orders_by_frequency_and_respects_min_count():
    vocab = Vocabulary.build(["春春春花花月，秋。"], min_count=2)
    assert vocab.tokens[:4] == [PAD, UNK, BOS, EOS]
    assert vocab.tokens[4:6] == ["，", "。"]
    assert vocab.tokens[6:] == ["春", "花"]  # 月/秋 seen once: below min_count
    assert vocab.first_char_id == 6


def test_encode_decode_and_unknown():
    vocab = Vocabulary.build(["床前明月光，疑是地上霜。"])
    ids = vocab.encode("明月光。", add_bounds=True)
    assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id
    assert vocab.decode(ids) == "明月光。"
    assert vocab.encode("龘") == [vocab.unk_id]
    assert "明" in vocab and "龘" not in vocab


def test_json_round_trip(tmp_path):
    vocab = Vocabulary.build(["床前明月光，疑是地上霜。"])
    vocab.to_json(tmp_path / "vocab.json")
    tokens = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    assert tokens == vocab.tokens  # a plain list whose index is the id
    assert Vocabulary.from_json(tmp_path / "vocab.json").tokens == vocab.tokens


@pytest.mark.parametrize("content", ["not json", '{"a": 1}', json.dumps(["a", "b"])])
def test_bad_vocab_files(tmp_path, content):
    path = tmp_path / "vocab.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PoetryError, match="vocab.json"):
        Vocabulary.from_json(path)


def test_special_tokens_first_and_unique():
    with pytest.raises(PoetryError):
        Vocabulary([*SPECIAL_TOKENS, "a", "a"])
