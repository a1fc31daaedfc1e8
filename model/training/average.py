"""One network from the mean of several checkpoints' weights (a "model soup").

Checkpoints of one run (its best and last epochs, say) lie in one basin of the loss:
the mean of their weights often reads better than either, at no cost per face.
Keras averages weights only while it trains (EMA, `TrainConfig.ema`), not over saved
files, hence this module. Batch-norm statistics are averaged with the rest.
"""

import numpy as np

from model.runtime.errors import DataError


def _layout(model) -> list:
    return [(w.path, tuple(w.shape)) for w in model.weights]


def average_models(paths):
    """The first checkpoint of `paths` with every weight the mean over all of them;
    checkpoints of another layout are refused (their mean means nothing)."""
    from model.runtime.tensorflow_setup import import_tensorflow

    _, keras = import_tensorflow()  # the one-line error when the train extra is missing

    if not paths:
        raise DataError("no checkpoints to average")
    models = []
    for path in paths:
        try:
            models.append(keras.models.load_model(path, compile=False))
        except Exception as exc:  # keras raises many types for a bad file
            raise DataError(f"cannot read {path}: {str(exc).splitlines()[0]}") from exc
    first = models[0]
    for path, model in zip(paths[1:], models[1:]):
        if _layout(model) != _layout(first):
            raise DataError(f"{path} is not of {paths[0]}'s layout: its weights cannot "
                            "be averaged with it")
    weights = [m.get_weights() for m in models]
    first.set_weights([np.mean([w[i] for w in weights], axis=0)
                       for i in range(len(weights[0]))])
    return first
