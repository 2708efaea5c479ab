"""Training data: poems as id sequences, batched by length (tf.data, or a PyDataset without TensorFlow)."""

from __future__ import annotations

import collections
import math

import keras
import numpy as np

from poetry_lm.model.keras_compat import patch_time_distributed
from poetry_lm.text.vocab import Vocabulary


def encode_poems(poems: list[str], vocab: Vocabulary) -> list[np.ndarray]:
    """<bos> poem <eos> as int32 ids, one array per poem."""
    return [np.asarray(vocab.encode(poem, add_bounds=True), dtype=np.int32) for poem in poems]


def encode_couplets(pairs: list[tuple[str, str]], vocab: Vocabulary) -> list[np.ndarray]:
    """上联 ids then 下联 ids as one int32 array per couplet (no bounds: the aligned model reads the 上联
    whole and answers each position); `make_dataset(..., aligned=True)` splits it in halves again."""
    return [np.asarray(vocab.encode(first + second), dtype=np.int32) for first, second in pairs]


def group_by_length(sequences: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Sequences stacked per length: regulated verse has four lengths, so no padding is needed."""
    lengths = sorted({len(seq) for seq in sequences})
    return {length: np.stack([seq for seq in sequences if len(seq) == length]) for length in lengths}


def pad_to_longest(sequences: list[np.ndarray]) -> np.ndarray:
    """[N, longest] int32, right-padded with 0 (<pad>)."""
    padded = np.zeros((len(sequences), max(map(len, sequences))), dtype=np.int32)
    for row, seq in enumerate(sequences):
        padded[row, : len(seq)] = seq
    return padded


def batch_count(rows: int, batch_size: int, drop_remainder: bool) -> int:
    """Batches of `batch_size` from `rows` rows: the last short one counts unless dropped."""
    return rows // batch_size if drop_remainder else math.ceil(rows / batch_size)


def batches_per_epoch(sequences: list[np.ndarray], batch_size: int, drop_remainder: bool = False) -> int:
    """How many length-grouped batches `make_dataset` yields per pass."""
    per_length = collections.Counter(map(len, sequences))
    return sum(batch_count(rows, batch_size, drop_remainder) for rows in per_length.values())


def make_dataset(
    sequences: list[np.ndarray], batch_size: int, shuffle: bool, seed: int = 0, drop_remainder: bool = False,
    by_length: bool = True, aligned: bool = False,
):
    """(inputs, targets) batches of poems of one length each, the lengths interleaved at random.

    Padding every batch to the longest poem wasted about 30% of the work on the mixed corpus.
    Batches of different lengths give the model a dynamic time axis, which keras 3.15's
    TimeDistributed mishandles in a TF graph; `keras_compat` fixes that (and training installs it).
    tf.data when TensorFlow is installed; on a JAX-only machine (a GPU box) a PyDataset.
    `drop_remainder` (tf.distribute runs) keeps only full batches, so every replica gets rows.
    `by_length=False` pads every poem to the longest instead (the old way; `bench` compares the two).
    `aligned` (couplets from `encode_couplets`): the inputs are each row's first half, the targets its second.
    """
    groups = group_by_length(sequences) if by_length else {0: pad_to_longest(sequences)}
    patch_time_distributed()  # whoever feeds these batches to a model needs the dynamic-time-axis fix
    try:
        import tensorflow as tf
    except ImportError:
        return _NumpyBatches(groups, batch_size, shuffle, seed, drop_remainder, aligned)
    per_length, order = [], []
    for i, rows in enumerate(groups.values()):
        dataset = tf.data.Dataset.from_tensor_slices(rows)
        if shuffle:
            dataset = dataset.shuffle(len(rows), seed=seed + i, reshuffle_each_iteration=True)
        per_length.append(dataset.batch(batch_size, drop_remainder=drop_remainder))
        order += [i] * batch_count(len(rows), batch_size, drop_remainder)
    choices = tf.data.Dataset.from_tensor_slices(tf.constant(order, dtype=tf.int64))
    if shuffle:
        choices = choices.shuffle(len(order), seed=seed, reshuffle_each_iteration=True)
    return (
        tf.data.Dataset.choose_from_datasets(per_length, choices)
        .apply(tf.data.experimental.assert_cardinality(len(order)))  # Keras then knows the epoch's length
        .map(lambda seq: inputs_and_targets(seq, aligned, tf.shape(seq)[1] // 2), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def inputs_and_targets(batch, aligned: bool, half):
    """(inputs, targets) of a batch: a poem predicts its next characters, a couplet its 下联 from its 上联."""
    return (batch[:, :half], batch[:, half:]) if aligned else (batch[:, :-1], batch[:, 1:])


class _NumpyBatches(keras.utils.PyDataset):
    """The same length-grouped batches as `make_dataset`, without TensorFlow."""

    def __init__(self, groups: dict[int, np.ndarray], batch_size: int, shuffle: bool, seed: int, drop_remainder: bool,
                 aligned: bool = False):
        super().__init__()
        self.aligned = aligned
        self.groups, self.batch_size, self.shuffle = list(groups.values()), batch_size, shuffle
        self.drop_remainder = drop_remainder
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def on_epoch_end(self):
        self.batches = []
        for group, rows in enumerate(self.groups):
            order = self.rng.permutation(len(rows)) if self.shuffle else np.arange(len(rows))
            starts = range(0, batch_count(len(rows), self.batch_size, self.drop_remainder) * self.batch_size, self.batch_size)
            self.batches += [(group, order[start : start + self.batch_size]) for start in starts]
        if self.shuffle:
            self.rng.shuffle(self.batches)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        group, rows = self.batches[index]
        batch = self.groups[group][rows]
        return inputs_and_targets(batch, self.aligned, batch.shape[1] // 2)
