"""The rules of a couplet (对联) and a check of one: end tones, 平仄 opposed at the even positions, no character
of the 上联 reused in the 下联 (except 叠字 answered by 叠字), and 对仗 position by position.

The rules that a writer can guarantee (the tone a 下联 cell wants, which cells repeat an earlier one) are
computed here from the 上联 alone; the compose layer turns them into masks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from poetry_lm.prosody.form import COMMA, EITHER, FULL_STOP, Clause, Form
from poetry_lm.prosody.meter import opposite
from poetry_lm.prosody.tones import AMBIGUOUS, PING, ZE, tone_fits, tone_of

FIRST_END, SECOND_END = ZE, PING  # 上联 ends 仄, 下联 ends 平


def even_positions(length: int) -> list[int]:
    """0-based cells of the 2nd, 4th and 6th characters (the ones whose tones must be opposed)."""
    return list(range(1, length, 2))


def wanted_tones(first: str) -> list[str | None]:
    """The tone each 下联 cell wants (None: free): opposed to the 上联's at the even positions, and 平 at the end
    (仄 when the 上联 itself ends 平, so the two ends still oppose). A 上联 character of either tone (两) or
    of no known tone leaves its cell free."""
    wanted: list[str | None] = [None] * len(first)
    for i in even_positions(len(first)):
        tone = tone_of(first[i])
        wanted[i] = opposite(tone) if tone in (PING, ZE) else None
    wanted[-1] = opposite(tone_of(first[-1])) if tone_of(first[-1]) == PING else SECOND_END
    return wanted


def couplet_form(first: str) -> Form:
    """A couplet as a Form: the 上联 (given: its tones free) then the 下联, each cell wanting `wanted_tones`."""
    n = len(first)
    wanted = "".join(tone or EITHER for tone in wanted_tones(first))
    return Form("对联", (Clause(n, COMMA, EITHER * n), Clause(n, FULL_STOP, wanted)))


def repeat_sources(first: str) -> list[int]:
    """For each position, the earlier position holding the same 上联 character (−1: none): 叠字 and repeats
    that the 下联 must answer in kind."""
    seen: dict[str, int] = {}
    sources = []
    for i, char in enumerate(first):
        sources.append(seen.get(char, -1))
        seen.setdefault(char, i)
    return sources


@functools.cache
def _posseg():
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)  # its dictionary-loading notes are not for users
    return jieba.posseg


def dictionary_tags() -> dict[str, str]:
    """word → its part of speech in jieba's dictionary (words jieba only guesses at are not in it)."""
    posseg = _posseg()
    posseg.dt.tokenizer.check_initialized()
    return posseg.dt.word_tag_tab


# jieba's tags (their first letter) grouped as 对仗 pairs words: nouns with times, places and directions (明月 and
# 清泉 are both things), descriptions with states, numbers with measures, and the function words together.
WORD_CLASS_GROUPS = {
    "n": "名", "t": "名", "s": "名", "f": "名", "j": "名", "g": "名", "v": "动", "a": "形", "z": "形", "b": "形",
    "m": "数", "q": "数", "d": "副", "r": "代", "i": "成", "l": "成",
    "p": "虚", "c": "虚", "u": "虚", "y": "虚", "e": "虚", "o": "虚", "h": "虚", "k": "虚",
}


def word_classes(line: str) -> list[str]:
    """The word class (`WORD_CLASS_GROUPS`: 名 动 形 数 副 代 成 虚, 他 for the rest) of the word each character
    belongs to, as jieba.posseg cuts and tags the line."""
    classes = []
    for pair in _posseg().lcut(line):
        classes += [WORD_CLASS_GROUPS.get(pair.flag[:1], "他")] * len(pair.word)
    return classes


@dataclass
class CoupletReport:
    """What a reader checks in a couplet."""

    first: str
    second: str
    end_tones_ok: bool  # 上联 ends 仄, 下联 ends 平 (a character of either tone fits)
    opposed: list[bool | None] = field(default_factory=list)  # per even position; None: a tone is not fixed
    reused: list[str] = field(default_factory=list)  # 上联 characters in the 下联 that are not answered 叠字
    matched_classes: list[bool] = field(default_factory=list)  # per position: the same word class (对仗)
    classes: tuple[list[str], list[str]] = ([], [])  # each line's word class per character (jieba.posseg)

    @property
    def opposition_ok(self) -> bool:
        return all(ok is not False for ok in self.opposed)

    @property
    def parallel_share(self) -> float:
        """对仗 rate: the share of positions whose word classes match."""
        return sum(self.matched_classes) / len(self.matched_classes) if self.matched_classes else 0.0


def opposed(a: str, b: str) -> bool | None:
    """Whether two characters have opposed tones (None: one of them can be either, or is unknown)."""
    tone_a, tone_b = tone_of(a), tone_of(b)
    if tone_a not in (PING, ZE) or tone_b not in (PING, ZE):
        return None
    return tone_a != tone_b


def check_couplet(first: str, second: str, parallel: bool = True) -> CoupletReport:
    """The rules and (with `parallel`) the per-position 对仗 of a couplet of two equally long lines."""
    answered = {second[i] for i, source in enumerate(repeat_sources(first))
                if source >= 0 and i < len(second) and second[i] == second[source]}
    reused = sorted({char for char in second if char in first and char not in answered})
    classes = (word_classes(first), word_classes(second)) if parallel else ([], [])
    matched = [a == b for a, b in zip(*classes, strict=True)]
    return CoupletReport(
        first, second,
        end_tones_ok=tone_fits(first[-1], FIRST_END) and tone_fits(second[-1], SECOND_END),
        opposed=[opposed(first[i], second[i]) for i in even_positions(len(first))],
        reused=reused,
        matched_classes=matched,
        classes=classes,
    )


def tone_mark(char: str) -> str:
    """平 / 仄 / 两 (either) / ？ (unknown) of one character, as the page shows it."""
    tone = tone_of(char)
    return tone if tone in (PING, ZE, AMBIGUOUS) else "？"
