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
    """The shape of a warm-started model is the source model's; only dropout may change. A model of another
    kind (a couplet model started from the poem model) takes only the source's embedding size."""
    if requested.get("kind", source.kind) != source.kind:
        return {**requested, "embedding_dim": source.embedding_dim}
    shape = {key: getattr(source, key) for key in ("units", "layers", "embedding_dim")}
    clashes = {key: value for key, value in requested.items() if key in shape and value != shape[key]}
    if clashes:
        raise PoetryError(
            f"从已有模型继续训练时模型结构由该模型决定（{shape}），不能改为 {clashes}"
        )
    return {**shape, "dropout": requested.get("dropout", source.dropout), "kind": source.kind}


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


def copy_embedding_by_token(source: keras.Model, source_vocab: Vocabulary, target: keras.Model, vocab: Vocabulary) -> None:
    """Start only `target`'s character embedding from `source`'s, row by token: a model of another kind (the
    aligned couplet model) shares the characters' meaning with the poem model, not its other layers."""
    rows = np.asarray([source_vocab.source_index(token) for token in vocab.tokens])
    known = rows >= 0
    old = keras.ops.convert_to_numpy(source.get_layer("embedding").embeddings)
    embedding = target.get_layer("embedding").embeddings
    if old.shape[1] != embedding.shape[1]:
        raise PoetryError(f"无法从该模型继续训练：字向量维度 {old.shape[1]} 与 {embedding.shape[1]} 不符")
    new = keras.ops.convert_to_numpy(embedding).copy()
    new[known] = old[rows[known]]
    embedding.assign(new)
