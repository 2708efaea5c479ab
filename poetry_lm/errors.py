"""The one error type the engine raises for anything a user can fix, and how user input is shown in it."""


class PoetryError(Exception):
    """A readable, user-facing error (bad input, missing or corrupt files).

    The CLI prints it as one line and exits with code 2; the app shows it with st.error.
    """


def one_line(text: str) -> str:
    """`text` with line breaks and other unprintable characters written as escapes (\\n, \\x1b, \\udcff)."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text))


def quoted(text: object, limit: int = 60) -> str:
    """User input inside a message: in 「」, escaped by `one_line`, long input cut, so that a message stays one
    readable line whatever was typed."""
    shown = one_line(str(text))
    return f"「{shown[:limit]}{'…' if len(shown) > limit else ''}」"
