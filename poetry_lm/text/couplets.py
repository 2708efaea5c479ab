"""Couplets (对联) from the corpus: the parallel middle couplets of 律诗, and the non-parallel outer ones.

The 颔联 and 颈联 of a 律诗 (lines 3–4 and 5–6) are written in 对仗, so every 律诗 of the corpus gives two
parallel 上联/下联 pairs; its 首联 and 尾联 are not parallel and serve as the negatives a 对仗 measure needs.
A couplet keeps its poem's split, so test couplets come from test poems.
"""

from __future__ import annotations

import re

from poetry_lm.errors import PoetryError
from poetry_lm.text.corpus import LINE_LENGTHS, is_han, split_lines

PARALLEL_PAIRS = ((2, 3), (4, 5))  # 颔联, 颈联 (0-based line numbers of an eight-line poem)
EDGE_PAIRS = ((0, 1), (6, 7))  # 首联, 尾联: not parallel
REGULATED_LINES = 8
COUPLET_LENGTHS = LINE_LENGTHS  # 5 and 7: the lengths the data has
_PARTS_RE = re.compile(r"[\s，。,.！？!?；;、]+")


def _pairs(poems: list[str], positions: tuple[tuple[int, int], ...]) -> list[tuple[str, str]]:
    pairs = []
    for poem in poems:
        lines = split_lines(poem)
        if len(lines) == REGULATED_LINES:
            pairs += [(lines[first], lines[second]) for first, second in positions]
    return pairs


def parallel_couplets(poems: list[str]) -> list[tuple[str, str]]:
    """(上联, 下联) of the 颔联 and 颈联 of every eight-line poem, in corpus order."""
    return _pairs(poems, PARALLEL_PAIRS)


def edge_couplets(poems: list[str]) -> list[tuple[str, str]]:
    """(first line, second line) of the 首联 and 尾联 of every eight-line poem: couplets not in 对仗."""
    return _pairs(poems, EDGE_PAIRS)


def couplet_text(first: str, second: str) -> str:
    """上联，下联。 as the language model reads two lines of a poem."""
    return f"{first}，{second}。"


def check_first_line(text: str) -> str:
    """A 上联 as typed, without spaces or punctuation around it; PoetryError with a readable reason otherwise."""
    line = "".join(text.split()).strip("，。,.！？!?；;、")
    if not line:
        raise PoetryError("请输入上联")
    not_han = sorted({char for char in line if not is_han(char)})
    if not_han:
        raise PoetryError(f"上联只能是汉字，不能有：{' '.join(not_han[:5])}")
    if len(line) not in COUPLET_LENGTHS:
        raise PoetryError(
            f"上联有 {len(line)} 个字；本工具只写五言和七言的对联（训练数据只有这两种长度）"
        )
    return line


def split_couplet(text: str) -> tuple[str, str]:
    """(上联, 下联) from a pasted couplet: two lines of Han characters split by punctuation or a line break."""
    parts = [part for part in _PARTS_RE.split(text.strip()) if part]
    if len(parts) != 2:
        raise PoetryError(f"对联应有两句（上联、下联），这里有 {len(parts)} 句")
    first, second = parts
    not_han = sorted({char for char in first + second if not is_han(char)})
    if not_han:
        raise PoetryError(f"对联只能是汉字，不能有：{' '.join(not_han[:5])}")
    if len(first) != len(second):
        raise PoetryError(f"上联 {len(first)} 字、下联 {len(second)} 字：对联两句须一样长")
    return first, second
