"""Tests for the data set loaders, image helpers and `SpriteDataset`."""

import os
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from pokediff.datasets import SpriteDataset
from pokediff.datasets import composite_on_background
from pokediff.datasets import detect_layout
from pokediff.datasets import load_directory
from pokediff.datasets import load_images
from pokediff.datasets import load_kaggle
from pokediff.datasets import make_grid
from pokediff.datasets import pad_to_square
from pokediff.datasets import resize_square
from pokediff.datasets import save_image_grid
from pokediff.pokemon_types import TYPES
from pokediff.pokemon_types import type_id

WHITE = (255, 255, 255)
RED = (220, 30, 40)


def real_data_dir():
    override = os.environ.get("POKEDIFF_POKEMON_DATA")
    if override:
        return Path(override)
    repo = Path(__file__).resolve().parents[1]
    return repo.parent / "shared" / "data" / "pokemon"


def sprite_rgba(size=12, rgb=RED, hidden=(7, 200, 90)):
    """A red square on a transparent background whose RGB is `hidden`."""
    array = np.zeros((size, size, 4), np.uint8)
    array[..., :3] = hidden
    array[3:-3, 3:-3] = (*rgb, 255)
    return array


def sprite_rgb(size=12, rgb=RED):
    array = np.full((size, size, 3), 255, np.uint8)
    array[3:-3, 3:-3] = rgb
    return array


def save(array_or_image, path, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = array_or_image
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image.save(path, **kwargs)
    return path


def palette_sprite(size=12):
    """A palette ("P") image whose index 0 is transparent."""
    image = Image.fromarray(sprite_rgb(size)).convert(
        "P", palette=Image.Palette.ADAPTIVE, colors=4
    )
    index = np.asarray(image).copy()
    white = index[0, 0]
    image.info["transparency"] = int(white)
    # Scribble arbitrary colour into the transparent entry's RGB.
    palette = image.getpalette()
    palette[3 * white : 3 * white + 3] = [1, 2, 3]
    image.putpalette(palette)
    return image


def write_csv(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(root):
    return sorted(
        (str(p.relative_to(root)), p.stat().st_mtime_ns, p.stat().st_size)
        for p in root.rglob("*")
    )


@pytest.fixture
def kaggle_dir(tmp_path):
    """The Kaggle zip layout: Name,Type1,Type2 and images/images/."""
    root = tmp_path / "kaggle"
    images = root / "images" / "images"
    save(sprite_rgba(), images / "charmander.png")
    save(sprite_rgb(), images / "squirtle.jpg", quality=95)
    save(palette_sprite(), images / "oddish.png")
    save(Image.fromarray(sprite_rgb()).convert("L"), images / "geodude.png")
    save(sprite_rgba(10)[:, :6].copy(), images / "pidgey.png")  # 10 x 6
    write_csv(
        root / "pokemon.csv",
        "Name,Type1,Type2\r\n"
        "charmander,Fire,\r\n"
        "squirtle,Water,\r\n"
        "oddish,Grass,Poison\r\n"
        "geodude,Rock,Ground\r\n"
        "pidgey,Normal,Flying\r\n",
    )
    return root


# ---------------------------------------------------------------------------
# Image helpers.


def test_composite_transparent_pixel_is_exactly_background():
    rgba = np.array([[[13, 200, 77, 0], [250, 1, 2, 0]]], np.uint8)
    out = composite_on_background(rgba)
    np.testing.assert_array_equal(out, [[WHITE, WHITE]])
    out = composite_on_background(rgba, background=(10, 20, 30))
    np.testing.assert_array_equal(out, [[(10, 20, 30), (10, 20, 30)]])


def test_composite_half_alpha_blends_as_hand_computed():
    rgba = np.array([[[200, 100, 0, 128]]], np.uint8)
    # (c * 128 + 255 * 127) / 255: 227.45, 177.25, 127.0, rounded.
    np.testing.assert_array_equal(
        composite_on_background(rgba), [[[227, 177, 127]]]
    )
    # On black: c * 128 / 255 = 100.39, 50.2, 0.
    out = composite_on_background(rgba, background=(0, 0, 0))
    np.testing.assert_array_equal(out, [[[100, 50, 0]]])
    opaque = np.array([[[200, 100, 0, 255]]], np.uint8)
    np.testing.assert_array_equal(
        composite_on_background(opaque), [[[200, 100, 0]]]
    )


def test_composite_greyscale_and_palette():
    grey = Image.fromarray(np.array([[0, 128]], np.uint8))
    np.testing.assert_array_equal(
        composite_on_background(grey), [[(0, 0, 0), (128, 128, 128)]]
    )
    out = composite_on_background(palette_sprite(), background=(9, 9, 9))
    np.testing.assert_array_equal(out[0, 0], (9, 9, 9))
    np.testing.assert_array_equal(out[6, 6], RED)


def test_composite_rejects_bad_background():
    with pytest.raises(ValueError, match="background"):
        composite_on_background(sprite_rgba(), background=(0, 0))
    with pytest.raises(ValueError, match="background=.*300"):
        composite_on_background(sprite_rgba(), background=(0, 0, 300))


def test_pad_to_square():
    image = np.zeros((4, 10, 3), np.uint8)
    out = pad_to_square(image, background=(1, 2, 3))
    assert out.shape == (10, 10, 3)
    np.testing.assert_array_equal(out[:3], 0 * out[:3] + (1, 2, 3))
    np.testing.assert_array_equal(out[3:7], 0)
    np.testing.assert_array_equal(out[7:], 0 * out[7:] + (1, 2, 3))
    assert pad_to_square(np.zeros((7, 2, 3), np.uint8)).shape == (7, 7, 3)
    with pytest.raises(ValueError, match="image.shape"):
        pad_to_square(np.zeros((4, 4), np.uint8))


@pytest.mark.parametrize("source", [120, 32, 20, 7])
@pytest.mark.parametrize("target", [16, 32, 64])
def test_resize_square_shapes(source, target):
    out = resize_square(np.zeros((source, source, 3), np.uint8), target)
    assert out.shape == (target, target, 3) and out.dtype == np.uint8


def test_resize_square_box_down_nearest_up():
    checker = np.zeros((4, 4, 3), np.uint8)
    checker[::2, ::2] = checker[1::2, 1::2] = 255
    # Box averaging: every 2 x 2 block is half white.
    assert set(np.unique(resize_square(checker, 2))) <= {127, 128}
    # Nearest neighbour keeps hard pixels, also for non-integer factors.
    assert set(np.unique(resize_square(checker, 6))) == {0, 255}
    with pytest.raises(ValueError, match="image_size"):
        resize_square(checker, 0)


def test_make_grid_and_save(tmp_path):
    images = np.zeros((5, 8, 6, 3), np.uint8)
    grid = make_grid(images, ncols=2, padding=1)
    assert grid.shape == (3 * 9 + 1, 2 * 7 + 1, 3)
    assert grid[0, 0].tolist() == [255, 255, 255]
    assert grid[1, 1].tolist() == [0, 0, 0]
    path = save_image_grid(images, tmp_path / "out" / "grid.png", scale=2)
    saved = np.asarray(Image.open(path))
    # ceil(sqrt(5)) = 3 columns, 2 rows, padding 2, twice the size.
    assert saved.shape == (2 * 22, 2 * 26, 3)
    with pytest.raises(ValueError, match="images.dtype"):
        make_grid(images.astype("float32"))
    with pytest.raises(ValueError, match="ncols"):
        make_grid(images, ncols=0)


# ---------------------------------------------------------------------------
# Kaggle layout.


def test_load_kaggle_zip_layout(kaggle_dir):
    images, labels, names = load_kaggle(
        kaggle_dir, image_size=16, return_names=True, verbose=0
    )
    assert images.shape == (5, 16, 16, 3) and images.dtype == np.uint8
    assert labels.shape == (5, 2) and labels.dtype == np.int32
    assert names == ["charmander", "squirtle", "oddish", "geodude", "pidgey"]
    expected = [
        [type_id("fire"), -1],
        [type_id("water"), -1],
        [type_id("grass"), type_id("poison")],
        [type_id("rock"), type_id("ground")],
        [type_id("normal"), type_id("flying")],
    ]
    np.testing.assert_array_equal(labels, expected)
    # Transparent and white backgrounds come out white; the sprite is red.
    for image in images[:3]:
        np.testing.assert_array_equal(image[0, 0], WHITE)
        np.testing.assert_allclose(image[8, 8], RED, atol=12)
    # The 10 x 6 image is padded to a square with the background.
    np.testing.assert_array_equal(images[4][:, 0], np.full((16, 3), 255))


def test_rgba_and_rgb_sources_look_alike(tmp_path):
    root = tmp_path / "data"
    save(sprite_rgba(), root / "images" / "a.png")
    save(sprite_rgb(), root / "images" / "b.png")
    write_csv(root / "pokemon.csv", "name,type1,type2\na,fire,\nb,fire,\n")
    images, _ = load_kaggle(root, image_size=24, verbose=0)
    np.testing.assert_array_equal(images[0], images[1])


def test_load_kaggle_lower_case_header_and_csv_path(tmp_path):
    root = tmp_path / "data"
    save(sprite_rgba(), root / "images" / "Mew.png")
    save(sprite_rgb(), root / "images" / "eevee.JPG")
    csv = write_csv(
        root / "table.csv", "name,type1\nMew,PSYCHIC\neevee, normal \n"
    )
    for path in (root, csv):
        images, labels = load_kaggle(path, image_size=8, verbose=0)
        assert images.shape == (2, 8, 8, 3)
        np.testing.assert_array_equal(
            labels, [[type_id("psychic"), -1], [type_id("normal"), -1]]
        )


def test_load_kaggle_background_argument(kaggle_dir):
    images, _ = load_kaggle(
        kaggle_dir, image_size=16, background=(0, 0, 255), verbose=0
    )
    np.testing.assert_array_equal(images[0, 0, 0], (0, 0, 255))  # RGBA
    np.testing.assert_array_equal(images[4, 0, 0], (0, 0, 255))  # padding


def test_truncated_image_is_skipped_with_warnings(kaggle_dir):
    path = kaggle_dir / "images" / "images" / "charmander.png"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    (kaggle_dir / "images" / "images" / "squirtle.jpg").write_bytes(b"nope")
    with pytest.warns(UserWarning) as record:
        images, labels, names = load_kaggle(
            kaggle_dir, image_size=8, return_names=True, verbose=0
        )
    messages = [str(w.message) for w in record]
    # The file and the line of pokemon.csv that lists it (line 1: header).
    assert any("charmander.png" in m and "line 2" in m for m in messages)
    assert any("squirtle.jpg" in m and "line 3" in m for m in messages)
    assert any("Skipped 2 of 5" in m for m in messages)
    assert names == ["oddish", "geodude", "pidgey"]
    assert images.shape == (3, 8, 8, 3) and labels.shape == (3, 2)
    assert labels[0].tolist() == [type_id("grass"), type_id("poison")]


def test_unknown_type_names_file_line_and_lists_types(kaggle_dir):
    write_csv(
        kaggle_dir / "pokemon.csv",
        "Name,Type1,Type2\ncharmander,fire,\nsquirtle,watre,\n",
    )
    with pytest.raises(ValueError) as info:
        load_kaggle(kaggle_dir, verbose=0)
    message = str(info.value)
    assert "pokemon.csv" in message and "line 3" in message
    assert "'watre'" in message and "squirtle" in message
    assert all(name in message for name in TYPES)


def test_missing_image_warns_with_line_and_name(kaggle_dir):
    with open(kaggle_dir / "pokemon.csv", "a") as file:
        file.write("missingno,normal,\n")
    with pytest.warns(UserWarning) as record:
        images, labels = load_kaggle(kaggle_dir, verbose=0)
    messages = [str(w.message) for w in record]
    assert any("line 7" in m and "'missingno'" in m for m in messages)
    assert any("Skipped 1 of 6 rows" in m for m in messages)
    assert len(images) == len(labels) == 5


def test_empty_results_raise(tmp_path, kaggle_dir):
    write_csv(kaggle_dir / "pokemon.csv", "Name,Type1,Type2\n")
    with pytest.raises(ValueError, match="No image could be loaded"):
        load_kaggle(kaggle_dir, verbose=0)
    write_csv(kaggle_dir / "pokemon.csv", "Name,Type1\nmew,psychic\n")
    with pytest.warns(UserWarning, match="no image"):
        with pytest.raises(ValueError, match="No image could be loaded"):
            load_kaggle(kaggle_dir, verbose=0)
    with pytest.raises(ValueError, match="header"):
        write_csv(kaggle_dir / "pokemon.csv", "id,kind\n1,fire\n")
        load_kaggle(kaggle_dir, verbose=0)


def test_missing_paths_raise(tmp_path, kaggle_dir):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_kaggle(missing)
    (kaggle_dir / "pokemon.csv").unlink()
    with pytest.raises(FileNotFoundError, match="No CSV file in .*kaggle"):
        load_kaggle(kaggle_dir)
    no_images = tmp_path / "no_images"
    write_csv(no_images / "pokemon.csv", "name,type1\nmew,psychic\n")
    with pytest.raises(FileNotFoundError, match="No images folder"):
        load_kaggle(no_images)


def test_loading_leaves_source_unchanged(kaggle_dir):
    before = snapshot(kaggle_dir)
    load_kaggle(kaggle_dir, image_size=8, verbose=0)
    load_images(kaggle_dir, image_size=40, verbose=0)
    assert snapshot(kaggle_dir) == before


# ---------------------------------------------------------------------------
# Folder-per-type layout and the dispatcher.


@pytest.fixture
def type_dirs(tmp_path):
    root = tmp_path / "types"
    save(sprite_rgba(), root / "fire" / "a.png")
    save(sprite_rgb(), root / "fire" / "b.jpg")
    save(sprite_rgb(), root / "Water" / "nested" / "c.png")
    (root / "Water" / "notes.txt").write_text("not an image")
    (root / ".cache").mkdir()
    return root


def test_load_directory(type_dirs):
    before = snapshot(type_dirs)
    images, labels, names = load_directory(
        type_dirs, image_size=16, return_names=True, verbose=0
    )
    assert images.shape == (3, 16, 16, 3) and labels.dtype == np.int32
    assert names == ["a", "b", "c"]
    np.testing.assert_array_equal(
        labels, [[1, -1], [1, -1], [type_id("water"), -1]]
    )
    assert snapshot(type_dirs) == before


def test_load_directory_rejects_unknown_folder(type_dirs):
    (type_dirs / "firee").mkdir()
    with pytest.raises(ValueError, match="firee.*Expected one of: normal"):
        load_directory(type_dirs, verbose=0)


def test_load_images_picks_layout(kaggle_dir, type_dirs, tmp_path):
    assert detect_layout(kaggle_dir) == "kaggle"
    assert detect_layout(kaggle_dir / "pokemon.csv") == "kaggle"
    assert detect_layout(type_dirs) == "directory"
    assert load_images(kaggle_dir, image_size=8, verbose=0)[0].shape[0] == 5
    assert load_images(type_dirs, image_size=8, verbose=0)[0].shape[0] == 3
    with pytest.raises(ValueError, match="neither data set layout"):
        load_images(tmp_path / "types" / "fire", verbose=0)
    with pytest.raises(ValueError, match="layout='zip'"):
        load_images(kaggle_dir, layout="zip")


# ---------------------------------------------------------------------------
# The real data set.


@pytest.fixture(scope="module")
def real_data():
    root = real_data_dir()
    if not (root / "pokemon.csv").is_file():
        pytest.skip(
            f"Real Pokémon data not found at {root}; set "
            "POKEDIFF_POKEMON_DATA to the folder holding pokemon.csv."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # The real data must load cleanly.
        return load_images(root, image_size=32, return_names=True, verbose=0)


def test_real_data(real_data):
    images, labels, names = real_data
    assert images.shape == (809, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (809, 2) and labels.dtype == np.int32
    by_name = dict(zip(names, labels.tolist(), strict=True))
    assert by_name["charmander"] == [type_id("fire"), -1]
    assert by_name["bulbasaur"] == [type_id("grass"), type_id("poison")]
    assert set(labels.ravel().tolist()) == set(range(len(TYPES))) | {-1}
    # Backgrounds, transparent or white, all come out white.
    assert (images[:, 0, 0] == 255).all()


# ---------------------------------------------------------------------------
# SpriteDataset.


@pytest.fixture
def indexed_images():
    """Images that carry their index in pixel (0, 0) and a marked column."""
    images = np.zeros((10, 4, 4, 3), np.uint8)
    images[:, :, 0] = np.arange(10)[:, None, None]  # left column = index
    images[:, :, 1:] = 200
    labels = np.stack([np.arange(10), -np.ones(10)], axis=1).astype("int64")
    return images, labels


def test_sprite_dataset_batches(indexed_images):
    images, labels = indexed_images
    dataset = SpriteDataset(images, labels, batch_size=4, seed=1)
    assert len(dataset) == 3
    shapes = [(x.shape, y.shape, x.dtype, y.dtype) for x, y in dataset]
    assert shapes[0] == ((4, 4, 4, 3), (4, 2), np.uint8, np.int32)
    assert shapes[2][:2] == ((2, 4, 4, 3), (2, 2))
    dropped = SpriteDataset(images, labels, batch_size=4, drop_remainder=True)
    assert len(dropped) == 2
    assert SpriteDataset(images, batch_size=4)[0].shape == (4, 4, 4, 3)


def test_sprite_dataset_shuffles_and_flips_seeded(indexed_images):
    images, labels = indexed_images

    def epoch(dataset):
        xs, ys = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
        return np.concatenate(xs), np.concatenate(ys)

    dataset = SpriteDataset(images, labels, batch_size=3, seed=7)
    x, y = epoch(dataset)
    flipped = x[:, 0, 0, 0] == 200  # the index column moved to the right
    index = np.where(flipped, x[:, 0, -1, 0], x[:, 0, 0, 0])
    np.testing.assert_array_equal(index, y[:, 0])  # labels follow images
    assert sorted(index.tolist()) == list(range(10))
    assert 0 < flipped.sum() < 10
    np.testing.assert_array_equal(x[~flipped], images[index[~flipped]])
    np.testing.assert_array_equal(
        x[flipped], images[index[flipped]][:, :, ::-1]
    )
    # Same seed, same epochs; the next epoch reshuffles.
    again = SpriteDataset(images, labels, batch_size=3, seed=7)
    np.testing.assert_array_equal(epoch(again)[0], x)
    dataset.on_epoch_end()
    assert not np.array_equal(epoch(dataset)[1], y)
    plain = SpriteDataset(images, labels, 3, shuffle=False, flip=False)
    np.testing.assert_array_equal(epoch(plain)[0], images)


def test_sprite_dataset_validates(indexed_images):
    images, labels = indexed_images
    with pytest.raises(ValueError, match="labels.shape"):
        SpriteDataset(images, labels[:3])
    with pytest.raises(ValueError, match="batch_size"):
        SpriteDataset(images, labels, batch_size=0)
    with pytest.raises(ValueError, match="images.dtype"):
        SpriteDataset(images.astype("float32"), labels)


def test_sprite_dataset_in_model_fit(indexed_images):
    images, labels = indexed_images
    dataset = SpriteDataset(images, labels, batch_size=4, seed=0)
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    # on_epoch_end ran after each epoch (Keras may also call it once more).
    assert dataset.epoch >= 2
