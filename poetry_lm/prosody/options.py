"""Rhyme and tone options for writing a poem, and their check: what the constraint rows and the analyser read.

Checked without TensorFlow, like every setting (`compose.settings` holds the rest).
"""

from __future__ import annotations

from dataclasses import dataclass

from poetry_lm.errors import PoetryError
from poetry_lm.prosody.rhyme import DEFAULT_SYSTEM, SYSTEMS, group_names

TONE_MODES = ("off", "soft", "strict")
RHYME_SCHEMES = ("even", "first_and_even")


@dataclass(frozen=True)
class ProsodyOptions:
    """Rhyme and tone controls for generation. The dataclass's own defaults are off (plain
    sampling, for the Python API); what the CLI and the app start with is `DEFAULT_PROSODY`."""

    rhyme: bool = False
    rhyme_scheme: str = "even"  # or first_and_even (首句入韵)
    rhyme_group: str | None = None  # a group of `rhyme_system` (rhyme.group_names); None: chosen per candidate
    tones: str = "off"  # off, soft (wrong tones discouraged) or strict (banned)
    rhyme_system: str = DEFAULT_SYSTEM  # both (平水韵 and 中华新韵 at once), pingshui or xinyun

    @property
    def active(self) -> bool:
        return self.rhyme or self.tones != "off"


# What a poem gets unless the user says otherwise: rhymed in both systems, tones gently steered.
DEFAULT_PROSODY = ProsodyOptions(rhyme=True, tones="soft")


def check_prosody(options: ProsodyOptions) -> None:
    """Raise PoetryError naming the allowed values of a bad tone mode, rhyme scheme or group."""
    if options.tones not in TONE_MODES:
        raise PoetryError(f"平仄模式只能是 {'/'.join(TONE_MODES)}，收到 {options.tones!r}")
    if options.rhyme_scheme not in RHYME_SCHEMES:
        raise PoetryError(f"押韵方式只能是 {'/'.join(RHYME_SCHEMES)}，收到 {options.rhyme_scheme!r}")
    if options.rhyme_system not in SYSTEMS:
        raise PoetryError(f"韵书只能是 {'/'.join(SYSTEMS)}，收到 {options.rhyme_system!r}")
    names = group_names(options.rhyme_system)
    if options.rhyme_system == "both":  # a 平水韵 group alone: its 新韵 partner is chosen per candidate
        names = [*names, *group_names("pingshui")]
    if options.rhyme_group is not None and options.rhyme_group not in names:
        raise PoetryError(f"未知韵部 {options.rhyme_group!r}（{SYSTEMS[options.rhyme_system]}），可选：{'、'.join(names)}")
