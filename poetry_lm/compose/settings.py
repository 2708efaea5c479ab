"""What a user asks for, checked without TensorFlow: a bad request is refused in milliseconds.

`Settings` (heads, form, sampling, prosody), their defaults and limits, `normalise_heads` and
`check_settings`: the one place each setting is defined and checked. The CLI and the app take
their defaults from here; the CLI checks before the model is loaded, and
`PoemGenerator.generate` checks again for every request.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from poetry_lm.compose.occasion import occasion_named
from poetry_lm.compose.template import MAX_LINES, check_placement, check_position, parse_template
from poetry_lm.errors import PoetryError, quoted
from poetry_lm.model.config import SHAPE_LIMITS
from poetry_lm.prosody.cipu import ci_form
from poetry_lm.prosody.form import Form
from poetry_lm.prosody.options import DEFAULT_PROSODY, ProsodyOptions, check_prosody
from poetry_lm.text.corpus import LINE_LENGTHS, is_han, shown_char, to_simplified

MAX_HEADS = MAX_LINES  # one line per hidden character
MAX_CANDIDATES = 64
TEMPERATURE_RANGE = (0.05, 5.0)
MAX_SEED = 2**62
MAX_REPETITION_PENALTY = 10.0
DEFAULT_REPETITION_PENALTY = 1.5  # subtracted from a character's score per earlier use in the poem
DEFAULT_SEARCH, MAX_SEARCH = 4, 16  # samples drawn per candidate, the best kept (README: composition)
# 风格强度 α of a fine-tuned model: tuned + α (tuned − base); 0, the default, is the fine-tuned model alone: already
# heard as the poet (README: a poet's voice), and turning it up makes the poems easier to tell from the poet's own.
DEFAULT_STYLE_STRENGTH, MAX_STYLE_STRENGTH = 0.0, 3.0
DEFAULT_THEME_STRENGTH, MAX_THEME_STRENGTH = 4.5, 6.0  # nats added to a theme character's score (README: themes)
RANKINGS = ("score", "total", "free")
MAX_ALTERNATIVES = SHAPE_LIMITS["vocab_size"]  # characters listed for one cell: at most every character a model can have
MAX_SPECIFICITY = 2.0  # weight of −log unigram probability in the search score (README: realism)


@dataclass(frozen=True)
class Style:
    """A named set of decoding knobs: how adventurous the wording is, in one choice."""

    temperature: float
    specificity: float
    description: str


# Chosen on the valid split's heads (scripts/measure_realism_ideas.py, README: realism); 清新 is the default.
STYLES = {
    "稳妥": Style(0.8, 0.3, "用字常见稳妥，句子最顺，也最像熟语"),
    "清新": Style(0.9, 0.7, "通顺之外多用具体、少见的字词，读来最像唐人（默认）"),
    "奇崛": Style(1.0, 1.0, "用字奇险多变，意象跳跃，也更容易不通"),
}
DEFAULT_STYLE = "清新"
DEFAULT_TEMPERATURE = STYLES[DEFAULT_STYLE].temperature
DEFAULT_SPECIFICITY = STYLES[DEFAULT_STYLE].specificity


@dataclass(frozen=True)
class Sampling:
    """How the decoder draws each free character."""

    temperature: float = DEFAULT_TEMPERATURE
    top_k: int | None = None  # None: every character may be drawn
    repetition_penalty: float = DEFAULT_REPETITION_PENALTY
    seed: int = 0
    search: int = 1  # rows per candidate; the decoder keeps the best at each forced cell
    specificity: float = 0.0  # the search score's bonus per nat of a character's rarity
    style_strength: float = 0.0  # a fine-tuned model's voice turned up: tuned + α (tuned − base) (ContrastDecoder)


@dataclass(frozen=True)
class Settings:
    """What to write. Validated by `check_settings`.

    `heads` are the hidden characters, one line each, at `position` (head: 藏头; tail, a number,
    rising or falling: see template.POSITIONS). A `template` instead fixes any cells (locked
    lines) and makes heads and position unused. `search` draws that many samples per candidate
    and keeps the best-scoring one; `theme` steers free cells toward its characters.
    """

    heads: str
    line_length: int = 7
    num_candidates: int = 5
    temperature: float = DEFAULT_TEMPERATURE
    top_k: int | None = None  # None: no top-k
    seed: int | None = None  # None: a fresh random seed per request
    repetition_penalty: float = DEFAULT_REPETITION_PENALTY
    prosody: ProsodyOptions = DEFAULT_PROSODY  # the CLI's and the app's defaults too: one set for all three
    position: str = "head"
    template: str | None = None
    search: int = DEFAULT_SEARCH
    theme: str | None = None
    theme_strength: float = DEFAULT_THEME_STRENGTH
    occasion: str | None = None  # compose.occasion: 祝福, 生日, 婚庆 … (None or 无: none)
    theme_by_words: bool = True  # a named theme (边塞 …) lifts its words; False: its characters, as before (measures)
    placement: str = "whole"  # which lines hide the characters (template.PLACEMENTS): a name gives a whole 绝句
    avoid_stock_words: bool = True  # in a whole poem, a hidden character is not glued into a stock word (伟人)
    style_strength: float = DEFAULT_STYLE_STRENGTH  # 风格强度: a fine-tuned model's voice, turned up (no effect otherwise)
    specificity: float = DEFAULT_SPECIFICITY
    # score: the search score (log-probability, specificity bonus, repeats paid); total: the whole poem's
    # log-probability; free: its mean over the characters the model wrote
    ranking: str = "score"
    tune: str | None = None  # a 词牌 (浣溪沙, 望江南（单调）): write a 词 of its 谱; None: a 诗 of `line_length`

    def sampling(self, seed: int, repeat_weight: float = 1.0) -> Sampling:
        """The sampling part, with the seed this request uses; `repeat_weight` is the form's (`Form.repeat_weight`)."""
        return Sampling(self.temperature, self.top_k, self.repetition_penalty * repeat_weight, seed, self.search,
                        self.specificity, self.style_strength)


def style_knobs(name: str) -> dict:
    """The Settings fields a style sets: {"temperature": …, "specificity": …}."""
    if name not in STYLES:
        raise PoetryError(f"未知风格 {name!r}，可选：{'、'.join(STYLES)}")
    return {"temperature": STYLES[name].temperature, "specificity": STYLES[name].specificity}


def normalise_heads(raw: str) -> str:
    """Whitespace removed, traditional → simplified; raises PoetryError for anything but 1 to MAX_HEADS Han characters."""
    if raw is None:
        raise PoetryError("请输入藏头字")
    heads = "".join(str(raw).split())
    if not heads:
        raise PoetryError(f"请输入藏头字（1 到 {MAX_HEADS} 个汉字）")
    if len(heads) > MAX_HEADS:
        raise PoetryError(f"藏头字最多 {MAX_HEADS} 个，现在有 {len(heads)} 个字符")
    bad = [ch for ch in heads if not is_han(ch)]
    if bad:
        shown = "、".join(dict.fromkeys(shown_char(ch) for ch in bad))
        raise PoetryError(f"藏头字只能是汉字，请去掉：{shown}")
    return to_simplified(heads)


# What each setting is called in messages, by the kind of value it must be.
WHOLE_NUMBERS = {"line_length": "每句字数", "num_candidates": "候选数量", "search": "每首候选的抽样次数",
                 "top_k": "top-k", "seed": "随机种子"}
NUMBERS = {"temperature": "温度", "theme_strength": "主题强度", "style_strength": "风格强度", "specificity": "用字新颖度", "repetition_penalty": "重复惩罚"}
OPTIONAL = ("top_k", "seed", "template", "theme", "occasion", "tune")


def check_types(settings: Settings) -> None:
    """PoetryError for a setting of the wrong kind (a float count, a string temperature, no prosody), which the
    Python API lets through; the range checks after this can then compare safely."""
    for name, label in WHOLE_NUMBERS.items():
        value = getattr(settings, name)
        if not (value is None and name in OPTIONAL) and (not isinstance(value, numbers.Integral) or isinstance(value, bool)):
            raise PoetryError(f"{label}须是整数，收到 {quoted(repr(value))}")
    for name, label in NUMBERS.items():
        value = getattr(settings, name)
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
            raise PoetryError(f"{label}须是有限的数，收到 {quoted(repr(value))}")
    for name in ("heads", "ranking", "template", "theme", "occasion", "placement", "tune"):
        value = getattr(settings, name)
        if not (value is None and name in OPTIONAL) and not isinstance(value, str):
            raise PoetryError(f"{name} 须是文字，收到 {quoted(repr(value))}")
    if not isinstance(settings.prosody, ProsodyOptions):
        raise PoetryError(f"prosody 须是 ProsodyOptions，收到 {quoted(repr(settings.prosody))}")
    if not isinstance(settings.prosody.rhyme, bool):
        raise PoetryError(f"押韵开关须是 True 或 False，收到 {quoted(repr(settings.prosody.rhyme))}")


def check_alternatives_request(lines: list[str], line: int, position: int, top: int) -> None:
    """PoetryError unless (line, position) (0-based) is a cell of `lines` and `top` is 1 to MAX_ALTERNATIVES."""
    if not isinstance(top, numbers.Integral) or isinstance(top, bool) or not 1 <= top <= MAX_ALTERNATIVES:
        raise PoetryError(f"候选字数须在 1 到 {MAX_ALTERNATIVES:,}（词表的上限）之间，收到 {quoted(repr(top))}")
    for value in (line, position):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise PoetryError(f"句号和字号须是整数，收到 {quoted(repr(value))}")
    if not 0 <= line < len(lines) or not 0 <= position < len(lines[line]):
        raise PoetryError(f"没有第 {line + 1} 句第 {position + 1} 字")


def request_form(settings: Settings) -> Form | None:
    """The 词's Form when the request names a tune (PoetryError for an unknown one); None for a 诗."""
    return None if settings.tune is None else ci_form(settings.tune)


def check_settings(settings: Settings, vocab_size: int | None = None) -> None:
    """Raise PoetryError with a precise message for any out-of-range setting.

    Without `vocab_size` (before a model is loaded) top-k is only checked to be positive.
    """
    check_types(settings)
    low, high = TEMPERATURE_RANGE
    if settings.tune is None and settings.line_length not in LINE_LENGTHS:
        raise PoetryError(f"每句字数只能是 5（五言）或 7（七言），收到 {settings.line_length}")
    if not 1 <= settings.num_candidates <= MAX_CANDIDATES:
        raise PoetryError(f"候选数量须在 1 到 {MAX_CANDIDATES} 之间，收到 {settings.num_candidates}")
    if not (low <= settings.temperature <= high):
        raise PoetryError(f"温度须在 {low} 到 {high} 之间，收到 {settings.temperature}")
    if settings.top_k is not None and not 1 <= settings.top_k <= (vocab_size or settings.top_k):
        raise PoetryError(f"top-k 须在 1 到词表大小 {vocab_size} 之间，收到 {settings.top_k}")
    if settings.seed is not None and not 0 <= settings.seed < MAX_SEED:
        raise PoetryError(f"随机种子须是 0 到 {MAX_SEED - 1} 之间的整数，收到 {settings.seed}")
    if not 1 <= settings.search <= MAX_SEARCH:
        raise PoetryError(f"每首候选的抽样次数须在 1 到 {MAX_SEARCH} 之间，收到 {settings.search}")
    occasion_named(settings.occasion)
    if not 0 <= settings.style_strength <= MAX_STYLE_STRENGTH:
        raise PoetryError(f"风格强度须在 0 到 {MAX_STYLE_STRENGTH:g} 之间，收到 {settings.style_strength}")
    if not 0 <= settings.theme_strength <= MAX_THEME_STRENGTH:
        raise PoetryError(f"主题强度须在 0 到 {MAX_THEME_STRENGTH:g} 之间，收到 {settings.theme_strength}")
    if not 0 <= settings.specificity <= MAX_SPECIFICITY:
        raise PoetryError(f"用字新颖度须在 0 到 {MAX_SPECIFICITY:g} 之间，收到 {settings.specificity}")
    if settings.ranking not in RANKINGS:
        raise PoetryError(f"排序方式只能是 {'/'.join(RANKINGS)}，收到 {settings.ranking!r}")
    form = request_form(settings)
    template = None if settings.template is None else parse_template(settings.template, form)
    line_length = settings.line_length if template is None else template.line_length
    check_placement(settings.placement, form)
    if settings.template is None or settings.heads:
        check_position(settings.position, len(settings.heads), line_length, settings.placement, form)
    if not 0 <= settings.repetition_penalty <= MAX_REPETITION_PENALTY:
        raise PoetryError(f"重复惩罚须在 0 到 {MAX_REPETITION_PENALTY:g} 之间，收到 {settings.repetition_penalty}")
    check_prosody(settings.prosody)
