"""Corpus building on a small fixture in chinese-poetry's layout (directory and npm tarball)."""

import json
import tarfile
from pathlib import Path

import pytest

from poetry_lm.cli import main
from poetry_lm.text.corpus import (
    build_corpus,
    form_of,
    load_split,
    normalise_poem,
    poem_problems,
    split_of,
)
from tests.conftest import REPO

FIXTURE = Path(__file__).parent / "fixtures" / "source"


def read_all(corpus_dir: Path) -> list[str]:
    return [p for split in ("train", "valid", "test") for p in load_split(corpus_dir, split)]


def test_build_from_directory_filters_converts_and_dedupes(tmp_path):
    stats = build_corpus(FIXTURE, tmp_path)
    poems = read_all(tmp_path)
    assert stats.read == 9  # the error/ folder and Song files are not read
    assert stats.kept == 4 and len(poems) == 4
    assert stats.duplicates == 1
    assert stats.dropped == {"not_regulated": 2, "non_han": 1, "empty": 1}
    assert "床前明月光，疑是地上霜。举头望明月，低头思故乡。" in poems  # traditional → simplified
    # ？ and ！ at line ends become the canonical ，/。 alternation
    assert "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。" in poems
    assert stats.per_form == {"五言绝句": 2, "五言律诗": 1, "七言绝句": 1}
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "MIT" in readme and "kept 4" in readme
    assert json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))["kept"] == 4


def test_build_from_tarball_matches_directory(tmp_path):
    tarball = tmp_path / "chinese-poetry.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(FIXTURE / "package", arcname="package")
    build_corpus(tarball, tmp_path / "from_tar")
    build_corpus(FIXTURE, tmp_path / "from_dir")
    for split in ("train", "valid", "test"):
        assert load_split(tmp_path / "from_tar", split) == load_split(tmp_path / "from_dir", split)


def test_song_collection_is_optional(tmp_path):
    stats = build_corpus(FIXTURE, tmp_path, ("tang", "song"))
    assert stats.read == 10 and stats.kept == 5


def test_split_is_deterministic_and_roughly_90_5_5():
    poems = [f"{i}" for i in range(20000)]
    splits = [split_of(p) for p in poems]
    assert splits == [split_of(p) for p in poems]
    share = {name: splits.count(name) / len(splits) for name in ("train", "valid", "test")}
    assert 0.88 < share["train"] < 0.92 and 0.04 < share["valid"] < 0.06 and 0.04 < share["test"] < 0.06


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("床前明月光，疑是地上霜", "not_punctuated"),
        ("床前明月光，疑是地上霜。举头望明月，低头思故乡。床前明月光，疑是地上霜。", "not_regulated"),
        ("床前明月光，疑是地上。举头望明月，低头思故乡。", "not_regulated"),
        ("床前明月光，疑是地上霜。举头望明月，低头思故A。", "non_han"),
    ],
)
def test_normalise_rejects_with_reason(text, reason):
    assert normalise_poem(text) == (None, reason)


def test_committed_corpus_is_the_real_one():
    corpus = REPO / "corpus"
    train = load_split(corpus, "train")
    assert len(train) > 30000
    assert {form_of(p) for p in train} == {(5, 4), (7, 4), (5, 8), (7, 8)}
    assert all(normalise_poem(p) == (p, "kept") for p in train[:500])


def test_cli_corpus_build(tmp_path, capsys):
    assert main(["corpus", "build", "--source", str(FIXTURE), "--out", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["kept"] == 4
    assert main(["corpus", "build", "--source", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize(
    ("lines", "kwargs", "problem"),
    [
        (["春眠不觉晓", "处处闻啼鸟"], {"heads": "春处", "line_length": 5, "text": "春眠不觉晓，处处闻啼鸟。"}, None),
        (["春眠不觉晓", "处处闻啼"], {}, "line lengths"),
        (["春眠不觉晓"], {"line_length": 7}, "line lengths"),
        (["春眠不觉a"], {}, "characters other than Han"),
        (["春眠不觉晓", "处处闻啼鸟"], {"heads": "春花"}, "not at the line starts"),
        (["春眠不觉晓", "处处闻啼鸟"], {"heads": "春"}, "not at the line starts"),
        (["春眠不觉晓", "处处闻啼鸟"], {"text": "春眠不觉晓。处处闻啼鸟。"}, "punctuation"),
        ([], {}, "line lengths"),
    ],
)
def test_poem_problems_names_each_fault(lines, kwargs, problem):
    found = poem_problems(lines, **kwargs)
    assert (found == []) if problem is None else any(problem in text for text in found)
