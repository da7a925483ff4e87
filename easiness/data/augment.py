"""Input pipelines: augmentation and global contrast normalisation, as in the paper (Sec. 4).

* CIFAR style: random translation by up to 4 pixels (zero-pad 4, random crop back) and a random
  horizontal flip, applied to whole batches with stateless random ops: one vectorised op per
  batch instead of a Python function per example, and the same seed gives the same pixels.
* ImageNet style: training takes a random crop of 8%-100% of the area with aspect ratio 3/4-4/3,
  resized to the crop size (224), plus a flip; evaluation resizes the shorter side to 256/224 of
  the crop size and takes the centre crop. Images differ in size, so this runs per example
  before batching, seeded by (epoch seed, example index).
* Then, always: global contrast normalisation per image (:func:`gcn`).

Seeds: ``shuffle_seed`` fixes the order (a numpy permutation for in-memory splits) and the
augmentation (stateless ops seeded with it and the batch number or example index). The trainer
passes a different seed every epoch, derived from the run seed and the epoch, so a resumed run
sees exactly the order and the crops it would have seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import tensorflow as tf

if TYPE_CHECKING:
    from easiness.data.types import Split

STYLES = ("cifar", "imagenet")
PAD = 4  # pixels of translation in CIFAR style (paper: "4-pixel translation")
CROP_AREA = (0.08, 1.0)  # ImageNet style: share of the image area a training crop covers
CROP_ASPECT = (3 / 4, 4 / 3)  # ImageNet style: width / height of a training crop
EVAL_RESIZE = 256 / 224  # ImageNet style: shorter side before the centre crop, per crop pixel
GCN_STD_FLOOR = 1.0  # in pixel units (0-255): a flat image is centred, not blown up to noise
STREAM_SHUFFLE_BUFFER = 16_384  # examples; streams (ImageNet) cannot be permuted in memory


def gcn(images: tf.Tensor) -> tf.Tensor:
    """Global contrast normalisation: each image minus its mean, over its standard deviation.

    images: [B, H, W, C] pixels on the 0-255 scale (any real dtype). Returns [B, H, W, C]
    float32 with per-image mean 0 and standard deviation 1 (std floored at ``GCN_STD_FLOOR``).
    """
    x = tf.cast(images, tf.float32)
    centred = x - tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    std = tf.sqrt(tf.reduce_mean(tf.square(centred), axis=[1, 2, 3], keepdims=True))
    return centred / tf.maximum(std, GCN_STD_FLOOR)


def pipeline(split: Split, *, style: str, image_shape: Sequence[int], batch_size: int, augment: bool,
             shuffle_seed: int | None, drop_remainder: bool = False, cache: bool = False) -> tf.data.Dataset:
    """Batches (index int64 [B], image float32 [B, H, W, C], label int32 [B]) of ``split``.

    ``index`` is the example's position in ``split.ids``; it travels with the example, so
    per-example losses land at the right place whatever the order or sharding.
    ``shuffle_seed`` None keeps index order (the scoring pass); an int gives a reproducible
    shuffle, different for different seeds, and also seeds the augmentation (0 when None).
    ``augment`` False applies no augmentation: the
    scoring pass sees clean images by default (the paper does not say; a clean view makes the
    loss a property of the example, not of a random crop). GCN is applied after augmentation.
    A generated split (``split.generate``) must produce images of ``image_shape``, CIFAR style.
    ``cache`` keeps the finished batches in host memory after the first full pass over this
    dataset object; later passes replay them (only for passes that are the same every time:
    no augmentation, no shuffle).
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if cache and (augment or shuffle_seed is not None):
        raise ValueError("only a pass without augmentation or shuffle can be cached")
    shape = tuple(int(d) for d in image_shape)
    seed = _seed_word(0 if shuffle_seed is None else shuffle_seed)
    if split.images is None and split.stream is None and split.generate is not None:
        ds = _generated_batches(split, style, shuffle_seed, batch_size, drop_remainder)
    else:
        ds = _example_source(split, style, shape, seed, shuffle_seed, augment)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    cifar_augment = augment and style == "cifar"
    ds = ds.enumerate().map(lambda b, batch: _finish_batch(b, *batch, seed=seed, augment=cifar_augment),
                            num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    return with_pipeline_options(ds.prefetch(tf.data.AUTOTUNE))


def with_pipeline_options(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``ds`` with tf.data's model-based autotuning off (parallel maps then use one thread per core).

    The autotuner's background optimisation competes with the training step for the CPU: on
    2 cores it made a fused 4-run epoch of wrn10_1 take 10.7 s instead of 6.0 s in most of the
    epochs measured, and one run's 2.7 s instead of 1.7 s, at random
    (``benchmarks/bench.py``, key ``autotune_off_speedup``). The pipelines here do one
    vectorised op per batch, so there is little left to tune.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def _example_source(split: Split, style: str, shape: tuple[int, ...], seed: int, shuffle_seed: int | None,
                    augment: bool) -> tf.data.Dataset:
    """Single examples (index, image of ``shape`` or any size for ImageNet style, label) of a
    split held in memory or streamed, in order or shuffled, ImageNet-style views already taken."""
    if split.images is not None:
        ds = _memory_source(split, shuffle_seed)
    elif split.stream is not None:
        ds = split.stream()
        if shuffle_seed is not None:
            ds = ds.shuffle(STREAM_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=False)
    else:
        raise ValueError("split has neither images, a stream nor a generator")
    if style == "imagenet":
        ds = ds.map(lambda i, x, y: (i, _imagenet_example(x, i, seed, shape[0], augment), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    elif split.images is None or split.images.shape[1:] != shape:  # why: batching needs one size
        ds = ds.map(lambda i, x, y: (i, tf.image.resize(tf.cast(x, tf.float32), shape[:2]), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds


def _generated_batches(split: Split, style: str, shuffle_seed: int | None, batch_size: int,
                       drop_remainder: bool) -> tf.data.Dataset:
    """Batches (index, uint8 images, label) of a generated split: only the index order is held
    (a numpy permutation when shuffled, as for in-memory splits); images are made per batch, so
    tf.data does no work per example."""
    if style != "cifar":
        raise ValueError("generated splits have fixed-size images: use style 'cifar'")
    order = _order(len(split.ids), shuffle_seed)
    labels = tf.constant(split.labels.astype(np.int32))
    ds = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=drop_remainder)
    return ds.map(lambda i: (i, split.generate(i), tf.gather(labels, i)), num_parallel_calls=tf.data.AUTOTUNE)


def seed_word(seed: int) -> int:
    """The augmentation seed word of a shuffle seed (as :func:`pipeline` uses it)."""
    return _seed_word(seed)


def example_order(n: int, shuffle_seed: int | None) -> np.ndarray:
    """The example order of :func:`pipeline` for ``shuffle_seed`` (see :func:`_order`)."""
    return _order(n, shuffle_seed)


def _seed_word(seed: int) -> int:
    """Any Python int (hashes can be negative) as a non-negative int32 seed word."""
    return int(seed) % (2**31 - 1)


def _memory_source(split: Split, shuffle_seed: int | None) -> tf.data.Dataset:
    """Examples (index int64, image uint8 [H, W, C], label int32) of an in-memory split."""
    order = _order(len(split.ids), shuffle_seed)
    images, labels = split.images, split.labels
    if shuffle_seed is not None:
        images, labels = images[order], labels[order]
    return tf.data.Dataset.from_tensor_slices((order, images, labels.astype(np.int32)))


def _order(n: int, shuffle_seed: int | None) -> np.ndarray:
    """[n] int64 example indices: in order, or a permutation seeded by ``shuffle_seed``.

    A numpy permutation is exact and needs no shuffle buffer of images.
    """
    if shuffle_seed is None:
        return np.arange(n, dtype=np.int64)
    return np.random.default_rng(int(shuffle_seed) % 2**64).permutation(n).astype(np.int64)


def _finish_batch(batch: tf.Tensor, index: tf.Tensor, images: tf.Tensor, labels: tf.Tensor, *, seed: int,
                  augment: bool) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """CIFAR augmentation (when asked) and GCN on one batch; images [B, H, W, C] -> float32."""
    x = tf.cast(images, tf.float32)
    if augment:
        x = translate_and_flip(x, tf.stack([tf.constant(seed, tf.int64), batch]))
    return tf.cast(index, tf.int64), gcn(x), tf.cast(labels, tf.int32)


def translate_and_flip(images: tf.Tensor, seed: tf.Tensor, pad: int = PAD) -> tf.Tensor:
    """CIFAR augmentation of a batch: shift each image by up to ``pad`` pixels, flip half of them.

    images: [B, H, W, C] float32; seed: [2] int. Zero-pads by ``pad`` on every side and crops a
    random H x W window per image (shifts -pad..pad in each axis), then mirrors a random half
    left-right. Returns [B, H, W, C].
    """
    shift_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    b, h, w = tf.shape(images)[0], images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    offsets = tf.random.stateless_uniform([b, 2], seed=shift_seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(h)[None, :]  # [B, H] rows of the padded image to keep
    cols = offsets[:, 1:] + tf.range(w)[None, :]  # [B, W]
    shifted = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
    flip = tf.random.stateless_uniform([b], seed=flip_seed) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(shifted, axis=[2]), shifted)


def _imagenet_example(image: tf.Tensor, index: tf.Tensor, seed: int, size: int, augment: bool) -> tf.Tensor:
    """One image [h, w, 3] (any size) -> [size, size, 3] float32, ImageNet style."""
    if augment:
        example_seed = tf.stack([tf.constant(seed, tf.int64), tf.cast(index, tf.int64)])
        return random_resized_crop(image, example_seed, size)
    return resize_and_centre_crop(image, size)


def random_resized_crop(image: tf.Tensor, seed: tf.Tensor, size: int) -> tf.Tensor:
    """Training crop: 8-100% of the area, aspect 3/4-4/3, resized to [size, size, 3], random flip."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.zeros([1, 0, 4]), seed=crop_seed, min_object_covered=0.0,
        aspect_ratio_range=CROP_ASPECT, area_range=CROP_AREA, max_attempts=10,
        use_image_if_no_bounding_boxes=True)
    crop = tf.image.resize(tf.cast(tf.slice(image, begin, extent), tf.float32), [size, size])
    return tf.image.stateless_random_flip_left_right(crop, seed=flip_seed)


def resize_and_centre_crop(image: tf.Tensor, size: int) -> tf.Tensor:
    """Evaluation view: shorter side to ``size * 256/224``, centre crop [size, size, 3] float32."""
    hw = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = round(size * EVAL_RESIZE) / tf.reduce_min(hw)
    new_hw = tf.maximum(tf.cast(tf.round(hw * scale), tf.int32), size)
    resized = tf.image.resize(tf.cast(image, tf.float32), new_hw)
    top, left = (new_hw[0] - size) // 2, (new_hw[1] - size) // 2
    return tf.image.crop_to_bounding_box(resized, top, left, size, size)
