"""What a user asks for, checked without TensorFlow: a bad request is refused in milliseconds.

`Settings` (heads, form, sampling, prosody), `normalise_heads` and `check_settings`; the CLI calls
them before the model is loaded, and `PoemGenerator.generate` calls them again for every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from poetry_lm import prosody
from poetry_lm.corpus import LINE_LENGTHS, is_han, shown_char, to_simplified
from poetry_lm.errors import PoetryError

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"
MAX_HEADS = 16
MAX_CANDIDATES = 64
TEMPERATURE_RANGE = (0.05, 5.0)
MAX_SEED = 2**62


@dataclass(frozen=True)
class Settings:
    """What to write. Validated by `check_settings`; the heads must already be normalised."""

    heads: str
    line_length: int = 7
    num_candidates: int = 5
    temperature: float = 0.8
    top_k: int | None = None
    seed: int | None = None
    repetition_penalty: float = 1.5  # subtracted from a character's score per earlier use in the poem
    prosody: prosody.ProsodyOptions = field(default_factory=prosody.ProsodyOptions)


def normalise_heads(raw: str) -> str:
    """Whitespace removed, traditional → simplified; raises PoetryError for anything but 1-16 Han characters."""
    if raw is None:
        raise PoetryError("请输入藏头字")
    heads = "".join(str(raw).split())
    if not heads:
        raise PoetryError("请输入藏头字（1 到 16 个汉字）")
    if len(heads) > MAX_HEADS:
        raise PoetryError(f"藏头字最多 {MAX_HEADS} 个，现在有 {len(heads)} 个字符")
    bad = [ch for ch in heads if not is_han(ch)]
    if bad:
        shown = "、".join(dict.fromkeys(shown_char(ch) for ch in bad))
        raise PoetryError(f"藏头字只能是汉字，请去掉：{shown}")
    return to_simplified(heads)


def check_settings(settings: Settings, vocab_size: int | None = None) -> None:
    """Raise PoetryError with a precise message for any out-of-range setting.

    Without `vocab_size` (before a model is loaded) top-k is only checked to be positive.
    """
    low, high = TEMPERATURE_RANGE
    if settings.line_length not in LINE_LENGTHS:
        raise PoetryError(f"每句字数只能是 5（五言）或 7（七言），收到 {settings.line_length}")
    if not 1 <= settings.num_candidates <= MAX_CANDIDATES:
        raise PoetryError(f"候选数量须在 1 到 {MAX_CANDIDATES} 之间，收到 {settings.num_candidates}")
    if not (low <= settings.temperature <= high):
        raise PoetryError(f"温度须在 {low} 到 {high} 之间，收到 {settings.temperature}")
    if settings.top_k is not None and not 1 <= settings.top_k <= (vocab_size or settings.top_k):
        raise PoetryError(f"top-k 须在 1 到词表大小 {vocab_size} 之间，收到 {settings.top_k}")
    if settings.seed is not None and not 0 <= settings.seed < MAX_SEED:
        raise PoetryError(f"随机种子须是 0 到 {MAX_SEED - 1} 之间的整数，收到 {settings.seed}")
    if not 0 <= settings.repetition_penalty <= 10:
        raise PoetryError(f"重复惩罚须在 0 到 10 之间，收到 {settings.repetition_penalty}")
    prosody.check_options(settings.prosody)
