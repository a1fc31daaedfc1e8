"""Turn a trained Keras model into the LiteRT (.tflite) file the app ships.

The app classifies with the LiteRT runtime, which imports in a fraction of a
second, instead of TensorFlow, which takes seconds. Weights are quantised to int8
with a calibration sample of training faces: about half the latency at the cost
of a few tenths of a percent of accuracy (the model card records both).

A first convolution that steps two pixels (`build_model(stem_stride=2)`) is written as
space-to-depth and a 2x2 convolution on the four channels that gives (`fast_stem`): the
same function, but LiteRT's int8 kernels run a 3x3 kernel over one channel slowly, and
this form takes a tenth less of a small network's time (docs/measurements.md).
"""

import contextlib
import io
import logging

import numpy as np

import model.runtime.atomic as atomic
from model.runtime.preprocess import to_network_input

log = logging.getLogger(__name__)


def export_tflite(keras_model, path, calibration_faces=None):
    """Write `keras_model` as .tflite; int8 weights and activations if faces are given."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(fast_stem(keras_model))
    if calibration_faces is not None and len(calibration_faces):
        faces = np.asarray(calibration_faces)

        def representative():
            for i in range(len(faces)):
                yield [to_network_input(faces[i])]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
    chatter = io.StringIO()  # the converter prints its SavedModel signature on stdout
    with contextlib.redirect_stdout(chatter):
        data = converter.convert()
    log.debug("converter output: %s", chatter.getvalue().strip())
    atomic.write_bytes(path, data)
    log.info("wrote %s (%.1f MB)", path, len(data) / 1e6)
    return path


def fast_stem(keras_model):
    """`keras_model` with its first convolution, if it is a 3x3 one that steps two pixels
    over one channel, replaced by space-to-depth (block 2) and a 2x2 convolution with the
    same taps (network.block_taps): the same outputs. Other models as they are."""
    import keras

    from model.training.network import SpaceToDepth, block_taps

    first = next((layer for layer in keras_model.layers
                  if isinstance(layer, keras.layers.Conv2D)), None)
    if (first is None or tuple(first.strides) != (2, 2) or tuple(first.kernel_size) != (3, 3)
            or first.padding != "same" or first.use_bias or first.input.shape[-1] != 1
            or first.input.shape[1] % 2 or first.input.shape[2] % 2):
        return keras_model
    (kernel,) = first.get_weights()                       # [3, 3, 1, filters]
    blocks = np.zeros((2, 2, 4, kernel.shape[-1]), kernel.dtype)
    for r, c, a, b, channel in block_taps():
        blocks[a, b, channel] = kernel[r, c, 0]
    conv = keras.layers.Conv2D(first.filters, 2, padding="same", use_bias=False)
    stem = keras.Sequential([SpaceToDepth(), conv], name=first.name)
    clone = keras.models.clone_model(
        keras_model, clone_function=lambda layer: stem if layer is first else layer)
    conv.set_weights([blocks])
    return clone
