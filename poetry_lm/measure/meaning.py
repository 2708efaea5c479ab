"""Meaning: does a themed poem read as its theme, and does a blessing stay auspicious?

- Themes. A classifier that never saw a generated poem (character 1–2-grams, logistic regression) is trained on
  the train split's poems, labelled by their titles (`theme.NAMED_THEMES`; a sample of the rest as 其他). For each
  theme it reads poems written for the heads of that theme's real test poems three ways (no theme, the theme's
  characters, the theme's words) and the real test poems themselves (the ceiling), and reports the share it
  assigns to the theme, and the share that carries one of the theme's words.
- Occasions. 20 blessing heads, written with and without their occasion: the share of candidates holding an
  inauspicious word (`occasion.inauspicious_words`), and the model's mean log-probability per written character.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from poetry_lm.compose.generate import PoemGenerator
from poetry_lm.compose.occasion import inauspicious_words
from poetry_lm.compose.settings import Settings
from poetry_lm.compose.stock import stock_continuation
from poetry_lm.compose.theme import NAMED_THEMES, theme_lexicons, theme_of_title
from poetry_lm.prosody.options import DEFAULT_PROSODY
from poetry_lm.text.catalogue import load_catalogue
from poetry_lm.text.corpus import split_lines

OTHER = "其他"
OTHER_SAMPLE = 6000  # untitled-by-theme training poems the classifier sees as 其他
THEME_CONDITIONS = {"none": "不设主题", "chars": "主题的字（旧）", "words": "主题的词（新）"}
# Heads people write blessings with, and the occasion each asks for.
BLESSING_HEADS = {
    "花好月圆": "婚庆", "生日快乐": "生日", "新婚快乐": "婚庆", "万事如意": "祝福", "福寿安康": "生日",
    "吉祥如意": "祝福", "心想事成": "祝福", "身体健康": "祝福", "恭喜发财": "春节", "步步高升": "祝福",
    "前程似锦": "祝福", "年年有余": "春节", "龙马精神": "春节", "金玉满堂": "乔迁/开业", "百年好合": "婚庆",
    "永结同心": "婚庆", "开业大吉": "乔迁/开业", "生意兴隆": "乔迁/开业", "乔迁之喜": "乔迁/开业", "新春快乐": "春节",
}


def labelled(corpus_dir: Path, split: str):
    """The split's poems with their theme by title (None: no named theme)."""
    table = load_catalogue(Path(corpus_dir))
    table = table[table.split == split]
    return table.assign(theme=table.title.map(theme_of_title))


# The characters of the themes' names: the name-blind classifier never sees them, so a poem that only repeats
# 边 and 塞 (水边, 花边) does not pass for a 边塞 poem; what is left to go by is the imagery.
NAME_CHARS = "".join(dict.fromkeys("".join(NAMED_THEMES)))


def without_name_chars(text: str) -> str:
    return "".join(char for char in text if char not in NAME_CHARS)


def poem_classifier(texts: list[str], labels: list, preprocessor=None):
    """A reader that never sees a generated poem: character 1–2-gram TF-IDF + logistic regression with balanced
    classes, fitted on `texts` (the theme and the poet-attribution measures both use it)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                             preprocessor=preprocessor),
                             LogisticRegression(max_iter=3000, class_weight="balanced"))
    return pipeline.fit(texts, labels)


def train_theme_classifier(corpus_dir: Path, seed: int = 0, name_blind: bool = False):
    """`poem_classifier` over the named themes and 其他, on the train split only; `name_blind`: the themes' name
    characters removed from every poem, in training and when reading."""
    table = labelled(corpus_dir, "train")
    themed = table[table.theme.notna()]
    other = table[table.theme.isna()].sample(n=min(OTHER_SAMPLE, int(table.theme.isna().sum())), random_state=seed)
    texts = list(themed.poem) + list(other.poem)
    labels = list(themed.theme) + [OTHER] * len(other)
    return poem_classifier(texts, labels, without_name_chars if name_blind else None)


def heads_of(poem: str) -> tuple[str, int]:
    """(the first character of each line, the line length) of a corpus poem."""
    lines = split_lines(poem)
    return "".join(line[0] for line in lines), len(lines[0])


def theme_report(generator: PoemGenerator, corpus_dir: Path, per_theme: int = 12, candidates: int = 4,
                 seed: int = 0, ceiling_poems: int = 200) -> dict:
    """Per named theme: the share two classifiers (plain, name-blind) assign to the theme, for up to
    `ceiling_poems` real test poems of it and for poems written three ways for the heads of `per_theme` of them;
    the share holding one of the theme's words; the model's log-probability per written character."""
    started = time.perf_counter()
    classifiers = {"plain": train_theme_classifier(corpus_dir, seed),
                   "name_blind": train_theme_classifier(corpus_dir, seed, name_blind=True)}
    test = labelled(corpus_dir, "test")
    lexicons = theme_lexicons()
    report = {}
    for theme in NAMED_THEMES:
        real = test[test.theme == theme].sample(frac=1.0, random_state=seed)
        result = {"real": {"poems": len(real.head(ceiling_poems)),
                           **shares(classifiers, list(real.poem.head(ceiling_poems)), theme, lexicons[theme])}}
        for condition in THEME_CONDITIONS:
            written = []
            for k, poem in enumerate(real.poem.head(per_theme)):
                heads, line_length = heads_of(poem)
                settings = Settings(heads, line_length, candidates, seed=seed + k, prosody=DEFAULT_PROSODY,
                                    theme=None if condition == "none" else theme, theme_by_words=condition == "words")
                written += generator.generate(settings)
            result[condition] = {"poems": len(written), **shares(classifiers, [p.text for p in written], theme,
                                                                  lexicons[theme]),
                                 "log_prob_per_char": mean_log_prob(written)}
        result["relative"] = {name: round(result["words"][name] / max(result["real"][name], 1e-9), 3)
                              for name in classifiers}
        report[theme] = result
    return {"per_theme": report, "seconds": round(time.perf_counter() - started, 1),
            "classifier": "char 1–2-gram TF-IDF + logistic regression on the train split labelled by title; "
                          f"name_blind: without the characters {NAME_CHARS}"}


def mean_log_prob(poems) -> float | None:
    """The model's mean log-probability per written character over `poems` (None for none)."""
    return round(float(np.mean([p.free_log_prob for p in poems])), 3) if poems else None


def shares(classifiers: dict, poems: list[str], theme: str, words: list[str]) -> dict:
    """The share of `poems` each classifier assigns to `theme`, and the share holding one of its words."""
    if not poems:
        return {**dict.fromkeys(classifiers, 0.0), "imagery": 0.0}
    result = {name: round(float(np.mean(classifier.predict(poems) == theme)), 3)
              for name, classifier in classifiers.items()}
    result["imagery"] = round(float(np.mean([any(word in poem for word in words) for poem in poems])), 3)
    return result


def occasion_report(generator: PoemGenerator, candidates: int = 4, seed: int = 0) -> dict:
    """For the blessing heads: the share of candidates with an inauspicious word, without and with the occasion,
    and the model's mean log-probability per written character (how natural the words stay)."""
    result = {}
    for condition in ("off", "on"):
        flagged, per_char, examples = 0, [], []
        for k, (heads, occasion) in enumerate(BLESSING_HEADS.items()):
            settings = Settings(heads, 7, candidates, seed=seed + k, prosody=DEFAULT_PROSODY,
                                occasion=occasion if condition == "on" else None)
            for poem in generator.generate(settings):
                found = inauspicious_words(poem.text)
                flagged += bool(found)
                per_char.append(poem.free_log_prob)
                if found and len(examples) < 5:
                    examples.append(f"{heads}：{'、'.join(found)}")
        total = len(BLESSING_HEADS) * candidates
        result[condition] = {"candidates": total, "inauspicious": round(flagged / total, 3),
                             "log_prob_per_char": round(float(np.mean(per_char)), 3), "examples": examples}
    return result


# Common personal names (two characters, as hidden in a 嵌名 poem).
NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄勇", "周杰", "吴敏", "徐强", "孙丽", "马超", "朱琳",
         "胡军", "郭涛", "何平", "高峰", "林立", "罗斌")
NAME_CONDITIONS = {"lines": ("lines", False), "whole": ("whole", False), "whole_avoiding": ("whole", True)}


def names_report(generator: PoemGenerator, candidates: int = 4, seed: int = 0) -> dict:
    """For 20 names, 七言: poems one line per character (before), whole 绝句 (now), and whole 绝句 avoiding stock
    words (the default): lines per poem, the share that rhymes, and the share of hidden characters glued into the
    stock word they most often start (伟人)."""
    result = {}
    for condition, (placement, avoiding) in NAME_CONDITIONS.items():
        glued = hidden = rhymed = 0
        lines, written = [], []
        for k, name in enumerate(NAMES):
            settings = Settings(name, 7, candidates, seed=seed + k, prosody=DEFAULT_PROSODY, placement=placement,
                                avoid_stock_words=avoiding)
            for poem in generator.generate(settings):
                glued += sum(stock_continuation(poem.lines[i], j) for i, j in poem.marked)
                hidden += len(poem.marked)
                rhymed += poem.rhyme is not None
                lines.append(len(poem.lines))
                written.append(poem)
        result[condition] = {"poems": len(written), "lines": round(float(np.mean(lines)), 2),
                             "rhymed": round(rhymed / len(written), 3), "glued": round(glued / hidden, 3),
                             "log_prob_per_char": mean_log_prob(written),
                             "example": "，".join(written[0].lines) + "。"}
    return result


def format_meaning(themes: dict | None, occasions: dict | None, names: dict | None = None) -> str:
    """The reports as Markdown tables (README): each cell is plain classifier / name-blind classifier (imagery)."""
    out = []
    if themes:
        out.append("| theme | real test poems | no theme | theme's characters (before) | theme's words (now) "
                   "| words ÷ real |")
        out.append("|---|---|---|---|---|---|")
        for theme, row in themes["per_theme"].items():
            cells = [f"{row[c]['plain']:.0%} / {row[c]['name_blind']:.0%} ({row[c]['imagery']:.0%})"
                     for c in ("real", "none", "chars", "words")]
            relative = row["relative"]
            out.append(f"| {theme} | " + " | ".join(cells) + f" | {relative['plain']:.2f} / {relative['name_blind']:.2f} |")
        out.append("")
        out.append("| log-prob per written character | " + " | ".join(THEME_CONDITIONS.values()) + " |")
        out.append("|---|---|---|---|")
        for theme, row in themes["per_theme"].items():
            out.append(f"| {theme} | " + " | ".join(f"{row[c]['log_prob_per_char'] or float('nan'):.2f}"
                                                    for c in THEME_CONDITIONS) + " |")
    if names:
        out.append("")
        out.append("| 20 names, 七言 | lines | rhymed | hidden characters glued into a stock word | log-prob per char |")
        out.append("|---|---|---|---|---|")
        for condition, row in names.items():
            out.append(f"| {condition} | {row['lines']:.1f} | {row['rhymed']:.0%} | {row['glued']:.0%} "
                       f"| {row['log_prob_per_char']:.2f} |")
    if occasions:
        out.append("")
        out.append("| blessing heads | inauspicious | log-prob per char |")
        out.append("|---|---|---|")
        for condition, row in occasions.items():
            out.append(f"| occasion {condition} | {row['inauspicious']:.0%} | {row['log_prob_per_char']:.2f} |")
    return "\n".join(out)
