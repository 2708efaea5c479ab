"""The one error type the engine raises for anything a user can fix, and a JSON reader that uses it."""

import json
from pathlib import Path


class PoetryError(Exception):
    """A readable, user-facing error (bad input, missing or corrupt files).

    The CLI prints it as one line and exits with code 2; the app shows it with st.error.
    """


def read_json_file(path: Path, what: str):
    """Parsed JSON of `path`; a missing or broken file raises PoetryError naming `what` and the path."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PoetryError(f"找不到{what}：{path}") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise PoetryError(f"{what}已损坏：{path}（{err}）") from None
