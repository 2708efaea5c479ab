"""The poem corpus: build it from chinese-poetry, read its splits, validate user uploads.

A corpus directory holds `train.txt`, `valid.txt`, `test.txt` (one poem per line, simplified,
canonical punctuation: `，` after odd lines, `。` after even ones), `stats.json` and `README.md`.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import tarfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.files import write_atomic
from poetry_lm.text.charforms import standard_forms, to_simplified, traditional_to_simplified, variant_table

SPLITS = ("train", "valid", "test")
LINE_LENGTHS = (5, 7)
LINE_COUNTS = (4, 8)
# Punctuation accepted at line ends in the sources; rewritten to the canonical ，/。 alternation.
LINE_END_MARKS = "，。？！；"
FORM_NAMES = {(5, 4): "五言绝句", (7, 4): "七言绝句", (5, 8): "五言律诗", (7, 8): "七言律诗"}
SOURCE_FOLDER = "quantangshi"  # its `error/` subfolder holds rejected records and is skipped
SOURCE_GLOBS = {"tang": "poet.tang.*.json", "song": "poet.song.*.json"}
DYNASTIES = {"tang": "唐", "song": "宋"}
# Beside each `<split>.txt`, line for line: who wrote each poem (the style/fine-tuning work needs it).
META_COLUMNS = ("dynasty", "author", "title")
META_SUFFIX = ".meta.tsv"
# An uploaded corpus larger than this is refused before it is parsed (documented in README).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024

_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_SPLIT_RE = re.compile(f"[{LINE_END_MARKS}]")
_HAN_CLASS = _HAN_RE.pattern[1:-1]
# A canonical poem: 2 or 4 couplets of 5- or 7-character lines, "，" inside a couplet and "。" after it.
_CANONICAL_RE = re.compile(
    "|".join(f"(?:[{_HAN_CLASS}]{{{n}}}，[{_HAN_CLASS}]{{{n}}}。){{{k}}}" for n in LINE_LENGTHS for k in (2, 4))
)


def is_han(char: str) -> bool:
    """True for a single assigned CJK ideograph (basic block, extensions A-G, compatibility)."""
    return len(char) == 1 and _HAN_RE.fullmatch(char) is not None and unicodedata.category(char) == "Lo"


def shown_char(char: str) -> str:
    """A character as an error message can show it: invisible, combining or direction marks by code point."""
    return f"U+{ord(char):04X}" if unicodedata.category(char)[0] in "MCZ" else char


def split_lines(poem: str) -> list[str]:
    """The verse lines of a poem, punctuation removed."""
    return [line for line in _SPLIT_RE.split(poem) if line]


def punctuated_lines(poem: str) -> list[str]:
    """Each line of a canonical poem with its punctuation, for showing one line per row."""
    lines = split_lines(poem)
    width = len(lines[0]) + 1 if lines else 1
    return [poem[i : i + width] for i in range(0, len(poem), width)]


def join_lines(lines: Iterable[str]) -> str:
    """Canonical text: `，` after odd lines, `。` after even lines (and the last)."""
    lines = list(lines)
    marks = ["，" if i % 2 == 0 and i < len(lines) - 1 else "。" for i in range(len(lines))]
    return "".join(line + mark for line, mark in zip(lines, marks, strict=False))


def poem_problems(lines: list[str], heads: str | None = None, line_length: int | None = None,
                  text: str | None = None) -> list[str]:
    """What keeps a generated poem from being well formed; empty when it is.

    Lines of one length (`line_length`, or any of LINE_LENGTHS) made of Han characters; with
    `heads`, one line per head starting with it; with `text`, the canonical punctuation.
    """
    problems = []
    lengths = {len(line) for line in lines}
    if not lines or len(lengths) != 1 or lengths.pop() not in ([line_length] if line_length else LINE_LENGTHS):
        problems.append(f"line lengths wrong: {lines}")
    if not all(is_han(ch) for line in lines for ch in line):
        problems.append(f"characters other than Han: {lines}")
    if heads is not None and [line[:1] for line in lines] != list(heads):
        problems.append(f"heads {heads} not at the line starts: {lines}")
    if text is not None and text != join_lines(lines):
        problems.append(f"punctuation not ，/。 alternating: {text}")
    return problems


def normalise_poem(text: str) -> tuple[str | None, str]:
    """Return (canonical poem in standard simplified forms, "kept") or (None, reason it was dropped):
    what `collect_records` does to each text, for one poem."""
    poem, reason = _simplified_poem(text)
    return (standard_forms(poem) if poem else None), reason


def _simplified_poem(text: str) -> tuple[str | None, str]:
    """`normalise_poem` before variants become standard forms: the text a poem's split is drawn from."""
    text = traditional_to_simplified(re.sub(r"\s+", "", text))
    if not text:
        return None, "empty"
    if not any(is_han(ch) for ch in text):  # "hello world" is not Chinese, whatever its punctuation
        return None, "non_han"
    if text[-1] not in LINE_END_MARKS:
        return None, "not_punctuated"
    lines = _SPLIT_RE.split(text)[:-1]
    if not all(line and all(is_han(ch) for ch in line) for line in lines):
        return None, "non_han"
    lengths = {len(line) for line in lines}
    if len(lines) not in LINE_COUNTS or len(lengths) != 1 or lengths.pop() not in LINE_LENGTHS:
        return None, "not_regulated"
    return join_lines(lines), "kept"


def form_of(poem: str) -> tuple[int, int]:
    """(line_length, line_count) of a canonical poem."""
    lines = split_lines(poem)
    return len(lines[0]), len(lines)


def split_of(poem: str) -> str:
    """Deterministic ~90/5/5 split from a hash of the poem text.

    The corpus build hashes the text before variants become standard forms, so normalising
    variants moved no poem between splits (a model's test poems stay unseen in training).
    """
    bucket = int(hashlib.sha1(poem.encode("utf-8")).hexdigest(), 16) % 100
    return "train" if bucket < 90 else "valid" if bucket < 95 else "test"


@dataclass
class CorpusStats:
    """What a corpus build (or an upload) kept and dropped, and why."""

    read: int = 0
    kept: int = 0
    duplicates: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    per_split: dict[str, int] = field(default_factory=dict)
    per_form: dict[str, int] = field(default_factory=dict)
    characters: int = 0
    variants_replaced: int = 0  # characters of kept poems written in their standard form


def collect_poems(texts: Iterable[str]) -> tuple[list[str], CorpusStats]:
    """Normalise, filter and de-duplicate raw poem texts (order kept)."""
    kept, stats = collect_records((text, None) for text in texts)
    return [poem.text for poem in kept], stats


@dataclass(frozen=True)
class KeptPoem:
    """A poem a build keeps: its canonical text, the text its split is drawn from, and its metadata."""

    text: str
    split_key: str
    meta: tuple[str, ...] | None = None


def collect_records(records: Iterable[tuple[str, tuple[str, ...] | None]]) -> tuple[list[KeptPoem], CorpusStats]:
    """`collect_poems` for (text, metadata) pairs: the metadata of each kept poem rides along."""
    stats = CorpusStats()
    seen: set[str] = set()
    kept: list[KeptPoem] = []
    dropped: collections.Counter[str] = collections.Counter()
    forms: collections.Counter[str] = collections.Counter()
    for text, meta in records:
        stats.read += 1
        simplified, reason = _simplified_poem(text)
        poem = standard_forms(simplified) if simplified else None
        if poem is None:
            dropped[reason] += 1
        elif poem in seen:
            stats.duplicates += 1
        else:
            seen.add(poem)
            kept.append(KeptPoem(poem, simplified, meta))
            stats.variants_replaced += sum(a != b for a, b in zip(simplified, poem, strict=True))
            forms[FORM_NAMES[form_of(poem)]] += 1
            stats.characters += sum(len(line) for line in split_lines(poem))
    stats.kept = len(kept)
    stats.dropped = dict(dropped)
    stats.per_form = dict(forms)
    return kept, stats


def source_files(source: Path, glob: str, folder: str = SOURCE_FOLDER) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the files matching `glob` directly inside `folder`, in an npm tarball or unpacked directory."""
    if source.is_dir():
        for path in sorted(source.rglob(glob)):
            if path.parent.name == folder:
                yield path.name, path.read_bytes()
        return
    if not tarfile.is_tarfile(source):
        raise PoetryError(f"语料来源 {source} 既不是目录也不是 tar 包")
    with tarfile.open(source) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            path = Path(member.name)
            if member.isfile() and path.match(glob) and path.parent.name == folder:
                yield path.name, tar.extractfile(member).read()


def iter_source_poems(source: Path, collections_: Iterable[str] = ("tang",)) -> Iterator[dict]:
    """Poem records (`paragraphs`, `title`, `author`, `id`, plus `collection`) from chinese-poetry."""
    source = Path(source)
    if not source.exists():
        raise PoetryError(f"找不到语料来源：{source}")
    for name in collections_:
        if name not in SOURCE_GLOBS:
            raise PoetryError(f"未知的语料集合 {name!r}（可选 {'、'.join(SOURCE_GLOBS)}）")
        for file_name, data in source_files(source, SOURCE_GLOBS[name]):
            try:
                records = json.loads(data)
            except ValueError as err:
                raise PoetryError(f"语料文件 {file_name} 不是有效的 JSON（{err}）") from None
            for record in records:
                yield {**record, "collection": name}


def _meta_of(record: dict) -> tuple[str, str, str]:
    """(dynasty, author, title) of a source record, simplified, tabs and line breaks removed."""
    def clean(value) -> str:
        return to_simplified(re.sub(r"\s+", " ", str(value or "")).strip())

    return DYNASTIES.get(record["collection"], ""), clean(record.get("author")), clean(record.get("title"))


def build_corpus(source: Path, out_dir: Path, collections_: Iterable[str] = ("tang",)) -> CorpusStats:
    """Build the processed corpus directory (poems plus who wrote them) from the chinese-poetry source."""
    collections_ = tuple(collections_)
    records = iter_source_poems(Path(source), collections_)
    kept, stats = collect_records(("".join(r.get("paragraphs") or []), _meta_of(r)) for r in records)
    if not kept:
        raise PoetryError(f"{source} 中没有找到符合格律的诗")
    out_dir = Path(out_dir)
    stats.per_split = write_corpus([poem.text for poem in kept], out_dir, [poem.meta for poem in kept],
                                   split_keys=[poem.split_key for poem in kept])
    (out_dir / "stats.json").write_text(
        json.dumps({"collections": list(collections_), **asdict(stats)}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    size_mb = sum(path.stat().st_size for path in out_dir.glob("*.t[xs][tv]")) / 1e6  # the split files
    (out_dir / "README.md").write_text(_readme(collections_, stats, size_mb), encoding="utf-8")
    return stats


def _readme(collections_: tuple[str, ...], stats: CorpusStats, size_mb: float) -> str:
    variant_count = len(variant_table())
    forms = "\n".join(f"| {form} | {count} |" for form, count in sorted(stats.per_form.items()))
    splits = ", ".join(f"{split} {count}" for split, count in stats.per_split.items())
    dropped = ", ".join(f"{reason} {count}" for reason, count in sorted(stats.dropped.items()))
    return f"""# Processed corpus

Regulated classical poems (绝句 and 律诗) for training the character-level model.

- **Source**: [chinese-poetry](https://github.com/chinese-poetry/chinese-poetry), npm package
  `chinese-poetry@2.0.1`, files `package/dist/quantangshi/{', '.join(SOURCE_GLOBS[c] for c in collections_)}`
  (the `error/` folder is skipped).
- **Licence**: MIT, Copyright (c) 2016 JackeyGao (see `LICENSE` in this folder).
- **Rebuild**: `npm pack chinese-poetry@2.0.1 && python -m poetry_lm corpus build --source chinese-poetry-2.0.1.tgz --out corpus/ --collections {','.join(collections_)}`

## Filters (in order)
1. The `paragraphs` of a poem are joined, whitespace removed, and converted to simplified Chinese
   with OpenCC (`t2s`).
2. The text must end with one of `{LINE_END_MARKS}`; it is split into lines at those marks.
3. Every line must be Han characters only (anything else, e.g. `□`, `（`, `、`, drops the poem).
4. 4 or 8 lines, all of 5 or all of 7 characters.
5. Punctuation is rewritten to the canonical alternation: `，` after odd lines, `。` after even lines.
6. Variant forms are written in their standard form (劒 → 剑, 鴈 → 雁, 疎 → 疏, 蘂 → 蕊, 櫂 → 棹):
   the table `poetry_lm/data/variants.json` ({variant_count:,} variants of the 通用规范汉字表's characters;
   how it is made: `poetry_lm/text/charforms.py`, `python -m poetry_lm corpus build-variants`).
   {stats.variants_replaced:,} characters of the kept poems were variants written in their standard form.
7. Exact duplicates (after conversion) are dropped; the first occurrence is kept.
8. Split by `sha1(poem) % 100` of the text before step 6 (so the step moved no poem between splits):
   < 90 train, < 95 valid, otherwise test.

## Counts
Read {stats.read} poems; kept {stats.kept} ({stats.characters} Han characters); duplicates {stats.duplicates};
dropped: {dropped}.

Splits: {splits}.

| form | poems |
|---|---|
{forms}

Format: `<split>.txt` holds one poem per line, UTF-8, e.g. `床前明月光，疑是地上霜。举头望明月，低头思故乡。`;
`<split>.meta.tsv` holds, line for line after a header, `dynasty	author	title` (tab-separated, simplified).
`word_counts.json` holds the 2,000 most frequent words of two or more characters over every poem (jieba, line by
line), for the studio's 语料 tab (`python -m poetry_lm corpus build-word-counts` recounts them).
Size on disk: {size_mb:.1f} MB (the six split files).
"""


def load_split(corpus_dir: Path, split: str) -> list[str]:
    """The poems of one split of a processed corpus directory, each checked to be a canonical poem."""
    path = Path(corpus_dir) / f"{split}.txt"
    if not path.is_file():
        raise PoetryError(f"语料文件不存在：{path}")
    try:
        poems = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    except UnicodeDecodeError as err:
        raise PoetryError(f"语料文件不是 UTF-8 编码（第 {err.start} 字节出错）：{path}") from None
    for number, poem in enumerate(poems, 1):
        if not _CANONICAL_RE.fullmatch(poem):
            shown = poem if len(poem) <= 40 else f"{poem[:40]}…（共 {len(poem):,} 个字符）"
            raise PoetryError(f"{path} 第 {number} 行不是规范的绝句或律诗（每行一首，，/。交替）：{shown}")
    return poems


def corpus_hash(corpus_dir: Path) -> str:
    """sha256 over the three split files: identifies the data a model was trained on."""
    digest = hashlib.sha256()
    for split in SPLITS:
        path = Path(corpus_dir) / f"{split}.txt"
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def parse_uploaded_corpus(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[list[str], CorpusStats]:
    """Poems from an uploaded UTF-8 text file, one poem per line; reports kept/dropped counts."""
    if len(data) > max_bytes:
        raise PoetryError(f"文件太大（{len(data) / 2**20:.1f} MB），上限为 {max_bytes / 2**20:g} MB")
    if b"\x00" in data:
        raise PoetryError("文件看起来是二进制文件，请上传 UTF-8 纯文本（每行一首诗）")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise PoetryError(f"文件不是 UTF-8 编码（第 {err.start} 字节出错），请转存为 UTF-8 后再上传") from None
    all_lines = text.splitlines()
    lines = [line for line in all_lines if line.strip()]
    if not lines:
        raise PoetryError("文件是空的：请每行写一首五言或七言的绝句/律诗")
    poems, stats = collect_poems(lines)
    blank = len(all_lines) - len(lines)
    if blank:  # every line of the file is counted, blank ones as dropped "empty"
        stats.read += blank
        stats.dropped = {**stats.dropped, "empty": stats.dropped.get("empty", 0) + blank}
    if not poems:
        raise PoetryError(f"文件中 {stats.read} 行都不是符合格律的五言/七言绝句或律诗")
    return poems, stats


def write_corpus(poems: list[str], out_dir: Path, metas: list[tuple[str, ...]] | None = None,
                 split_keys: list[str] | None = None) -> dict[str, int]:
    """Write normalised poems as a corpus directory, split by hash; returns poems per split.

    With `metas` (one (dynasty, author, title) per poem) each split also gets `<split>.meta.tsv`;
    `split_keys` are the texts hashed for the split (default: the poems themselves).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = list(zip(poems, metas or [None] * len(poems), strict=True))
    by_split: dict[str, list] = {split: [] for split in SPLITS}
    for row, key in zip(rows, split_keys or poems, strict=True):
        by_split[split_of(key)].append(row)
    # A small upload may leave valid/test empty; borrow the last train poems so both exist.
    for split in ("valid", "test"):
        if not by_split[split] and len(by_split["train"]) > 1:
            by_split[split].append(by_split["train"].pop())
    for split, items in by_split.items():
        write_split(out_dir, split, [poem for poem, _ in items], None if metas is None else [meta for _, meta in items])
    return {split: len(items) for split, items in by_split.items()}


def write_split(out_dir: Path, split: str, poems: list[str], metas: list[tuple[str, ...]] | None = None) -> None:
    """`<split>.txt` (one poem per line) and, with `metas`, `<split>.meta.tsv` line for line (each written whole)."""
    out_dir = Path(out_dir)
    write_atomic(out_dir / f"{split}.txt", "".join(poem + "\n" for poem in poems))
    if metas is not None:
        lines = ["\t".join(META_COLUMNS), *("\t".join(meta) for meta in metas)]
        write_atomic(out_dir / f"{split}{META_SUFFIX}", "\n".join(lines) + "\n")
