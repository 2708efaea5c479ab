"""Uploaded corpora: every line counted, each dropped line with its reason, a precise message for bad files."""

from __future__ import annotations

import pytest

from poetry_lm.errors import PoetryError
from poetry_lm.text.corpus import MAX_UPLOAD_BYTES, parse_uploaded_corpus

# ----- uploaded corpus --------------------------------------------------------------------------

GOOD_LINES = ["白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。".encode("gbk"), "文件不是 UTF-8 编码（第 0 字节出错）"),
        (bytes(range(1, 256)) * 4, "文件不是 UTF-8 编码"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "文件看起来是二进制文件"),
        ("\n".join(GOOD_LINES).encode("utf-16"), "文件看起来是二进制文件"),
        (b"", "文件是空的"),
        (b"\n \r\n\t\n", "文件是空的"),
        ("hello world\n今天天气很好\n春眠不觉晓\n".encode(), "文件中 3 行都不是符合格律的五言/七言绝句或律诗"),
        (b"x" * (MAX_UPLOAD_BYTES + 1), "上限为 20 MB"),
    ],
    ids=["gbk", "not-utf8", "png", "utf16", "empty", "blank", "no-poems", "huge"],
)
def test_bad_uploads_raise_precise_message(data, message):
    with pytest.raises(PoetryError) as err:
        parse_uploaded_corpus(data)
    assert message in str(err.value)


def test_upload_reports_kept_and_dropped_counts():
    lines = [*GOOD_LINES, GOOD_LINES[0], "这不是诗", "春眠不觉晓，处处闻啼鸟。", "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。"]
    poems, stats = parse_uploaded_corpus(("\ufeff" + "\n".join(lines)).encode("utf-8"))
    assert poems[-1] == "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    assert (stats.read, stats.kept, stats.duplicates, sum(stats.dropped.values())) == (6, 3, 1, 2)


def test_upload_counts_every_line_and_names_the_right_reason():
    data = "\n".join([GOOD_LINES[0], "hello world", "", GOOD_LINES[1], "  ", "hello world。"]).encode()
    poems, stats = parse_uploaded_corpus(data)
    assert len(poems) == 2 and stats.read == 6  # a 6-line file is 6 lines read, blank ones included
    assert stats.dropped == {"non_han": 2, "empty": 2}  # not "no final punctuation"


def test_upload_size_limit_is_a_parameter():
    with pytest.raises(PoetryError, match="文件太大"):
        parse_uploaded_corpus("\n".join(GOOD_LINES).encode(), max_bytes=10)
