"""Pieces every page uses: the page CSS, a poem as HTML with its hidden characters marked, the notes under a card,
the 复制 button and the PNG card.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
from typing import TYPE_CHECKING

import streamlit as st

from poetry_lm.compose.card import card_png, form_note, render_card
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
</style>
"""


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


def poem_html(poem: Poem, vertical: bool) -> str:
    """A poem card body: one line per row (or column, right to left), hidden characters highlighted."""
    marked = set(poem.marked)

    def cell(i: int, j: int, char: str) -> str:
        text = html.escape(char)
        return f'<span class="poem-head">{text}</span>' if (i, j) in marked else text

    rows = "".join(
        f'<div class="poem-line">{"".join(cell(i, j, char) for j, char in enumerate(line))}</div>'
        for i, line in enumerate(poem.display_lines())
    )
    return f'<div class="poem{" poem-vertical" if vertical else ""}">{rows}</div>'


def poem_notes(poem: Poem) -> str:
    """Score and prosody notes under a card."""
    notes = [f"模型对数概率 {poem.log_prob:.1f}，所写各字平均 {poem.free_log_prob:.2f}"]
    if poem.score is not None:  # what the candidates are ranked by (a hand-changed poem has none)
        notes.append(f"综合得分 {poem.score:.1f}")
    if poem.rhyme:
        notes.append(f"韵部：{poem.rhyme}")
    if poem.tone_ok_ratio is not None:
        notes.append(f"平仄合律 {poem.tone_ok_ratio:.0%}")
    return " · ".join(notes + poem.conflicts)


# The button and its script live in an inner frame sandboxed to scripts only: an opaque origin that cannot
# reach the page around it (the frame st.iframe draws for an HTML string allows same-origin), with the
# clipboard delegated.
COPY_FRAME = """<iframe title="复制" sandbox="allow-scripts" allow="clipboard-write" srcdoc="{srcdoc}"
  style="border: 0; width: 100%; height: 40px; overflow: hidden;"></iframe>"""
COPY_BUTTON = """<!doctype html><meta charset="utf-8"><body style="margin: 0">
<button id="copy" style="font: 0.95rem sans-serif; padding: 0.35rem 0.6rem; border: 1px solid #d8cfc8;
  border-radius: 0.5rem; background: white; cursor: pointer; width: 100%; white-space: nowrap;">复制</button>
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
    return COPY_FRAME.format(srcdoc=html.escape(COPY_BUTTON.format(text=script_literal(text)), quote=True))


def copy_button(text: str) -> None:
    """A one-click 复制 button (a tiny component: Streamlit has no clipboard button of its own)."""
    st.iframe(copy_button_html(text), height=44)


@st.cache_data(max_entries=64, show_spinner=False)
def poem_card(
    lines: tuple[str, ...], marked: tuple[tuple[int, int], ...], position: str, vertical: bool, title: str | None
) -> bytes:
    """The PNG poem card of one candidate (cached: every rerun redraws the download buttons)."""
    note = form_note(list(lines), position_name(position)) if marked else None
    return card_png(render_card(list(lines), set(marked), title=title, note=note, vertical=vertical))
