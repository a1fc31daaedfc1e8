"""The learning-rate schedule that `train` and the GPU script (scripts/gpu_train.py) share."""

import math


def warmup_cosine(lr: float, epoch: int, epochs: int, warmup: int) -> float:
    """Linear warm-up over `warmup` epochs, then cosine decay to 1% of `lr` at the last."""
    if epoch < warmup:
        return lr * (epoch + 1) / (warmup + 1)
    span = max(epochs - warmup, 1)
    progress = min((epoch - warmup) / span, 1.0)
    return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))
