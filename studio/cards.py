"""What every poem card offers and what the page keeps of them: 复制, 下载文本, the PNG cards (a large one for
phones), 收藏 (exported as text or a zip of cards), and 撤销 for the edits made to the candidates."""

from __future__ import annotations

import copy
import functools
import io
import zipfile
from typing import TYPE_CHECKING

import streamlit as st

from poetry_lm.compose.card import SHARE_WIDTH, stanza_breaks
from poetry_lm.compose.template import POSITIONS, position_name
from studio.widgets import copy_button, poem_card, poem_html

if TYPE_CHECKING:  # the generator module imports TensorFlow: the page draws without it (studio/models.py)
    from poetry_lm.compose.generate import Poem

MAX_UNDO = 10  # edits that 撤销 can go back through


def position_label(position: str) -> str:
    return position_name(position) if position in POSITIONS else f"藏中（每句第 {position} 字）"


def card_actions(poem: Poem, key: str, vertical: bool) -> None:
    """What every card offers: 复制 and 下载文本, the PNG card (and a large one for phones), 收藏."""
    text = "\n".join(poem.display_lines())
    name = f"藏头{'词' if poem.tune else '诗'}_{poem.heads}_{key}"
    copy, download = st.columns(2, vertical_alignment="center")  # cards are narrow: two buttons a row
    with copy:
        copy_button(text)
    download.download_button("下载文本", text + "\n", file_name=f"{name}.txt", mime="text/plain",
                             key=f"download_{key}", width="stretch", on_click="ignore")
    card = card_of(poem, vertical, st.session_state.get("card_title") or None)
    image, large = st.columns(2, vertical_alignment="center")
    image.download_button(
        "保存图片", card, file_name=f"{name}.png", mime="image/png",
        key=f"card_{key}", width="stretch", on_click="ignore",
        help="诗卡 PNG：竖排从右到左（关掉上方「竖排」则为横排），藏头字标红",
    )
    large.download_button(
        "手机大图", functools.partial(card, SHARE_WIDTH), file_name=f"{name}_大图.png",
        mime="image/png", key=f"card_large_{key}", width="stretch", on_click="ignore",
        help=f"同一张诗卡，至少 {SHARE_WIDTH} 像素宽：在手机上分享也清楚（PNG）",
    )
    kept = poem_id(poem) in {poem_id(p) for p in favourites()}
    st.button("★ 已收藏（点此取消）" if kept else "☆ 收藏", key=f"favourite_{key}", width="stretch",
              on_click=toggle_favourite, args=(poem,))


def card_of(poem: Poem, vertical: bool, title: str | None):
    """`draw(min_width=0) -> PNG bytes`: the poem's card, a 词 laid out by 阕 under its tune."""
    return functools.partial(poem_card, tuple(poem.lines), tuple(poem.marked), poem.position, vertical, title,
                             tune=poem.tune, breaks=stanza_breaks(poem))


def poem_id(poem: Poem) -> tuple:
    """What makes two cards the same poem: its lines and where its characters are hidden."""
    return tuple(poem.lines), tuple(poem.marked)


def favourites() -> list[Poem]:
    """The poems kept with 收藏 while this page is open (the session's own list)."""
    return st.session_state.setdefault("favourites", [])


def toggle_favourite(poem: Poem) -> None:
    kept = favourites()
    same = [p for p in kept if poem_id(p) == poem_id(poem)]
    if same:
        kept.remove(same[0])
    else:
        kept.append(poem)


def favourites_text(poems: list[Poem]) -> str:
    """The 收藏 list as one text file: each poem with its hidden characters named."""
    return "\n\n".join(f"{k}. {position_label(p.position) if p.marked else '改写'}「{p.heads}」\n"
                         + "\n".join(p.display_lines()) for k, p in enumerate(poems, 1)) + "\n"


def favourites_zip(poems: list[Poem], vertical: bool, title: str | None) -> bytes:
    """A zip of the 收藏 list's cards (large, for sharing) and the text file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for k, poem in enumerate(poems, 1):
            png = card_of(poem, vertical, title)(SHARE_WIDTH)
            archive.writestr(f"{k:02d}_{poem.heads}.png", png)
        archive.writestr("收藏.txt", favourites_text(poems).encode("utf-8"))
    return buffer.getvalue()


def favourites_panel() -> None:
    """The 收藏 list: kept while the page is open, downloadable as text or as a zip of cards."""
    kept = favourites()
    if not kept:
        return
    with st.expander(f"收藏（{len(kept)} 首）", expanded=True):
        st.caption("收藏只保存在这个页面里：关闭或刷新页面前，请下载。")
        for k, poem in enumerate(kept):
            text, remove = st.columns([5, 1], vertical_alignment="center")
            text.markdown(poem_html(poem, False, "poem-kept"), unsafe_allow_html=True)
            remove.button("移除", key=f"unfavourite_{k}", on_click=toggle_favourite, args=(poem,))
        vertical = bool(st.session_state.get("vertical"))
        title = st.session_state.get("card_title") or None
        left, right = st.columns(2)
        left.download_button("下载收藏（文本）", favourites_text(kept), file_name="藏头诗_收藏.txt", mime="text/plain",
                             key="favourites_text", width="stretch", on_click="ignore")
        right.download_button("下载收藏诗卡（zip）", functools.partial(favourites_zip, list(kept), vertical, title),
                              file_name="藏头诗_收藏.zip", mime="application/zip", key="favourites_zip",
                              width="stretch", on_click="ignore")


def remember_result() -> None:
    """Keep the poems shown now, so an edit (保留几句, 换一个字) can be undone."""
    if "result" in st.session_state:
        history = st.session_state.setdefault("history", [])
        history.append(copy.deepcopy(st.session_state["result"]))
        del history[:-MAX_UNDO]


def undo() -> None:
    st.session_state["result"] = st.session_state["history"].pop()


def undo_control() -> None:
    """撤销: back to the poems before the last edit."""
    history = st.session_state.get("history") or []
    if history:
        st.button(f"↶ 撤销上一次改写（还可撤销 {len(history)} 次）", key="undo", on_click=undo)
