"""Work-around for keras 3.15.1: `fit` under tf.distribute.MultiWorkerMirroredStrategy.

Keras 3.15 `fit` crashes under this strategy ("Attempt to convert a value (PerReplica...)",
keras-team/keras#20585, open). It patches private Keras code, so keras is pinned to 3.15.1 in
requirements.txt and tests/training/test_distributed.py runs two real workers. Delete this module (and
`--strategy multiworker`'s two uses of it in trainer.py) once keras fixes the issue.
TensorFlow is imported inside the functions: trainer.py imports this module on JAX-only GPU boxes too.
"""

from __future__ import annotations

import os

import keras

from poetry_lm.errors import PoetryError


def multiworker_strategy():
    """MultiWorkerMirroredStrategy over the cluster in TF_CONFIG, with the Keras 3.15 `fit` workaround.

    Keras 3.15 `fit` crashes under this strategy ("Attempt to convert a value (PerReplica...)",
    keras-team/keras#20585). Its multi-worker shortcut in `reduce_per_replica` is switched off
    here, and `build_from_one_replica` replaces the symbolic build: private API, so keras is
    pinned to 3.15.1 in requirements.txt and tests/training/test_distributed.py runs two real workers.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if "TF_CONFIG" not in os.environ:
        raise PoetryError("multiworker 策略需要环境变量 TF_CONFIG（集群地址与本机序号），见 README「多机训练」")
    if not hasattr(tf_trainer, "_collective_all_reduce_multi_worker"):
        raise PoetryError(f"multiworker 的兼容补丁只适用于 keras 3.15（当前 {keras.__version__}）")
    chosen = tf.distribute.MultiWorkerMirroredStrategy()
    tf_trainer._collective_all_reduce_multi_worker = lambda strategy: False
    return chosen


def build_from_one_replica(model: keras.Model, iterator=None, data_batch=None) -> None:
    """Keras's symbolic build, fed one replica's batch instead of a cross-worker reduction."""
    import tensorflow as tf

    if iterator is not None:
        for _, _, batches in iterator:
            data_batch = tf.nest.map_structure(
                lambda value: model.distribute_strategy.experimental_local_results(value)[0]
                if isinstance(value, tf.distribute.DistributedValues) else value,
                next(batches),
            )
            break
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=data_batch)
