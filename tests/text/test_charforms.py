"""Variant forms become standard forms: the table, the corpus build, warm starts and decoding."""

import numpy as np

from poetry_lm.compose.decode import free_cell_bias
from poetry_lm.compose.settings import normalise_heads
from poetry_lm.text.charforms import (
    CHOSEN,
    build_variant_table,
    standard_chars,
    standard_forms,
    to_simplified,
    variant_table,
)
from poetry_lm.text.corpus import collect_records, split_of
from poetry_lm.text.vocab import SPECIAL_TOKENS, Vocabulary

POEM = "{}气横秋色，{}声下远空。登临千里目，独立万方风。"


def test_the_variants_users_met_are_written_in_standard_form():
    assert standard_forms("劒鴈疎蘂櫂") == "剑雁疏蕊棹"
    assert to_simplified("書劒") == "书剑"  # traditional (OpenCC) and variant (the table) in one pass
    assert normalise_heads("劒 鴈") == "剑雁"


def test_standard_characters_are_never_changed_and_every_form_is_standard():
    standard, table = standard_chars(), variant_table()
    assert len(standard) == 8105
    text = "".join(sorted(standard))
    assert standard_forms(text) == text  # 园 机 乾 檐 砂 stay (a broader converter changed them)
    assert not set(table) & standard and set(table.values()) <= standard
    assert standard_forms(standard_forms("".join(table))) == standard_forms("".join(table))


def test_committed_table_is_what_the_build_makes():
    assert build_variant_table()["variants"] == variant_table()


def test_a_variant_needs_one_standard_candidate_with_its_reading():
    groups = {"勅": ["敕", "来", "勑"], "臯": ["皋", "睾"], "袴": ["绔", "裤"], "刓": ["园"], "敕": ["勅"]}
    table = build_variant_table(groups, frozenset("敕来皋睾绔裤园"))
    # 来 (lái) shares no reading with 勅 (chì); 袴 fits both 绔 and 裤 and stays; 臯 is chosen by hand;
    # 刓 (to pare) is not 园; a standard character (敕) is never a variant.
    assert table["variants"] == {"勅": "敕", "臯": CHOSEN["臯"]}  # ADDED forms need their standard form present
    assert table["ambiguous"] == {"袴": ["绔", "裤"]}


def test_frequent_variants_yitizi_lacks_are_added():
    assert standard_forms("鶑慇垅秖") == "莺殷垄只"


def test_corpus_build_keeps_splits_and_drops_variant_twins():
    variant, standard = POEM.format("劒", "鴈"), POEM.format("剑", "雁")
    kept, stats = collect_records([(variant, ("唐", "甲", "一")), (standard, ("唐", "乙", "二"))])
    assert [poem.text for poem in kept] == [standard]  # the twin written in standard forms is a duplicate
    assert stats.duplicates == 1 and stats.variants_replaced == 2
    assert kept[0].split_key == variant and split_of(kept[0].split_key) == split_of(variant)


def test_warm_start_vocabulary_is_standardised():
    source = Vocabulary([*SPECIAL_TOKENS, "，", "。", "剑", "劒", "鴈", "山"])
    vocab = source.standardised()
    assert vocab.tokens == [*SPECIAL_TOKENS, "，", "。", "剑", "雁", "山"]  # 劒 merged into 剑, lone 鴈 renamed
    assert source.source_index("雁") == source.index["鴈"]  # 雁 starts from what the model learnt as 鴈
    assert source.source_index("剑") == source.index["剑"] and source.source_index("月") == -1


def test_a_model_with_variant_tokens_never_writes_them():
    vocab = Vocabulary([*SPECIAL_TOKENS, "，", "。", "剑", "劒", "山"])
    bias = free_cell_bias(vocab)
    assert np.isneginf(bias[vocab.index["劒"]]) and bias[vocab.index["剑"]] == 0 and bias[vocab.index["山"]] == 0
