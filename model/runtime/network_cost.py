"""What a network costs a face, counted from its file: multiply-adds and one pass's time.

Counted from the graph LiteRT runs (convolutions, depthwise convolutions and dense
layers, at the shapes of one 48x48 face), so `bench` tells the cost of whatever file
it is given, not a figure written down when the shipped one was trained.
"""

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model.runtime.errors import ModelError

if TYPE_CHECKING:   # LiteRT itself is imported when a file is counted
    from ai_edge_litert.interpreter import Interpreter

# the layers whose multiply-adds are counted; the rest (pools, activations, the
# softmax, quantising) cost a few thousand at most
COUNTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def multiply_adds(path: str | Path) -> int:
    """Multiply-adds for one face through the .tflite at `path` (a .json list of
    networks: the sum of its members, one view each)."""
    path = Path(path)
    if path.suffix == ".json":
        from model.runtime.classifier import read_model_list

        return sum(multiply_adds(path.parent / name) for name in read_model_list(path)[0])
    interpreter = _interpreter(path)
    shape = {d["index"]: tuple(int(n) for n in d["shape"])
             for d in interpreter.get_tensor_details()}
    total = 0
    for op in interpreter._get_ops_details():  # noqa: SLF001 - LiteRT's one way to walk the graph
        name = op["op_name"]
        if name not in COUNTED:
            continue
        weights = shape[op["inputs"][1]]
        out = shape[op["outputs"][0]]
        if name == "FULLY_CONNECTED":          # weights [units, inputs]
            total += int(np.prod(out[:-1])) * weights[0] * weights[1]
        elif name == "CONV_2D":                # weights [out, kh, kw, in]
            total += int(np.prod(out)) * weights[1] * weights[2] * weights[3]
        else:                                  # depthwise: weights [1, kh, kw, out]
            total += int(np.prod(out)) * weights[1] * weights[2]
    return total


def one_pass_ms(path: str | Path, repeats: int = 300) -> float:
    """The median time of one pass of one face through the .tflite at `path` on one
    thread, ms: the network alone, without the app's mirror image or preprocessing."""
    from model.runtime.classifier import pass_times

    times = pass_times(_interpreter(Path(path)), repeats + 20)
    return float(np.median(times[20:]))          # the first 20 warm the caches up


def _interpreter(path: Path) -> "Interpreter":
    from model.runtime.classifier import open_interpreter

    if path.suffix != ".tflite":
        raise ModelError(f"cannot count {path}: only a .tflite (or a .json list of them)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model {path}: {exc.strerror}") from exc
    return open_interpreter(data, path, threads=1)
