"""Reading the files a user points at without trusting them, and writing ours so that a kill never leaves half a file.

Standard library only, so every layer may import it (like `errors` and `paths`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from poetry_lm.errors import PoetryError

# config.json and vocab.json are a few kB to ~100 kB; anything far larger is not ours.
MAX_JSON_BYTES = 16 * 2**20


def check_regular_file(path: Path, what: str, limit: int | None = None) -> os.stat_result:
    """The file's stat when `path` is a regular file (links followed) of at most `limit` bytes; PoetryError
    otherwise. A FIFO, a device such as /dev/zero or a folder is refused before anything reads from it."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise PoetryError(f"找不到{what}：{path}") from None
    except OSError as err:  # no permission, a symlink loop...
        raise PoetryError(f"无法读取{what}：{path}（{err.strerror or type(err).__name__}）") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "目录" if stat.S_ISDIR(info.st_mode) else "特殊文件（管道或设备）"
        raise PoetryError(f"无法读取{what}：{path}（是{kind}，不是普通文件）")
    if limit is not None and info.st_size > limit:
        raise PoetryError(f"{what}太大（{info.st_size:,} 字节，上限 {limit:,}），不像是本工具写的：{path}")
    return info


def read_small_file(path: Path, what: str, limit: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. It is opened without blocking and checked again
    once open (a file swapped for a FIFO in between cannot hang the reader), and never read past `limit`."""
    check_regular_file(path, what, limit)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise PoetryError(f"无法读取{what}：{path}（{err.strerror or type(err).__name__}）") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PoetryError(f"无法读取{what}：{path}（不是普通文件）")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise PoetryError(f"{what}太大（超过 {limit:,} 字节），不像是本工具写的：{path}")
    return data


def read_json_file(path: Path, what: str):
    """Parsed JSON of `path`; a missing, special, oversized or broken file raises PoetryError naming `what` and the path."""
    data = read_small_file(Path(path), what)
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise PoetryError(f"{what}已损坏：{path}（{str(err)[:120]}）") from None


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = ".tmp"):
    """A temporary path beside `path` (ending in `suffix`, for writers that insist on one) to write to; on
    success it is flushed to disk, given an ordinary file's permissions and renamed over `path`, so a reader,
    or a run resumed after a kill, sees the old file or the new, never a part. On failure it is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600 whatever the umask
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path` whole (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def keep_copy(source: Path, target: Path) -> None:
    """Make `target` a copy of `source` atomically: a hard link where the file system has them (no bytes
    copied; `source` is later replaced by rename, so the copy keeps the old content), else a real copy."""
    partial = Path(target).with_name(f".{Path(target).name}.partial")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    os.replace(partial, target)


def current_umask() -> int:
    """The process's umask (read by setting it and putting it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
