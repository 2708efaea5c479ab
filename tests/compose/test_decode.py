"""Constrained decoding: forced heads, line lengths, punctuation, masks, repetition, reproducibility.

Most tests use a model whose next-token distribution is known and hostile: its output layer
ignores the state and puts almost all mass on special tokens and punctuation, so any leak in
the masks shows up at once.
"""

import random
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from poetry_lm.compose.decode import (
    FREE,
    CharTables,
    WordBias,
    decode_loop,
    form_rhyme_cells,
    free_cell_bias,
    plain_tables,
    sampling_tensors,
    word_bias,
)
from poetry_lm.compose.generate import PoemGenerator, Settings
from poetry_lm.compose.settings import Sampling
from poetry_lm.model.config import ModelConfig, RunInfo, TrainConfig
from poetry_lm.model.network import ModelDir, build_model
from poetry_lm.prosody.form import regulated_form
from poetry_lm.prosody.options import ProsodyOptions
from poetry_lm.text.corpus import poem_problems, split_lines
from poetry_lm.text.vocab import Vocabulary

CHARS = "春花秋月山水风云江天日夜人来去不有无明白"
FAVOURITE = "月"


def hostile_generator(favourite_margin: float = 5.0) -> PoemGenerator:
    """Logits: special tokens and punctuation +20, FAVOURITE +margin, other characters 0."""
    vocab = Vocabulary.build([CHARS + "，。"])
    config = ModelConfig(vocab_size=len(vocab), embedding_dim=4, units=8, layers=2, dropout=0.0)
    model = build_model(config)
    dense = model.get_layer("next_char_dist").layer
    bias = np.zeros(len(vocab), dtype="float32")
    bias[: vocab.first_char_id] = 20.0
    bias[vocab.id_of(FAVOURITE)] = favourite_margin
    dense.kernel.assign(np.zeros(dense.kernel.shape, dtype="float32"))
    dense.bias.assign(bias)
    info = RunInfo(model=config, train=TrainConfig())
    # Plain tables: these tests are about the masks; the double and 重韵 bans have tests of their own.
    return PoemGenerator(ModelDir(Path("hostile"), model, vocab, info), plain_tables(len(vocab)))


@pytest.fixture(scope="module")
def hostile():
    return hostile_generator()


def assert_well_formed(poem, heads: str, line_length: int, placement: str = "lines"):
    """Every line of `line_length` characters with its punctuation, and each head where `placement` puts it."""
    from poetry_lm.compose.settings import normalise_heads
    from poetry_lm.compose.template import hidden_lines, poem_line_count

    assert not poem_problems(poem.lines, None, line_length, poem.text)
    assert len(poem.lines) == poem_line_count(len(heads), placement)
    shown = [poem.lines[i][0] for i in hidden_lines(len(heads), placement)]
    assert shown == list(normalise_heads(heads)) or [ch for ch in heads] == shown
    assert split_lines(poem.text) == poem.lines


def test_masks_hold_against_a_model_that_wants_specials(hostile):
    poems = hostile.generate(Settings("春花秋月", line_length=7, num_candidates=8, temperature=1.5, seed=3, repetition_penalty=0))
    assert len(poems) == 8
    for poem in poems:
        assert_well_formed(poem, "春花秋月", 7)
        free = "".join(line[1:] for line in poem.lines)
        assert set(free) <= set(CHARS)
    # Among allowed characters the favourite dominates (margin 5 nats) when repeats are free.
    free = "".join(line[1:] for poem in poems for line in poem.lines)
    assert free.count(FAVOURITE) / len(free) > 0.5


def test_repetition_penalty_discourages_repeats(hostile):
    poems = hostile.generate(Settings("春花秋山", line_length=5, num_candidates=8, temperature=1.0, seed=1, repetition_penalty=10))
    for poem in poems:
        free = "".join(line[1:] for line in poem.lines)
        assert free.count(FAVOURITE) <= 1


def test_top_k_one_is_greedy_and_ignores_seed(hostile):
    off = ProsodyOptions()  # no rhyme or tone rows: the model alone
    a = hostile.generate(Settings("山水", line_length=5, num_candidates=2, top_k=1, seed=1, repetition_penalty=0, prosody=off,
                                  placement="lines"))
    b = hostile.generate(Settings("山水", line_length=5, num_candidates=2, top_k=1, seed=2, repetition_penalty=0, prosody=off,
                                  placement="lines"))
    assert [p.text for p in a] == [p.text for p in b] == ["山月月月月，水月月月月。"] * 2


def test_same_seed_same_poems_different_seed_different(tiny_model_dir):
    generator = PoemGenerator.load(tiny_model_dir)
    settings = Settings("春江花月夜", line_length=7, num_candidates=4, temperature=1.0, seed=42)
    first = [p.to_dict() for p in generator.generate(settings)]
    assert first == [p.to_dict() for p in generator.generate(settings)]
    other = [p.text for p in generator.generate(Settings("春江花月夜", line_length=7, num_candidates=4, temperature=1.0, seed=43))]
    assert other != [p["text"] for p in first]


def test_many_random_head_strings(tiny_model_dir):
    generator = PoemGenerator.load(tiny_model_dir)
    rng = random.Random(0)
    pool = [t for t in generator.vocab.tokens[generator.vocab.first_char_id :]] + ["龘", "𠀋"]
    for trial in range(40):
        heads = "".join(rng.choice(pool) for _ in range(rng.randint(1, 16)))
        line_length = rng.choice([5, 7])
        placement = rng.choice(["whole", "spread", "lines"])
        poems = generator.generate(
            Settings(heads, line_length=line_length, num_candidates=rng.randint(1, 6), temperature=rng.uniform(0.2, 2.0),
                     top_k=rng.choice([None, 1, 5, 50]), seed=trial, placement=placement)
        )
        scores = [p.score for p in poems]  # the default ranking
        assert scores == sorted(scores, reverse=True) and all(np.isfinite([p.log_prob for p in poems]))
        for poem in poems:
            assert_well_formed(poem, heads, line_length, placement)
            assert set(poem.unknown_heads) == {ch for ch in heads if ch not in generator.vocab}
            free = "".join(line[1:] for line in poem.lines)
            assert all(ch in generator.vocab for ch in free)


# ---- the loop and the sampler, driven by a fake step of known logits ------------------------------


def fixed_step(logits_row: np.ndarray):
    """A `step` whose logits never change; its state counts the calls."""
    logits = tf.constant(logits_row[None, :], tf.float32)

    def step(token_ids, calls):
        return tf.repeat(logits, tf.shape(token_ids)[0], axis=0), calls + 1

    return step


def run_loop(logits_row, forced, bias_rows=None, bias_index=None, candidates=3, rhyme=None, tables=None, words=None,
             **sampling):
    vocab = Vocabulary.build([CHARS + "，。"])
    forced = np.asarray(forced, np.int32)
    bias_rows = free_cell_bias(vocab)[None] if bias_rows is None else bias_rows
    bias_index = np.zeros((candidates, len(forced)), np.int32) if bias_index is None else bias_index
    tokens, log_prob, *_ = decode_loop(
        fixed_step(np.asarray(logits_row, np.float32)), tf.constant(0), tf.constant(forced), tf.constant(bias_rows),
        tf.constant(bias_index), sampling_tensors(Sampling(**sampling)), vocab,
        rhyme_cells=None if rhyme is None else tf.constant(rhyme), tables=tables, words=words,
    )
    return vocab, tokens.numpy(), log_prob.numpy()


def tables_for(vocab: Vocabulary, doubles: str = "", counts: dict[str, int] | None = None) -> CharTables:
    """Tables with `doubles` reduplicable and unigram log-probabilities from `counts` (others: count 1)."""
    counts = counts or {}
    total = sum(counts.values()) + len(vocab)
    log_probs = np.asarray([0.0 if i < vocab.first_char_id else np.log(counts.get(token, 1) / total)
                            for i, token in enumerate(vocab.tokens)], np.float32)
    return CharTables(tf.constant(log_probs), tf.constant([token in doubles for token in vocab.tokens]))


# ---- by construction: no accidental double, no 重韵 ----------------------------------------------


def test_no_accidental_double_however_much_the_model_wants_one():
    """The model wants 月 everywhere; 月 is no 叠字, so it never stands twice in a row, with or
    without a given 月 next; a reduplicable character (悠 here) still may."""
    vocab = Vocabulary.build([CHARS + "，。"])
    logits = np.zeros(len(vocab), np.float32)
    logits[vocab.id_of("月")] = 8.0
    moon = vocab.id_of("月")
    _, tokens, _ = run_loop(logits, [FREE] * 6 + [moon], candidates=64, repetition_penalty=0.0, seed=3,
                            tables=tables_for(vocab))
    assert not (tokens[:, 1:] == tokens[:, :-1]).any()
    assert (tokens[:, 0] == moon).mean() > 0.9  # still the favourite wherever it is allowed
    _, doubled, _ = run_loop(logits, [FREE] * 6, candidates=64, repetition_penalty=0.0, seed=3,
                             tables=tables_for(vocab, doubles="月"))
    assert (doubled[:, 1:] == doubled[:, :-1]).any()


def test_no_rhyme_character_twice_at_rhyme_cells():
    vocab = Vocabulary.build([CHARS + "，。"])
    logits = np.zeros(len(vocab), np.float32)
    logits[vocab.id_of("天")] = 8.0
    rhyme = np.array([False, True, False, True, False, True])
    _, tokens, _ = run_loop(logits, [FREE] * 6, candidates=64, repetition_penalty=0.0, seed=4, rhyme=rhyme,
                            tables=tables_for(vocab, doubles=CHARS))
    at_rhyme = tokens[:, rhyme]
    assert all(len(set(row)) == 3 for row in at_rhyme.tolist())
    assert (at_rhyme[:, 0] == vocab.id_of("天")).mean() > 0.9


def test_a_ban_never_leaves_a_cell_without_a_character():
    """When the masks allow only the banned character, it is kept rather than failing (no -inf draw)."""
    vocab = Vocabulary.build([CHARS + "，。"])
    only_moon = np.full((1, len(vocab)), -np.inf, np.float32)
    only_moon[0, vocab.id_of("月")] = 0.0
    _, tokens, _ = run_loop(np.zeros(len(vocab)), [FREE] * 3, only_moon, candidates=4, rhyme=np.array([True] * 3),
                            tables=tables_for(vocab))
    assert (tokens == vocab.id_of("月")).all()


def test_a_word_ban_never_lets_its_second_character_follow_its_first():
    """A blessing bans 肠 right after 断 (断肠) however much the model wants it; elsewhere it is still allowed.
    Here 风 after 春 stands for it, in the loop's own little vocabulary."""
    vocab = Vocabulary.build([CHARS + "，。"])
    first, second = vocab.id_of("春"), vocab.id_of("风")
    logits = np.zeros(len(vocab), np.float32)
    logits[second] = 6.0
    words = word_bias({(first, second): -np.inf}, len(vocab))
    _, tokens, _ = run_loop(logits, [first, FREE, FREE, first, FREE], candidates=64, words=words, seed=5,
                            repetition_penalty=0.0, tables=tables_for(vocab, doubles=CHARS))
    assert not (tokens[:, 1] == second).any() and not (tokens[:, 4] == second).any()
    assert (tokens[:, 2] == second).mean() > 0.5  # not after 春: the model's favourite as before


def test_a_word_lift_raises_its_second_character_after_its_first_and_the_search_credits_it():
    """A theme's 烽火 lifts 火 right after 烽 (here 水 after 山)."""
    vocab = Vocabulary.build([CHARS + "，。"])
    first, second = vocab.id_of("山"), vocab.id_of("水")
    logits = np.zeros(len(vocab), np.float32)
    lifted = word_bias({(first, second): 4.0}, len(vocab))
    kwargs = {"candidates": 256, "seed": 6, "repetition_penalty": 0.0, "tables": tables_for(vocab, doubles=CHARS)}
    _, plain, _ = run_loop(logits, [first, FREE], **kwargs)
    _, steered, _ = run_loop(logits, [first, FREE], words=lifted, **kwargs)
    assert (plain[:, 1] == second).mean() < 0.2 and (steered[:, 1] == second).mean() > 0.6
    # The search score credits the lift a sample earned, so picking the best sample does not undo the steering.
    forced = np.array([first, FREE], np.int32)
    tokens, total, fit, _ = decode_loop(
        fixed_step(logits), tf.constant(0), tf.constant(forced), tf.constant(free_cell_bias(vocab)[None]),
        tf.constant(np.zeros((32, 2), np.int32)), sampling_tensors(Sampling(repetition_penalty=0.0, specificity=0.0)),
        vocab, words=lifted,
    )
    earned = (fit - total).numpy()
    took = tokens.numpy()[:, 1] == second
    assert took.any() and np.allclose(earned[took], 4.0) and np.allclose(earned[~took], 0.0)


def test_rhyme_cells_mark_each_rhyming_line_end():
    cells = form_rhyme_cells(regulated_form(5, 4))
    assert np.flatnonzero(cells).tolist() == [10, 22]  # lines 2 and 4, in the layout of 5 characters + a mark
    assert np.flatnonzero(form_rhyme_cells(regulated_form(7, 4, first_rhymes=True))).tolist() == [6, 14, 30]


# ---- the search score -----------------------------------------------------------------------------


def _search_pick(vocab, logits, tables, **sampling):
    """The first token the group keeps when one free cell is followed by a forced one (search 16)."""
    def step(token_ids, state):
        return tf.repeat(tf.constant(logits[None]), tf.shape(token_ids)[0], axis=0), state

    forced = np.array([FREE, vocab.punctuation_ids[1]], np.int32)
    tokens, total, fit, _ = decode_loop(
        step, tf.constant(0), tf.constant(forced), tf.constant(free_cell_bias(vocab)[None]),
        tf.constant(np.zeros((16, 2), np.int32)), sampling_tensors(Sampling(search=16, **sampling)), vocab,
        lambda state, rows: state, tables=tables,
    )
    return tokens.numpy()[:, 0], total.numpy(), fit.numpy()


def test_specificity_makes_search_prefer_the_rarer_of_two_likely_characters():
    vocab = Vocabulary.build([CHARS + "，。"])
    logits = np.full(len(vocab), -9.0, np.float32)
    common, rare = vocab.id_of("不"), vocab.id_of("溪") if "溪" in vocab else vocab.id_of("白")
    logits[common], logits[rare] = 1.0, 0.8  # the common character is a little more likely
    tables = tables_for(vocab, counts={"不": 100_000, vocab.tokens[rare]: 10})
    plain_pick, total, fit = _search_pick(vocab, logits, tables, temperature=2.0, seed=1, repetition_penalty=0.0)
    assert (plain_pick == common).all()
    np.testing.assert_allclose(total, fit, rtol=1e-6)  # specificity 0: the score is the log-probability
    specific_pick, _, fit = _search_pick(vocab, logits, tables, temperature=2.0, seed=1, repetition_penalty=0.0,
                                         specificity=0.5)
    assert (specific_pick == rare).all()
    assert (fit > total.min()).all()


def test_loop_forces_cells_and_scores_every_cell_and_the_end():
    vocab = Vocabulary.build([CHARS + "，。"])
    logits = np.arange(len(vocab), dtype=np.float32)  # the last character is the most likely
    spring, comma = vocab.id_of("春"), vocab.punctuation_ids[0]
    _, tokens, log_prob = run_loop(logits, [spring, FREE, FREE, comma], top_k=1, repetition_penalty=0.0)
    best = len(vocab) - 1
    assert tokens.tolist() == [[spring, best, best, comma]] * 3  # top-k 1 is greedy
    _, penalised, _ = run_loop(logits, [spring, FREE, FREE, comma], top_k=1, repetition_penalty=1.5)
    assert penalised[0].tolist() == [spring, best, best - 1, comma]  # 1.5 nats pushes the repeat below the next
    log_softmax = logits - np.log(np.exp(logits).sum())
    expected = log_softmax[[spring, best, best, comma]].sum() + log_softmax[vocab.eos_id]
    np.testing.assert_allclose(log_prob, expected, rtol=1e-5)


def test_bias_rows_are_chosen_per_candidate_and_cell():
    vocab = Vocabulary.build([CHARS + "，。"])
    only = [vocab.id_of("山"), vocab.id_of("水")]
    rows = np.full((3, len(vocab)), -np.inf, np.float32)
    rows[0, vocab.first_char_id :] = 0.0
    rows[1, only[0]] = rows[2, only[1]] = 0.0
    index = np.array([[1, 0], [2, 0], [2, 1]], np.int32)
    _, tokens, _ = run_loop(np.zeros(len(vocab)), [FREE, FREE], rows, index, temperature=2.0, seed=5)
    assert tokens[:, 0].tolist() == [only[0], only[1], only[1]]
    assert tokens[2, 1] == only[0]


def test_repetition_penalty_and_top_k_and_seed():
    vocab = Vocabulary.build([CHARS + "，。"])
    logits = np.zeros(len(vocab), np.float32)
    logits[vocab.id_of("月")] = 3.0
    _, free, _ = run_loop(logits, [FREE] * 6, candidates=64, top_k=1, repetition_penalty=0.0)
    assert (free == vocab.id_of("月")).all()
    _, penalised, _ = run_loop(logits, [FREE] * 6, candidates=64, top_k=2, repetition_penalty=10.0, seed=1)
    assert (penalised == vocab.id_of("月")).sum(axis=1).max() == 1  # used once, then 10 nats below the rest
    _, again, _ = run_loop(logits, [FREE] * 6, candidates=64, top_k=2, repetition_penalty=10.0, seed=1)
    _, other, _ = run_loop(logits, [FREE] * 6, candidates=64, top_k=2, repetition_penalty=10.0, seed=2)
    assert (again == penalised).all() and not (other == penalised).all()


# ---- copies and word cells (the couplet writer's additions) ----------------------------------------


def test_a_copy_cell_repeats_what_its_row_wrote_earlier_even_after_search_reorders_rows():
    vocab = Vocabulary.build([CHARS + "，。"])
    comma = vocab.punctuation_ids[0]
    forced = np.array([FREE, FREE, comma, FREE, FREE], np.int32)
    rows = 12
    copy_from = np.full((rows, len(forced)), -1, np.int32)
    copy_from[:, 3] = 0  # cell 3 repeats cell 0
    copy_from[:, 4] = 3  # and cell 4 repeats that
    tokens, *_ = decode_loop(
        fixed_step(np.zeros(len(vocab), np.float32)), tf.constant(0), tf.constant(forced),
        tf.constant(free_cell_bias(vocab)[None]), tf.constant(np.zeros((rows, len(forced)), np.int32)),
        sampling_tensors(Sampling(seed=3, search=4)), vocab, reorder=lambda state, rows: state,
        tables=plain_tables(len(vocab)), copy_from=tf.constant(copy_from),
    )
    tokens = tokens.numpy()
    assert (tokens[:, 3] == tokens[:, 0]).all() and (tokens[:, 4] == tokens[:, 0]).all()
    assert len(set(tokens[:, 0])) > 1  # the copied cell itself was drawn freely


def test_word_rows_act_only_on_the_word_cells():
    vocab = Vocabulary.build([CHARS + "，。"])
    first, second = vocab.id_of("山"), vocab.id_of("水")
    banned = np.zeros(len(vocab), np.float32)
    banned[vocab.first_char_id :] = -np.inf
    banned[second] = 0.0  # after 山 only 水
    slot = np.zeros(len(vocab), np.int32)
    slot[first] = 1
    words = (np.stack([np.zeros(len(vocab), np.float32), banned]), slot, np.zeros(len(vocab), np.float32))
    forced = np.array([first, FREE, first, FREE], np.int32)
    word_cells = np.array([False, True, False, False])
    tokens, *_ = decode_loop(
        fixed_step(np.zeros(len(vocab), np.float32)), tf.constant(0), tf.constant(forced),
        tf.constant(free_cell_bias(vocab)[None]), tf.constant(np.zeros((64, 4), np.int32)),
        sampling_tensors(Sampling(seed=1)), vocab, tables=plain_tables(len(vocab)),
        words=WordBias(*words), word_cells=tf.constant(word_cells),
    )
    tokens = tokens.numpy()
    assert (tokens[:, 1] == second).all()  # a word cell: only the word's second character
    assert len(set(tokens[:, 3])) > 3  # not a word cell: drawn freely
