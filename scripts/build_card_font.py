"""Build the poem card's font: Noto Serif CJK SC (Regular), subset to the characters the cards can show.

    python scripts/build_card_font.py [--font /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc]

The characters: every character of the corpus (all splits) and of every bundled model's
vocabulary (what a generated poem can contain), and the card's own labels. Noto CJK is under the SIL Open Font
License 1.1, which allows shipping a subset with its licence (poetry_lm/data/fonts/OFL.txt); the
subset keeps the font's name and copyright records. Needs Debian's fonts-noto-cjk and fonttools.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from poetry_lm.compose.card import CARD_FONT, CARD_FONT_CHARS, CARD_LABEL_CHARS  # noqa: E402
from poetry_lm.text.corpus import SPLITS  # noqa: E402


def card_characters() -> str:
    chars = set(CARD_LABEL_CHARS)
    for split in SPLITS:
        chars |= set((REPO / "corpus" / f"{split}.txt").read_text(encoding="utf-8"))
    for vocab in (REPO / "models").glob("*/vocab.json"):
        chars |= {token for token in json.loads(vocab.read_text(encoding="utf-8")) if len(token) == 1}
    return "".join(sorted(ch for ch in chars if ch.isprintable() and not ch.isspace()))


def licence_text(font) -> str:
    """The font's copyright record and the SIL Open Font License 1.1 text from Debian's package."""
    copyright_line = font["name"].getDebugName(0)
    debian = Path("/usr/share/doc/fonts-noto-cjk/copyright").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(debian) if "SIL OPEN FONT LICENSE Version 1.1" in line) - 1
    body = []
    for line in debian[start:]:
        if line and not line.startswith(" "):
            break
        body.append("" if line.strip() == "." else line[1:])
    return (f"{copyright_line}\n\nThis folder holds a subset of Noto Serif CJK SC Regular (the characters of the\n"
            f"corpus and the bundled vocabulary), made by scripts/build_card_font.py.\n\n" + "\n".join(body).rstrip() + "\n")


def main() -> None:
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--font", default="/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
    args = parser.parse_args()
    collection = TTCollection(args.font)
    font = next(f for f in collection.fonts if f["name"].getDebugName(4) == "Noto Serif CJK SC")
    chars = card_characters()
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.layout_features = []  # the card draws one upright character at a time: no shaping
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    tmp = CARD_FONT.with_suffix(".tmp")
    font.save(tmp)
    tmp.replace(CARD_FONT)
    (CARD_FONT.parent / "OFL.txt").write_text(licence_text(font), encoding="utf-8")
    covered = "".join(sorted(ch for ch in chars if ord(ch) in font.getBestCmap()))
    CARD_FONT_CHARS.write_text(covered + "\n", encoding="utf-8")
    missing = "".join(ch for ch in chars if ord(ch) not in font.getBestCmap())
    print(json.dumps({"characters": len(covered), "not_in_noto": missing, "bytes": CARD_FONT.stat().st_size,
                      "font": str(CARD_FONT)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
