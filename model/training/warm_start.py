"""Where a training run can start: a shipped .tflite brought back to Keras, widened.

The app ships only the int8 .tflite, and checkpoints live in a folder that is not
kept everywhere; `keras_from_tflite` lets `train --init` go on from the shipped file
itself. `widen` gives a trained network more channels without changing what it
computes (Net2WiderNet, Chen et al. 2016), so a bigger student can start from a
smaller one's knowledge instead of from random weights; `slim` keeps a share of each
layer's channels (those its batch norm scales most, as in network slimming, Liu et al.
2017), so a smaller student starts from the bigger one's features; `space_to_depth`
swaps the first stage for the face's 2x2 pixel blocks and keeps the rest; `rechannel`
does either, layer by layer, to give each stage the channels the CPU runs fastest.
"""

from typing import TYPE_CHECKING

import numpy as np

from model.runtime.emotions import INPUT_SIZE
from model.runtime.errors import DataError
from model.runtime.preprocess import to_network_input
from model.training.network import block_taps, build_model, has_blocks

if TYPE_CHECKING:
    import keras  # imported where it is used: TensorFlow takes seconds to load


def keras_from_tflite(path, faces) -> "keras.Model":
    """The float network of a .tflite written by `model.training.export` (int8 or float).

    The converter folds each batch norm into its convolution (kernel and bias). The
    kernel goes back into the convolution; the batch norm gets the bias as
    beta + mean with gamma = sqrt(var), mean and var measured on `faces` (uint8
    48x48 crops), so it passes x + bias both at inference and, nearly, in training
    (where it normalises by the batch's own statistics)."""
    import keras

    layers, stem_stride, blocks = _tflite_layers(path)
    stages: list[list[int]] = []
    in_stage = False  # (filters, convolutions); a pool or the dense ends a stage
    for kind, w, _ in layers:
        if kind == "conv" and in_stage:
            stages[-1][1] += 1
        elif kind == "conv":
            stages.append([int(w.shape[0]), 1])
        # a strided first convolution is a stage of its own (build_model's stem_stride)
        in_stage = kind == "conv" and not (stem_stride == 2 and len(stages) == 1)
    model = build_model(stages=[tuple(stage) for stage in stages], stem_stride=stem_stride,
                        space_to_depth=blocks)
    convs = _convs(model)
    params = [(w, b) for kind, w, b in layers if kind == "conv"]
    x = to_network_input(np.asarray(faces))
    for layer, (w, b) in zip(convs, params):
        layer.set_weights([np.transpose(w, (1, 2, 3, 0))])  # [out,h,w,in] -> [h,w,in,out]
        out = keras.Model(model.input, layer.output).predict(x, batch_size=256, verbose=0)
        mean, var = out.mean(axis=(0, 1, 2)), out.var(axis=(0, 1, 2))
        bn = model.get_layer(layer.name.replace("conv", "bn"))
        bn.set_weights([np.sqrt(var + bn.epsilon), mean + b, mean, var])
    w, b = layers[-1][1:]
    model.get_layer("emotion").set_weights([w.T, b])
    return model


def _tflite_layers(path):
    """[(kind, weights, bias)] in graph order: "conv", "pool" or "dense", dequantized;
    the first convolution's stride (from its output's size); whether the network works
    on 2x2 pixel blocks. A strided first convolution that the export wrote as blocks
    and a 2x2 convolution (model.training.export.fast_stem) comes back as it was."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(str(path))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise DataError(f"cannot start from {path}: {str(exc).splitlines()[0]}") from exc
    details = {d["index"]: d for d in interpreter.get_tensor_details()}

    def tensor(index):
        if index < 0:  # an optional input left out (a layer without bias)
            return None
        value = interpreter.get_tensor(index).astype(np.float32)
        scales = details[index]["quantization_parameters"]["scales"]
        if len(scales):  # int8 weights / int32 biases, per output channel (axis 0)
            value = value * scales.astype(np.float32).reshape([-1] + [1] * (value.ndim - 1))
        return value

    kinds = {"CONV_2D": "conv", "MAX_POOL_2D": "pool", "FULLY_CONNECTED": "dense"}
    layers: list[tuple[str, np.ndarray | None, np.ndarray | None]] = []
    stem_stride, blocks = 1, False
    for op in interpreter._get_ops_details():  # noqa: SLF001 - LiteRT's one way to walk the graph
        kind = kinds.get(op["op_name"])
        blocks = blocks or (op["op_name"] == "SPACE_TO_DEPTH" and not layers)
        if kind == "conv" and not layers:
            stem_stride = INPUT_SIZE // int(details[op["outputs"][0]]["shape"][1])
        if kind == "pool":
            layers.append((kind, None, None))
        elif kind:
            layers.append((kind, tensor(op["inputs"][1]), tensor(op["inputs"][2])))
    if blocks and layers and layers[0][1] is not None and layers[0][1].shape[1] == 2:
        blocks, layers[0] = False, ("conv", _strided_kernel(layers[0][1]), layers[0][2])
    elif blocks:
        stem_stride = 1
    if (not layers or layers[0][0] != "conv" or layers[-1][0] != "dense"
            or any(kind != "pool" and b is None for kind, _, b in layers)):
        raise DataError(f"cannot start from {path}: it is not this project's network "
                        "(convolutions, then one dense layer)")
    return layers, stem_stride, blocks


def _strided_kernel(blocks):
    """The 3x3 kernel [out, 3, 3, 1] of a first convolution stepping two pixels, from
    its export as a 2x2 one over pixel blocks [out, 2, 2, 4] (the inverse of fast_stem)."""
    kernel = np.zeros((blocks.shape[0], 3, 3, 1), blocks.dtype)
    for r, c, a, b, channel in block_taps():
        kernel[:, r, c, 0] = blocks[:, a, b, channel]
    return kernel


def widen(model, factor: float, seed: int = 0) -> "keras.Model":
    """`model` (model.training.network's layout), every stage `factor` times wider, same outputs.

    A new channel copies a random old one (kernel and batch norm). The next layer's
    weights from a copied channel are shared among its copies with random shares
    that sum to one for each weight: a share per channel would not do, as the batch
    norm after each convolution undoes any scale, leaving the copies alike forever."""
    convs = _convs(model)
    return rechannel(model, [int(round(c.filters * factor)) for c in convs], seed)


def slim(model, keep: float, stem_stride: int = 1) -> "keras.Model":
    """`model` (model.training.network's layout) with `keep` of every layer's channels,
    those with the largest batch-norm scale |gamma| / sqrt(var), in their order; with
    `stem_stride` 2 the first convolution strides instead of the first pool. It computes
    something near what it did, not the same: the training that follows mends it."""
    filters = [max(1, int(round(c.filters * keep))) for c in _convs(model)]
    return rechannel(model, filters, stem_stride=stem_stride)


def stage_filters(model, per_stage) -> list[int]:
    """Each convolution's filters when stage i of `model` gets per_stage[i]."""
    stages = [_stage(c) for c in _convs(model)]
    if len(per_stage) != max(stages):
        raise ValueError(f"{len(per_stage)} numbers of channels for {max(stages)} stages")
    return [int(per_stage[stage - 1]) for stage in stages]


def rechannel(model, filters: list[int], seed: int = 0,
              stem_stride: int | None = None) -> "keras.Model":
    """`model` with filters[i] channels in its i-th convolution: fewer keeps those its
    batch norm scales most (slim), more adds copies of random ones (widen: the next
    layer's weights shared among copies); the same outputs if none is dropped."""
    rng = np.random.default_rng(seed)
    convs = _convs(model)
    if any(n < 1 for n in filters) or len(filters) != len(convs):
        raise ValueError(f"{len(filters)} numbers of channels for {len(convs)} convolutions")
    new = build_model(stages=_layout(convs, filters),
                      stem_stride=stem_stride or convs[0].strides[0],
                      space_to_depth=has_blocks(model))
    into = None  # the previous layer's picked channels: this kernel's inputs
    for layer, n in zip(convs, filters):
        bn = layer.name.replace("conv", "bn")
        picks = _picks(model.get_layer(bn).get_weights(), n, rng)
        (kernel,) = layer.get_weights()
        if into is not None:
            kernel = _share(kernel, into, axis=2, rng=rng)
        new.get_layer(layer.name).set_weights([kernel[..., picks]])
        new.get_layer(bn).set_weights([w[picks] for w in model.get_layer(bn).get_weights()])
        into = picks
    w, b = model.get_layer("emotion").get_weights()
    new.get_layer("emotion").set_weights([_share(w, into, axis=0, rng=rng), b])
    return new


def _convs(model):
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def _stage(conv) -> int:
    """The stage a convolution of build_model's is in (its name: conv<stage>_<n>)."""
    return int(conv.name[4:].split("_")[0])


def _picks(batch_norm, n: int, rng) -> np.ndarray:
    """The old channels behind n new ones: the n the batch norm scales most, in their
    order, or every one and then copies of random ones."""
    gamma, _, _, var = batch_norm
    if n <= len(gamma):
        scale = np.abs(gamma) / np.sqrt(var + 1e-3)
        return np.sort(np.argsort(-scale, kind="stable")[:n])
    return np.concatenate([np.arange(len(gamma)), rng.integers(0, len(gamma), n - len(gamma))])


def _layout(convs, filters: list[int]) -> list[tuple[int, int]]:
    """(filters, convolutions) per stage for build_model: the network's convolutions
    (named conv<stage>_<n>) with these new numbers of filters."""
    stages: list[list[int]] = []
    for layer, n in zip(convs, filters):
        if len(stages) < _stage(layer):
            stages.append([n, 0])
        stages[-1][1] += 1
    return [(n, convs) for n, convs in stages]


def _share(weights, copies_of, axis, rng):
    """`weights` with input `axis` mapped through copies_of, each old channel's weights
    split among its copies (random shares of 1 +/- 0.3, normalised to sum to one); a
    channel without copies keeps its weights as they are."""
    taken = np.take(weights, copies_of, axis=axis)
    if len(np.unique(copies_of)) == len(copies_of):
        return taken
    taken = np.moveaxis(taken, axis, 0)
    shares = 1.0 + 0.3 * rng.uniform(-1.0, 1.0, taken.shape)
    totals = np.zeros((copies_of.max() + 1,) + taken.shape[1:])
    np.add.at(totals, copies_of, shares)
    return np.moveaxis(taken * shares / totals[copies_of], 0, axis).astype(weights.dtype)


def space_to_depth(model) -> "keras.Model":
    """`model` (model.training.network's layout) without its first stage, the one that
    takes the 48x48 face to 24x24: the face's 2x2 pixel blocks (4 channels) go to the
    second stage instead, whose first convolution starts afresh (its inputs are now
    pixels) with its batch norm's scale and shift kept; every later layer keeps its
    weights. The training that follows teaches the new convolution."""
    convs = _convs(model)
    stages = _layout(convs, [c.filters for c in convs])
    if len(stages) < 2 or convs[stages[0][1]].input.shape[1] != INPUT_SIZE // 2:
        raise ValueError("its second stage does not start at 24x24")
    new = build_model(stages=stages[1:], space_to_depth=True)
    for layer in convs[stages[0][1]:]:
        stage, n = layer.name[4:].split("_")
        name = f"{int(stage) - 1}_{n}"
        bn = model.get_layer(f"bn{stage}_{n}").get_weights()
        if layer is convs[stages[0][1]]:
            gamma, beta, mean, var = new.get_layer(f"bn{name}").get_weights()
            new.get_layer(f"bn{name}").set_weights([bn[0], bn[1], mean, var])
            continue
        new.get_layer(f"conv{name}").set_weights(layer.get_weights())
        new.get_layer(f"bn{name}").set_weights(bn)
    new.get_layer("emotion").set_weights(model.get_layer("emotion").get_weights())
    return new
