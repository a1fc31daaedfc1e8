"""Training-time augmentation: geometry, light, and what a webcam does to a face.

`augmentation` is the one recipe both training paths apply to a batch of faces:
Keras preprocessing layers for geometry and light, then `CameraEffects` (sharpness
jitter, blur, low resolution, sensor noise, erasing), a Keras layer written once in
keras.ops. `train` runs it in its tf.data pipeline (TensorFlow); the GPU script
(scripts/gpu_train.py) runs it inside its model, on JAX or PyTorch. Each camera
effect is drawn independently per face with its own probability. The FER-2013
training faces are slightly softer than the test faces (its README), so sharpness
is jittered both ways rather than only blurred.

Two steps are TensorFlow only and run in `train` alone: JPEG (`jpeg_tf_only`) and
`mixup`. This module imports TensorFlow only inside those two, so the GPU script
can use the rest on a machine without TensorFlow.
"""

from dataclasses import asdict, dataclass
from functools import cache

import keras
import numpy as np
from keras import ops

from model.runtime.emotions import INPUT_SIZE


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations run and how strongly; all on is the shipped recipe."""

    rotation: float = 15.0        # degrees, +-
    zoom: float = 0.15            # +- fraction of the face size
    shift: float = 0.10           # +- fraction of the face size
    noise: float = 12.0           # largest Gaussian noise sigma, grey levels (0 = off)
    noise_p: float = 0.5
    sharpness_p: float = 0.5      # soften/sharpen jitter (unsharp mask, both signs)
    blur_p: float = 0.15          # a clear Gaussian blur, sigma 0.6-1.4
    jpeg_p: float = 0.25          # JPEG quality 25-90 (train only: see jpeg_tf_only)
    lowres_p: float = 0.15        # downscale to 16-36 px and back up
    erase_p: float = 0.25         # random erasing of a 10-30% rectangle
    mixup: float = 0.0            # mixup's Beta(a, a) parameter, 0 = off (see `mixup`)


def augmentation(cfg: AugmentConfig, seed: int):
    """Geometry and light, then the camera effects: float32 (N,48,48,1) faces in [0,1]
    -> the same, augmented when called with training=True (unchanged otherwise)."""
    return keras.Sequential([geometry_and_light(cfg, seed), CameraEffects(cfg, seed + 10)],
                            name="augment")


def geometry_and_light(cfg: AugmentConfig, seed: int):
    """Keras layers: flip, tilt, zoom, shift, brightness, contrast (batched)."""
    from keras import layers

    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(cfg.rotation / 360.0, fill_mode="reflect", seed=seed + 1),
        layers.RandomZoom(cfg.zoom, fill_mode="reflect", seed=seed + 2),
        layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="reflect", seed=seed + 3),
        layers.RandomBrightness(0.2, value_range=(0.0, 1.0), seed=seed + 4),
        layers.RandomContrast(0.3, seed=seed + 5),
    ], name="geometry_and_light")


def _blur(x, sigma, radius=3):
    """A Gaussian blur of each face (reflected at the edges); sigma a number or a scalar."""
    r = ops.arange(-radius, radius + 1, dtype="float32")
    k = ops.exp(-(r ** 2) / (2.0 * sigma ** 2))
    k = k / ops.sum(k)
    kernel = ops.reshape(k[:, None] * k[None, :], (2 * radius + 1, 2 * radius + 1, 1, 1))
    padded = ops.pad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="reflect")
    return ops.conv(padded, kernel, strides=1, padding="valid")


class CameraEffects(keras.layers.Layer):
    """What a webcam does to a face, drawn per face: (N,48,48,1) faces -> the same in [0,1].

    keras.ops with static shapes only (jit on JAX needs them), so the one layer runs in
    TensorFlow's tf.data and in a jitted step on JAX or PyTorch. Its random draws come
    from its own seed generator: the same seed gives the same sequence of faces.
    Identity unless training=True.
    """

    def __init__(self, cfg: AugmentConfig | dict | None = None, seed: int | None = None,
                 **kwargs):
        kwargs.setdefault("name", "camera_effects")
        super().__init__(**kwargs)
        self.cfg = cfg if isinstance(cfg, AugmentConfig) else AugmentConfig(**(cfg or {}))
        self.seed = seed
        self.seeds = keras.random.SeedGenerator(seed)

    def get_config(self):
        return {**super().get_config(), "cfg": asdict(self.cfg), "seed": self.seed}

    def compute_output_shape(self, input_shape):
        return input_shape

    def _uniform(self, shape, low=0.0, high=1.0):
        return keras.random.uniform(shape, low, high, seed=self.seeds)

    def _chosen(self, n, p):
        """A (N,1,1,1) mask: 1 for the faces the effect applies to (each with chance p)."""
        return ops.cast(self._uniform((n, 1, 1, 1)) < p, "float32")

    def call(self, x, training=False):
        if not training:
            return x
        # the face size made static again (tf.data's geometry layers leave it unknown);
        # clipped, as the light layers may leave [0,1]
        x = ops.clip(ops.reshape(x, (-1, INPUT_SIZE, INPUT_SIZE, 1)), 0.0, 1.0)
        cfg, n = self.cfg, ops.shape(x)[0]
        if cfg.sharpness_p > 0:  # x + a (x - blur(x)): a < 0 softens, a > 0 sharpens
            amount = self._uniform((n, 1, 1, 1), -0.8, 1.2) * self._chosen(n, cfg.sharpness_p)
            x = x + amount * (x - _blur(x, 1.0))
        if cfg.blur_p > 0:
            sigma = self._uniform((), 0.6, 1.4)
            x = x + self._chosen(n, cfg.blur_p) * (_blur(x, sigma) - x)
        if cfg.lowres_p > 0:
            x = x + self._chosen(n, cfg.lowres_p) * (self._low_resolution(x, n) - x)
        x = ops.clip(x, 0.0, 1.0)
        if cfg.noise > 0:
            sigma = self._uniform((n, 1, 1, 1), 0.0, cfg.noise / 255.0)
            noise = keras.random.normal(ops.shape(x), seed=self.seeds)
            x = ops.clip(x + self._chosen(n, cfg.noise_p) * sigma * noise, 0.0, 1.0)
        if cfg.erase_p > 0:
            x = self._erase(x, n, cfg.erase_p)
        return x

    def _low_resolution(self, x, n):
        """Each face downscaled to a size of 16-36 px drawn per face, and back up: M x M^T
        with `_low_resolution_matrices`' M (static shapes, and far faster than resizing
        the batch to every size)."""
        mats = ops.convert_to_tensor(_low_resolution_matrices())
        which = keras.random.randint((n,), 0, mats.shape[0], seed=self.seeds)
        m = ops.take(mats, which, axis=0)
        faces = ops.matmul(ops.matmul(m, x[..., 0]), ops.transpose(m, (0, 2, 1)))
        return faces[..., None]

    def _erase(self, x, n, p):
        """One rectangle of 10-30% of the face per chosen face, filled with noise."""
        h, w = x.shape[1], x.shape[2]
        area = self._uniform((n,), 0.1, 0.3) * float(h * w)
        aspect = ops.exp(self._uniform((n,), -0.8, 0.8))
        eh = ops.clip(ops.floor(ops.sqrt(area * aspect)), 1, h)
        ew = ops.clip(ops.floor(ops.sqrt(area / aspect)), 1, w)
        top = ops.floor(self._uniform((n,)) * (h - eh + 1))
        left = ops.floor(self._uniform((n,)) * (w - ew + 1))
        rows = ops.arange(h, dtype="float32")[None, :, None]
        cols = ops.arange(w, dtype="float32")[None, None, :]
        inside = ((rows >= top[:, None, None]) & (rows < (top + eh)[:, None, None])
                  & (cols >= left[:, None, None]) & (cols < (left + ew)[:, None, None]))
        mask = ops.cast(inside, "float32")[..., None] * self._chosen(n, p)
        return x * (1.0 - mask) + mask * self._uniform(ops.shape(x))


@cache
def _low_resolution_matrices(size: int = INPUT_SIZE, smallest: int = 16, largest: int = 36):
    """float32 (k, size, size): for each s in smallest..largest the M with which M x M^T is
    face x area-downscaled to s x s and bilinearly upscaled back, as tf.image.resize
    does them ("area", then "bilinear" with half-pixel centres)."""
    mats = []
    for s in range(smallest, largest + 1):
        scale = size / s
        down = np.zeros((s, size))
        for i in range(s):  # output pixel i averages the input span [i, i + 1) * scale
            lo, hi = i * scale, (i + 1) * scale
            for j in range(int(lo), min(int(np.ceil(hi)), size)):
                down[i, j] = (min(hi, j + 1) - max(lo, j)) / scale
        up = np.zeros((size, s))
        for j in range(size):
            c = min(max((j + 0.5) * s / size - 0.5, 0.0), s - 1.0)
            f = int(c)
            up[j, f] += 1.0 - (c - f)
            up[j, min(f + 1, s - 1)] += c - f
        mats.append(up @ down)
    return np.stack(mats).astype(np.float32)


def jpeg_tf_only(face, cfg: AugmentConfig):
    """One float32 (48,48,1) face, JPEG-compressed at quality 25-90 with jpeg_p.

    TensorFlow only (no Keras op encodes JPEG), so `train`'s tf.data pipeline applies it
    to each face before batching and the GPU script goes without it."""
    import tensorflow as tf

    if cfg.jpeg_p <= 0:
        return face
    quality = tf.random.uniform((), 25, 91, dtype=tf.int32)
    return tf.cond(tf.random.uniform(()) < cfg.jpeg_p,
                   lambda: tf.image.adjust_jpeg_quality(face, quality),
                   lambda: face)


def mixup(x, y, alpha: float):
    """Blend each face and its target with another face of the batch (mixup, Zhang et
    al. 2018): weight lam ~ Beta(alpha, alpha), folded to >= 0.5 so that each face
    stays mostly itself. TensorFlow ops, for `train`'s tf.data pipeline."""
    import tensorflow as tf

    n = tf.shape(x)[0]
    g1, g2 = tf.random.gamma((n,), alpha), tf.random.gamma((n,), alpha)
    lam = g1 / tf.maximum(g1 + g2, 1e-12)
    lam = tf.maximum(lam, 1.0 - lam)
    other = tf.random.shuffle(tf.range(n))
    lx = lam[:, None, None, None]
    ly = tf.cast(lam[:, None], y.dtype)
    return (lx * x + (1.0 - lx) * tf.gather(x, other),
            ly * y + (1.0 - ly) * tf.gather(y, other))
