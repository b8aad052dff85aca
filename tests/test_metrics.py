"""Tests of pokediff.metrics: distances, type fidelity, memorisation, report."""

import json
import os

import keras
import numpy as np
import pytest

from pokediff.metrics import DEFAULT_NEAR_COPY_THRESHOLD
from pokediff.metrics import InceptionFeatures
from pokediff.metrics import TypeClassifier
from pokediff.metrics import evaluate_samples
from pokediff.metrics import extract_features
from pokediff.metrics import format_report_table
from pokediff.metrics import frechet_distance
from pokediff.metrics import frechet_distance_from_statistics
from pokediff.metrics import inception as inception_module
from pokediff.metrics import inception_scores
from pokediff.metrics import kernel_distance
from pokediff.metrics import memorization_scores
from pokediff.metrics import multi_hot
from pokediff.metrics import nearest_neighbour_grid
from pokediff.metrics import nearest_neighbours
from pokediff.metrics import predict_types
from pokediff.metrics import score_type_predictions
from pokediff.metrics import train_type_classifier
from pokediff.metrics import type_classifier
from pokediff.metrics import type_fidelity
from pokediff.metrics import typical_train_distance
from pokediff.pokemon_types import NUM_TYPES

FIRE, WATER, GRASS, FLYING = 1, 2, 4, 9
COLOURS = {FIRE: (220, 40, 30), WATER: (30, 60, 220), GRASS: (40, 200, 50)}


def colour_sprites(count, size=16, seed=0):
    """Sprites whose type is their colour: red fire, blue water, green grass."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(list(COLOURS), count)
    base = np.array([COLOURS[i] for i in ids], dtype="float64")
    noise = rng.normal(0, 20, (count, size, size, 3))
    images = np.clip(base[:, None, None, :] + noise, 0, 255).astype("uint8")
    labels = np.stack([ids, np.full(count, -1)], axis=1)
    return images, labels


def tiny_classifier(seed=0):
    return TypeClassifier(filters=(8,), embedding_dim=8, seed=seed)


# ---------------------------------------------------------------------------
# distances


def standardised(values):
    """Rescale 1-D samples to sample mean 0 and unbiased variance 1."""
    values = values - values.mean()
    return values / values.std(ddof=1)


def test_frechet_identical_sets_is_zero():
    features = np.random.default_rng(0).normal(size=(200, 6))
    assert frechet_distance(features, features) == pytest.approx(0, abs=1e-8)


@pytest.mark.parametrize(
    "mean_a, std_a, mean_b, std_b", [(0, 1, 3, 2), (1.5, 0.5, -1, 3)]
)
def test_frechet_1d_gaussians_closed_form(mean_a, std_a, mean_b, std_b):
    z = standardised(np.random.default_rng(1).normal(size=500))
    a = (mean_a + std_a * z)[:, None]
    b = (mean_b + std_b * z[::-1])[:, None]
    expected = (mean_a - mean_b) ** 2 + std_a**2 + std_b**2
    expected -= 2 * std_a * std_b
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance_from_statistics(
        [mean_a], [[std_a**2]], [mean_b], [[std_b**2]]
    ) == pytest.approx(expected, rel=1e-12)


def test_frechet_diagonal_covariances_closed_form():
    mean_a, mean_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    std_a, std_b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 2.0, 1.0])
    expected = np.sum((mean_a - mean_b) ** 2 + (std_a - std_b) ** 2)
    result = frechet_distance_from_statistics(
        mean_a, np.diag(std_a**2), mean_b, np.diag(std_b**2)
    )
    assert result == pytest.approx(expected, rel=1e-12)


def test_frechet_full_covariance_matches_eigenvalues_of_product():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4))
    b = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4)) + 1.0
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Σa Σb is similar to a PSD matrix: its eigenvalues are real, >= 0.
    trace_sqrt = np.sqrt(np.linalg.eigvals(cov_a @ cov_b).real).sum()
    diff = a.mean(0) - b.mean(0)
    expected = diff @ diff + np.trace(cov_a) + np.trace(cov_b)
    expected -= 2 * trace_sqrt
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-8)


def test_frechet_is_non_negative_with_singular_covariances():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 20))  # rank-2 covariance
    assert frechet_distance(a, a.copy()) >= 0.0
    assert frechet_distance(a, rng.normal(size=(4, 20))) > 0.0


def test_kernel_distance_matches_hand_computation():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)) + 0.5

    def k(u, v):
        return (u @ v / 3 + 1) ** 3

    within = (
        sum(
            k(x[i], x[j]) + k(y[i], y[j])
            for i in range(5)
            for j in range(5)
            if i != j
        )
        / 20
    )
    across = sum(k(x[i], y[j]) for i in range(5) for j in range(5)) / 25
    # One subset of the full size is a permutation: MMD² is unchanged.
    mean, std = kernel_distance(x, y, subset_size=5, num_subsets=1, seed=0)
    assert mean == pytest.approx(within - 2 * across, rel=1e-10)
    assert std == 0.0


def test_kernel_distance_same_and_shifted_distributions():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same_mean, same_std = kernel_distance(
        a, b, subset_size=100, num_subsets=20, seed=0
    )
    shifted_mean, _ = kernel_distance(
        a, b + 1.0, subset_size=100, num_subsets=20, seed=0
    )
    assert abs(same_mean) < 0.05
    assert shifted_mean > 0.5
    assert shifted_mean > 10 * abs(same_mean)
    again = kernel_distance(a, b, subset_size=100, num_subsets=20, seed=0)
    assert again == (same_mean, same_std)


def test_kernel_distance_lowers_subset_size_with_a_warning():
    a = np.random.default_rng(6).normal(size=(10, 2))
    with pytest.warns(UserWarning, match="subset_size=50"):
        kernel_distance(a, a + 1, subset_size=50, num_subsets=2, seed=0)


@pytest.mark.parametrize(
    "features_a, features_b, message",
    [
        (np.zeros(5), np.zeros((5, 2)), "features_a.shape=\\(5,\\)"),
        (np.zeros((5, 2)), np.zeros((1, 2)), "features_b.shape=\\(1, 2\\)"),
        (np.zeros((5, 2)), np.zeros((5, 3)), "features_b.shape=\\(5, 3\\)"),
        (np.zeros((0, 2)), np.zeros((5, 2)), "features_a.shape=\\(0, 2\\)"),
        (
            np.zeros((5, 2)),
            np.full((5, 2), [np.nan, 1.0]),
            "features_b.*finite.*5 NaN",
        ),
    ],
)
def test_distance_errors(features_a, features_b, message):
    for function in (frechet_distance, kernel_distance):
        with pytest.raises(ValueError, match=message):
            function(features_a, features_b)


# ---------------------------------------------------------------------------
# type fidelity


def ranked_probabilities(*rankings):
    """Probabilities whose ranking starts with the given type ids."""
    probabilities = np.zeros((len(rankings), NUM_TYPES))
    for row, ranking in enumerate(rankings):
        for place, type_index in enumerate(ranking):
            probabilities[row, type_index] = 0.9 - 0.1 * place
    return probabilities


def test_score_type_predictions_definitions():
    probabilities = ranked_probabilities(
        [FIRE, WATER],  # single fire: correct
        [WATER, FIRE],  # single fire: wrong (fire only second)
        [FLYING, FIRE],  # fire/flying: any-hit and both
        [FIRE, GRASS],  # fire/flying: any-hit, not both
        [GRASS, FLYING],  # water/flying: neither (flying only second)
        [FIRE, GRASS],  # fire/fire is a single fire request: correct
    )
    labels = [
        [FIRE, -1],
        [FIRE, -1],
        [FIRE, FLYING],
        [FIRE, FLYING],
        [WATER, FLYING],
        [FIRE, FIRE],
    ]
    result = score_type_predictions(probabilities, labels)

    assert result["count"] == 6
    assert result["single_type"] == {"count": 3, "accuracy": 2 / 3}
    assert result["dual_type"] == {"count": 3, "any_hit": 2 / 3, "both": 1 / 3}
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["exact_accuracy"] == pytest.approx(3 / 6)
    # Per-type recall: is the type in the top-k, k = number requested.
    assert list(result["per_type"]) == ["fire", "water", "flying"]
    assert result["per_type"]["fire"] == {"count": 5, "accuracy": 4 / 5}
    assert result["per_type"]["water"] == {"count": 1, "accuracy": 0.0}
    assert result["per_type"]["flying"] == {"count": 3, "accuracy": 2 / 3}
    json.dumps(result, allow_nan=False)


def test_score_type_predictions_without_dual_requests():
    result = score_type_predictions(
        ranked_probabilities([GRASS]), [[GRASS, -1]]
    )
    assert result["accuracy"] == 1.0
    assert result["dual_type"] == {"count": 0, "any_hit": None, "both": None}


@pytest.mark.parametrize(
    "probabilities, labels, message",
    [
        (np.zeros((2, 18)), [[1, -1]], "labels.shape=\\(1, 2\\)"),
        (np.zeros((2, 18)), [1, 2], "labels.shape=\\(2,\\)"),
        (np.zeros((2, 17)), [[1, -1]] * 2, "probabilities.shape=\\(2, 17\\)"),
        (np.zeros((0, 18)), np.zeros((0, 2), int), "probabilities.shape"),
        (np.zeros((1, 18)), [[18, -1]], "labels\\[0\\]=\\[18, -1\\]"),
        (np.zeros((1, 18)), [[-1, 2]], "labels\\[0\\]=\\[-1, 2\\]"),
        (np.zeros((1, 18)), [[1.5, 2]], "labels.dtype=float64"),
    ],
)
def test_score_type_predictions_errors(probabilities, labels, message):
    with pytest.raises(ValueError, match=message):
        score_type_predictions(probabilities, labels)


def test_type_fidelity_runs_the_classifier():
    images, labels = colour_sprites(6, size=8)
    model = tiny_classifier()
    result = type_fidelity(model, images, labels)
    expected = score_type_predictions(predict_types(model, images), labels)
    assert result == expected
    with pytest.raises(ValueError, match="labels.shape=\\(5, 2\\)"):
        type_fidelity(model, images, labels[:5])


# ---------------------------------------------------------------------------
# type classifier


def test_multi_hot():
    targets = multi_hot([[FIRE, -1], [WATER, FLYING]])
    assert targets.shape == (2, NUM_TYPES)
    assert targets.sum(axis=1).tolist() == [1, 2]
    assert targets[1, WATER] == targets[1, FLYING] == 1


def test_classifier_outputs_and_features():
    images, _ = colour_sprites(5, size=8)
    model = TypeClassifier(filters=(8, 16), embedding_dim=12, seed=0)
    probabilities = predict_types(model, images)
    assert probabilities.shape == (5, NUM_TYPES)
    assert np.all((probabilities > 0) & (probabilities < 1))
    features = extract_features(model, images, batch_size=2)
    assert features.shape == (5, 12)
    assert features.dtype == np.float64
    # Same seed, same weights.
    again = TypeClassifier(filters=(8, 16), embedding_dim=12, seed=0)
    np.testing.assert_allclose(predict_types(again, images), probabilities)


def test_classifier_save_and_load(tmp_path):
    images, labels = colour_sprites(8, size=8)
    model = train_type_classifier(
        images,
        labels,
        model=tiny_classifier(),
        epochs=1,
        batch_size=4,
        validation_split=0,
        seed=0,
        verbose=0,
    )
    path = os.path.join(tmp_path, "classifier.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, TypeClassifier)
    assert restored.get_config() == model.get_config()
    np.testing.assert_allclose(
        predict_types(restored, images), predict_types(model, images), atol=1e-5
    )
    np.testing.assert_allclose(
        extract_features(restored, images),
        extract_features(model, images),
        atol=1e-5,
    )


def test_classifier_training_lowers_the_loss():
    images, labels = colour_sprites(24, size=8)
    model = train_type_classifier(
        images,
        labels,
        model=tiny_classifier(),
        epochs=4,
        batch_size=8,
        learning_rate=3e-3,
        validation_split=0.25,
        seed=0,
        verbose=0,
    )
    history = model.history.history
    assert history["loss"][-1] < history["loss"][0]
    assert len(history["val_loss"]) == 4


def test_classifier_default_epochs_reach_the_minimum_steps(monkeypatch):
    # 8 sprites in batches of 4: 2 steps an epoch, so 10 steps take 5
    # epochs, more than the minimum of 3.
    monkeypatch.setattr(type_classifier, "MIN_STEPS", 10)
    monkeypatch.setattr(type_classifier, "MIN_EPOCHS", 3)
    images, labels = colour_sprites(8, size=8)
    model = train_type_classifier(
        images,
        labels,
        model=tiny_classifier(),
        batch_size=4,
        validation_split=0,
        seed=0,
        verbose=0,
    )
    assert len(model.history.history["loss"]) == 5


@pytest.mark.slow
def test_classifier_learns_colour_types():
    images, labels = colour_sprites(60, size=16, seed=0)
    model = train_type_classifier(
        images,
        labels,
        model=TypeClassifier(filters=(8, 16), embedding_dim=16, seed=0),
        epochs=12,
        batch_size=16,
        learning_rate=3e-3,
        validation_split=0.1,
        seed=0,
        verbose=0,
    )
    test_images, test_labels = colour_sprites(30, size=16, seed=1)
    result = type_fidelity(model, test_images, test_labels)
    assert result["accuracy"] >= 0.9


@pytest.mark.parametrize(
    "images, labels, kwargs, message",
    [
        (
            np.zeros((4, 8, 8, 3), "uint8"),
            np.zeros((3, 2), int),
            {},
            "labels.shape=\\(3, 2\\)",
        ),
        (
            np.zeros((4, 8, 8), "uint8"),
            np.zeros((4, 2), int),
            {},
            "images.shape=\\(4, 8, 8\\)",
        ),
        (
            np.zeros((0, 8, 8, 3), "uint8"),
            np.zeros((0, 2), int),
            {},
            "images.shape=\\(0, 8, 8, 3\\)",
        ),
        (
            np.zeros((4, 8, 8, 3), "float32"),
            np.zeros((4, 2), int),
            {},
            "images.dtype=float32",
        ),
        (
            np.zeros((4, 8, 8, 3), "uint8"),
            np.zeros((4, 2), int),
            {"validation_split": 1.0},
            "validation_split=1.0",
        ),
    ],
)
def test_train_type_classifier_errors(images, labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_type_classifier(images, labels, verbose=0, **kwargs)


def test_classifier_config_errors():
    with pytest.raises(ValueError, match="groups=8"):
        TypeClassifier(filters=(12,), groups=8)
    with pytest.raises(ValueError, match="filters=\\(\\)"):
        TypeClassifier(filters=())


# ---------------------------------------------------------------------------
# memorisation


def test_nearest_neighbours_hand_computed():
    # 1×2-pixel images; values in [0, 1] after /255.
    train = np.zeros((3, 1, 2, 3), dtype="uint8")
    train[1, 0, 0] = 255  # first pixel white
    train[2] = 255  # all white
    query = np.zeros((2, 1, 2, 3), dtype="uint8")
    query[0, 0, 0] = 204  # first pixel 0.8: 0.2 away from train[1] per channel
    query[1] = 51  # all 0.2: closest to black train[0]
    distances, indices = nearest_neighbours(query, train)
    assert indices.tolist() == [1, 0]
    np.testing.assert_allclose(
        distances, [np.sqrt(3 * 0.2**2), np.sqrt(6 * 0.2**2)], rtol=1e-6
    )
    # Typical train distance: NN distances √3, √3, √3 → median √3.
    assert typical_train_distance(train) == pytest.approx(np.sqrt(3))


def test_memorization_counts_exact_copies():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (40, 8, 8, 3), dtype="uint8")
    noise = rng.integers(0, 256, (3, 8, 8, 3), dtype="uint8")
    generated = np.concatenate([train[[7, 21]], noise])
    scores = memorization_scores(generated, train, seed=0)
    assert scores["ratios"][:2].tolist() == [0.0, 0.0]
    assert scores["nearest_indices"][:2].tolist() == [7, 21]
    assert scores["num_near_copies"] == 2
    assert scores["near_copy_fraction"] == pytest.approx(2 / 5)
    assert scores["threshold"] == DEFAULT_NEAR_COPY_THRESHOLD
    assert np.all(scores["ratios"][2:] > DEFAULT_NEAR_COPY_THRESHOLD)


def test_memorization_noise_far_from_smooth_sprites():
    train, _ = colour_sprites(30, size=16)
    noise = np.random.default_rng(1).integers(
        0, 256, (5, 16, 16, 3), dtype="uint8"
    )
    scores = memorization_scores(noise, train, subset_size=10, seed=0)
    assert scores["num_near_copies"] == 0
    assert scores["min_ratio"] > DEFAULT_NEAR_COPY_THRESHOLD


def test_typical_train_distance_subset_is_seeded():
    train, _ = colour_sprites(30, size=8)
    full = typical_train_distance(train, subset_size=None)
    assert typical_train_distance(train, subset_size=100) == full
    first = typical_train_distance(train, subset_size=10, seed=3)
    assert typical_train_distance(train, subset_size=10, seed=3) == first


def test_memorization_errors():
    train = np.zeros((4, 8, 8, 3), "uint8")
    with pytest.raises(ValueError, match="train_images.shape=\\(4, 8, 8, 3\\)"):
        memorization_scores(np.zeros((2, 4, 4, 3), "uint8"), train)
    with pytest.raises(ValueError, match="train_images.shape=\\(1, 8, 8, 3\\)"):
        typical_train_distance(train[:1])
    with pytest.raises(ValueError, match="threshold=0"):
        memorization_scores(train, train, threshold=0)


# ---------------------------------------------------------------------------
# report


def test_evaluate_samples_report():
    train, train_labels = colour_sprites(20, size=8, seed=0)
    real, real_labels = colour_sprites(6, size=8, seed=1)
    generated = np.concatenate([train[:2], real[:2]])
    requested = np.array([[FIRE, -1], [WATER, FLYING], [GRASS, -1], [1, 2]])
    report = evaluate_samples(
        generated,
        requested,
        real,
        real_labels,
        classifier=tiny_classifier(),
        train_images=train,
        kid_num_subsets=5,
    )

    assert set(report) == {
        "num_generated",
        "num_real",
        "num_train",
        "type_fidelity",
        "classifier_distance",
        "memorization",
        "inception",
    }
    assert (report["num_generated"], report["num_real"]) == (4, 6)
    assert report["num_train"] == 20
    assert report["type_fidelity"]["generated"]["dual_type"]["count"] == 2
    assert report["type_fidelity"]["real"]["count"] == 6
    distance = report["classifier_distance"]
    assert distance["space"] == "type_classifier"
    assert distance["frechet"] >= 0
    assert distance["kid_subset_size"] == 4
    memorization = report["memorization"]
    assert memorization["nearest_indices"][:2] == [0, 1]
    assert memorization["num_near_copies"] >= 2
    assert report["inception"] is None
    json.dumps(report, allow_nan=False)

    table = format_report_table(report)
    for text in ("dual-type both", "Fréchet", "KID", "near copies", "fire"):
        assert text in table
    assert max(len(line) for line in table.splitlines()) <= 80

    grid = nearest_neighbour_grid(
        generated, train, memorization["nearest_indices"], padding=1
    )
    assert grid.shape == (2 * 8 + 3, 4 * 9 + 1, 3)
    assert grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[1:9, 1:9], generated[0])
    np.testing.assert_array_equal(grid[10:18, 10:18], train[1])


def test_evaluate_samples_without_train_images():
    real, real_labels = colour_sprites(4, size=8, seed=1)
    report = evaluate_samples(
        real, real_labels, real, real_labels, classifier=tiny_classifier()
    )
    assert report["memorization"] is None
    assert report["num_train"] is None
    assert report["classifier_distance"]["frechet"] == pytest.approx(
        0, abs=1e-6
    )
    assert "memorisation" not in format_report_table(report)


def test_evaluate_samples_errors():
    real, real_labels = colour_sprites(4, size=8)
    with pytest.raises(ValueError, match="train_labels=None"):
        evaluate_samples(
            real, real_labels, real, real_labels, train_images=real
        )
    with pytest.raises(ValueError, match="requested_labels.shape=\\(3, 2\\)"):
        evaluate_samples(
            real, real_labels[:3], real, real_labels, tiny_classifier()
        )
    with pytest.raises(ValueError, match="real_images.shape=\\(4, 4, 4, 3\\)"):
        evaluate_samples(
            real,
            real_labels,
            real[:, :4, :4],
            real_labels,
            tiny_classifier(),
        )
    with pytest.raises(ValueError, match="generated_images.shape=\\(1, 8"):
        evaluate_samples(
            real[:1], real_labels[:1], real, real_labels, tiny_classifier()
        )
    with pytest.raises(ValueError, match="nearest_indices=\\[0, 9\\]"):
        nearest_neighbour_grid(real[:2], real, [0, 9])


@pytest.mark.slow
def test_evaluate_samples_trains_a_classifier():
    train, train_labels = colour_sprites(20, size=8, seed=0)
    real, real_labels = colour_sprites(4, size=8, seed=1)
    report = evaluate_samples(
        real,
        real_labels,
        real,
        real_labels,
        train_images=train,
        train_labels=train_labels,
        classifier_epochs=1,
        kid_num_subsets=2,
    )
    assert report["num_train"] == 20


# ---------------------------------------------------------------------------
# InceptionV3


def test_inception_failed_download_explains_local_file(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(RuntimeError, match="weights='/path/to/") as info:
        InceptionFeatures(weights="imagenet", download_timeout=1)
    assert "no network" in str(info.value)


def test_inception_missing_weights_file(tmp_path):
    missing = os.path.join(tmp_path, "missing.h5")
    with pytest.raises(ValueError, match="missing.h5"):
        InceptionFeatures(weights=missing)


def test_inception_socket_timeout_is_restored():
    import socket

    previous = socket.getdefaulttimeout()
    with inception_module._socket_timeout(1.5):
        assert socket.getdefaulttimeout() == 1.5
    assert socket.getdefaulttimeout() == previous


@pytest.mark.slow
def test_inception_features_with_random_weights():
    inception = InceptionFeatures(weights=None, batch_size=2)
    images, _ = colour_sprites(3, size=16)
    features = inception(images)
    assert features.shape == (3, 2048)
    assert np.isfinite(features).all()
    scores = inception_scores(
        inception, images, images[::-1], kid_subset_size=3, kid_num_subsets=2
    )
    assert scores["space"] == "inception_v3_random"
    assert scores["frechet"] == pytest.approx(0, abs=1e-4)
