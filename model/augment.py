"""Training-time augmentation: geometry, light, and what a webcam does to a face.

Geometry and light use Keras preprocessing layers. The camera effects (sensor
noise, blur and sharpening, JPEG blocks, a small face upscaled) have no Keras
layer, so they are written here as TensorFlow ops on a batch; each one is drawn
independently per face with its own probability. The FER-2013 training faces
are slightly softer than the test faces (its README), so sharpness is jittered
both ways rather than only blurred.
"""

from dataclasses import dataclass

try:
    import tensorflow as tf
except ImportError:  # the lent GPU machine has no TensorFlow; it uses only the Keras parts
    tf = None


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
    jpeg_p: float = 0.25          # JPEG quality 25-90
    lowres_p: float = 0.15        # downscale to 16-36 px and back up
    erase_p: float = 0.25         # random erasing of a 10-30% rectangle
    mixup: float = 0.0            # mixup's Beta(a, a) parameter, 0 = off (see `mixup`)


def geometry_and_light(cfg: AugmentConfig, seed: int):
    """Keras layers: flip, tilt, zoom, shift, brightness, contrast (batched)."""
    import keras
    from keras import layers

    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(cfg.rotation / 360.0, fill_mode="reflect", seed=seed + 1),
        layers.RandomZoom(cfg.zoom, fill_mode="reflect", seed=seed + 2),
        layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="reflect", seed=seed + 3),
        layers.RandomBrightness(0.2, value_range=(0.0, 1.0), seed=seed + 4),
        layers.RandomContrast(0.3, seed=seed + 5),
    ], name="augment")


def _gaussian_kernel(sigma, radius=3):
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    k = tf.exp(-(x ** 2) / (2.0 * sigma ** 2))
    k = k / tf.reduce_sum(k)
    return tf.reshape(k[:, None] * k[None, :], (2 * radius + 1, 2 * radius + 1, 1, 1))


def _blur(x, sigma):
    k = _gaussian_kernel(sigma)
    pad = tf.pad(x, [[0, 0], [3, 3], [3, 3], [0, 0]], mode="REFLECT")
    return tf.nn.conv2d(pad, k, strides=1, padding="VALID")


def _per_face(batch, p):
    """A (N,1,1,1) float mask: 1 for the faces the effect applies to."""
    return tf.cast(tf.random.uniform((batch, 1, 1, 1)) < p, tf.float32)


def camera_effects(x, cfg: AugmentConfig):
    """x: float32 (N,48,48,1) in [0,1] -> same, with per-face camera effects."""
    n = tf.shape(x)[0]
    if cfg.sharpness_p > 0:
        # x + a * (x - blur(x)): a < 0 softens, a > 0 sharpens
        amount = tf.random.uniform((n, 1, 1, 1), -0.8, 1.2) * _per_face(n, cfg.sharpness_p)
        x = x + amount * (x - _blur(x, 1.0))
    if cfg.blur_p > 0:
        sigma = tf.random.uniform((), 0.6, 1.4)
        x = x + _per_face(n, cfg.blur_p) * (_blur(x, sigma) - x)
    if cfg.lowres_p > 0:
        size = tf.random.uniform((), 16, 37, dtype=tf.int32)
        small = tf.image.resize(x, (size, size), method="area")
        up = tf.image.resize(small, tf.shape(x)[1:3], method="bilinear")
        x = x + _per_face(n, cfg.lowres_p) * (up - x)
    x = tf.clip_by_value(x, 0.0, 1.0)
    if cfg.noise > 0:
        sigma = tf.random.uniform((n, 1, 1, 1), 0.0, cfg.noise / 255.0)
        x = x + _per_face(n, cfg.noise_p) * sigma * tf.random.normal(tf.shape(x))
        x = tf.clip_by_value(x, 0.0, 1.0)
    if cfg.erase_p > 0:
        x = _random_erase(x, cfg.erase_p)
    return x


def _random_erase(x, p):
    """Fill one random rectangle (10-30% of the face) per chosen face with noise."""
    n, h, w = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    area = tf.random.uniform((n,), 0.1, 0.3) * tf.cast(h * w, tf.float32)
    aspect = tf.exp(tf.random.uniform((n,), -0.8, 0.8))
    eh = tf.clip_by_value(tf.cast(tf.sqrt(area * aspect), tf.int32), 1, h)
    ew = tf.clip_by_value(tf.cast(tf.sqrt(area / aspect), tf.int32), 1, w)
    top = tf.cast(tf.random.uniform((n,)) * tf.cast(h - eh + 1, tf.float32), tf.int32)
    left = tf.cast(tf.random.uniform((n,)) * tf.cast(w - ew + 1, tf.float32), tf.int32)
    rows = tf.range(h)[None, :, None]
    cols = tf.range(w)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + eh)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + ew)[:, None, None]))
    mask = tf.cast(inside, tf.float32)[..., None] * _per_face(n, p)
    return x * (1.0 - mask) + mask * tf.random.uniform(tf.shape(x))


def mixup(x, y, alpha: float):
    """Blend each face and its target with another face of the batch (mixup, Zhang et
    al. 2018): weight lam ~ Beta(alpha, alpha), folded to >= 0.5 so that each face
    stays mostly itself."""
    n = tf.shape(x)[0]
    g1, g2 = tf.random.gamma((n,), alpha), tf.random.gamma((n,), alpha)
    lam = g1 / tf.maximum(g1 + g2, 1e-12)
    lam = tf.maximum(lam, 1.0 - lam)
    other = tf.random.shuffle(tf.range(n))
    lx = lam[:, None, None, None]
    ly = tf.cast(lam[:, None], y.dtype)
    return (lx * x + (1.0 - lx) * tf.gather(x, other),
            ly * y + (1.0 - ly) * tf.gather(y, other))


def jpeg(face, cfg: AugmentConfig):
    """One float32 (48,48,1) face, JPEG-compressed at quality 25-90 with jpeg_p."""
    if cfg.jpeg_p <= 0:
        return face
    quality = tf.random.uniform((), 25, 91, dtype=tf.int32)
    return tf.cond(tf.random.uniform(()) < cfg.jpeg_p,
                   lambda: tf.image.adjust_jpeg_quality(face, quality),
                   lambda: face)
