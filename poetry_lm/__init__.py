"""poetry_lm: the engine of the 藏头诗 studio, in layers that import only downward.

    text ← prosody ← model ← compose ← training ← measure ← cli, jobs, serve

`errors`, `files` and `paths` (standard library only) may be imported by every layer; `quiet` by the entries.
The engine never imports Streamlit; the studio (`app.py`, `studio/`) sits on top of it.
"""
