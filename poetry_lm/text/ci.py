"""词 from the corpus source: the 宋词 of chinese-poetry with their tunes (词牌), in standard character forms.

A 词 is kept whole, its clauses and their punctuation as written (春风十里，……。), one per line in
`corpus/ci/{split}.txt`, with `{split}.meta.tsv` (author, tune, alias) line for line. Its split comes from a stable
hash of its text, like a poem's; the 诗 files are not touched, so their splits do not move.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.files import write_atomic
from poetry_lm.text.charforms import standard_forms, to_simplified
from poetry_lm.text.corpus import SPLITS, is_han, source_files, split_of

CI_FOLDER, CI_GLOB = "songci", "ci.song.*.json"
CI_DIR = "ci"  # inside the corpus folder
CLAUSE_MARKS = "，。、？！；："
LOST_TUNE = "失调名"  # a 词 whose tune is lost: kept out (it has no 谱 to follow)
ALIAS_MARKS = "・·"  # 木兰花・玉楼春: the tune, then another name for it
CI_META_COLUMNS = ("author", "tune", "alias")
_NOTE_RE = re.compile(r"[（(][^）)]*[）)]|[【\[][^】\]]*[】\]]")  # editors' notes and variant readings
_QUOTES_RE = re.compile("[《》〈〉“”‘’「」『』]")
_CLAUSE_RE = re.compile(f"([^{CLAUSE_MARKS}]+)([{CLAUSE_MARKS}])")


@dataclass
class CiStats:
    """What the 词 build kept and dropped, and why."""

    read: int = 0
    kept: int = 0
    duplicates: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    per_split: dict[str, int] = field(default_factory=dict)
    tunes: int = 0


def tune_of(rhythmic: str) -> tuple[str, str]:
    """(tune, alias) of a `rhythmic` field: 木兰花・玉楼春 → (木兰花, 玉楼春); no alias → (name, "")."""
    name = to_simplified(re.sub(r"\s+", "", str(rhythmic or "")))
    for mark in ALIAS_MARKS:
        if mark in name:
            tune, alias = name.split(mark, 1)
            return tune, alias
    return name, ""


def normalise_ci(paragraphs: list[str]) -> tuple[str | None, str]:
    """(the 词 in standard forms with its clause marks, "kept"), or (None, why it is dropped: a □ for a lost
    character, like any other character that is not Han, drops the 词)."""
    text = re.sub(r"\s+", "", "".join(str(p) for p in paragraphs or []))
    text = _QUOTES_RE.sub("", _NOTE_RE.sub("", text))  # 水殿按《凉州》: the title marks go, the words stay
    if not text:
        return None, "empty"
    text = standard_forms(to_simplified(text)).replace(",", "，").replace(".", "。")
    if any(not is_han(char) and char not in CLAUSE_MARKS for char in text):
        return None, "non_han"
    if text[-1] not in CLAUSE_MARKS:
        return None, "not_punctuated"
    if re.search(f"[{CLAUSE_MARKS}]{{2,}}", text) or text[0] in CLAUSE_MARKS:
        return None, "empty_clause"
    return text, "kept"


def clauses(text: str) -> list[tuple[str, str]]:
    """(clause, the mark after it) of a 词."""
    return _CLAUSE_RE.findall(text)


def iter_ci_records(source: Path) -> Iterator[dict]:
    """The `author`/`paragraphs`/`rhythmic` records of chinese-poetry's `songci/ci.song.*.json`."""
    source = Path(source)
    if not source.exists():
        raise PoetryError(f"找不到语料来源：{source}")
    for file_name, data in source_files(source, CI_GLOB, folder=CI_FOLDER):
        try:
            yield from json.loads(data)
        except ValueError as err:
            raise PoetryError(f"语料文件 {file_name} 不是有效的 JSON（{err}）") from None


def build_ci_corpus(source: Path, corpus_dir: Path) -> CiStats:
    """Write `<corpus_dir>/ci/` from the source; returns what was kept and dropped."""
    stats, seen = CiStats(), set()
    dropped: collections.Counter[str] = collections.Counter()
    by_split: dict[str, list[tuple[str, tuple[str, str, str]]]] = {split: [] for split in SPLITS}
    for record in iter_ci_records(source):
        stats.read += 1
        tune, alias = tune_of(record.get("rhythmic"))
        text, reason = normalise_ci(record.get("paragraphs"))
        if not tune or LOST_TUNE in tune:
            reason, text = "lost_tune", None
        if text is None:
            dropped[reason] += 1
        elif text in seen:
            stats.duplicates += 1
        else:
            seen.add(text)
            author = to_simplified(re.sub(r"\s+", " ", str(record.get("author") or "")).strip())
            by_split[split_of(text)].append((text, (author, tune, alias)))
    stats.kept = sum(map(len, by_split.values()))
    if not stats.kept:
        raise PoetryError(f"{source} 中没有找到有词牌的词")
    out = Path(corpus_dir) / CI_DIR
    out.mkdir(parents=True, exist_ok=True)
    for split, rows in by_split.items():
        write_atomic(out / f"{split}.txt", "".join(text + "\n" for text, _ in rows))
        lines = ["\t".join(CI_META_COLUMNS), *("\t".join(meta) for _, meta in rows)]
        write_atomic(out / f"{split}.meta.tsv", "\n".join(lines) + "\n")
    stats.dropped, stats.per_split = dict(dropped), {split: len(rows) for split, rows in by_split.items()}
    stats.tunes = len({meta[1] for rows in by_split.values() for _, meta in rows})
    write_atomic(out / "stats.json", json.dumps(asdict(stats), ensure_ascii=False, indent=2))
    write_atomic(out / "README.md", _readme(stats))
    return stats


def _readme(stats: CiStats) -> str:
    dropped = ", ".join(f"{reason} {count}" for reason, count in sorted(stats.dropped.items()))
    splits = ", ".join(f"{split} {count}" for split, count in stats.per_split.items())
    return f"""# 词 (ci) of the corpus

The 宋词 of chinese-poetry 2.0.1 (`dist/songci/ci.song.*.json`, MIT, see ../LICENSE), built by
`python -m poetry_lm corpus build-ci --source chinese-poetry-2.0.1.tgz` (`poetry_lm/text/ci.py`). The 诗 files one
folder up are not touched by it.

1. The paragraphs of a 词 are joined; editors' notes in brackets and title marks (《》“”) are removed.
2. Traditional → simplified (OpenCC t2s), then variant → standard form, as for the poems.
3. Kept: only Han characters and the clause marks {CLAUSE_MARKS}, ending on a mark, no empty clause (a □ for a lost
   character drops the 词); a tune (`rhythmic`, 木兰花・玉楼春 → tune 木兰花, alias 玉楼春) other than {LOST_TUNE}.
4. Exact duplicates dropped; split by `sha1(词) % 100` like the poems: < 90 train, < 95 valid, otherwise test.

Read {stats.read}; kept {stats.kept} of {stats.tunes} tunes; duplicates {stats.duplicates}; dropped: {dropped}.
Splits: {splits}.

Format: `<split>.txt`, one 词 per line with its marks; `<split>.meta.tsv`, line for line after a header,
`author	tune	alias`. The 谱 of each tune (`poetry_lm/data/cipu.json`) is derived from the train split
(`python -m poetry_lm prosody build-cipu`).
"""


# The language model knows two marks: a clause ending a sentence (。？！；) reads 。, any other (，、：) reads ，.
LM_MARKS = str.maketrans({"、": "，", "：": "，", "？": "。", "！": "。", "；": "。"})


def lm_text(text: str, tune: str) -> str:
    """A 词 as the language model reads it: its tune as a first clause (so the diction can follow the tune), then
    the 词 with its marks as ，/。 (浣溪沙。一曲新词酒一杯，去年天气旧亭台。……)."""
    return f"{tune}。{text.translate(LM_MARKS)}"


def load_lm_texts(corpus_dir: Path, split: str) -> list[str]:
    """Every 词 of one split as `lm_text`."""
    return [lm_text(text, tune) for text, tune, _ in load_ci_records(corpus_dir, split)]


def load_ci_records(corpus_dir: Path, split: str) -> list[tuple[str, str, str]]:
    """(词, tune, alias) of one split of `<corpus_dir>/ci/`."""
    folder = Path(corpus_dir) / CI_DIR
    try:
        texts = (folder / f"{split}.txt").read_text(encoding="utf-8").splitlines()
        metas = (folder / f"{split}.meta.tsv").read_text(encoding="utf-8").splitlines()[1:]
    except OSError as err:
        raise PoetryError(f"词的语料文件无法读取：{folder}（{err.strerror or type(err).__name__}）") from None
    if len(texts) != len(metas):
        raise PoetryError(f"{folder} 的 {split}.txt 与 {split}.meta.tsv 行数不同")
    rows = []
    for text, meta in zip(texts, metas, strict=True):
        _, tune, alias = (meta.split("\t") + ["", ""])[:3]
        rows.append((text, tune, alias))
    return rows


def load_ci_split(corpus_dir: Path, split: str) -> list[tuple[str, str]]:
    """(词, tune) of one split of `<corpus_dir>/ci/`."""
    return [(text, tune) for text, tune, _ in load_ci_records(corpus_dir, split)]
