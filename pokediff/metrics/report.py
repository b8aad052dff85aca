"""One-call evaluation of generated sprites, its text table and NN grid."""

import logging

import numpy as np

from pokediff.metrics.distances import frechet_distance
from pokediff.metrics.distances import kernel_distance
from pokediff.metrics.memorization import DEFAULT_NEAR_COPY_THRESHOLD
from pokediff.metrics.memorization import memorization_scores
from pokediff.metrics.type_classifier import _check_images
from pokediff.metrics.type_classifier import _check_labels
from pokediff.metrics.type_classifier import extract_features
from pokediff.metrics.type_classifier import train_type_classifier
from pokediff.metrics.type_fidelity import type_fidelity
from pokediff.pokemon_types import TYPES

logger = logging.getLogger("pokediff")


def _distances(
    features_a, features_b, space, kid_subset_size, kid_num_subsets, seed
):
    kid_subset_size = min(kid_subset_size, len(features_a), len(features_b))
    kid_mean, kid_std = kernel_distance(
        features_a,
        features_b,
        subset_size=kid_subset_size,
        num_subsets=kid_num_subsets,
        seed=seed,
    )
    return {
        "space": space,
        "frechet": frechet_distance(features_a, features_b),
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        "kid_subset_size": int(kid_subset_size),
    }


def inception_scores(
    inception,
    generated_images,
    real_images,
    kid_subset_size=1000,
    kid_num_subsets=100,
    seed=0,
):
    """FID and KID in InceptionV3 feature space.

    Args:
        inception: an `InceptionFeatures`.
        generated_images: uint8 array of shape `(N, H, W, 3)`, `N >= 2`.
        real_images: uint8 array of shape `(M, H, W, 3)`, `M >= 2`.
        kid_subset_size: int, the KID subset size, lowered to the smaller
            set size. Defaults to `1000`.
        kid_num_subsets: int, the number of KID subsets. Defaults to `100`.
        seed: int or `None`, seeds the KID subsets. Defaults to `0`.

    Returns:
        A dict with `"space"` (`"inception_v3"` or
        `"inception_v3_random"` when built with `weights=None`),
        `"frechet"`, `"kid_mean"`, `"kid_std"` and `"kid_subset_size"`.
    """
    space = "inception_v3" if inception.weights else "inception_v3_random"
    return _distances(
        inception(generated_images),
        inception(real_images),
        space,
        kid_subset_size,
        kid_num_subsets,
        seed,
    )


def evaluate_samples(
    generated_images,
    requested_labels,
    real_images,
    real_labels,
    classifier=None,
    train_images=None,
    train_labels=None,
    classifier_epochs=None,
    near_copy_threshold=DEFAULT_NEAR_COPY_THRESHOLD,
    kid_subset_size=1000,
    kid_num_subsets=100,
    memorization_subset_size=1000,
    inception=None,
    batch_size=256,
    seed=0,
    verbose=0,
):
    """Evaluate generated sprites in one call.

    Computes, all as plain Python numbers, lists and dicts (JSON-ready):
    type fidelity of held-out real sprites (the classifier's ceiling) and of
    generated sprites, Fréchet and kernel distances between the two sets in
    the classifier's feature space, memorisation statistics against the
    training sprites, and optionally FID/KID in InceptionV3 space.

    `real_images` must not be sprites the classifier was trained on, or the
    real type accuracy and the distances are flattering. Scores in the
    classifier's feature space compare pokediff models with each other;
    they are not comparable with published FIDs (see `InceptionFeatures`).

    Args:
        generated_images: uint8 array of shape `(N, H, W, 3)`, `N >= 2`.
        requested_labels: int array of shape `(N, 2)`, the types each
            sample was conditioned on, `-1` for no second type.
        real_images: uint8 array of shape `(M, H, W, 3)`, `M >= 2`,
            held-out real sprites of the same size.
        real_labels: int array of shape `(M, 2)`, their true types.
        classifier: a trained `TypeClassifier`, or `None` to train one on
            `train_images` and `train_labels`. Defaults to `None`.
        train_images: uint8 array of training sprites, or `None` to skip
            the memorisation statistics (and then `classifier` is
            required). Defaults to `None`.
        train_labels: int array of shape `(len(train_images), 2)`, only
            needed to train a classifier. Defaults to `None`.
        classifier_epochs: int, epochs when a classifier is trained, or
            `None` for the default of `train_type_classifier`. Defaults to
            `None`.
        near_copy_threshold: float, nearest-neighbour ratios below it count
            as near-copies. Defaults to `0.5`.
        kid_subset_size: int, the KID subset size, lowered to the smaller
            set size. Defaults to `1000`.
        kid_num_subsets: int, the number of KID subsets. Defaults to `100`.
        memorization_subset_size: int or `None`, the number of training
            sprites used for the typical training distance. Defaults to
            `1000`.
        inception: an `InceptionFeatures`, or `None` to skip the standard
            FID/KID. Defaults to `None`.
        batch_size: int, the batch size of the classifier and of the
            nearest-neighbour search. Defaults to `256`.
        seed: int or `None`, seeds the classifier training, the KID subsets
            and the memorisation subset. Defaults to `0`.
        verbose: int, verbosity of the classifier training. Defaults to
            `0`.

    Returns:
        A dict with keys `"num_generated"`, `"num_real"`, `"num_train"`
        (int or `None`), `"type_fidelity"` (`{"real": ..., "generated":
        ...}`, each from `score_type_predictions`), `"classifier_distance"`
        (`"space"`, `"frechet"`, `"kid_mean"`, `"kid_std"`,
        `"kid_subset_size"`), `"memorization"` (`None` without
        `train_images`, else the summary of `memorization_scores` with
        `"ratios"` and `"nearest_indices"` as lists) and `"inception"`
        (`None`, or the dict of `inception_scores`).

    Example:

    ```python
    report = evaluate_samples(
        samples, requested, test_images, test_labels,
        classifier=keras.saving.load_model("type_classifier.keras"),
        train_images=train_images,
    )
    print(format_report_table(report))
    ```
    """
    generated_images = _check_images(generated_images, "generated_images")
    requested_labels = _check_labels(
        requested_labels,
        len(generated_images),
        "requested_labels",
        "generated_images",
    )
    real_images = _check_images(real_images, "real_images")
    real_labels = _check_labels(
        real_labels, len(real_images), "real_labels", "real_images"
    )
    if real_images.shape[1:] != generated_images.shape[1:]:
        raise ValueError(
            "`real_images` expected the image size of `generated_images` "
            f"{generated_images.shape[1:]}. "
            f"Received: real_images.shape={real_images.shape}"
        )
    for name, images in (
        ("generated_images", generated_images),
        ("real_images", real_images),
    ):
        if len(images) < 2:
            raise ValueError(
                f"`{name}` expected at least 2 images for the distances. "
                f"Received: {name}.shape={images.shape}"
            )
    if train_images is not None:
        train_images = _check_images(train_images, "train_images")
    if classifier is None:
        missing = [
            f"{name}=None"
            for name, value in (
                ("train_images", train_images),
                ("train_labels", train_labels),
            )
            if value is None
        ]
        if missing:
            raise ValueError(
                "`classifier` expected a trained TypeClassifier, or "
                "`train_images` and `train_labels` to train one. "
                f"Received: classifier=None, {', '.join(missing)}"
            )
        train_labels = _check_labels(
            train_labels, len(train_images), "train_labels", "train_images"
        )
        logger.info("No classifier given: training one on train_images.")
        classifier = train_type_classifier(
            train_images,
            train_labels,
            epochs=classifier_epochs,
            seed=seed,
            verbose=verbose,
        )

    logger.info("Scoring type fidelity.")
    fidelity = {
        "real": type_fidelity(
            classifier, real_images, real_labels, batch_size=batch_size
        ),
        "generated": type_fidelity(
            classifier,
            generated_images,
            requested_labels,
            batch_size=batch_size,
        ),
    }

    logger.info("Computing feature distances.")
    classifier_distance = _distances(
        extract_features(classifier, generated_images, batch_size),
        extract_features(classifier, real_images, batch_size),
        "type_classifier",
        kid_subset_size,
        kid_num_subsets,
        seed,
    )

    memorization = None
    if train_images is not None:
        logger.info("Searching nearest training sprites.")
        scores = memorization_scores(
            generated_images,
            train_images,
            threshold=near_copy_threshold,
            subset_size=memorization_subset_size,
            batch_size=batch_size,
            seed=seed,
        )
        memorization = {
            key: value.tolist() if isinstance(value, np.ndarray) else value
            for key, value in scores.items()
            if key != "distances"
        }

    inception_result = None
    if inception is not None:
        logger.info("Computing InceptionV3 features.")
        inception_result = inception_scores(
            inception,
            generated_images,
            real_images,
            kid_subset_size=kid_subset_size,
            kid_num_subsets=kid_num_subsets,
            seed=seed,
        )

    return {
        "num_generated": int(len(generated_images)),
        "num_real": int(len(real_images)),
        "num_train": None if train_images is None else int(len(train_images)),
        "type_fidelity": fidelity,
        "classifier_distance": classifier_distance,
        "memorization": memorization,
        "inception": inception_result,
    }


def _rate(value):
    return "-" if value is None else f"{value:.3f}"


def format_report_table(report):
    """Format an `evaluate_samples` report as a plain text table.

    Args:
        report: the dict returned by `evaluate_samples`.

    Returns:
        A multi-line string without a trailing newline.

    Example:

    ```python
    print(format_report_table(evaluate_samples(...)))
    ```
    """
    real = report["type_fidelity"]["real"]
    generated = report["type_fidelity"]["generated"]
    width = 34
    lines = [
        f"{'type fidelity':<{width}} {'real':>10} {'generated':>10}",
        "-" * (width + 22),
    ]

    def row(label, real_value, generated_value):
        lines.append(f"{label:<{width}} {real_value:>10} {generated_value:>10}")

    row("images", real["count"], generated["count"])
    row(
        "accuracy (top-1 hit)",
        _rate(real["accuracy"]),
        _rate(generated["accuracy"]),
    )
    row(
        "exact accuracy (dual: both)",
        _rate(real["exact_accuracy"]),
        _rate(generated["exact_accuracy"]),
    )
    row(
        "single-type top-1",
        _rate(real["single_type"]["accuracy"]),
        _rate(generated["single_type"]["accuracy"]),
    )
    row(
        "dual-type any-hit",
        _rate(real["dual_type"]["any_hit"]),
        _rate(generated["dual_type"]["any_hit"]),
    )
    row(
        "dual-type both",
        _rate(real["dual_type"]["both"]),
        _rate(generated["dual_type"]["both"]),
    )
    lines.append("")
    lines.append(
        f"{'per type (recall, count)':<{width}} {'real':>10} {'generated':>10}"
    )
    lines.append("-" * (width + 22))
    for name in TYPES:
        if name not in real["per_type"] and name not in generated["per_type"]:
            continue
        cells = []
        for scores in (real["per_type"], generated["per_type"]):
            entry = scores.get(name)
            cells.append(
                "-"
                if entry is None
                else f"{entry['accuracy']:.2f} ({entry['count']})"
            )
        row(f"  {name}", *cells)

    lines.append("")
    lines.append("distances (generated vs real)")
    lines.append("-" * (width + 22))
    spaces = [report["classifier_distance"]]
    if report.get("inception"):
        spaces.append(report["inception"])
    for scores in spaces:
        space = scores["space"]
        lines.append(
            f"{'Fréchet, ' + space:<{width}} {scores['frechet']:>21.4f}"
        )
        kid = f"{scores['kid_mean']:.5f} ± {scores['kid_std']:.5f}"
        lines.append(f"{'KID, ' + space:<{width}} {kid:>21}")
    if report["classifier_distance"]["space"] == "type_classifier":
        lines.append(
            "(classifier-space scores are not comparable with published FIDs)"
        )

    memorization = report.get("memorization")
    if memorization is not None:
        lines.append("")
        lines.append("memorisation (generated vs training set)")
        lines.append("-" * (width + 22))
        share = (
            f"{memorization['num_near_copies']} / {report['num_generated']}"
            f" ({100 * memorization['near_copy_fraction']:.1f}%)"
        )
        near = f"near copies (ratio < {memorization['threshold']:g})"
        lines.append(f"{near:<{width}} {share:>21}")
        lines.append(
            f"{'median nearest-neighbour ratio':<{width}} "
            f"{memorization['median_ratio']:>21.3f}"
        )
        lines.append(
            f"{'min nearest-neighbour ratio':<{width}} "
            f"{memorization['min_ratio']:>21.3f}"
        )
        lines.append(
            f"{'typical train NN distance':<{width}} "
            f"{memorization['typical_train_distance']:>21.3f}"
        )
    return "\n".join(lines)


def nearest_neighbour_grid(
    generated_images, train_images, nearest_indices, padding=2, pad_value=255
):
    """Put generated sprites above their nearest training sprites.

    The first row holds the generated images, the second row, under each,
    the training image closest to it (e.g. `nearest_indices` from
    `evaluate_samples(...)["memorization"]`). Slice the inputs to choose
    which samples to show.

    Args:
        generated_images: uint8 array of shape `(N, H, W, 3)`.
        train_images: uint8 array of shape `(M, H, W, 3)`.
        nearest_indices: int array-like of shape `(N,)`, indices into
            `train_images`.
        padding: int, pixels between and around the tiles. Defaults to `2`.
        pad_value: int, the colour of the padding. Defaults to `255`.

    Returns:
        A uint8 array of shape
        `(2 * H + 3 * padding, N * (W + padding) + padding, 3)`, ready for
        `PIL.Image.fromarray(...).save("nearest.png")`.

    Example:

    >>> generated = np.zeros((3, 8, 8, 3), dtype="uint8")
    >>> train = np.ones((5, 8, 8, 3), dtype="uint8")
    >>> nearest_neighbour_grid(generated, train, [4, 0, 2]).shape
    (22, 32, 3)
    """
    generated_images = _check_images(generated_images, "generated_images")
    train_images = _check_images(train_images, "train_images")
    nearest_indices = np.asarray(nearest_indices)
    if nearest_indices.shape != (len(generated_images),):
        raise ValueError(
            "`nearest_indices` expected one index per generated image, "
            f"shape ({len(generated_images)},). "
            f"Received: nearest_indices.shape={nearest_indices.shape}"
        )
    if (
        nearest_indices.dtype.kind not in "iu"
        or (
            (nearest_indices < 0) | (nearest_indices >= len(train_images))
        ).any()
    ):
        raise ValueError(
            f"`nearest_indices` expected ints in [0, {len(train_images)}). "
            f"Received: nearest_indices={nearest_indices.tolist()}"
        )
    if generated_images.shape[1:] != train_images.shape[1:]:
        raise ValueError(
            "`train_images` expected the image size of `generated_images` "
            f"{generated_images.shape[1:]}. "
            f"Received: train_images.shape={train_images.shape}"
        )

    count, height, width, _ = generated_images.shape
    grid = np.full(
        (2 * height + 3 * padding, count * (width + padding) + padding, 3),
        pad_value,
        dtype="uint8",
    )
    rows = (generated_images, train_images[nearest_indices])
    for row, images in enumerate(rows):
        top = padding + row * (height + padding)
        for column, image in enumerate(images):
            left = padding + column * (width + padding)
            grid[top : top + height, left : left + width] = image
    return grid
