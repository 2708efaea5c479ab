"""The one error type the engine raises for anything a user can fix, and a JSON reader that uses it."""

import json
from pathlib import Path

# config.json and vocab.json are a few kB to ~100 kB; anything far larger is not ours.
MAX_JSON_BYTES = 16 * 2**20


class PoetryError(Exception):
    """A readable, user-facing error (bad input, missing or corrupt files).

    The CLI prints it as one line and exits with code 2; the app shows it with st.error.
    """


def read_json_file(path: Path, what: str):
    """Parsed JSON of `path`; a missing or broken file raises PoetryError naming `what` and the path."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_JSON_BYTES:
            raise PoetryError(f"{what}太大（{path.stat().st_size:,} 字节），不像是本工具写的：{path}")
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PoetryError(f"找不到{what}：{path}") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise PoetryError(f"{what}已损坏：{path}（{str(err)[:120]}）") from None
    except OSError as err:  # a directory, no permission, a symlink loop...
        raise PoetryError(f"无法读取{what}：{path}（{err.strerror or type(err).__name__}）") from None
