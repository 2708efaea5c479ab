"""The 复制 button: text is embedded in its script safely, and the script runs in the least sandbox it needs.

The hostile text here stands for anything a poem could hold if a model folder were hostile (the
vocabulary now refuses multi-character tokens, so this is the second wall, not the first).
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from studio.widgets import copy_button_html, script_literal

HOSTILE = '春</script><script>top.document.title="pwned";top.PWNED=1</script><!--\u2028花\u2029"\'\\'
# Streamlit's own frame for st.iframe of an HTML string (its IFrameUtil): the outer wall we cannot change.
STREAMLIT_SANDBOX = "allow-forms allow-modals allow-popups allow-popups-to-escape-sandbox allow-same-origin allow-scripts allow-downloads"


def test_script_literal_cannot_end_the_script_and_reads_back_exactly():
    literal = script_literal(HOSTILE)
    assert "<" not in literal and ">" not in literal and "\u2028" not in literal and "\u2029" not in literal
    assert json.loads(literal) == HOSTILE  # the escapes are JSON escapes: the same string comes back


def test_copy_component_has_no_script_outside_a_scripts_only_sandbox():
    component = copy_button_html(HOSTILE)
    assert "<script" not in component.lower() and "</script" not in component.lower()
    assert component.count("<iframe") == 1 and 'sandbox="allow-scripts"' in component
    assert "allow-same-origin" not in component


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def served_page(tmp_path):
    """A localhost page (a secure context, like the studio) holding the component in Streamlit's frame."""
    outer = f'<iframe id="component" sandbox="{STREAMLIT_SANDBOX}" allow="clipboard-write" srcdoc="PLACEHOLDER"></iframe>'
    frame_page = "<!doctype html><meta charset='utf-8'><body>" + copy_button_html(HOSTILE) + "</body>"
    (tmp_path / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>studio</title><body>"
        + outer.replace("PLACEHOLDER", html.escape(frame_page, quote=True)) + "</body>", encoding="utf-8"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (apt-get install chromium)")
def test_hostile_text_is_copied_verbatim_and_never_reaches_the_page(served_page):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context()
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served_page.rsplit("/", 1)[0])
            page = context.new_page()
            page.goto(served_page)
            button = page.frame_locator("#component").frame_locator("iframe").get_by_role("button", name="复制")
            button.click()
            expect(button).to_have_text("已复制", timeout=5_000)
            assert page.evaluate("navigator.clipboard.readText()") == HOSTILE
            assert page.title() == "studio" and page.evaluate("window.PWNED") is None
            # The inner frame has an opaque origin: its script cannot even read the page around it.
            inner = page.frames[-1]
            assert inner.evaluate("(() => { try { return top.document.title; } catch (e) { return 'blocked'; } })()") == "blocked"
        finally:
            browser.close()
