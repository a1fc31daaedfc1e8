"""The emotion CNN: a small VGG-style network sized for real-time CPU use.

Pairs of 3x3 convolutions with batch norm, max pooling between stages, global
average pooling and dropout before the classifier. It stays small (about a million
parameters, well under 2 ms per face with LiteRT) while reaching VGG-like accuracy
when trained with augmentation and label smoothing.
"""

import keras

from model.runtime.emotions import EMOTIONS, INPUT_SIZE

# filters per stage; each stage is `convs` 3x3 convolutions then a 2x2 max pool
STAGES = ((32, 1), (64, 2), (128, 2), (256, 2))


@keras.saving.register_keras_serializable(package="emotion")
class SpaceToDepth(keras.layers.Layer):
    """Each 2x2 block of pixels as 4 channels of one (LiteRT's SPACE_TO_DEPTH)."""

    def call(self, x):
        import tensorflow as tf

        return tf.nn.space_to_depth(x, 2)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, h // 2, w // 2, 4 * c)


def block_taps():
    """(r, c, a, b, channel): tap (r, c) of a 3x3 kernel stepping two pixels is tap (a, b)
    of a 2x2 kernel over the 2x2 pixel blocks, on that block channel (SpaceToDepth's order;
    padding "same" pads after in both, so the two compute the same)."""
    return [(r, c, r // 2, c // 2, (r % 2) * 2 + c % 2) for r in range(3) for c in range(3)]


def has_blocks(model) -> bool:
    """Whether `model` starts with the face's 2x2 pixel blocks (build_model's space_to_depth)."""
    return any(isinstance(layer, SpaceToDepth) for layer in model.layers)


def build_model(stages=STAGES, dropout=0.4, name="fer_vgg", stem_stride=1,
                space_to_depth=False):
    """`stem_stride` 2: the first convolution steps two pixels and the first pool goes
    (one convolution in the first stage): at 48x48 with one input channel that layer
    costs more time than its multiply-adds say (a third of a small network's).
    `space_to_depth`: the first stage works at 24x24 on the face's 2x2 pixel blocks (4
    channels), which LiteRT runs faster still than a strided first convolution."""
    from keras import layers

    if stem_stride not in (1, 2) or (stem_stride == 2 and stages[0][1] != 1):
        raise ValueError(f"stem stride {stem_stride} needs 1 or 2 (2: one first convolution)")
    if space_to_depth and stem_stride != 1:
        raise ValueError("space-to-depth replaces the strided first convolution: not both")
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = SpaceToDepth(name="blocks")(inputs) if space_to_depth else inputs
    for i, (filters, convs) in enumerate(stages):
        for j in range(convs):
            x = layers.Conv2D(filters, 3, strides=stem_stride if i == j == 0 else 1,
                              padding="same", use_bias=False, name=f"conv{i + 1}_{j + 1}")(x)
            x = layers.BatchNormalization(name=f"bn{i + 1}_{j + 1}")(x)
            x = layers.ReLU(name=f"relu{i + 1}_{j + 1}")(x)
        if i < len(stages) - 1 and not (i == 0 and stem_stride == 2):
            x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(len(EMOTIONS), activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def compile_for_training(model, lr: float, weight_decay: float = 0.01, ema: float = 0.99,
                         label_smoothing: float = 0.0):
    """The training recipe's optimiser and loss: AdamW (with an average of the weights
    when `ema` > 0), cross-entropy on soft or smoothed targets; `train` and the GPU
    script both compile with it."""
    model.compile(
        optimizer=keras.optimizers.AdamW(lr, weight_decay=weight_decay, use_ema=ema > 0,
                                         ema_momentum=ema or 0.99),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy"])
