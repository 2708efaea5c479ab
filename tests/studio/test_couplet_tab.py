"""The 对联 tab and the analyser's couplet check, through streamlit.testing.v1.AppTest on the bundled models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from poetry_lm import jobs
from poetry_lm.prosody.tones import tone_fits
from tests.conftest import REPO
from tests.studio.test_app import APP, TIMEOUT, open_tab

COUPLET_LINE = re.compile(r"<div>(上联|下联)：(.*?)</div>")


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    """The bundled poem and couplet models, linked (only read) into a tmp models dir."""
    models = tmp_path / "models"
    models.mkdir()
    for name in ("default", "couplet"):
        (models / name).symlink_to(REPO / "models" / name)
    monkeypatch.setenv(jobs.MODELS_ENV, str(models))
    return models


def couplet_tab() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    return open_tab(at, "对联")


def shown_couplets(at: AppTest) -> list[tuple[str, str]]:
    pairs = []
    for block in (md.value for md in at.markdown if 'class="couplet"' in md.value):
        lines = dict((label, re.sub(r"<[^>]+>", "", text)) for label, text in COUPLET_LINE.findall(block))
        pairs.append((lines["上联"], lines["下联"]))
    return pairs


def test_the_couplet_tab_answers_a_first_line(models):
    at = couplet_tab()
    assert at.radio(key="couplet_mode").value == "answer" and not at.exception
    at.text_input(key="couplet_first").input("海内存知己")
    at.button(key="couplet_go").click().run()
    pairs = shown_couplets(at)
    assert len(pairs) >= 3 and not at.exception and not at.error
    for first, second in pairs:
        assert first == "海内存知己" and len(second) == 5 and tone_fits(second[-1], "平")
        assert not set(second) & set(first)
    assert len(at.get("image")) == 1  # the first one is shown as a 春联 picture
    labels = {button.label for button in at.get("download_button")}
    assert {"保存春联图", "手机大图"} <= labels


def test_the_couplet_tab_writes_a_hidden_couplet_with_a_banner(models):
    at = couplet_tab()
    at.radio(key="couplet_mode").set_value("hidden").run()
    at.text_input(key="couplet_hidden").input("春福")
    assert at.checkbox(key="couplet_banner_hidden").value  # on by default for a whole couplet
    at.button(key="couplet_go").click().run()
    pairs = shown_couplets(at)
    assert pairs and all(first[0] == "春" and second[0] == "福" and len(first) == 7 for first, second in pairs)
    assert any("couplet-banner" in md.value for md in at.markdown)


@pytest.mark.parametrize("mode, key, text, message", [
    ("answer", "couplet_first", "明月松间照耀", "6 个字"),
    ("answer", "couplet_first", "hello", "只能是汉字"),
    ("hidden", "couplet_hidden", "春", "两个汉字"),
])
def test_bad_couplet_requests_say_why_without_a_traceback(models, mode, key, text, message):
    at = couplet_tab()
    at.radio(key="couplet_mode").set_value(mode).run()
    at.text_input(key=key).input(text)
    at.button(key="couplet_go").click().run()
    assert not at.exception and message in " ".join(e.value for e in at.error)


def test_the_tab_says_so_when_there_is_no_couplet_model(tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    (models / "default").symlink_to(REPO / "models" / "default")
    monkeypatch.setenv(jobs.MODELS_ENV, str(models))
    at = couplet_tab()
    at.button(key="couplet_go").click().run()
    assert not at.exception and "没有找到对联模型" in " ".join(e.value for e in at.error)


def test_the_couplet_model_is_not_offered_as_a_poem_model(models):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert at.selectbox(key="model").options == ["唐宋诗（内置模型）"]


def test_the_analyser_checks_a_pasted_couplet(models):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at = open_tab(at, "诗词分析")
    at.text_area(key="analyse_text").input("两个黄鹂鸣翠柳，一行白鹭上青天。").run()
    tab = at.tabs[2]
    metrics = {m.label: m.value for m in tab.metric}
    assert metrics["末字（上仄下平）"] == "合律" and metrics["偶数位平仄相对"] == "3/3"
    table = " ".join(m.value for m in tab.markdown if "couplet-table" in m.value)
    assert "黄" in table and "✓" in table
    # A couplet of another length is still checked as a couplet, without a poem warning.
    at.text_area(key="analyse_text").input("一元复始，万象更新").run()
    assert "对联检查" in " ".join(h.value for h in at.tabs[2].subheader) and not at.tabs[2].warning


def test_the_analyser_recognises_a_ci_and_checks_it_against_its_pattern(models):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at = open_tab(at, "诗词分析")
    at.text_area(key="analyse_text").input(
        "小山重叠金明灭，鬓云欲度香腮雪。懒起画蛾眉，弄妆梳洗迟。照花前后镜，花面交相映。新帖绣罗襦，双双金鹧鸪。").run()
    tab = at.tabs[2]
    assert any(h.value.startswith("词：菩萨蛮") for h in tab.subheader)
    metrics = {m.label: m.value for m in tab.metric}
    assert metrics["押韵（词林正韵）"] == "合" and metrics["平仄合谱"] == "32/32"
    assert not tab.warning  # no "not a poem" warning for a 词
    # A broken rhyme is named.
    at.text_area(key="analyse_text").input(
        "小山重叠金明灭，鬓云欲度香腮雪。懒起画蛾眉，弄妆梳洗早。照花前后镜，花面交相映。新帖绣罗襦，双双金鹧鸪。").run()
    assert "应同押一部" in " ".join(m.value for m in at.tabs[2].markdown)


def test_a_damaged_couplet_model_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    import shutil

    models = tmp_path / "models"
    models.mkdir()
    (models / "default").symlink_to(REPO / "models" / "default")
    shutil.copytree(REPO / "models" / "couplet", models / "couplet",
                    ignore=shutil.ignore_patterns("model.keras", "train_log.jsonl"))
    (models / "couplet" / "model.keras").write_bytes(b"PK\x03\x04 not really a keras file")
    monkeypatch.setenv(jobs.MODELS_ENV, str(models))
    at = couplet_tab()
    at.button(key="couplet_go").click().run()
    assert not at.exception
    assert "模型文件" in " ".join(e.value for e in at.error)
