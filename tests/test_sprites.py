"""Tests for the built-in procedural sprite data set."""

import numpy as np
import pytest

from pokediff.datasets import make_sprites
from pokediff.pokemon_types import NUM_TYPES
from pokediff.pokemon_types import TYPES
from pokediff.pokemon_types import type_id


@pytest.fixture(scope="module")
def sprites():
    return make_sprites(360, image_size=32, seed=3)


def single_typed(name, num=24, seed=0):
    labels = [[type_id(name), -1]] * num
    return make_sprites(num, image_size=32, seed=seed, labels=labels)[0]


def mean_creature_colour(images):
    """The median RGB of the pixels that are not white background."""
    pixels = images.reshape(-1, 3).astype("float64")
    return np.median(pixels[(pixels < 250).any(axis=1)], axis=0)


def test_deterministic():
    first = make_sprites(20, seed=11)
    second = make_sprites(20, seed=11)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    other = make_sprites(20, seed=12)
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("image_size", [16, 24, 32, 48, 64, 128])
def test_shapes_and_background(image_size):
    images, labels = make_sprites(3, image_size=image_size, seed=0)
    assert images.shape == (3, image_size, image_size, 3)
    assert images.dtype == np.uint8
    assert labels.shape == (3, 2) and labels.dtype == np.int32
    # Corners are background; the creature sits in the middle.
    np.testing.assert_array_equal(images[:, 0, 0], 255)
    assert (images[:, image_size // 2, image_size // 2] < 250).any()


def test_scaled_sizes_match_the_base_drawing():
    base = make_sprites(4, image_size=32, seed=5)[0]
    big = make_sprites(4, image_size=64, seed=5)[0]
    np.testing.assert_array_equal(big[:, ::2, ::2], base)


def test_labels_valid(sprites):
    _, labels = sprites
    first, second = labels[:, 0], labels[:, 1]
    assert ((first >= 0) & (first < NUM_TYPES)).all()
    assert ((second >= -1) & (second < NUM_TYPES)).all()
    assert (first != second).all()
    assert set(first.tolist()) == set(range(NUM_TYPES))
    assert 0.35 < (second >= 0).mean() < 0.65  # about half dual-typed
    single = make_sprites(50, seed=0, dual_type_fraction=0.0)[1]
    assert (single[:, 1] == -1).all()


def test_labels_argument():
    labels = [["fire"], ("water", "flying"), [type_id("ghost"), -1]]
    _, out = make_sprites(3, seed=0, labels=labels)
    np.testing.assert_array_equal(out, [[1, -1], [2, 9], [13, -1]])
    ids = np.array([[4, 7], [0, -1]])
    np.testing.assert_array_equal(make_sprites(2, labels=ids)[1], ids)
    with pytest.raises(ValueError, match="2 rows"):
        make_sprites(3, labels=ids)
    with pytest.raises(ValueError, match="Unknown Pokémon type"):
        make_sprites(1, labels=[["fyre"]])


def test_type_visible_in_colour():
    fire = mean_creature_colour(single_typed("fire"))
    water = mean_creature_colour(single_typed("water"))
    grass = mean_creature_colour(single_typed("grass"))
    ghost = mean_creature_colour(single_typed("ghost"))
    ice = mean_creature_colour(single_typed("ice"))
    assert fire[0] - fire[2] > water[0] - water[2] + 100  # redder
    assert water[2] - water[0] > 60 and water[2] > fire[2]  # bluer
    assert grass[1] > grass[0] and grass[1] > grass[2]  # greener
    assert grass[1] - grass[0] > fire[1] - fire[0] + 60
    assert ghost.sum() < ice.sum() - 200  # dark purple vs pale cyan
    assert ghost[2] > ghost[1]  # purple


def test_second_type_adds_its_colour():
    # A water creature with flying gets wings: more near-white pixels.
    water = single_typed("water", seed=1)
    labels = [[type_id("water"), type_id("flying")]] * 24
    flying = make_sprites(24, seed=1, labels=labels)[0]

    def pale(images):
        pixels = images.reshape(-1, 3).astype(int)
        near_white = (pixels > 215).all(axis=1) & (pixels < 250).any(axis=1)
        return near_white.sum()

    assert pale(flying) > pale(water) + 24 * 20


def test_sprites_differ(sprites):
    images, _ = sprites
    flat = images.reshape(len(images), -1)
    assert len(np.unique(flat, axis=0)) == len(images)
    # Each creature covers a good part of the image, with several colours.
    covered = (images < 250).any(axis=-1).mean(axis=(1, 2))
    assert (covered > 0.15).all() and (covered < 0.9).all()
    colours = [len(np.unique(image.reshape(-1, 3), axis=0)) for image in images]
    assert min(colours) >= 5


def test_every_type_and_pair_draws(sprites):
    labels = [[a, b] for a in range(NUM_TYPES) for b in range(-1, NUM_TYPES)]
    labels = [pair for pair in labels if pair[0] != pair[1]]
    images, out = make_sprites(len(labels), image_size=16, labels=labels)
    assert images.shape[0] == len(TYPES) * len(TYPES)
    assert (images[:, 0, 0] == 255).all()


def test_validates_arguments():
    with pytest.raises(ValueError, match="num_images=-1"):
        make_sprites(-1)
    with pytest.raises(ValueError, match="image_size=0"):
        make_sprites(2, image_size=0)
    with pytest.raises(ValueError, match="dual_type_fraction=1.5"):
        make_sprites(2, dual_type_fraction=1.5)
    with pytest.raises(ValueError, match="background"):
        make_sprites(2, background=(1, 2))
    assert make_sprites(0)[0].shape == (0, 32, 32, 3)


def test_custom_background():
    images, _ = make_sprites(2, image_size=16, background=(0, 40, 0))
    np.testing.assert_array_equal(images[:, 0, 0], [(0, 40, 0)] * 2)
