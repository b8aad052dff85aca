"""Evaluate a trained run against real sprites: the library side of
`pokediff evaluate`."""

import hashlib
import logging
from pathlib import Path

import keras
import numpy as np

from pokediff import datasets
from pokediff import metrics
from pokediff.training import CONFIG_FILE
from pokediff.training import load_trained_model
from pokediff.training import read_json
from pokediff.training import save_model_atomic
from pokediff.training import write_json_atomic

logger = logging.getLogger("pokediff")

REPORT_FILE = "evaluation.json"
GRID_FILE = "evaluation_nearest.png"


def load_reference_data(run_dir=None, data=None, image_size=32):
    """The real sprites a run is measured against, and where they came from.

    Args:
        run_dir: a run folder whose `config.json` names its training data,
            or `None`.
        data: a data folder (Kaggle or folder-per-type layout) that takes
            precedence over the run's, or `None`.
        image_size: int. Size the sprites are brought to.

    Returns:
        `(images, labels, source)`, with `source` `"builtin"` or a path.
    """
    recorded = {}
    if run_dir is not None and (Path(run_dir) / CONFIG_FILE).exists():
        recorded = read_json(Path(run_dir) / CONFIG_FILE).get("data", {})
    source = data or recorded.get("source") or "builtin"
    if source == "builtin":
        count = recorded.get("num_images") or 2048
        images, labels = datasets.make_sprites(count, image_size=image_size)
        return images, labels, "builtin"
    images, labels = datasets.load_images(
        source, image_size=image_size, verbose=0
    )
    return images, labels, str(source)


def split_held_out(images, labels, held_out_fraction=0.2, seed=0):
    """Split into `(train_images, train_labels, test_images, test_labels)`.

    The split is seeded, so every evaluation of a data set holds out the
    same sprites.
    """
    if not 0.0 < held_out_fraction < 1.0:
        raise ValueError(
            "`held_out_fraction` expected a fraction in (0, 1). Received: "
            f"held_out_fraction={held_out_fraction}"
        )
    order = np.random.default_rng(seed).permutation(len(images))
    count = max(2, int(round(len(images) * held_out_fraction)))
    test, train = order[:count], order[count:]
    return images[train], labels[train], images[test], labels[test]


def reference_classifier(
    train_images, train_labels, cache_dir=None, epochs=None, seed=0, verbose=0
):
    """A `TypeClassifier` for the data, trained once and cached.

    The cache file is named after a hash of the training sprites and the
    training settings, so a classifier is reused only for the very same
    data and settings.
    """
    digest = hashlib.sha1(train_images.tobytes())
    digest.update(train_labels.astype("int32").tobytes())
    digest.update(f"epochs={epochs},seed={seed}".encode())
    name = f"type_classifier_{digest.hexdigest()[:12]}.keras"
    path = Path(cache_dir) / name if cache_dir is not None else None
    if path is not None and path.exists():
        logger.info("Using the cached type classifier %s", path)
        return keras.saving.load_model(path)
    logger.info("Training a type classifier on %d sprites", len(train_images))
    classifier = metrics.train_type_classifier(
        train_images, train_labels, epochs=epochs, seed=seed, verbose=verbose
    )
    if path is not None:
        save_model_atomic(classifier, path)
    return classifier


def evaluate_run(
    path,
    data=None,
    num_images=256,
    num_steps=50,
    sampler="ddim",
    guidance_scale=3.0,
    seed=0,
    batch_size=64,
    classifier_epochs=None,
    use_ema=True,
    cache_dir=None,
    write=True,
    verbose=0,
):
    """Generate from a run and score the samples against real sprites.

    The requested types follow the held-out real sprites' types (drawn with
    replacement), so the type fidelity of generated sprites compares
    directly with the classifier's accuracy on real ones.

    Args:
        path: a run folder or a `.keras` file.
        data: a data folder to compare against; `None` uses the data the
            run was trained on (the built-in sprites included).
        num_images: int. Sprites to generate. Defaults to `256`.
        num_steps, sampler, guidance_scale, batch_size: passed to
            `PokemonDiffusion.generate`.
        seed: int. Seeds the split, the classifier, the requested types and
            the sampling. Defaults to `0`.
        classifier_epochs: int. Epochs of the type classifier, when one is
            trained, or `None` for at least 30 epochs and 2,000 steps (see
            `pokediff.metrics.train_type_classifier`). Defaults to `None`.
        use_ema: bool. Whether to sample with the EMA of the weights when
            the checkpoint keeps one. Defaults to `True`.
        cache_dir: folder for the trained type classifier, or `None` for
            the run folder. Runs evaluated against the same data with one
            `cache_dir` share one classifier, so their scores compare
            directly. Defaults to `None`.
        write: bool. Whether to write `evaluation.json` and the
            nearest-neighbour grid into the run folder. Defaults to `True`.
        verbose: int. Progress output. Defaults to `0`.

    Returns:
        The report dict of `pokediff.metrics.evaluate_samples`, with the
        sampling settings and the data source added.
    """
    if num_images < 2:
        raise ValueError(
            "`num_images` expected at least 2. Received: "
            f"num_images={num_images}"
        )
    path = Path(path)
    run_dir = path if path.is_dir() else None
    model = load_trained_model(path, use_ema=use_ema)
    images, labels, source = load_reference_data(
        run_dir, data, image_size=model.image_size
    )
    train_images, train_labels, test_images, test_labels = split_held_out(
        images, labels, seed=seed
    )
    classifier = reference_classifier(
        train_images,
        train_labels,
        cache_dir=cache_dir if cache_dir is not None else run_dir,
        epochs=classifier_epochs,
        seed=seed,
        verbose=verbose,
    )

    rng = np.random.default_rng(seed)
    requested = test_labels[rng.integers(0, len(test_labels), num_images)]
    generated = model.generate(
        requested,
        num_steps=num_steps,
        sampler=sampler,
        guidance_scale=guidance_scale,
        seed=seed,
        batch_size=batch_size,
        verbose=verbose,
    )
    report = metrics.evaluate_samples(
        generated,
        requested,
        test_images,
        test_labels,
        classifier=classifier,
        # Near-copies are searched among every sprite the model may have
        # seen, the classifier's held-out part included.
        train_images=images,
        seed=seed,
    )
    report["settings"] = {
        "model": str(path),
        "data": source,
        "num_steps": num_steps,
        "sampler": sampler,
        "guidance_scale": guidance_scale,
        "use_ema": use_ema,
        "seed": seed,
    }
    if write and run_dir is not None:
        write_json_atomic(report, run_dir / REPORT_FILE)
        shown = min(16, num_images)
        grid = metrics.nearest_neighbour_grid(
            generated[:shown],
            images,
            np.asarray(report["memorization"]["nearest_indices"][:shown]),
        )
        datasets.save_image_grid(
            grid[None], run_dir / GRID_FILE, ncols=1, padding=0
        )
    return report
