"""Page pieces that are plain functions: tested without running a page."""

from __future__ import annotations

from studio.training import LOSS_COLORS, loss_legend, sample_label


def test_each_epoch_sample_is_labelled_as_its_own_poem():
    assert sample_label(1, "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。") == "示例 1 · 五言 4 句"
    assert sample_label(2, "山光悦鸟性无穷，水色空濛雨亦奇。") == "示例 2 · 七言 2 句"


def test_the_loss_legend_names_every_curve_in_its_colour():
    legend = loss_legend()
    for name, color in LOSS_COLORS.items():
        assert name in legend and color in legend
    assert "验证损失" in legend


def test_a_search_lists_the_poet_s_poems_before_titles_that_name_them():
    import pandas as pd

    from studio.corpus import search_poems

    table = pd.DataFrame({"author": ["杜甫", "李白", "王维", "杜甫"], "title": ["春望", "忆杜甫", "送别", "月夜"],
                          "poem": ["甲", "乙", "丙", "丁"]})
    assert list(search_poems(table, " 杜甫 ").poem) == ["甲", "丁", "乙"]
    assert list(search_poems(table, "送").poem) == ["丙"]
    assert search_poems(table, "杜", limit=1).poem.tolist() == ["甲"]
    assert search_poems(table, "苏轼").empty
