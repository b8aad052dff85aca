"""`SpriteDataset`: a shuffled, batched, flip-augmented `PyDataset`."""

from __future__ import annotations

import math

import keras
import numpy as np


class SpriteDataset(keras.utils.PyDataset):
    """Shuffled batches of sprites with random horizontal flips.

    Pure numpy, so it feeds `model.fit` on every backend. Each epoch has
    its own permutation and flip pattern, drawn from a numpy `Generator`
    seeded with `(seed, epoch)`; a batch depends only on the epoch and its
    index, so the order in which Keras (or its workers) asks for batches
    does not change them, and the same seed replays the same epochs.
    `on_epoch_end` moves on to the next epoch.

    Args:
        images: a uint8 array of shape `(N, H, W, 3)`.
        labels: an int array of shape `(N, 2)` (type ids, `-1` for none),
            or `None` to yield images alone.
        batch_size: the number of images per batch. Defaults to `32`.
        shuffle: whether to reshuffle the images every epoch. Defaults to
            `True`.
        flip: whether to flip each image left-right with probability 1/2.
            Defaults to `True`.
        drop_remainder: whether to drop the last, smaller batch. Defaults
            to `False`.
        seed: an int seed for the shuffles and flips. Defaults to `None`
            (a fresh random seed, drawn once).
        **kwargs: `workers`, `use_multiprocessing` and `max_queue_size`,
            passed to `keras.utils.PyDataset`.

    Batches are `(images, labels)` tuples, images uint8 of shape
    `(batch_size, H, W, 3)` and labels int32 of shape `(batch_size, 2)`,
    or image arrays alone when `labels` is `None`.

    Example:

    >>> images = np.zeros((10, 8, 8, 3), "uint8")
    >>> labels = np.zeros((10, 2), "int32")
    >>> dataset = SpriteDataset(images, labels, batch_size=4, seed=0)
    >>> len(dataset), dataset[2][0].shape
    (3, (2, 8, 8, 3))
    """

    def __init__(
        self,
        images,
        labels=None,
        batch_size=32,
        shuffle=True,
        flip=True,
        drop_remainder=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        images = np.asarray(images)
        if images.ndim != 4 or images.dtype != np.uint8 or not len(images):
            raise ValueError(
                "`images` expected a non-empty uint8 array of shape "
                f"(N, H, W, C). Received: images.shape={images.shape}, "
                f"images.dtype={images.dtype}"
            )
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(images), 2):
                raise ValueError(
                    f"`labels` expected shape ({len(images)}, 2) to match "
                    f"`images`. Received: labels.shape={labels.shape}"
                )
            if not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(
                    "`labels` expected integer type ids. "
                    f"Received: labels.dtype={labels.dtype}"
                )
            labels = labels.astype(np.int32)
        if isinstance(batch_size, bool) or int(batch_size) != batch_size:
            raise ValueError(
                "`batch_size` expected a positive integer. "
                f"Received: batch_size={batch_size!r}"
            )
        if batch_size < 1:
            raise ValueError(
                "`batch_size` expected a positive integer. "
                f"Received: batch_size={batch_size}"
            )
        if drop_remainder and batch_size > len(images):
            raise ValueError(
                "`batch_size` expected at most the number of images "
                f"({len(images)}) with `drop_remainder=True`, or there is "
                f"no batch at all. Received: batch_size={batch_size}"
            )
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self.images = images
        self.labels = labels
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.flip = flip
        self.drop_remainder = drop_remainder
        self.seed = int(seed)
        self.epoch = 0
        self._set_epoch(0)

    def __len__(self):
        num = len(self.images)
        if self.drop_remainder:
            return num // self.batch_size
        return math.ceil(num / self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(
                f"Batch index {index} out of range for {len(self)} batches."
            )
        index %= len(self)
        rows = self._order[
            index * self.batch_size : (index + 1) * self.batch_size
        ]
        images = self.images[rows]
        flips = self._flips[rows]
        if flips.any():
            images[flips] = images[flips, :, ::-1]
        if self.labels is None:
            return images
        return images, self.labels[rows]

    def on_epoch_end(self):
        self._set_epoch(self.epoch + 1)

    def _set_epoch(self, epoch):
        self.epoch = epoch
        rng = np.random.default_rng([self.seed, epoch])
        num = len(self.images)
        if self.shuffle:
            self._order = rng.permutation(num)
        else:
            self._order = np.arange(num)
        if self.flip:
            self._flips = rng.random(num) < 0.5
        else:
            self._flips = np.zeros(num, dtype=bool)
