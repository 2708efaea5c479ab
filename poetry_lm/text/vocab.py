"""Character vocabulary: id ↔ character, with pad/unknown/begin/end tokens; stored as vocab.json."""

from __future__ import annotations

import collections
import functools
import json
from collections.abc import Iterable
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.files import read_json_file, write_atomic
from poetry_lm.text.charforms import standard_forms

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)  # ids 0..3; pad must be 0 (Embedding mask_zero)
PUNCTUATION = ("，", "。")


class Vocabulary:
    """A list of tokens whose index is the id; `vocab.json` is exactly that list."""

    def __init__(self, tokens: Iterable[str]):
        self.tokens = list(tokens)
        if tuple(self.tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise PoetryError(f"词表的前四个符号必须是 {SPECIAL_TOKENS}")
        if len(set(self.tokens)) != len(self.tokens):
            raise PoetryError("词表中有重复的符号")
        # Every other token is one character: the decoder writes one per cell, and a longer token
        # (markup, a whole phrase) would reach the page as text nobody checked.
        longer = [token for token in self.tokens[len(SPECIAL_TOKENS):] if len(token) != 1]
        if longer:
            raise PoetryError(f"词表中的符号须是单个字符，发现 {len(longer)} 个不是：{longer[0][:20]!r}")
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = range(len(SPECIAL_TOKENS))

    @classmethod
    def build(cls, poems: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Characters seen at least `min_count` times, most frequent first (ties by code point)."""
        counts = collections.Counter(ch for poem in poems for ch in poem)
        for mark in PUNCTUATION:
            counts.pop(mark, None)
        chars = sorted((ch for ch, n in counts.items() if n >= min_count), key=lambda ch: (-counts[ch], ch))
        return cls([*SPECIAL_TOKENS, *PUNCTUATION, *chars])

    def extended(self, other: Vocabulary) -> Vocabulary:
        """This vocabulary with `other`'s tokens that it lacks appended: existing ids never move."""
        return Vocabulary([*self.tokens, *(token for token in other.tokens if token not in self.index)])

    def standardised(self) -> Vocabulary:
        """This vocabulary in standard character forms: a variant token is dropped when its standard
        form is a token too, and renamed to it otherwise (劒 goes beside 剑; a lone 鴈 becomes 雁)."""
        tokens = [standard_forms(token) for token in self.tokens]
        return Vocabulary(dict.fromkeys(token for token, original in zip(tokens, self.tokens, strict=True)
                                        if token == original or token not in self.index))

    def source_index(self, token: str) -> int:
        """The id whose trained weights `token` starts from in a warm start: its own, else its
        variant's when this vocabulary holds only the variant form; -1 when neither."""
        return self.index.get(token, self._variant_index.get(token, -1))

    @functools.cached_property
    def _variant_index(self) -> dict[str, int]:
        """standard form → id of its first variant token."""
        index: dict[str, int] = {}
        for i, token in enumerate(self.tokens):
            index.setdefault(standard_forms(token), i)
        return index

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, char: str) -> bool:
        return char in self.index

    def id_of(self, char: str) -> int:
        return self.index.get(char, self.unk_id)

    def encode(self, text: str, add_bounds: bool = False) -> list[int]:
        """Ids of the characters of `text`; unknown characters map to <unk>."""
        ids = [self.id_of(ch) for ch in text]
        return [self.bos_id, *ids, self.eos_id] if add_bounds else ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of the ids, special tokens dropped."""
        return "".join(self.tokens[i] for i in ids if i >= len(SPECIAL_TOKENS))

    @property
    def punctuation_ids(self) -> list[int]:
        return [self.index[mark] for mark in PUNCTUATION]

    @property
    def first_char_id(self) -> int:
        """Ids from here on are characters (special tokens and punctuation come first)."""
        return len(SPECIAL_TOKENS) + len(PUNCTUATION)

    def to_json(self, path: Path) -> None:
        write_atomic(Path(path), json.dumps(self.tokens, ensure_ascii=False))

    @classmethod
    def from_json(cls, path: Path) -> Vocabulary:
        tokens = read_json_file(path, "词表文件")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise PoetryError(f"词表文件格式不对（应为字符串列表）：{path}")
        try:
            return cls(tokens)
        except PoetryError as err:
            raise PoetryError(f"{path}：{err}") from None
