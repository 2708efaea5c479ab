"""End to end in real headless Chromium: `streamlit run app.py`, type heads, click 写诗, see the poem.

Uses Debian's chromium through Playwright (`executable_path`), never a downloaded browser.
The screenshot goes to the test's temporary folder; `UPDATE_SCREENSHOT=1` also copies it to
docs/screenshot.png (the picture in the README), so the tracked file only changes on purpose.
The server runs with the repository's .streamlit/config.toml and the environment a user has, and
its console must stay free of native TensorFlow lines and network look-ups.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from poetry_lm.compose.card import CardStyle, SpringStyle
from poetry_lm.serve import start_studio, stop_studio
from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
README_SCREENSHOT = REPO / "docs" / "screenshot.png"
# Lines a user must not see when the studio starts and writes a poem.
ALARMING = ("E0000", "W0000", "I0000", "cuInit", "Traceback", "External URL", "Did not auto detect", "absl::")
HEADS = "春花秋月"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def app_url(tmp_path):
    """A `streamlit run app.py` server on a free localhost port, over a tmp models dir; always stopped.

    It gets the environment a user has (no TF_CPP_* settings), so its console shows what a user sees."""
    models = tmp_path / "models"
    models.mkdir()
    for name in ("default", "couplet", "ci"):  # generation only reads them
        (models / name).symlink_to(REPO / "models" / name)
    log = tmp_path / "streamlit.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_CPP")}
    process, url = start_studio(models, log, env=env, timeout=90)
    try:
        yield url, log
    finally:
        stop_studio(process)


@contextlib.contextmanager
def studio_page(url: str, clipboard: bool = False, **context_args):
    """A headless Chromium page on the studio at `url` with its heads box drawn (desktop size unless
    `context_args` say otherwise; `clipboard`: reading and writing it allowed); the browser is always closed."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(**{"viewport": {"width": 1280, "height": 1000}, **context_args})
            if clipboard:
                context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
            page = context.new_page()
            page.goto(url, wait_until="domcontentloaded")
            # The page draws before TensorFlow and the model are loaded (the first load compiles the decoder).
            expect(page.get_by_label("藏头字", exact=False)).to_be_visible(timeout=120_000)
            yield page
        finally:
            browser.close()


def test_write_acrostic_in_chromium(app_url, tmp_path):
    from playwright.sync_api import expect

    url, log = app_url
    screenshot = tmp_path / "screenshot.png"
    with studio_page(url, clipboard=True, device_scale_factor=1) as page:
        heads = page.get_by_label("藏头字", exact=False)
        expect(page.get_by_text("七言", exact=True)).to_be_visible()
        # The page draws before TensorFlow and the model are loaded; 写诗 is enabled once they are.
        expect(page.get_by_role("button", name="写诗")).to_be_enabled(timeout=120_000)
        heads.fill(HEADS)
        heads.press("Enter")
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="写诗").click()

        first_card = page.locator(".poem").first
        expect(first_card).to_be_visible(timeout=60_000)
        marked = first_card.locator(".poem-head").all_inner_texts()
        assert marked == list(HEADS)
        lines = first_card.locator(".poem-line").all_inner_texts()
        assert [line[0] for line in lines] == list(HEADS)
        assert all(len(line) == 8 for line in lines), lines  # 七言 plus punctuation
        # Cards are drawn one after another: wait for the second instead of counting at once (a race on a busy machine).
        expect(page.locator(".poem").nth(1)).to_be_visible(timeout=30_000)
        assert page.get_by_text("Traceback").count() == 0

        # 保存图片: the browser downloads a PNG card with the heads drawn in the mark colour.
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="保存图片").first.click()
        card_path = tmp_path / "card.png"
        download.value.save_as(card_path)
        card = Image.open(card_path).convert("RGB")
        red = (np.abs(np.asarray(card).astype(int) - np.asarray(CardStyle().mark)).sum(axis=-1) < 60)
        assert card.width > 300 and red.sum() > 100 * len(HEADS)
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="手机大图").first.click()
        download.value.save_as(tmp_path / "large.png")
        assert Image.open(tmp_path / "large.png").width >= 1080

        # 复制 sits beside 下载文本 at the same height and size.
        frame = page.locator('iframe[srcdoc*="allow-scripts"]').first
        copy = (page.frame_locator('iframe[srcdoc*="allow-scripts"]').first
                .frame_locator('iframe[title="复制"]').get_by_role("button", name="复制"))
        copy_box = copy.bounding_box()
        download_box = page.get_by_role("button", name="下载文本").first.bounding_box()
        assert frame.bounding_box()["y"] == pytest.approx(download_box["y"], abs=2)
        assert (copy_box["y"], copy_box["height"], copy_box["width"]) == pytest.approx(
            (download_box["y"], download_box["height"], download_box["width"]), abs=2)

        # 复制: the first card's poem reaches the clipboard through the scripts-only inner frame.
        copy.click()
        expect(copy).to_have_text("已复制", timeout=5_000)
        assert page.evaluate("navigator.clipboard.readText()") == "\n".join(lines)

        page.wait_for_timeout(2000)  # the 已复制 label goes back before the screenshot
        page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        shutil.copy(screenshot, README_SCREENSHOT)
    console = log.read_text(errors="replace")
    assert "URL: http://localhost:" in console, console
    assert not [line for line in console.splitlines() if any(mark in line for mark in ALARMING)], console
    assert "deprecat" not in console.lower(), console  # e.g. st.components.v1.html, replaced by st.iframe


def test_a_couplet_and_its_spring_picture_in_chromium(app_url, tmp_path):
    from playwright.sync_api import expect

    url, _ = app_url
    with studio_page(url) as page:
        page.get_by_role("tab", name="对联").click()
        first = page.get_by_label("上联", exact=False)
        first.fill("海内存知己")
        first.press("Enter")
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="对下联").click()
        couplet = page.locator(".couplet").first
        expect(couplet).to_be_visible(timeout=120_000)  # the first use loads both models
        text = couplet.inner_text()
        assert "上联：海内存知己" in text and "下联：" in text and "对仗" in text
        assert page.get_by_text("Traceback").count() == 0
        # The cards are drawn one after another, the 春联 picture under the first: wait for the page to finish
        # drawing (the last card and the picture) before clicking, or a busy machine's rerun swallows the click.
        expect(page.locator('[data-testid="stImage"] img').first).to_be_visible(timeout=60_000)
        drawn = -1
        while drawn != page.locator(".couplet").count():  # no new card for a second: the page is drawn
            drawn = page.locator(".couplet").count()
            page.wait_for_timeout(1000)
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="保存春联图").first.click()
        picture = tmp_path / "spring.png"
        download.value.save_as(picture)
        pixels = np.asarray(Image.open(picture).convert("RGB")).astype(int)
        red = (np.abs(pixels - np.asarray(SpringStyle().red)).sum(axis=-1) < 30).mean()
        gold = (np.abs(pixels - np.asarray(SpringStyle().gold)).sum(axis=-1) < 60).sum()
        assert red > 0.2 and gold > 500  # red paper, gold characters


def test_a_ci_by_tune_from_the_searchable_picker_in_chromium(app_url):
    from playwright.sync_api import expect

    url, _ = app_url
    with studio_page(url) as page:
        expect(page.get_by_role("button", name="写诗")).to_be_enabled(timeout=120_000)
        page.get_by_text("词", exact=True).click()  # 体裁
        picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="词牌")
        expect(picker).to_be_visible(timeout=30_000)
        picker.click()
        page.keyboard.type("如梦")  # the picker searches as one types
        page.keyboard.press("Enter")
        chart = page.locator(".ci-chart")
        expect(chart).to_contain_text("韵", timeout=30_000)
        expect(page.get_by_text("《如梦令》7 句 33 字", exact=False)).to_be_visible(timeout=30_000)
        # The bundled 词 model writes it (the sidebar's model has not read 词); it loads now.
        expect(page.get_by_text("词由「唐宋诗词（内置词模型）」写", exact=False)).to_be_visible(timeout=30_000)
        heads = page.get_by_label("藏头字", exact=False)
        heads.fill("春花秋月")
        heads.press("Enter")
        page.wait_for_timeout(1000)
        expect(page.get_by_role("button", name="写诗")).to_be_enabled(timeout=120_000)
        page.get_by_role("button", name="写诗").click()
        first_card = page.locator(".poem").first
        expect(first_card).to_be_visible(timeout=60_000)
        lines = first_card.locator(".poem-line").all_inner_texts()
        assert [len(line) - 1 for line in lines] == [6, 6, 5, 6, 2, 2, 6], lines  # clauses and their marks
        assert first_card.locator(".poem-head").all_inner_texts() == list("春花秋月")
        assert page.get_by_text("Traceback").count() == 0


def test_an_open_page_picks_up_a_job_started_elsewhere(app_url, tmp_path, job_from_another_tab):
    """A page drawn while nothing trains notices a job that another tab (or the CLI) starts later."""
    from playwright.sync_api import expect

    url, _ = app_url
    with studio_page(url) as page:
        expect(page.get_by_role("button", name="写诗")).to_be_enabled(timeout=120_000)
        assert page.get_by_text("训练任务「别处」").count() == 0
        job_from_another_tab(tmp_path / "models", "别处")
        expect(page.get_by_text("训练任务「别处」", exact=False).first).to_be_visible(timeout=30_000)
        # The form folds away while a job runs; unfolded, its start button is disabled.
        page.get_by_text("训练 / 微调模型").click()
        expect(page.get_by_role("button", name="开始训练").first).to_be_disabled(timeout=30_000)


# The text a reader sees: text nodes drawn at a non-zero size, plus what CSS draws over hidden ones.
VISIBLE_TEXT_JS = """() => {
  const seen = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!element || !node.textContent.trim() || !element.getClientRects().length) continue;
    const style = getComputedStyle(element);
    if (style.fontSize !== "0px" && style.visibility !== "hidden") seen.push(node.textContent.trim());
    const after = getComputedStyle(element, "::after").content;
    if (after && after !== "none" && after !== "normal") seen.push(after);
  }
  return seen.join("\\n");
}"""
ENGLISH_LEAKS = ("Upload", "per file", "No results", "matches", "Browse files", "default")


def test_the_page_speaks_chinese(app_url):
    """Streamlit's own English words (upload box, empty search, select-all) are drawn in Chinese, and the
    bundled model has a Chinese name."""
    from playwright.sync_api import expect

    url, _ = app_url
    with studio_page(url) as page:
        expect(page.get_by_role("button", name="写诗")).to_be_enabled(timeout=120_000)
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_label("诗人（可多选，可输入名字搜索）").click()
        page.keyboard.type("李")  # matches: the select-all entry would say "Select N matches"
        page.wait_for_timeout(1000)
        shown = page.evaluate(VISIBLE_TEXT_JS)
        assert "（唐，" in shown  # poets matching 李 are listed
        page.keyboard.type("zzz")  # no poet matches
        expect(page.locator('[role="listbox"][data-empty="true"]')).to_have_count(1, timeout=5_000)
        shown += page.evaluate(VISIBLE_TEXT_JS)
        assert "没有匹配的选项" in shown
        page.keyboard.press("Escape")
        sidebar.get_by_text("上传文本文件").click()
        expect(page.get_by_test_id("stFileUploaderDropzone")).to_be_visible(timeout=30_000)
        shown += page.evaluate(VISIBLE_TEXT_JS)
        assert "选择文件" in shown and "也可以拖到这里" in shown
        assert "唐宋诗（内置模型）" in shown
        leaks = [word for word in ENGLISH_LEAKS if word in shown]
        assert not leaks, (leaks, shown)


def test_on_a_phone_the_results_come_into_view_after_writing(app_url):
    """On a narrow screen the results sit below a dozen controls: 写诗 scrolls the page to them."""
    from playwright.sync_api import expect

    url, _ = app_url
    with studio_page(url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True) as page:
        write = page.get_by_role("button", name="写诗")
        expect(write).to_be_enabled(timeout=120_000)
        page.get_by_label("藏头字", exact=False).fill(HEADS)
        page.keyboard.press("Enter")
        write.click()
        first = page.locator(".poem").first
        expect(first).to_be_visible(timeout=60_000)
        def on_screen(box) -> bool:  # the first poem is on screen, whole
            return 0 <= box["y"] < 844 - box["height"]

        for _ in range(40):  # the scroll is smooth and starts after the frame loads: slower on a busy machine
            box = first.bounding_box()
            if on_screen(box):
                break
            page.wait_for_timeout(250)
        assert on_screen(box), box
