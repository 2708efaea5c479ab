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
