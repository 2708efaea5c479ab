"""Composition controls: hidden characters at any position, templates and locked lines, themes, search, ranking."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from poetry_lm.compose.decode import FREE, decode_loop, free_cell_bias, sampling_tensors
from poetry_lm.compose.generate import PoemGenerator
from poetry_lm.compose.settings import Sampling, Settings
from poetry_lm.compose.template import locked_template, parse_template, position_cells
from poetry_lm.compose.theme import related_table, theme_boost, theme_chars
from poetry_lm.errors import PoetryError
from poetry_lm.prosody.options import DEFAULT_PROSODY, ProsodyOptions
from poetry_lm.text.corpus import poem_problems
from poetry_lm.text.vocab import Vocabulary

HIDDEN = "春花秋月山水风云江天日夜人来去明"  # 16 characters


@pytest.fixture(scope="module")
def generator(tiny_model_dir) -> PoemGenerator:
    return PoemGenerator.load(tiny_model_dir)


def cases():
    for line_length in (5, 7):
        for position in ("head", "tail", "2", str(line_length - 1), "rising", "falling"):
            limit = line_length if position in ("rising", "falling") else 16
            for count in sorted({1, 3, limit}):
                yield position, line_length, count


@pytest.mark.parametrize(("position", "line_length", "count"), list(cases()))
def test_every_position_kind_puts_each_hidden_character_in_its_cell(generator, position, line_length, count):
    hidden = HIDDEN[:count]
    poems = generator.generate(Settings(hidden, line_length, num_candidates=2, seed=count, position=position,
                                        search=2, prosody=DEFAULT_PROSODY))
    cells = position_cells(position, count, line_length)
    for poem in poems:
        assert not poem_problems(poem.lines, None, line_length, poem.text)
        assert [poem.lines[i][j] for i, j in cells] == list(hidden)
        assert poem.marked == cells and poem.heads == hidden and poem.position == position
        assert poem.to_dict()["position"] == position


def test_position_cells_by_kind():
    assert position_cells("tail", 3, 7) == [(0, 6), (1, 6), (2, 6)]
    assert position_cells("3", 2, 5) == [(0, 2), (1, 2)]
    assert position_cells("rising", 4, 5) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert position_cells("falling", 4, 5) == [(0, 4), (1, 3), (2, 2), (3, 1)]


@pytest.mark.parametrize(
    ("position", "count", "message"),
    [("0", 2, "藏字位置 0 须在 1 到 7"), ("8", 2, "藏字位置 8 须在 1 到 7"), ("middle", 2, "藏字位置只能是"),
     ("rising", 8, "递增最多藏到第 7 句"), ("falling", 9, "递减最多藏到第 7 句")],
)
def test_impossible_positions_are_refused(generator, position, count, message):
    with pytest.raises(PoetryError, match=message):
        generator.generate(Settings(HIDDEN[:count], 7, 1, position=position))


def test_hidden_characters_pick_a_rhyme_group_they_share_or_report_the_conflict(generator):
    fits = generator.generate(Settings("山光水霜", 7, 3, seed=1, position="tail", prosody=DEFAULT_PROSODY))
    for poem in fits:  # 光 and 霜 (lines 2 and 4) share 阳·唐: the rhyme is built around them
        assert poem.rhyme == "阳·唐" and not poem.conflicts
    clash = generator.generate(Settings("春花秋月", 7, 2, seed=1, position="tail", prosody=DEFAULT_PROSODY))
    for poem in clash:  # 花 (麻) and 月 (入声) share no group: the hidden characters win, and it is said
        assert [line[-1] for line in poem.lines] == list("春花秋月")
        assert any("“月”" in note for note in poem.conflicts) and poem.rhyme is None


def test_tail_characters_that_rhyme_on_ze_make_a_ze_rhyme_poem(generator):
    """藏尾 花好月老: 好 and 老 (lines 2 and 4) are 仄 and share 皓, so the poem rhymes on 仄 and its tone
    pattern ends the rhyme lines on 仄: no conflict on any card (it used to flag both as 应平而仄)."""
    options = ProsodyOptions(rhyme=True, tones="strict")
    for poem in generator.generate(Settings("花好月老", 7, 3, seed=1, position="tail", prosody=options)):
        assert [line[-1] for line in poem.lines] == list("花好月老")
        assert poem.rhyme == "皓·豪" and not poem.conflicts and poem.tone_ok_ratio == 1.0


def test_template_keeps_every_given_character_and_writes_the_marked_cells(generator):
    template = "春风又绿江南岸，＿＿＿＿＿＿＿。明月何时照我还，_______。"
    for poem in generator.generate(Settings("", num_candidates=3, seed=2, template=template, prosody=DEFAULT_PROSODY)):
        assert poem.lines[0] == "春风又绿江南岸" and poem.lines[2] == "明月何时照我还"
        assert not poem_problems(poem.lines, None, 7, poem.text) and poem.position == "template" and poem.marked == []


def test_a_rewritten_acrostic_keeps_its_hidden_characters_and_their_position(generator):
    first = generator.generate(Settings("春花秋月", 7, 1, seed=5, position="tail", prosody=DEFAULT_PROSODY))[0]
    template = locked_template(first.lines, keep={0}, also=first.marked)
    for poem in generator.generate(Settings("春花秋月", 7, 2, seed=6, position="tail", template=template)):
        assert poem.position == "tail" and poem.marked == first.marked
        assert [line[-1] for line in poem.lines] == list("春花秋月")


def test_locked_lines_survive_regeneration_byte_for_byte(generator):
    first = generator.generate(Settings("春花秋月", 7, 1, seed=5, prosody=DEFAULT_PROSODY))[0]
    template = locked_template(first.lines, keep={0, 2})
    again = generator.generate(Settings("", num_candidates=4, seed=6, template=template, prosody=DEFAULT_PROSODY))
    for poem in again:
        assert poem.lines[0].encode() == first.lines[0].encode() and poem.lines[2].encode() == first.lines[2].encode()
        written = [p for i, row in enumerate(poem.char_log_probs) if i in (1, 3) for p in row]
        assert poem.free_log_prob == pytest.approx(np.mean(written), abs=1e-3)  # kept lines are not "written"
    assert {poem.lines[1] for poem in again} != {first.lines[1]}  # the others were rewritten


@pytest.mark.parametrize(
    ("template", "message"),
    [("", "模板是空的"), ("春风又绿江南岸", "没有要写的位置"), ("春风＿＿，＿＿＿＿＿＿＿。", "每句须同为五字或七字"),
     ("春风又绿abc＿", "请去掉：a、b、c")],
)
def test_bad_templates_are_refused(template, message):
    with pytest.raises(PoetryError, match=message):
        parse_template(template)


# ---- themes ------------------------------------------------------------------------------------


def test_theme_is_segmented_and_boosts_its_characters_and_related_ones():
    assert theme_chars("明月的夜晚") == ["明", "月", "夜", "晚"]  # 的 is dropped
    vocab = Vocabulary.build(["明月夜晚春花秋风霜清影"])
    boost, chars = theme_boost("明月", 2.0, vocab)
    assert chars == ["明", "月"] and boost[vocab.id_of("月")] == boost[vocab.id_of("明")] == 2.0
    related = set(related_table()["月"]) & set(vocab.tokens)
    assert related and all(boost[vocab.id_of(ch)] == 1.0 for ch in related - {"明"})
    unrelated = set(vocab.tokens[vocab.first_char_id :]) - set(related_table()["月"] + related_table()["明"] + "明月")
    assert unrelated and all(boost[vocab.id_of(ch)] == 0 for ch in unrelated)
    assert not theme_boost("明月", 0.0, vocab)[0].any() and not theme_boost(None, 2.0, vocab)[0].any()
    with pytest.raises(PoetryError, match="没有可用的汉字"):
        theme_chars("hello")


def test_theme_boost_steers_a_fake_step_with_known_logits():
    """Equal logits for every character: the boosted ones win as often as their boost predicts."""
    vocab = Vocabulary.build(["春花秋月山水风云江天"])
    boost = np.zeros(len(vocab), np.float32)
    boost[vocab.id_of("月")] = np.log(9.0)  # 9× the weight of each of the other 9 characters: half the draws
    step_logits = tf.zeros([1, len(vocab)])

    def step(token_ids, state):
        return tf.repeat(step_logits, tf.shape(token_ids)[0], axis=0), state

    forced = np.full(20, FREE, np.int32)
    rows = (free_cell_bias(vocab) + boost)[None]
    tokens, *_ = decode_loop(step, tf.constant(0), tf.constant(forced), tf.constant(rows),
                               tf.constant(np.zeros((200, 20), np.int32)),
                               sampling_tensors(Sampling(temperature=1.0, repetition_penalty=0.0, seed=3)), vocab)
    share = float((tokens.numpy() == vocab.id_of("月")).mean())
    assert 0.45 < share < 0.55


# ---- search and ranking --------------------------------------------------------------------------


def test_search_continues_each_group_from_its_best_row_after_every_forced_cell():
    """A fake step of known logits: after the forced cell at t = 3 every row of a group holds the
    group's best-scoring prefix, so the K rows share their first four tokens, then diverge again."""
    vocab = Vocabulary.build(["春花秋月山水风云江天"])
    logits_row = np.linspace(0.0, 2.0, len(vocab)).astype(np.float32)  # known, unequal probabilities

    def step(token_ids, state):
        return tf.repeat(tf.constant(logits_row[None]), tf.shape(token_ids)[0], axis=0), state

    def reorder(state, rows):
        return state

    forced = np.array([FREE, FREE, FREE, vocab.id_of("月"), FREE, FREE, FREE], np.int32)
    group, groups = 8, 3
    tokens, total, _, cells = decode_loop(
        step, tf.constant(0), tf.constant(forced), tf.constant(free_cell_bias(vocab)[None]),
        tf.constant(np.zeros((group * groups, len(forced)), np.int32)),
        sampling_tensors(Sampling(temperature=3.0, repetition_penalty=0.0, seed=5, search=group)), vocab, reorder,
    )
    tokens, total, cells = tokens.numpy(), total.numpy(), cells.numpy()
    log_softmax = logits_row - np.log(np.exp(logits_row).sum())
    for g in range(groups):
        rows = tokens[g * group : (g + 1) * group]
        assert (rows[:, :4] == rows[0, :4]).all()  # one prefix per group after the forced cell
        assert len({tuple(r[4:]) for r in rows}) > 1  # and fresh samples after it
    np.testing.assert_allclose(cells, log_softmax[tokens], rtol=1e-5)  # scores read back with their tokens
    np.testing.assert_allclose(total, cells.sum(axis=1) + log_softmax[vocab.eos_id], rtol=1e-5)


def test_the_chosen_prefix_is_the_best_sampled_one():
    """With search the shared prefix is the most probable of the group's samples: compare with the
    same samples drawn without search (the same seed draws the same first three tokens)."""
    vocab = Vocabulary.build(["春花秋月山水风云江天"])
    logits_row = np.linspace(0.0, 2.0, len(vocab)).astype(np.float32)

    def step(token_ids, state):
        return tf.repeat(tf.constant(logits_row[None]), tf.shape(token_ids)[0], axis=0), state

    forced = np.array([FREE, FREE, FREE, vocab.id_of("月")], np.int32)
    common = (step, tf.constant(0), tf.constant(forced), tf.constant(free_cell_bias(vocab)[None]),
              tf.constant(np.zeros((8, 4), np.int32)))
    plain = decode_loop(*common, sampling_tensors(Sampling(temperature=3.0, repetition_penalty=0.0, seed=2)), vocab)
    searched = decode_loop(*common, sampling_tensors(Sampling(temperature=3.0, repetition_penalty=0.0, seed=2,
                                                              search=8)), vocab, lambda state, rows: state)
    best = int(np.argmax(plain[1].numpy()))
    assert (searched[0].numpy() == plain[0].numpy()[best]).all()


def test_search_in_the_generator_gives_well_formed_poems_and_consistent_scores(generator):
    for poem in generator.generate(Settings("春花秋月", 7, 3, seed=9, search=4, prosody=DEFAULT_PROSODY)):
        assert not poem_problems(poem.lines, "春花秋月", 7, poem.text)
        assert sum(map(sum, poem.char_log_probs)) > poem.log_prob  # the end token's score is the rest


def test_ranking_by_total_or_by_the_written_characters(generator):
    scored = generator.generate(Settings("春花秋月", 7, 6, seed=4, search=1))
    total = generator.generate(Settings("春花秋月", 7, 6, seed=4, search=1, ranking="total"))
    free = generator.generate(Settings("春花秋月", 7, 6, seed=4, search=1, ranking="free"))
    assert [p.score for p in scored] == sorted((p.score for p in scored), reverse=True)  # the default
    assert [p.log_prob for p in total] == sorted((p.log_prob for p in total), reverse=True)
    assert [p.free_log_prob for p in free] == sorted((p.free_log_prob for p in free), reverse=True)
    assert {p.text for p in total} == {p.text for p in free} == {p.text for p in scored}
    poem = total[0]
    written = [p for i, row in enumerate(poem.char_log_probs) for j, p in enumerate(row) if j != 0]
    assert poem.free_log_prob == pytest.approx(np.mean(written), abs=1e-3)


# ---- alternatives ------------------------------------------------------------------------------


def test_alternatives_follow_the_left_context_and_the_rhyme_of_the_rest(generator):
    from poetry_lm.compose.generate import alternatives
    from poetry_lm.prosody.options import DEFAULT_PROSODY
    from poetry_lm.prosody.rhyme import rhyme_groups_of

    lines = ["白日依山尽", "黄河入海流", "欲穷千里目", "更上一层楼"]
    found = alternatives(generator, lines, 3, 4, DEFAULT_PROSODY, top=6)
    assert 0 < len(found) <= 6 and sum(prob for _, prob in found) <= 1.0 + 1e-6
    assert [prob for _, prob in found] == sorted((prob for _, prob in found), reverse=True)
    shared = rhyme_groups_of("流")  # the other rhyme character holds the group
    assert all(rhyme_groups_of(char) & shared for char, _ in found)
    # Without rhyme, a non-rhyme cell: the model's own distribution over characters.
    free = alternatives(generator, lines, 0, 2, top=50)
    assert all(char in generator.vocab and len(char) == 1 for char, _ in free)
    with pytest.raises(PoetryError, match="没有第 5 句"):
        alternatives(generator, lines, 4, 0)


def test_alternatives_never_offer_an_accidental_double_or_a_used_rhyme(generator):
    """换一个字 obeys the decoder's bans: not the neighbour's character (unless a 叠字), not 流 again at 楼."""
    from poetry_lm.compose.generate import alternatives
    from poetry_lm.prosody.options import DEFAULT_PROSODY

    lines = ["白日依山尽", "黄河入海流", "欲穷千里目", "更上一层楼"]
    offered = {char for char, _ in alternatives(generator, lines, 3, 4, DEFAULT_PROSODY, top=500)}
    assert "流" not in offered and "层" not in offered
    inside = {char for char, _ in alternatives(generator, lines, 2, 2, top=5000)}
    assert not {"穷", "里"} & inside  # 欲穷X里目: X is neither neighbour
    assert "萋" in {char for char, _ in alternatives(generator, ["芳草萋白日", *lines[1:]], 0, 3, top=5000)}


def test_reflow_keeps_the_left_of_the_chosen_character_and_every_other_line(generator):
    from poetry_lm.compose.template import reflow_template

    lines = ["白日依山尽", "黄河入海流", "欲穷千里目", "更上一层楼"]
    template = reflow_template(lines, 2, 1, "知")
    assert template == "白日依山尽\n黄河入海流\n欲知＿＿＿\n更上一层楼"
    for poem in generator.generate(Settings("", num_candidates=2, seed=1, template=template)):
        assert poem.lines[2].startswith("欲知") and [poem.lines[k] for k in (0, 1, 3)] == [lines[k] for k in (0, 1, 3)]


def test_placements_give_whole_poems_for_names_and_an_even_poem_for_odd_counts():
    from poetry_lm.compose.template import hidden_lines, hidden_plan, poem_line_count

    assert [poem_line_count(k, "lines") for k in (1, 2, 3, 5)] == [1, 2, 3, 5]
    assert [poem_line_count(k, "whole") for k in (1, 2, 3, 4, 5, 6, 7)] == [4, 4, 4, 4, 6, 6, 8]
    assert hidden_lines(2, "whole") == [0, 1] and hidden_lines(2, "spread") == [0, 2]
    assert hidden_lines(3, "spread") == [0, 1, 3] and hidden_lines(1, "spread") == [0]
    plan = hidden_plan("张伟", "head", 7, "spread")
    assert (plan.lines, plan.fixed_cells) == (4, {(0, 0): "张", (2, 0): "伟"}) and plan.hidden == "张伟"
    assert hidden_plan("张伟", "3", 5, "whole").marked == ((0, 2), (1, 2))  # 嵌名: inside the lines
    with pytest.raises(PoetryError, match="藏字的句子只能是"):
        hidden_plan("张伟", "head", 7, "everywhere")


def test_a_name_gives_a_whole_rhymed_quatrain_and_five_heads_six_lines(generator):
    for poem in generator.generate(Settings("张伟", 5, 3, seed=1, placement="spread", prosody=DEFAULT_PROSODY)):
        assert len(poem.lines) == 4 and poem.lines[0][0] == "张" and poem.lines[2][0] == "伟"
        assert poem.rhyme is not None and poem.heads == "张伟"
        assert not poem_problems(poem.lines, None, 5, poem.text)
    five = generator.generate(Settings("春花秋月山", 5, 2, seed=2, placement="whole", prosody=DEFAULT_PROSODY))
    for poem in five:  # the sixth line is free, so the last line is a rhyme line
        assert len(poem.lines) == 6 and [line[0] for line in poem.lines[:5]] == list("春花秋月山")
        assert poem.rhyme is not None


def test_stock_words_are_lowered_right_after_a_hidden_character_in_a_whole_poem(generator):
    from poetry_lm.compose.steer import steering, stock_avoided
    from poetry_lm.compose.stock import STOCK_PENALTY, stock_continuation, stock_words
    from poetry_lm.compose.template import hidden_plan

    assert "人" in stock_words()["伟"] and stock_continuation("伟人何处", 0) and not stock_continuation("伟节", 0)
    vocab = generator.vocab

    def lowered(settings):
        return stock_avoided(settings, hidden_plan(settings.heads, settings.position, 7, settings.placement))

    assert lowered(Settings("春", placement="whole")) == "春" and lowered(Settings("张伟", placement="spread")) == "张伟"
    assert lowered(Settings("春", placement="lines")) == ""  # one line per head: the classic poems are unchanged
    assert lowered(Settings("春花秋月", placement="whole")) == ""  # no free line: nothing is a name here
    assert lowered(Settings("春", placement="whole", avoid_stock_words=False)) == ""
    whole = steering(Settings("春", placement="whole"), vocab, "春")
    first = vocab.id_of("春")
    for second in stock_words()["春"]:
        if second in vocab:
            assert whole.words.rows[whole.words.slot[first], vocab.id_of(second)] == STOCK_PENALTY
