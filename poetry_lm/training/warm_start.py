"""Warm starts: a new model begins from a trained one, matched token by token.

Fine-tuning extends the source's vocabulary with the new corpus's characters; the shape of the
network (units, layers, embedding size) stays the source's.
"""

from __future__ import annotations

import keras
import numpy as np

from poetry_lm.errors import PoetryError
from poetry_lm.model.config import ModelConfig
from poetry_lm.model.network import lstm_weights
from poetry_lm.text.vocab import Vocabulary


def warm_start_model_config(source: ModelConfig, requested: dict) -> dict:
    """The shape of a warm-started model is the source model's; only dropout may change."""
    shape = {key: getattr(source, key) for key in ("units", "layers", "embedding_dim")}
    clashes = {key: value for key, value in requested.items() if key in shape and value != shape[key]}
    if clashes:
        raise PoetryError(
            f"从已有模型继续训练时模型结构由该模型决定（{shape}），不能改为 {clashes}"
        )
    return {**shape, "dropout": requested.get("dropout", source.dropout)}


def copy_weights_by_token(source: keras.Model, source_vocab: Vocabulary, target: keras.Model, vocab: Vocabulary) -> None:
    """Start `target` from `source`'s weights, matching embedding rows and output columns by token
    (a standard form the source held only as a variant, 雁 for 鴈, starts from the variant's).

    Tokens the source never saw keep their fresh embedding rows; their output bias starts at the
    source's lowest bias, because a new character is a rare one and a zero bias would make it
    suddenly likely. All other weights (the LSTMs) are copied as they are.
    """
    rows = np.asarray([source_vocab.source_index(token) for token in vocab.tokens])
    known = rows >= 0
    embedding, _, (kernel, bias) = lstm_weights(target)
    token_axis = {id(embedding): 0, id(kernel): 1, id(bias): 0}  # the axis that is indexed by token id
    for target_weight, source_weight in zip(target.weights, source.weights, strict=True):
        old = keras.ops.convert_to_numpy(source_weight)
        axis = token_axis.get(id(target_weight))
        if axis is not None:
            old = np.moveaxis(old, axis, 0)
            new = np.moveaxis(keras.ops.convert_to_numpy(target_weight).copy(), axis, 0)
            new[known] = old[rows[known]]
            if new.ndim == 1:
                new[~known] = old.min()
            new = np.moveaxis(new, 0, axis)
        elif old.shape != tuple(target_weight.shape):
            raise PoetryError(f"无法从该模型继续训练：权重 {target_weight.path} 的形状 {old.shape} 与 {target_weight.shape} 不符")
        else:
            new = old
        target_weight.assign(new)
