"""One set of defaults for the Python API, the CLI and the app; named styles that set the decoding knobs together."""

from __future__ import annotations

import pytest

from poetry_lm.cli import _generate_settings, build_parser
from poetry_lm.compose.settings import DEFAULT_STYLE, STYLES, Settings, check_settings, style_knobs
from poetry_lm.errors import PoetryError
from poetry_lm.prosody.options import DEFAULT_PROSODY


def cli_settings(*argv: str) -> Settings:
    return _generate_settings(build_parser().parse_args(["generate", "--heads", "春花秋月", *argv]))


def test_the_api_and_the_cli_start_from_the_same_settings():
    """Settings() rhymes and steers tones like the CLI and the app: same heads and seed, same poems."""
    api = Settings("春花秋月")
    assert api.prosody == DEFAULT_PROSODY and api.prosody.rhyme
    assert cli_settings() == api
    assert (api.temperature, api.specificity) == tuple(style_knobs(DEFAULT_STYLE).values())


def test_a_style_sets_temperature_and_specificity_and_flags_override_it():
    for name, style in STYLES.items():
        chosen = cli_settings("--style", name)
        assert (chosen.temperature, chosen.specificity) == (style.temperature, style.specificity)
    adventurous = cli_settings("--style", "奇崛", "--temperature", "0.7")
    assert (adventurous.temperature, adventurous.specificity) == (0.7, STYLES["奇崛"].specificity)
    assert cli_settings("--specificity", "0").specificity == 0.0
    temperatures = [STYLES[name].temperature for name in STYLES]
    assert temperatures == sorted(temperatures)  # 稳妥 → 奇崛: ever more adventurous


def test_unknown_style_and_out_of_range_specificity_are_refused():
    with pytest.raises(PoetryError, match="未知风格 '浪漫'"):
        style_knobs("浪漫")
    with pytest.raises(PoetryError, match="用字新颖度须在 0 到 2 之间，收到 -0.5"):
        check_settings(Settings("春", specificity=-0.5))
