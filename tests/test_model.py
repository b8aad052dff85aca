import importlib.util
import os
import random
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import REPO
from conftest import TINY_CONFIG
from conftest import make_colour_data

import pokediff
from pokediff.models.pokemon_diffusion import standardize_labels

BACKEND = keras.backend.backend()


def test_config_round_trip_keeps_every_argument():
    config = dict(
        TINY_CONFIG,
        schedule="linear",
        prediction_type="v",
        label_dropout=0.2,
        min_snr_gamma=5.0,
        dropout=0.1,
        num_train_timesteps=500,
    )
    model = pokediff.PokemonDiffusion(**config)
    saved = model.get_config()
    for key, value in config.items():
        expected = list(value) if isinstance(value, tuple) else value
        assert saved[key] == expected, key
    restored = pokediff.PokemonDiffusion.from_config(saved)
    assert restored.get_config() == saved
    assert restored.count_params() == model.count_params()


def test_initial_weights_follow_the_seed():
    def weights(seed):
        model = pokediff.PokemonDiffusion(**dict(TINY_CONFIG, seed=seed))
        return [keras.ops.convert_to_numpy(w) for w in model.weights]

    state = random.getstate()
    first, again, other = weights(3), weights(3), weights(4)
    assert random.getstate() == state
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    differ = [
        not np.array_equal(a, b)
        for a, b in zip(first, other, strict=True)
        if a.std() > 0  # zero-initialised kernels and ones/zeros of norms
    ]
    assert differ and all(differ)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"prediction_type": "x0"}, "prediction_type='x0'"),
        ({"schedule": "sigmoid"}, "schedule='sigmoid'"),
        ({"label_dropout": 1.5}, "label_dropout=1.5"),
        ({"image_size": 17}, "image_size=17"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pokediff.PokemonDiffusion(**dict(TINY_CONFIG, **kwargs))


def test_standardize_labels_accepts_names_pairs_and_arrays():
    np.testing.assert_array_equal(
        standardize_labels(["fire", ("water", "flying"), 4, ("Grass",)]),
        [[1, -1], [2, 9], [4, -1], [4, -1]],
    )
    np.testing.assert_array_equal(standardize_labels("ice"), [[5, -1]])
    np.testing.assert_array_equal(
        standardize_labels(np.array([3, 0])), [[3, -1], [0, -1]]
    )
    np.testing.assert_array_equal(
        standardize_labels(np.array([[1, 2], [-1, -1]])), [[1, 2], [-1, -1]]
    )


@pytest.mark.parametrize(
    "labels,message",
    [
        (["lava"], "Unknown Pokémon type 'lava'"),
        ([], "at least one entry"),
        (np.array([[1, 40]]), "values from 1 to 40"),
        (np.zeros((2, 3), dtype="int32"), r"shape \(2, 3\)"),
        ([("fire", "water", "ice")], "one or two types"),
    ],
)
def test_bad_labels_are_rejected(labels, message):
    with pytest.raises(ValueError, match=message):
        standardize_labels(labels)


def test_labels_must_be_types_of_the_model():
    # A model of 4 types: ids 0-3; "ice" is id 5.
    model = pokediff.PokemonDiffusion(**dict(TINY_CONFIG, num_classes=4))
    assert model.generate([3], num_steps=1).shape == (1, 16, 16, 3)
    for labels in ([4], ["ice"]):
        with pytest.raises(ValueError, match=r"\[-1, 4\) for a model of 4"):
            model.generate(labels, num_steps=1)


def test_fit_without_labels_says_so(tiny_model):
    images = np.zeros((4, 16, 16, 3), dtype="uint8")
    with pytest.raises(ValueError, match=r"expected type labels.*\(4, 16"):
        tiny_model.fit(images, batch_size=4, verbose=0)


def test_generate_rejects_bad_arguments(tiny_model):
    with pytest.raises(ValueError, match="sampler='euler'"):
        tiny_model.generate(["fire"], sampler="euler")
    with pytest.raises(ValueError, match="num_steps=0"):
        tiny_model.generate(["fire"], num_steps=0)
    with pytest.raises(ValueError, match="batch_size=0"):
        tiny_model.generate(["fire"], batch_size=0)
    with pytest.raises(ValueError, match="initial_noise.shape"):
        tiny_model.generate(["fire"], initial_noise=np.zeros((2, 16, 16, 3)))


@pytest.fixture(scope="module")
def trained_tiny_model():
    """The tiny model after a few steps, so that its outputs are not zero."""
    model = pokediff.PokemonDiffusion(**TINY_CONFIG)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    images, labels = make_colour_data(64)
    model.fit(images, labels, batch_size=16, epochs=2, verbose=0)
    return model


def test_generate_returns_uint8_images_and_is_deterministic(
    trained_tiny_model,
):
    model = trained_tiny_model
    labels = ["fire", ("water", "flying"), "grass"]
    first = model.generate(labels, num_steps=4, seed=3, batch_size=2)
    assert first.shape == (3, 16, 16, 3) and first.dtype == np.uint8
    again = model.generate(labels, num_steps=4, seed=3, batch_size=2)
    np.testing.assert_array_equal(first, again)
    other = model.generate(labels, num_steps=4, seed=4, batch_size=2)
    assert not np.array_equal(first, other)


def test_ddpm_and_unguided_sampling(trained_tiny_model):
    model = trained_tiny_model
    ddpm = model.generate(["fire"] * 2, num_steps=6, sampler="ddpm", seed=1)
    assert ddpm.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(
        ddpm, model.generate(["fire"] * 2, num_steps=6, sampler="ddpm", seed=1)
    )
    noise = np.random.default_rng(0).normal(size=(2, 16, 16, 3))
    ddim = model.generate(
        ["fire"] * 2, num_steps=6, initial_noise=noise, guidance_scale=1.0
    )
    # DDIM is deterministic given the starting noise, whatever the seed.
    np.testing.assert_array_equal(
        ddim,
        model.generate(
            ["fire"] * 2,
            num_steps=6,
            initial_noise=noise,
            guidance_scale=1.0,
            seed=99,
        ),
    )


def test_generate_traces_its_sampling_loop_once():
    model = pokediff.PokemonDiffusion(**TINY_CONFIG)
    calls = []
    sample_loop = model._sample_loop

    def counted(*args, **kwargs):
        calls.append(args)
        return sample_loop(*args, **kwargs)

    model._sample_loop = counted
    model.generate(["fire", "ice"], num_steps=3, seed=0, batch_size=2)
    # Other labels, steps, seed and guidance scale: the same compiled loop.
    model.generate(
        ["water", "dark"], num_steps=5, seed=1, guidance_scale=2.0, batch_size=2
    )
    if BACKEND == "torch":
        assert len(calls) == 2  # eager: the loop runs as Python each time
    else:
        assert len(calls) == 1  # traced once, then reused


def test_save_and_load_give_identical_outputs(trained_tiny_model, tmp_path):
    model = trained_tiny_model
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, pokediff.PokemonDiffusion)
    assert restored.get_config() == model.get_config()
    for a, b in zip(restored.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    kwargs = {"num_steps": 4, "seed": 7}
    np.testing.assert_array_equal(
        restored.generate(["fire", "water"], **kwargs),
        model.generate(["fire", "water"], **kwargs),
    )


LOAD_AND_SAMPLE = """
import sys, numpy as np
import pokediff  # before keras: the classes register when keras loads
import keras
model = keras.saving.load_model(sys.argv[1])
noise = np.load(sys.argv[2])
images = model.generate(
    ["fire", ("water", "flying")], num_steps=5, initial_noise=noise
)
np.save(sys.argv[3], images)
"""


@pytest.mark.parametrize(
    "other",
    [name for name in ("tensorflow", "jax", "torch") if name != BACKEND],
)
def test_model_saved_here_loads_and_samples_on_another_backend(
    trained_tiny_model, tmp_path, other
):
    if importlib.util.find_spec(other) is None:
        pytest.skip(f"the {other} backend is not installed")
    model = trained_tiny_model
    model.save(tmp_path / "model.keras")
    noise = np.random.default_rng(5).normal(size=(2, 16, 16, 3))
    np.save(tmp_path / "noise.npy", noise)
    expected = model.generate(
        ["fire", ("water", "flying")], num_steps=5, initial_noise=noise
    )

    env = dict(os.environ, KERAS_BACKEND=other)
    subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_AND_SAMPLE,
            str(tmp_path / "model.keras"),
            str(tmp_path / "noise.npy"),
            str(tmp_path / "images.npy"),
        ],
        env=env,
        check=True,
        timeout=600,
    )
    images = np.load(tmp_path / "images.npy")
    difference = np.abs(images.astype(int) - expected.astype(int))
    assert difference.max() <= 2, f"{BACKEND} -> {other}: {difference.max()}"
    assert difference.mean() < 0.05


def test_presets_match_their_table_in_the_docs():
    table = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip(" `") for cell in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0] in pokediff.PRESETS:
            rows[cells[0]] = cells
    assert set(rows) == set(pokediff.PRESETS)
    for name, (_, size, widths, blocks, attention, params) in rows.items():
        preset = pokediff.PRESETS[name]
        assert int(size) == preset["image_size"], name
        assert [int(w) for w in widths.split(",")] == list(preset["widths"])
        assert int(blocks) == preset["num_res_blocks"], name
        assert [int(a) for a in attention.split(",")] == list(
            preset["attention_resolutions"]
        )
        # The count does not depend on the backend; building the larger
        # presets takes JAX and TensorFlow long, so PyTorch checks them.
        if name == "tiny" or BACKEND == "torch":
            model = pokediff.PokemonDiffusion.from_preset(name, seed=0)
            assert model.count_params() == int(params.replace(",", "")), name
