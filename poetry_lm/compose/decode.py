"""Constrained, batched sampling of acrostic poems with carried LSTM state, compiled with tf.function.

A poem is a fixed template of cells in its Form's layout (prosody.form): forced cells (the head of each
line, the `，`/`。` after it, a 词's tune before it) and free cells, whose allowed tokens come from an
additive logit bias (0 allowed, -inf banned, a negative number discouraged). Biases are few distinct rows (`bias_rows` [R, V]) picked per
candidate and cell by `bias_index` [B, T], so rhyme and tone masks cost R·V floats, not B·T·V.
The loop runs the LSTM one token at a time for all candidates at once, so the model never re-reads
the prefix. Besides the static rows, two bans depend on what was written (`cell_bans`): no accidental
double (a character right after itself that real poems do not double) and no rhyme character twice.

The loop (`decode_loop`) is a small function over a `step(token_ids, state) -> (logits, state)`
function, and every sampling decision is in `sample_next`, so both can be tested with a fake
step of known logits. `Decoder` supplies the model's step.

Speed: with 8 candidates a step is a few [8, n] × [n, m] products dominated by reading the
weights. The step keeps a column-major copy of them (`[out, in]`, one matrix per layer for
[x; h]), which TensorFlow's CPU matmul reads faster at this batch size, and only the chosen
tokens' log-probabilities are computed. The current figures, beside the classic loop and the
NumPy and weight-read floors, are in README's results (`python -m poetry_lm bench`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from poetry_lm.compose.settings import Sampling
from poetry_lm.model.network import lstm_weights
from poetry_lm.prosody.form import Form
from poetry_lm.text.charforms import is_variant
from poetry_lm.text.vocab import Vocabulary

FREE = -1  # forced_ids value of a free cell


def form_template(form: Form, fixed_ids: dict[tuple[int, int], int], vocab: Vocabulary) -> np.ndarray:
    """forced_ids [T] in the form's layout: its prompt, then each clause's cells and its mark; cell (i, j) is
    `fixed_ids[i, j]` where given and FREE elsewhere."""
    marks = dict(zip("，。", vocab.punctuation_ids, strict=True))
    cells = [vocab.id_of(char) for char in form.prompt]
    for i, clause in enumerate(form.clauses):
        cells += [*(fixed_ids.get((i, j), FREE) for j in range(clause.length)), marks[clause.mark]]
    return np.asarray(cells, dtype=np.int32)


def form_rhyme_cells(form: Form) -> np.ndarray:
    """[T] True at each rhyme position in `form_template`'s layout: no rhyme character is used twice there (重韵)."""
    cells = np.zeros(form.size, dtype=bool)
    cells[[form.cell(i, j) for i, j in form.rhyme_ends()]] = True
    return cells


class Decoded(NamedTuple):
    """What one decoder call returns, for B candidates of T cells."""

    tokens: np.ndarray  # [B, T] token ids
    log_prob: np.ndarray  # [B] model log-probability of every cell and of the end token
    score: np.ndarray  # [B] the search score: log_prob + specificity bonus − repetition penalties paid
    cell_log_probs: np.ndarray  # [B, T] log-probability of each cell's token


def free_cell_bias(vocab: Vocabulary) -> np.ndarray:
    """[V] bias for a free cell: characters allowed; special tokens, punctuation and variant forms
    banned (a model trained before variants were normalised still writes 剑, never 劒)."""
    bias = np.zeros(len(vocab), dtype=np.float32)
    bias[: vocab.first_char_id] = -np.inf
    bias[[i for i, token in enumerate(vocab.tokens) if is_variant(token)]] = -np.inf
    return bias


def sample_next(logits: tf.Tensor, bias: tf.Tensor, penalty: tf.Tensor, sampling: dict, step_seed: tf.Tensor,
                bans: tf.Tensor | None = None) -> tf.Tensor:
    """One id per row: temper the logits, add the cell's bias (masks) and subtract the repetition
    penalty, keep the top-k best (top_k 0: all), draw. Raw logits stand in for log-probabilities:
    tempering, top-k and drawing ignore a per-row constant.

    `bans` [B, V] (True: banned here, e.g. an accidental double or a used rhyme character) applies
    only to rows it leaves a character to draw; a row the masks already narrowed to banned
    characters keeps them rather than fail.
    """
    scores = logits / sampling["temperature"] + bias - penalty
    if bans is not None:
        banned = tf.where(bans, tf.constant(-np.inf, scores.dtype), scores)
        still_open = tf.reduce_any(banned > -np.inf, axis=-1, keepdims=True)
        scores = tf.where(still_open, banned, scores)
    top_k = sampling["top_k"]

    def keep_top_k():
        kth_best = tf.math.top_k(scores, k=top_k).values[:, -1:]
        return tf.where(scores < kth_best, tf.constant(-np.inf, scores.dtype), scores)

    scores = tf.cond((top_k > 0) & (top_k < tf.shape(scores)[-1]), keep_top_k, lambda: scores)
    return tf.cast(tf.random.stateless_categorical(scores, 1, seed=step_seed)[:, 0], tf.int32)


def cell_bans(written: tf.Tensor, following: tf.Tensor, rhyme_used: tf.Tensor, is_rhyme_cell: tf.Tensor,
              no_double: tf.Tensor) -> tf.Tensor:
    """[B, V] True where a free cell may not go: the character just written (`written` [B, V], one-hot) and a
    given one coming next (`following`, FREE when none), unless real poems double it (`no_double` [V] False);
    in a rhyme cell also every rhyme character used so far (`rhyme_used` [B, V])."""
    vocab_size = tf.shape(no_double)[0]
    neighbours = written | ((tf.range(vocab_size) == following) & (following >= 0))[None, :]
    return (neighbours & no_double[None, :]) | (rhyme_used & is_rhyme_cell)


class WordBias(NamedTuple):
    """Steering beyond the cell rows. A bias on the next character given the one just written, for words: a
    theme's 烽火 lifts 火 after 烽, a blessing bans 肠 after 断: `rows` [K, V] (row 0 all zeros; -inf bans the
    pair) and `slot` [V], the row each token's successor uses (0: none); K is the number of first characters
    involved, not V. And `lift` [V], the per-character steering already in the cell rows: the search credits
    what a sample earned from both, so picking the best of a candidate's samples does not undo the steering."""

    rows: np.ndarray  # [K, V] float32
    slot: np.ndarray  # [V] int32
    lift: np.ndarray  # [V] float32


def no_word_bias(vocab_size: int) -> WordBias:
    return WordBias(np.zeros((1, vocab_size), np.float32), np.zeros(vocab_size, np.int32),
                    np.zeros(vocab_size, np.float32))


def word_bias(pairs: dict[tuple[int, int], float], vocab_size: int, lift: np.ndarray | None = None) -> WordBias:
    """`pairs` {(first id, second id): bias, -inf for a ban} as a WordBias; `lift` [V] the per-character steering
    (finite values only count; none by default)."""
    firsts = sorted({first for first, _ in pairs})
    slot = np.zeros(vocab_size, np.int32)
    rows = np.zeros((len(firsts) + 1, vocab_size), np.float32)
    for k, first in enumerate(firsts, 1):
        slot[first] = k
    for (first, second), value in pairs.items():
        rows[slot[first], second] = value
    lift = np.zeros(vocab_size, np.float32) if lift is None else np.where(np.isfinite(lift), lift, 0).astype(np.float32)
    return WordBias(rows, slot, lift)


class CharTables(NamedTuple):
    """What the loop knows of each token: its unigram log-probability (the specificity bonus) and
    whether real poems double it (叠字), as [V] tensors (see text.char_stats)."""

    unigram_log_prob: tf.Tensor  # [V] float32, 0 for special tokens and punctuation
    reduplicable: tf.Tensor  # [V] bool


def plain_tables(vocab_size: int) -> CharTables:
    """No specificity bonus, every character reduplicable: the loop's bans and bonus switched off."""
    return CharTables(tf.zeros([vocab_size]), tf.ones([vocab_size], tf.bool))


def decode_loop(step, state, forced_ids, bias_rows, bias_index, sampling: dict, vocab: Vocabulary, reorder=None,
                rhyme_cells=None, tables: CharTables | None = None, words: WordBias | None = None, copy_from=None,
                word_cells=None):
    """(token ids [B, T], log-probability [B], search score [B], per-cell log-probabilities [B, T]) of B
    candidates sampled cell by cell.

    `step(token_ids [B], state) -> (logits [B, V], state)` is the model; a forced cell (id ≥ 0)
    takes its id, a free cell (FREE) is drawn by `sample_next` under its bias row
    `bias_rows[bias_index[b, t]]`. The log-probability is the model's, of every cell and of the end
    token after the last one.

    Two faults a reader spots at once are impossible by construction in free cells: an accidental
    double (the character just before, or the given one just after, unless real poems double it:
    `tables.reduplicable`) and 重韵 (a rhyme cell, `rhyme_cells[t]`, reusing an earlier rhyme character).

    Search: rows come in groups of `sampling["search"]` samples of one candidate. Right after each
    run of forced cells (a given character, or a line's punctuation and the next line's head)
    every row of a group continues from the group's best row so far. "Best" is the search score:
    the log-probability plus, for each free character, `specificity` × its negative unigram
    log-probability (a PMI-like bonus for the specific word over the common one) minus the repetition
    penalty it paid, so search no longer climbs toward the blandest wording.
    `reorder(state, rows)` gathers the step's state by row (None: no search). The tokens are read
    back through the recorded parents at the end, as in beam search. Without `rhyme_cells` no cell
    is a rhyme cell; without `tables`, no bonus and no double is banned (`plain_tables`). `words` adds each
    free cell's bias given the character before it (`WordBias`); its bans join the other bans.
    `word_cells` [T] (None: every cell) limits `words` to the cells it marks (a 横批's second and fourth
    characters complete the words begun by the first and third). `copy_from` [B, T] (−1: none) makes a cell repeat the token its row wrote at an earlier cell: a 下联 answers
    the 上联's 叠字 with its own (上联 花开花落, 下联 月缺月圆).
    """
    batch_size, steps, vocab_size = tf.shape(bias_index)[0], tf.shape(forced_ids)[0], len(vocab)
    rhyme_cells = tf.zeros_like(forced_ids, tf.bool) if rhyme_cells is None else rhyme_cells
    tables = tables or plain_tables(vocab_size)
    words = words or no_word_bias(len(vocab))
    word_rows, word_slot = tf.convert_to_tensor(words.rows, tf.float32), tf.convert_to_tensor(words.slot, tf.int32)
    lift = tf.convert_to_tensor(words.lift, tf.float32)
    group = sampling["search"]
    rows = tf.range(batch_size)
    # Only characters count as repeats; heads count too, so free cells avoid echoing them.
    penalty_per_use = sampling["repetition_penalty"] * tf.cast(tf.range(vocab_size) >= vocab.first_char_id, tf.float32)
    specific_bonus = -sampling["specificity"] * tables.unigram_log_prob  # [V], ≥ 0: rarer characters earn more
    no_double = tf.logical_not(tables.reduplicable)
    following_ids = tf.concat([forced_ids, [FREE]], 0)
    token = tf.fill([batch_size], vocab.bos_id)
    # The last token as a one-hot row, made once per step for the bans, the penalty and the rhymes used. No
    # gather on reorder: rows continue from another only after a forced cell, whose token they all share.
    written = tf.one_hot(token, vocab_size, on_value=True, off_value=False)
    penalty = tf.zeros([batch_size, vocab_size])
    rhyme_used = tf.zeros([batch_size, vocab_size], tf.bool)
    total = tf.zeros([batch_size])
    fit = tf.zeros([batch_size])
    out = tf.TensorArray(tf.int32, size=steps)
    scores = tf.TensorArray(tf.float32, size=steps)
    parents = tf.TensorArray(tf.int32, size=steps)
    history = tf.zeros([batch_size, steps], tf.int32)  # each row's tokens so far, by cell (for `copy_from`)
    for t in tf.range(steps):
        logits, state = step(token, state)
        step_seed = tf.stack([sampling["seed"][0], sampling["seed"][1] + t])
        following = following_ids[t + 1]
        after = tf.gather(word_rows, tf.gather(word_slot, token))  # [B, V]: what follows the token just written
        if word_cells is not None:
            after = tf.where(word_cells[t], after, tf.zeros_like(after))
        word_bans = after == -np.inf
        word_boost = tf.where(word_bans, tf.zeros_like(after), after)  # the bans go with the other bans
        bans = cell_bans(written, following, rhyme_used, rhyme_cells[t], no_double) | word_bans
        bias = tf.gather(bias_rows, bias_index[:, t]) + word_boost
        sampled = sample_next(logits, bias, penalty, sampling, step_seed, bans)
        free = forced_ids[t] < 0
        token = tf.where(free, sampled, tf.fill([batch_size], forced_ids[t]))
        if copy_from is not None:
            source_cell = copy_from[:, t]
            copied = tf.gather(history, tf.maximum(source_cell, 0), batch_dims=1)
            token = tf.where(source_cell >= 0, copied, token)
            history += tf.one_hot(t, steps, dtype=tf.int32)[None, :] * token[:, None]
        cell = log_prob_of(logits, token)
        scores = scores.write(t, cell)
        out = out.write(t, token)
        earned = tf.gather(lift, token) + tf.gather(word_boost, token, batch_dims=1)
        paid = tf.gather(specific_bonus, token) - tf.gather(penalty, token, batch_dims=1) + earned
        fit += cell + tf.where(free, paid, tf.zeros_like(paid))
        written = tf.one_hot(token, vocab_size, on_value=True, off_value=False)
        penalty += tf.cast(written, tf.float32) * penalty_per_use
        rhyme_used = rhyme_used | (written & rhyme_cells[t])
        total += cell
        if reorder is not None:
            best = tf.argmax(tf.reshape(fit, [-1, group]), axis=1, output_type=tf.int32)
            chosen = tf.repeat(tf.range(batch_size // group) * group + best, group)
            # After a run of forced cells (a line's punctuation then the next head): its last one, so
            # the choice also weighs how well the next line's given character fits.
            parent = tf.where((forced_ids[t] >= 0) & (following < 0), chosen, rows)
            state, penalty = reorder(state, parent), tf.gather(penalty, parent)
            rhyme_used, total, fit = tf.gather(rhyme_used, parent), tf.gather(total, parent), tf.gather(fit, parent)
            if copy_from is not None:  # only a loop with copies keeps the tokens by cell (poems do not pay for it)
                history = tf.gather(history, parent)
            parents = parents.write(t, parent)
    logits, _ = step(token, state)
    end = log_prob_of(logits, tf.fill([batch_size], vocab.eos_id))
    total += end
    fit += end
    tokens, cell_log_probs = out.stack(), scores.stack()  # [T, B], indexed by the rows of their step
    if reorder is not None:
        tokens, cell_log_probs = _follow_parents(tokens, cell_log_probs, parents.stack())
    return tf.transpose(tokens), total, fit, tf.transpose(cell_log_probs)


def _follow_parents(tokens: tf.Tensor, scores: tf.Tensor, parents: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Each final row's tokens and cell scores [T, B], read back step by step through the rows it
    continued from (`parents[t]`: the row each row continued from after step t)."""
    steps = tf.shape(tokens)[0]
    current = tf.range(tf.shape(tokens)[1])
    read_tokens = tf.TensorArray(tf.int32, size=steps)
    read_scores = tf.TensorArray(tf.float32, size=steps)
    for t in tf.range(steps - 1, -1, -1):
        current = tf.gather(parents[t], current)
        read_tokens = read_tokens.write(t, tf.gather(tokens[t], current))
        read_scores = read_scores.write(t, tf.gather(scores[t], current))
    return read_tokens.stack(), read_scores.stack()


def sampling_tensors(sampling: Sampling) -> dict:
    """`Sampling` as the loop's tensors: top_k None becomes 0 (all), the seed two int32 halves."""
    return {
        "temperature": tf.constant(sampling.temperature, tf.float32),
        "top_k": tf.constant(sampling.top_k or 0, tf.int32),
        "repetition_penalty": tf.constant(sampling.repetition_penalty, tf.float32),
        "specificity": tf.constant(sampling.specificity, tf.float32),
        "seed": tf.constant([sampling.seed // 2**31, sampling.seed % 2**31], tf.int32),
        "search": tf.constant(sampling.search, tf.int32),
        "style_strength": tf.constant(sampling.style_strength, tf.float32),
    }


SAMPLING_SIGNATURE = {
    "temperature": tf.TensorSpec([], tf.float32),
    "top_k": tf.TensorSpec([], tf.int32),
    "repetition_penalty": tf.TensorSpec([], tf.float32),
    "specificity": tf.TensorSpec([], tf.float32),
    "seed": tf.TensorSpec([2], tf.int32),
    "search": tf.TensorSpec([], tf.int32),
    "style_strength": tf.TensorSpec([], tf.float32),
}


def log_prob_of(logits: tf.Tensor, token_ids: tf.Tensor) -> tf.Tensor:
    """log softmax(logits)[token] per row, without materialising the whole log-softmax."""
    return tf.gather(logits, token_ids, batch_dims=1) - tf.reduce_logsumexp(logits, axis=-1)


def lstm_update(gates: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """New (h, c) [units, B] of a Keras LSTM cell from its pre-activations [4·units, B] (gates i, f, c, o)."""
    i, f, g, o = tf.split(gates, 4, axis=0)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


class ColumnWeights:
    """The model's matrices transposed for the decode loop: [W; U]ᵀ per LSTM layer and the output kernelᵀ.

    A copy, so it does not follow the model by itself: whoever changes the weights (the trainer's
    sample callback) calls `refresh()`; keeping the hot path free of any per-call weight check.
    """

    def __init__(self, live: list):
        self.live = live  # [kernel, recurrent_kernel] per layer, then the dense kernel
        self.columns = [tf.Variable(m, trainable=False) for m in self._transposed()]

    def _transposed(self) -> list[tf.Tensor]:
        pairs = zip(self.live[:-1:2], self.live[1:-1:2], strict=True)
        fused = [tf.transpose(tf.concat([kernel, recurrent], 0)) for kernel, recurrent in pairs]
        return [*fused, tf.transpose(self.live[-1])]

    def refresh(self) -> None:
        """Re-copy from the model's current weights."""
        for column, matrix in zip(self.columns, self._transposed(), strict=True):
            column.assign(matrix)

    def read(self) -> list[tf.Tensor]:
        return [column.read_value() for column in self.columns]


def reorder_columns(states, rows):
    """The loop's state gathered by row: every state tensor is [units, B] (its batch in the columns)."""
    return tf.nest.map_structure(lambda state: tf.gather(state, rows, axis=1), states)


class Decoder:
    """Samples candidates for a template in one compiled call: `decoder(forced_ids, bias, ...)`."""

    def __init__(self, model, vocab: Vocabulary, tables: CharTables | None = None):
        embedding, cells, (dense_kernel, dense_bias) = lstm_weights(model)
        # `.value` is the backing tf.Variable: the graph reads current weights (samples during training).
        self.embedding = embedding.value
        self.cells = [tuple(w.value for w in cell) for cell in cells]
        self.dense_kernel, self.dense_bias = dense_kernel.value, dense_bias.value
        self.vocab = vocab
        self.tables = tables or plain_tables(len(vocab))
        self.units = [int(kernel.shape[1]) // 4 for kernel, _, _ in self.cells]
        matrices = [w for kernel, recurrent_kernel, _ in self.cells for w in (kernel, recurrent_kernel)]
        self.column_weights = ColumnWeights([*matrices, self.dense_kernel])
        self._decode = tf.function(
            self._decode_graph,
            input_signature=[
                tf.TensorSpec([None], tf.int32, name="forced_ids"),
                tf.TensorSpec([None], tf.bool, name="rhyme_cells"),
                tf.TensorSpec([None, len(vocab)], tf.float32, name="bias_rows"),
                tf.TensorSpec([None, None], tf.int32, name="bias_index"),
                SAMPLING_SIGNATURE,
                tf.TensorSpec([None, len(vocab)], tf.float32, name="word_rows"),
                tf.TensorSpec([len(vocab)], tf.int32, name="word_slot"),
                tf.TensorSpec([len(vocab)], tf.float32, name="lift"),
            ],
        )

    @property
    def traces(self) -> int:
        """How many times the decode graph has been traced (once per decoder when all is well)."""
        return self._decode.experimental_get_tracing_count()

    def refresh_weights(self) -> None:
        """Pick up weights changed since the decoder was built (e.g. after a training epoch)."""
        self.column_weights.refresh()

    def step(self, token_ids: tf.Tensor, states: list) -> tuple[tf.Tensor, list]:
        """One LSTM step for a batch: next-token logits [B, V] and the new (h, c) [B, units] per layer.

        The decode loop's own math (`_column_step`), with batch-major states for callers and tests.
        """
        column_states = [(tf.transpose(h), tf.transpose(c)) for h, c in states]
        logits, column_states = self._column_step(token_ids, column_states, self.column_weights.read())
        return logits, [(tf.transpose(h), tf.transpose(c)) for h, c in column_states]

    def _column_step(self, token_ids, states, columns) -> tuple[tf.Tensor, list]:
        """`step` on column-major weights with states as [units, B]: the same math, laid out for speed."""
        x = tf.transpose(tf.gather(self.embedding, token_ids))
        new_states = []
        for fused, (_, _, bias), (h, c) in zip(columns[:-1], self.cells, states, strict=True):
            h, c = lstm_update(tf.matmul(fused, tf.concat([x, h], 0)) + bias[:, None], c)
            new_states.append((h, c))
            x = h
        return tf.transpose(tf.matmul(columns[-1], x)) + self.dense_bias, new_states

    def logits_along(self, token_ids: list[int]) -> np.ndarray:
        """[T, V] next-token logits after each of `token_ids`, one sequence stepped eagerly (scoring,
        alternatives, checks; generation uses the compiled loop)."""
        states, rows = self.initial_states(1), []
        for token in token_ids:
            logits, states = self.step(np.asarray([token], np.int32), states)
            rows.append(np.asarray(logits)[0])
        return np.stack(rows)

    def initial_states(self, batch_size) -> list:
        return [(tf.zeros([batch_size, u]), tf.zeros([batch_size, u])) for u in self.units]

    def _zero_states(self, batch_size) -> list:
        """The loop's initial (h, c) per layer, column-major: [units, B]."""
        return [(tf.zeros([u, batch_size]), tf.zeros([u, batch_size])) for u in self.units]

    def _loop_step(self, batch_size, sampling):
        """(step, initial states) for the compiled loop: the model's next-token logits on column-major weights."""
        columns = self.column_weights.read()

        def step(token_ids, states):
            return self._column_step(token_ids, states, columns)

        return step, self._zero_states(batch_size)

    def _decode_graph(self, forced_ids, rhyme_cells, bias_rows, bias_index, sampling, word_rows, word_slot, lift):
        step, states = self._loop_step(tf.shape(bias_index)[0], sampling)
        return decode_loop(step, states, forced_ids, bias_rows, bias_index, sampling, self.vocab, reorder_columns,
                           rhyme_cells, self.tables, WordBias(word_rows, word_slot, lift))

    def __call__(
        self, forced_ids: np.ndarray, bias_rows: np.ndarray, bias_index: np.ndarray, sampling: Sampling,
        rhyme_cells: np.ndarray | None = None, words: WordBias | None = None,
    ) -> Decoded:
        """B = bias_index.shape[0] candidates for the template `forced_ids` (`rhyme_cells`: see `form_rhyme_cells`;
        `words`: see `WordBias`)."""
        if rhyme_cells is None:
            rhyme_cells = np.zeros(len(forced_ids), dtype=bool)
        words = words or no_word_bias(len(self.vocab))
        tokens, log_prob, score, cell_log_probs = self._decode(
            tf.constant(forced_ids, tf.int32),
            tf.constant(rhyme_cells, tf.bool),
            tf.constant(bias_rows, tf.float32),
            tf.constant(bias_index, tf.int32),
            sampling_tensors(sampling),
            tf.constant(words.rows, tf.float32),
            tf.constant(words.slot, tf.int32),
            tf.constant(words.lift, tf.float32),
        )
        return Decoded(tokens.numpy(), log_prob.numpy(), score.numpy(), cell_log_probs.numpy())


class ContrastDecoder(Decoder):
    """A fine-tuned model's decoder that can turn its voice up: at each step the next-token log-probabilities are
    fine-tuned + α × (fine-tuned − base), α = `Sampling.style_strength` (0: the fine-tuned model alone). What the
    fine-tuning changed is amplified, what both models share is kept, as in contrastive decoding.

    The base model runs beside the fine-tuned one in the same compiled loop, on its own vocabulary: a token the
    base never had reads its own fine-tuned log-probability (no contrast there).
    """

    def __init__(self, model, vocab: Vocabulary, base_model, base_vocab: Vocabulary, tables: CharTables | None = None):
        super().__init__(model, vocab, tables)
        self.base = Decoder(base_model, base_vocab)  # its step only: its own compiled loop is never traced
        in_base = [base_vocab.id_of(token) if token in base_vocab else -1 for token in vocab.tokens]
        self.base_known = tf.constant([k >= 0 for k in in_base])
        self.base_ids = tf.constant([base_vocab.unk_id if k < 0 else k for k in in_base], tf.int32)

    def _loop_step(self, batch_size, sampling):
        """Both models step together; the loop sees the mixed log-probabilities and carries both states."""
        (tuned_step, tuned_states), (base_step, base_states) = (
            Decoder._loop_step(self, batch_size, sampling), self.base._loop_step(batch_size, sampling))
        alpha = sampling["style_strength"]

        def step(token_ids, states):
            tuned, tuned_next = tuned_step(token_ids, states[0])
            base, base_next = base_step(tf.gather(self.base_ids, token_ids), states[1])
            tuned = tf.nn.log_softmax(tuned)
            base = tf.where(self.base_known[None, :], tf.nn.log_softmax(tf.gather(base, self.base_ids, axis=1)), tuned)
            return tuned + alpha * (tuned - base), (tuned_next, base_next)

        return step, (tuned_states, base_states)


class ExpertDecoder(Decoder):
    """The poem model's decoder with a second expert beside it: at cell t of row b the loop reads
    log softmax(poem model) + weight × expert[expert_of_row[b], t] (a product of experts, renormalised by the
    loop's log-probability). The couplet writer's expert is the aligned model's log-probability of each 下联
    character given the whole 上联, zero on the cells it does not answer.

    Rows may answer different 上联 (`expert_of_row`); a row's cell counter travels in the loop's state.
    """

    def __init__(self, model, vocab: Vocabulary, tables: CharTables | None = None):
        super().__init__(model, vocab, tables)
        self._decode_with_expert = tf.function(
            self._expert_graph,
            input_signature=[
                tf.TensorSpec([None], tf.int32, name="forced_ids"),
                tf.TensorSpec([None], tf.bool, name="distinct_cells"),
                tf.TensorSpec([None, len(vocab)], tf.float32, name="bias_rows"),
                tf.TensorSpec([None, None], tf.int32, name="bias_index"),
                SAMPLING_SIGNATURE,
                tf.TensorSpec([None, None, len(vocab)], tf.float32, name="expert"),
                tf.TensorSpec([None], tf.int32, name="expert_of_row"),
                tf.TensorSpec([], tf.float32, name="weight"),
                tf.TensorSpec([None, None], tf.int32, name="copy_from"),
                tf.TensorSpec([None, len(vocab)], tf.float32, name="word_rows"),
                tf.TensorSpec([len(vocab)], tf.int32, name="word_slot"),
                tf.TensorSpec([None], tf.bool, name="word_cells"),
            ],
        )

    @property
    def traces(self) -> int:
        return super().traces + self._decode_with_expert.experimental_get_tracing_count()

    def _expert_graph(self, forced_ids, distinct_cells, bias_rows, bias_index, sampling, expert, expert_of_row, weight,
                      copy_from, word_rows, word_slot, word_cells):
        batch_size = tf.shape(bias_index)[0]
        poem_step, poem_states = self._loop_step(batch_size, sampling)

        def step(token_ids, states):
            model_states, cell = states  # cell [1, B]: the cell each row predicts next
            logits, model_states = poem_step(token_ids, model_states)
            advice = tf.gather_nd(expert, tf.stack([expert_of_row, cell[0]], axis=1))
            return tf.nn.log_softmax(logits) + weight * advice, (model_states, cell + 1)

        states = (poem_states, tf.zeros([1, batch_size], tf.int32))
        words = WordBias(word_rows, word_slot, tf.zeros([len(self.vocab)]))
        return decode_loop(step, states, forced_ids, bias_rows, bias_index, sampling, self.vocab, reorder_columns,
                           distinct_cells, self.tables, words, copy_from, word_cells)

    def with_expert(self, forced_ids: np.ndarray, bias_rows: np.ndarray, bias_index: np.ndarray, sampling: Sampling,
                    expert: np.ndarray, expert_of_row: np.ndarray, weight: float,
                    distinct_cells: np.ndarray | None = None, copy_from: np.ndarray | None = None,
                    words: WordBias | None = None, word_cells: np.ndarray | None = None) -> Decoded:
        """B = bias_index.shape[0] rows for the template `forced_ids`, each advised by `expert[expert_of_row[b]]`
        ([E, T + 1, V]: one row per cell and one for the end). `distinct_cells` [T]: no character twice among
        them; `copy_from` [B, T], `words` and `word_cells` [T]: see `decode_loop`."""
        steps = len(forced_ids)
        distinct_cells = np.zeros(steps, bool) if distinct_cells is None else distinct_cells
        copy_from = np.full(bias_index.shape, -1, np.int32) if copy_from is None else copy_from
        words = words or no_word_bias(len(self.vocab))
        word_cells = np.zeros(steps, bool) if word_cells is None else word_cells
        tokens, log_prob, score, cell_log_probs = self._decode_with_expert(
            tf.constant(forced_ids, tf.int32), tf.constant(distinct_cells, tf.bool),
            tf.constant(bias_rows, tf.float32), tf.constant(bias_index, tf.int32), sampling_tensors(sampling),
            tf.constant(expert, tf.float32), tf.constant(expert_of_row, tf.int32), tf.constant(weight, tf.float32),
            tf.constant(copy_from, tf.int32), tf.constant(words.rows, tf.float32), tf.constant(words.slot, tf.int32),
            tf.constant(word_cells, tf.bool),
        )
        return Decoded(tokens.numpy(), log_prob.numpy(), score.numpy(), cell_log_probs.numpy())
