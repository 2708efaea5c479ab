"""Held-out evaluation: loss, bits per character and perplexity on a corpus split."""

from __future__ import annotations

import math

import keras
import numpy as np

from poetry_lm.vocab import Vocabulary


def evaluate_loss(model: keras.Model, vocab: Vocabulary, poems: list[str], batch_size: int = 128) -> dict:
    """Mean negative log-likelihood per predicted token (characters, punctuation and <eos>).

    Summed over real tokens and divided by their count, so padding never dilutes it.
    """
    from poetry_lm.train import encode_poems, make_dataset

    total_nll, total_tokens = 0.0, 0
    for inputs, targets in make_dataset(encode_poems(poems, vocab), batch_size, shuffle=False):
        probs = keras.ops.convert_to_numpy(model(inputs, training=False))
        targets = np.asarray(targets)
        picked = np.take_along_axis(probs, targets[..., None], axis=-1)[..., 0]
        real = targets != vocab.pad_id
        total_nll += float(-np.log(np.maximum(picked[real], 1e-12)).sum())
        total_tokens += int(real.sum())
    loss = total_nll / max(total_tokens, 1)
    return {
        "loss": round(loss, 4),
        "bits_per_char": round(loss / math.log(2), 4),
        "perplexity": round(math.exp(loss), 2),
        "tokens": total_tokens,
        "poems": len(poems),
    }
