"""词 from the source: tunes and aliases, clean text in standard forms, stable splits."""

from __future__ import annotations

import json

import pytest

from poetry_lm.text.ci import build_ci_corpus, clauses, load_ci_split, normalise_ci, tune_of
from poetry_lm.text.corpus import split_of

RU_MENG_LING = ["常記溪亭日暮，沉醉不知歸路。", "興盡晚回舟，誤入藕花深處。", "爭渡，爭渡，驚起一灘鷗鷺。"]


def test_a_tune_and_its_alias():
    assert tune_of("木兰花・玉楼春") == ("木兰花", "玉楼春")
    assert tune_of("如夢令") == ("如梦令", "")


def test_a_ci_is_kept_in_standard_forms_with_its_clause_marks():
    text, reason = normalise_ci(RU_MENG_LING)
    assert reason == "kept" and text == "常记溪亭日暮，沉醉不知归路。兴尽晚回舟，误入藕花深处。争渡，争渡，惊起一滩鸥鹭。"
    assert [len(clause) for clause, _ in clauses(text)] == [6, 6, 5, 6, 2, 2, 6]


@pytest.mark.parametrize("paragraphs, reason", [
    ([], "empty"), (["春风abc，"], "non_han"), (["春风十里"], "not_punctuated"), (["春风，，十里。"], "empty_clause"),
])
def test_bad_ci_are_dropped_with_a_reason(paragraphs, reason):
    assert normalise_ci(paragraphs) == (None, reason)


def test_editors_notes_are_removed():
    assert normalise_ci(["春风十里（一作春城），扬州路。"])[0] == "春风十里，扬州路。"


def test_the_ci_corpus_build_writes_splits_by_hash_and_drops_lost_tunes(tmp_path):
    source = tmp_path / "source" / "songci"
    source.mkdir(parents=True)
    records = [
        {"author": "李清照", "paragraphs": RU_MENG_LING, "rhythmic": "如夢令"},
        {"author": "李清照", "paragraphs": RU_MENG_LING, "rhythmic": "如夢令"},  # a duplicate
        {"author": "无名氏", "paragraphs": ["春风十里，扬州路。"], "rhythmic": "失调名"},
        {"author": "晏殊", "paragraphs": ["一曲新词酒一杯，去年天气旧亭台。"], "rhythmic": "浣溪沙"},
    ]
    (source / "ci.song.0.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    stats = build_ci_corpus(tmp_path / "source", tmp_path / "corpus")
    assert (stats.read, stats.kept, stats.duplicates, stats.dropped) == (4, 2, 1, {"lost_tune": 1})
    kept = {text: tune for split in ("train", "valid", "test") for text, tune in load_ci_split(tmp_path / "corpus", split)}
    assert set(kept.values()) == {"如梦令", "浣溪沙"}
    for split in ("train", "valid", "test"):
        assert all(split_of(text) == split for text, _ in load_ci_split(tmp_path / "corpus", split))
