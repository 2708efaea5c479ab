"""A model's loss on given poems, per token and per Han character: the number training and evaluation both report.

Backend-neutral (no TensorFlow import), so a JAX training run can score its test split too.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from poetry_lm.model.dataset import encode_couplets, encode_poems, make_dataset
from poetry_lm.text.vocab import Vocabulary


def lstm_token_scores(model: keras.Model, vocab: Vocabulary, poems: list[str], batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(negative log-likelihood, is-Han-character) for every predicted token of `poems`.

    Every poem starts from <bos>; the targets are its characters, `，`/`。` and <eos>.
    An unknown character is still a character: its target is <unk>.
    """
    not_han = {vocab.eos_id, vocab.pad_id, *vocab.punctuation_ids}
    losses, han = [], []
    for inputs, targets in make_dataset(encode_poems(poems, vocab), batch_size, shuffle=False):
        probs = np.asarray(model.predict_on_batch(inputs))
        targets = np.asarray(targets)
        picked = np.take_along_axis(probs, targets[..., None], axis=-1)[..., 0]
        real = targets != vocab.pad_id
        losses.append(-np.log(np.maximum(picked[real].astype(np.float64), 1e-12)))
        han.append(~np.isin(targets[real], list(not_han)))
    return np.concatenate(losses or [np.zeros(0)]), np.concatenate(han or [np.zeros(0, bool)])


def summarise_losses(losses: np.ndarray, han: np.ndarray, poems: int) -> dict:
    """Loss and perplexity per token (everything predicted) and per Han character (punctuation and end excluded)."""
    per_token = float(losses.mean()) if losses.size else math.nan
    per_han = float(losses[han].mean()) if han.any() else math.nan
    return {
        "loss": round(per_token, 4),
        "bits_per_char": round(per_token / math.log(2), 4),
        "perplexity": round(math.exp(per_token), 2),
        "loss_per_han": round(per_han, 4),
        "perplexity_per_han": round(math.exp(per_han), 1),
        "tokens": int(losses.size),
        "han_chars": int(han.sum()),
        "poems": poems,
    }


def evaluate_loss(model: keras.Model, vocab: Vocabulary, poems: list[str], batch_size: int = 128) -> dict:
    """Held-out loss of a model on `poems`, per token and per Han character."""
    return summarise_losses(*lstm_token_scores(model, vocab, poems, batch_size), poems=len(poems))


def evaluate_aligned(model: keras.Model, vocab: Vocabulary, poems: list[str], batch_size: int = 256) -> dict:
    """Held-out loss of an aligned couplet model on the parallel couplets of `poems`: −log p(下联 character |
    上联) per position (every target is a Han character, so per token and per character agree)."""
    from poetry_lm.text.couplets import parallel_couplets

    pairs = parallel_couplets(poems)
    losses = []
    for inputs, targets in make_dataset(encode_couplets(pairs, vocab), batch_size, shuffle=False, aligned=True):
        probs = np.asarray(model.predict_on_batch(inputs))
        picked = np.take_along_axis(probs, np.asarray(targets)[..., None], axis=-1)[..., 0]
        losses.append(-np.log(np.maximum(picked.astype(np.float64), 1e-12)).ravel())
    losses = np.concatenate(losses or [np.zeros(0)])
    return {**summarise_losses(losses, np.ones(losses.shape, bool), poems=len(poems)), "couplets": len(pairs)}
