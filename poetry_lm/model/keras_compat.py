"""Work-around for keras 3.15.1: `TimeDistributed` with a dynamic time axis in a TensorFlow graph.

`keras.layers.TimeDistributed.call` reads the input's shape *before* swapping the batch and time
axes, then maps over `range(batch_size)` while indexing time steps: with a dynamic time axis
(length-grouped batches of different lengths) it fails with an out-of-range slice, or silently
uses the wrong steps when the batch is shorter than the poem. With a static time axis Keras loops
over the steps in Python and is correct, so only the dynamic case is replaced: the time axis is
folded into the batch, which is exactly "apply the layer at every step" for a stateless layer like
the output Dense. The saved model is a plain TimeDistributed; this changes no file format.
Delete this module once keras fixes `TimeDistributed.call`.
"""

from __future__ import annotations

import keras
from keras import ops

_original_call = keras.layers.TimeDistributed.call


def _call(self, inputs, training=None, mask=None):
    if inputs.shape[1] is not None:
        return _original_call(self, inputs, training=training, mask=mask)
    shape = ops.shape(inputs)
    folded = ops.reshape(inputs, (-1, *inputs.shape[2:]))
    kwargs = {"training": training} if self.layer._call_has_training_arg else {}
    outputs = self.layer.call(folded, **kwargs)
    return ops.reshape(outputs, (shape[0], shape[1], *outputs.shape[1:]))


def patch_time_distributed() -> None:
    """Install the dynamic-time-axis fix (idempotent)."""
    keras.layers.TimeDistributed.call = _call
