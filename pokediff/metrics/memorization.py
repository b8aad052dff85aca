"""Memorisation: how close is each generated sprite to a training sprite?

Each generated image is compared with its nearest training image by the L2
distance between the flattened images in `[0, 1]`. Raw distances are hard
to read, so they are divided by the typical distance between a training
sprite and its nearest *other* training sprite (the median over training
images). A ratio near 0 means a (near-)copy; a ratio near 1 means the
sample is as close to the training set as training sprites are to each
other.

A sample counts as a near-copy when its ratio is below `threshold`
(default `0.5`): it sits at less than half the distance that separates
typical neighbouring training sprites, which distinct designs rarely do
but recoloured or slightly perturbed copies do.
"""

import numpy as np

from pokediff.metrics.type_classifier import _check_images

DEFAULT_NEAR_COPY_THRESHOLD = 0.5


def _flatten(images):
    """Flatten images to float32 rows in `[0, 1]`."""
    images = np.asarray(images)
    rows = images.reshape(len(images), -1).astype("float32")
    if images.dtype.kind in "ui":
        rows /= 255.0
    return rows


def _nearest(queries, references, batch_size, exclude_self=False):
    """Nearest reference row of each query row, by L2 distance.

    Candidates are ranked with |q|² + |r|² - 2 q·r (float32 matrix products,
    one batch of queries at a time); the winner's distance is then
    recomputed exactly in float64, so an exact copy gets distance 0.
    With `exclude_self`, query `i` is reference `i` and is skipped.
    """
    reference_norms = np.einsum("ij,ij->i", references, references)
    indices = np.empty(len(queries), dtype="int64")
    for start in range(0, len(queries), batch_size):
        batch = queries[start : start + batch_size]
        squared = (
            np.einsum("ij,ij->i", batch, batch)[:, None]
            + reference_norms[None, :]
            - 2.0 * batch @ references.T
        )
        if exclude_self:
            rows = np.arange(len(batch))
            squared[rows, start + rows] = np.inf
        indices[start : start + len(batch)] = np.argmin(squared, axis=1)
    diff = queries.astype("float64") - references[indices].astype("float64")
    distances = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return distances, indices


def nearest_neighbours(images, train_images, batch_size=256):
    """Nearest training image of each image, by pixel L2 distance.

    Args:
        images: uint8 array of shape `(N, H, W, 3)` (floats are taken to
            be in `[0, 1]`).
        train_images: array of shape `(M, H, W, 3)`, same convention.
        batch_size: int, the number of images compared at once. Defaults
            to `256`.

    Returns:
        A tuple `(distances, indices)`: float64 array of shape `(N,)` of L2
        distances between the flattened `[0, 1]` images, and int array of
        shape `(N,)` of indices into `train_images`.

    Example:

    >>> train = np.zeros((2, 1, 1, 3), dtype="uint8")
    >>> train[1] = 255
    >>> distances, indices = nearest_neighbours(train[1:], train)
    >>> float(distances[0]), int(indices[0])
    (0.0, 1)
    """
    images = _check_images(images, "images", dtype_kind="uf")
    train_images = _check_images(train_images, "train_images", "uf")
    if images.shape[1:] != train_images.shape[1:]:
        raise ValueError(
            "`images` and `train_images` expected the same image size. "
            f"Received: images.shape={images.shape}, "
            f"train_images.shape={train_images.shape}"
        )
    return _nearest(_flatten(images), _flatten(train_images), batch_size)


def typical_train_distance(
    train_images, subset_size=1000, batch_size=256, seed=None
):
    """Median distance from a training image to its nearest other one.

    Args:
        train_images: uint8 array of shape `(M, H, W, 3)`, `M >= 2`.
        subset_size: int or `None`, the number of training images (drawn
            at random) whose nearest neighbour in the whole set is
            measured; `None` uses all of them. Defaults to `1000`.
        batch_size: int. Defaults to `256`.
        seed: int or `None`, seeds the subset draw. Defaults to `None`.

    Returns:
        A Python float, the median nearest-neighbour L2 distance between
        flattened `[0, 1]` training images.

    Example:

    >>> train = np.zeros((3, 1, 1, 3), dtype="uint8")
    >>> train[1], train[2] = 51, 153  # 0.2 and 0.6 per channel
    >>> round(typical_train_distance(train), 4)  # median of (.2, .2, .4)·√3
    0.3464
    """
    train_images = _check_images(train_images, "train_images", "uf")
    if len(train_images) < 2:
        raise ValueError(
            "`train_images` expected at least 2 images. "
            f"Received: train_images.shape={train_images.shape}"
        )
    references = _flatten(train_images)
    if subset_size is not None and subset_size < len(references):
        rows = np.random.default_rng(seed).choice(
            len(references), subset_size, replace=False
        )
        # Move the subset to the front so that query `i` is reference `i`.
        order = np.concatenate(
            [rows, np.setdiff1d(np.arange(len(references)), rows)]
        )
        references = references[order]
        queries = references[:subset_size]
    else:
        queries = references
    distances, _ = _nearest(queries, references, batch_size, True)
    return float(np.median(distances))


def memorization_scores(
    generated_images,
    train_images,
    threshold=DEFAULT_NEAR_COPY_THRESHOLD,
    subset_size=1000,
    batch_size=256,
    seed=None,
):
    """Measure how close generated sprites are to training sprites.

    Args:
        generated_images: uint8 array of shape `(N, H, W, 3)`.
        train_images: uint8 array of shape `(M, H, W, 3)`, `M >= 2`.
        threshold: float, ratios below it count as near-copies. Defaults
            to `0.5`.
        subset_size: int or `None`, the number of training images used to
            estimate the typical training distance (see
            `typical_train_distance`). Defaults to `1000`.
        batch_size: int. Defaults to `256`.
        seed: int or `None`, seeds the subset draw. Defaults to `None`.

    Returns:
        A dict with per-image numpy arrays `"ratios"`, `"distances"` and
        `"nearest_indices"` (into `train_images`), and the floats / ints
        `"typical_train_distance"`, `"threshold"`, `"num_near_copies"`,
        `"near_copy_fraction"`, `"min_ratio"` and `"median_ratio"`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> train = rng.integers(0, 256, (5, 4, 4, 3), dtype="uint8")
    >>> scores = memorization_scores(train[:2], train)
    >>> scores["num_near_copies"], scores["nearest_indices"].tolist()
    (2, [0, 1])
    """
    generated_images = _check_images(generated_images, "generated_images", "uf")
    train_images = _check_images(train_images, "train_images", "uf")
    if not threshold > 0:
        raise ValueError(
            f"`threshold` expected a positive float. "
            f"Received: threshold={threshold}"
        )
    if generated_images.shape[1:] != train_images.shape[1:]:
        raise ValueError(
            "`generated_images` and `train_images` expected the same "
            f"image size. Received: generated_images.shape="
            f"{generated_images.shape}, train_images.shape="
            f"{train_images.shape}"
        )

    typical = typical_train_distance(
        train_images, subset_size=subset_size, batch_size=batch_size, seed=seed
    )
    distances, indices = nearest_neighbours(
        generated_images, train_images, batch_size=batch_size
    )
    if typical > 0:
        ratios = distances / typical
    else:
        # Most training images have an exact duplicate: any non-zero
        # distance is infinitely far in relative terms.
        ratios = np.where(distances > 0, np.inf, 0.0)
    near_copies = ratios < threshold
    return {
        "ratios": ratios,
        "distances": distances,
        "nearest_indices": indices,
        "typical_train_distance": typical,
        "threshold": float(threshold),
        "num_near_copies": int(near_copies.sum()),
        "near_copy_fraction": float(near_copies.mean()),
        "min_ratio": float(ratios.min()),
        "median_ratio": float(np.median(ratios)),
    }
