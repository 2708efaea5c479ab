"""Occasions (祝福, 生日, 婚庆, 乔迁/开业, 春节, 送别): a poem that keeps the occasion's mood.

A blessing occasion bans inauspicious characters and words in every free cell (a decoding mask: 泪, 愁, 亡,
断肠 never appear, however the model leans), and every occasion steers the free cells toward its imagery
(鸳鸯, 连理 for a wedding; 南山, 松鹤 for a birthday) with the same word-level lift as a theme.

The lists are curated with the corpus in view: each word below occurs in the training poems (a test checks),
and `INAUSPICIOUS_CHARS` / `INAUSPICIOUS_WORDS` are what a reader of a wish would not want to see.
"""

from __future__ import annotations

from dataclasses import dataclass

from poetry_lm.errors import PoetryError, quoted

# Death, tears, grief, ruin and illness: never in a blessing. Single characters are banned in every cell.
INAUSPICIOUS_CHARS = "死亡泪涕愁恨悲哀丧坟墓冢鬼血病残哭泣殇惨凄怨苦孤寡衰枯灭葬魂骨尸棺毙殁忧戚恸伤痛"
# Words whose characters are harmless alone (断 and 肠, 白 and 发 …): the second is banned right after the first.
INAUSPICIOUS_WORDS = ("断肠", "肠断", "黄泉", "九泉", "凋零", "零落", "憔悴", "销魂", "寂寞", "飘零", "落魄",
                      "穷途", "末路", "白发", "暮年", "迟暮", "萧条", "冷落", "荒凉", "艰难", "何辜")


@dataclass(frozen=True)
class Occasion:
    """An occasion: whether it is a blessing (inauspicious words banned), and the imagery it leans toward."""

    name: str
    blessing: bool
    words: tuple[str, ...]  # lifted in free cells: a word's first character, and each next one after it
    description: str


OCCASIONS = {
    occasion.name: occasion
    for occasion in (
        Occasion("无", False, (), "不限：模型自由发挥"),
        Occasion("祝福", True, ("吉祥", "如意", "平安", "安康", "福寿", "长春", "春风", "花开", "富贵", "太平", "丰年",
                              "瑞气", "祥云", "康宁", "欢乐", "团圆", "长乐", "万年"),
                 "吉祥话：不出现死、泪、愁、断肠一类的字词，多用吉祥、安康、春风"),
        Occasion("生日", True, ("南山", "松柏", "长生", "千秋", "万寿", "寿考", "椿龄", "仙鹤", "蟠桃", "康宁", "福寿",
                              "长春", "百岁", "春秋"),
                 "祝寿：多用南山、松柏、千秋、仙鹤"),
        Occasion("婚庆", True, ("鸳鸯", "连理", "同心", "比翼", "双飞", "红烛", "良缘", "佳期", "琴瑟", "合欢", "并蒂",
                              "百年", "花烛", "好合", "成双"),
                 "新婚：多用鸳鸯、连理、同心、琴瑟"),
        Occasion("乔迁/开业", True, ("新居", "华堂", "门庭", "鸿图", "安居", "燕喜", "兴隆", "千金",
                                  "春风", "吉祥", "高堂", "栋梁"),
                 "乔迁、开业：多用华堂、门庭、鸿图、兴隆"),
        Occasion("春节", True, ("新春", "爆竹", "桃符", "屠苏", "元日", "新岁", "迎春", "春风", "梅花", "椒花", "年华",
                              "丰年", "瑞雪", "团圆"),
                 "新年：多用新春、爆竹、桃符、屠苏"),
        Occasion("送别", False, ("长亭", "杨柳", "故人", "孤帆", "前程", "相送", "别酒", "离亭", "春风", "明月", "千里",
                              "天涯", "归期"),
                 "送行赠别：多用长亭、杨柳、故人、前程（不禁离愁）"),
    )
}
NO_OCCASION = "无"


def occasion_named(name: str | None) -> Occasion:
    """The occasion called `name` (None or 无: none), or PoetryError listing the choices."""
    if name is None:
        return OCCASIONS[NO_OCCASION]
    occasion = OCCASIONS.get(str(name).strip())
    if occasion is None:
        raise PoetryError(f"未知场合{quoted(name)}，可选：{'、'.join(OCCASIONS)}")
    return occasion


def inauspicious_words(text: str) -> list[str]:
    """The inauspicious characters and words in `text`, in order of first appearance (the measure and the tests)."""
    found = [word for word in INAUSPICIOUS_WORDS if word in text]
    found += [char for char in INAUSPICIOUS_CHARS if char in text]
    return sorted(dict.fromkeys(found), key=text.find)
