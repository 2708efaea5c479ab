"""Pieces every page uses: the page CSS, a poem as HTML with its hidden characters marked, the notes under a card,
the 复制 button and the PNG card.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import time
from typing import TYPE_CHECKING

import streamlit as st

from poetry_lm.compose.card import card_png, form_note, render_card, stanza_breaks
from poetry_lm.compose.template import position_name
from poetry_lm.errors import PoetryError

if TYPE_CHECKING:  # the generator module imports TensorFlow: the page draws without it
    from poetry_lm.compose.generate import Poem

# Rhyme books as the write and analyse pages name them.
SYSTEM_LABELS = {"both": "两者兼顾（平水韵＋中华新韵）", "pingshui": "平水韵", "xinyun": "中华新韵"}

CSS = """
<style>
.poem { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", "Songti SC", serif; font-size: 1.35rem;
        line-height: 1.9; letter-spacing: 0.06em; padding: 0.2rem 0; white-space: nowrap; overflow-x: auto; }
.poem-head { color: #b3261e; font-weight: 700; background: #fbe9e7; border-radius: 0.2em; padding: 0 0.08em; }
.couplet { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", "Songti SC", serif; font-size: 1.35rem;
           line-height: 1.8; letter-spacing: 0.06em; }
.couplet-banner { font-weight: 700; color: #b3261e; letter-spacing: 0.3em; }
.couplet-table td { text-align: center; padding: 0.2rem 0.45rem; font-size: 1.2rem; }
.couplet-table td small { font-size: 0.7rem; color: #7a6e64; }
.couplet-table td.tone-bad { background: #fdecea; color: #b3261e; }
.couplet-table td.rhyme { box-shadow: 0 0 0 2px #1e6fb3 inset; border-radius: 0.3rem; }
.couplet-checks { font-family: sans-serif; font-size: 0.85rem; color: #7a6e64; letter-spacing: 0; }
.poem-vertical { writing-mode: vertical-rl; text-orientation: upright; height: 10.5em; margin-left: auto;
                 overflow-x: auto; max-width: 100%; }
.poem-vertical .poem-line { margin-left: 0.4em; }
.tones { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; margin: 0.5rem 0; }
.tone-line { display: flex; align-items: center; gap: 0.25rem; margin-bottom: 0.35rem; }
.tones .cell { display: inline-flex; flex-direction: column; align-items: center; width: 2.3rem; padding: 0.1rem 0;
               border: 1px solid #e0d6d0; border-radius: 0.3rem; }
.tones .cell b { font-size: 1.4rem; font-weight: 500; }
.tones .cell i { font-style: normal; font-size: 0.8rem; color: #666; }
.tones .cell small { font-size: 0.62rem; color: #999; line-height: 1.1; }
.tones .cell { position: relative; outline: none; }
/* The pattern's tone for a cell, on hover and on a tap (a tap focuses it): phones have no hover. */
.tones .cell:hover::after, .tones .cell:focus::after { content: "谱 " attr(data-want); position: absolute; top: -1.5rem;
  background: #333; color: #fff; font-size: 0.72rem; padding: 0 0.35rem; border-radius: 0.25rem; white-space: nowrap;
  z-index: 2; }
.tones .bad { background: #fdecea; border-color: #b3261e; }
.tones .bad i { color: #b3261e; font-weight: 700; }
.tones .rhyme { box-shadow: 0 0 0 2px #1e6fb3 inset; }
.tones .want { margin-left: 0.8rem; color: #888; font-size: 0.85rem; }
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
/* Streamlit has no locale: its few English words are drawn over in Chinese (selectors of streamlit==1.67.0,
   checked in the Chromium test). */
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p,
[data-testid="stFileUploaderDropzoneInstructions"] span,
[role="listbox"][data-empty="true"] [role="option"] span { font-size: 0; }
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after {
  content: "选择文件"; font-size: 0.875rem; }
[data-testid="stFileUploaderDropzoneInstructions"] span::after { content: "也可以拖到这里 · .txt 文件，不超过 UPLOAD_MB MB";
  font-size: 0.8rem; }
[role="listbox"][data-empty="true"] [role="option"] span::after { content: "没有匹配的选项"; font-size: 0.9rem; }
</style>
""".replace("UPLOAD_MB", str(st.get_option("server.maxUploadSize")))


@contextlib.contextmanager
def no_traceback(part: str):
    """Run one part of the page so that whatever it did not expect shows as one Chinese line, never a
    traceback, and the other parts still draw (st.rerun/st.stop pass through: they are BaseExceptions)."""
    try:
        yield
    except PoetryError as err:
        st.error(str(err))
    except Exception as err:
        logging.getLogger("studio").exception("unexpected error in %s", part)  # the details go to the server log
        st.error(f"「{part}」出了意外的错误（{type(err).__name__}），其他功能不受影响；详情已记入服务器日志。")


def poem_html(poem: Poem, vertical: bool, kind: str = "") -> str:
    """A poem card body: one line per row (or column, right to left), hidden characters highlighted;
    `kind` adds a class (poem-kept: a 收藏 entry, not a candidate)."""
    marked = set(poem.marked)

    def cell(i: int, j: int, char: str) -> str:
        text = html.escape(char)
        return f'<span class="poem-head">{text}</span>' if (i, j) in marked else text

    breaks = stanza_breaks(poem)  # a 词's 阕 are set apart by an empty line
    rows = "".join(
        ('<div class="poem-line">\u3000</div>' if i in breaks else "")
        + f'<div class="poem-line">{"".join(cell(i, j, char) for j, char in enumerate(line))}</div>'
        for i, line in enumerate(poem.display_lines())
    )
    return f'<div class="poem{" poem-vertical" if vertical else ""}{f" {kind}" if kind else ""}">{rows}</div>'


SCORE_HELP = ("排序得分：模型觉得这首诗有多通顺（它逐字给出的概率取对数再相加，即“对数概率”），"
              "加上用字新颖度，减去字词重复；越高越靠前。")


def poem_notes(poem: Poem) -> str:
    """Prosody and score notes under a card, in plain words (SCORE_HELP says what the numbers are)."""
    notes = []
    if poem.rhyme:
        notes.append(f"韵部：{poem.rhyme}")
    if poem.tone_ok_ratio is not None:
        notes.append(f"平仄合律 {poem.tone_ok_ratio:.0%}")
    if poem.score is not None:  # what the candidates are ranked by (a hand-changed poem has none)
        notes.append(f"排序得分 {poem.score:.1f}")
    return " · ".join(notes + poem.conflicts)


# The button and its script live in an inner frame sandboxed to scripts only: an opaque origin that cannot
# reach the page around it (the frame st.iframe draws for an HTML string allows same-origin), with the
# clipboard delegated.
# Both documents have no margin, and the button is drawn as Streamlit draws its own (40 px high, full width), so
# 复制 lines up with 下载文本 beside it.
COPY_FRAME = """<style>body {{ margin: 0; }}</style><iframe title="复制" sandbox="allow-scripts" allow="clipboard-write"
  srcdoc="{srcdoc}" style="display: block; border: 0; width: 100%; height: {height}px; overflow: hidden;"></iframe>"""
COPY_HEIGHT = 40  # px: a Streamlit button's height
COPY_BUTTON = """<!doctype html><meta charset="utf-8"><body style="margin: 0">
<button id="copy" style="font: 400 0.95rem sans-serif; height: 40px; box-sizing: border-box; padding: 0 0.75rem;
  border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem; background: white; color: rgb(49, 51, 63);
  cursor: pointer; width: 100%; white-space: nowrap;">复制</button>
<script>
const TEXT = {text};
const button = document.getElementById("copy");
function copyBySelection() {{  // where the async clipboard is refused (not a secure context)
  const area = document.createElement("textarea");
  area.value = TEXT; document.body.appendChild(area); area.select();
  const done = document.execCommand("copy"); area.remove();
  if (!done) throw new Error("copy refused");
}}
button.addEventListener("click", async () => {{
  try {{
    try {{ await navigator.clipboard.writeText(TEXT); }} catch (err) {{ copyBySelection(); }}
    button.textContent = "已复制";
  }} catch (err) {{ button.textContent = "复制失败：请手动选择文字"; }}
  setTimeout(() => {{ button.textContent = "复制"; }}, 1500);
}});
</script>"""


def script_literal(text: str) -> str:
    """`text` as a JavaScript string literal that is safe inside an HTML <script>: no `</script>` or `<!--`
    can end or bend the script, and U+2028/2029 cannot end a line of it."""
    literal = json.dumps(text, ensure_ascii=False)
    for char in "<>&\u2028\u2029":
        literal = literal.replace(char, f"\\u{ord(char):04x}")
    return literal


def copy_button_html(text: str) -> str:
    """The 复制 component's HTML: a scripts-only sandboxed frame whose script holds `text` as a safe literal."""
    srcdoc = html.escape(COPY_BUTTON.format(text=script_literal(text)), quote=True)
    return COPY_FRAME.format(srcdoc=srcdoc, height=COPY_HEIGHT)


def copy_button(text: str) -> None:
    """A one-click 复制 button (a tiny component: Streamlit has no clipboard button of its own)."""
    st.iframe(copy_button_html(text), height=COPY_HEIGHT)


@st.cache_data(max_entries=64, show_spinner=False)
def poem_card(
    lines: tuple[str, ...], marked: tuple[tuple[int, int], ...], position: str, vertical: bool, title: str | None,
    min_width: int = 0, tune: str | None = None, breaks: tuple[int, ...] = (),
) -> bytes:
    """The PNG poem card of one candidate (cached: a card clicked twice is drawn once); a 词 of `tune` is laid out
    by 阕 (`breaks`) and titled with its tune unless given a title."""
    note = form_note(list(lines), position_name(position), tune) if marked else None
    return card_png(render_card(list(lines), set(marked), title=title or tune, note=note, vertical=vertical,
                                min_width=min_width, breaks=breaks))


RESULTS_ANCHOR = "poem-results"
# On a narrow screen the results sit below a dozen controls: after 写诗, bring them into view. The frame
# st.iframe draws for an HTML string shares the page's origin, so it can scroll the page; it holds no user text.
SCROLL_SCRIPT = """<!doctype html><script>/* {nonce} */
setTimeout(() => {{
  const page = window.parent;
  const target = page.document.getElementById("{anchor}");
  if (target && page.innerWidth < {max_width}) target.scrollIntoView({{behavior: "smooth", block: "start"}});
}}, 300);
</script>"""
PHONE_WIDTH = 768  # px: below it Streamlit stacks the columns


def results_anchor() -> None:
    """Where `scroll_to_results` scrolls to: the top of the results."""
    st.markdown(f'<div id="{RESULTS_ANCHOR}"></div>', unsafe_allow_html=True)


def scroll_to_results() -> None:
    """Scroll a phone's page to the results (a new frame each time, so its script runs again)."""
    script = SCROLL_SCRIPT.format(nonce=time.time_ns(), anchor=RESULTS_ANCHOR, max_width=PHONE_WIDTH)
    st.iframe(script, height=1)
