"""Shared fixtures. The suite runs once per Keras backend (`KERAS_BACKEND`)."""

import os
import tempfile
from pathlib import Path

# Fast XLA compilation on CPU, and a compilation cache shared across runs;
# both must be set before JAX is imported.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    str(Path(tempfile.gettempdir()) / "pokediff-jax-cache"),
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import pokediff  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# The model shapes the tests share: each is compiled once per backend.
TINY_CONFIG = {
    "image_size": 16,
    "widths": (16, 32),
    "num_res_blocks": 1,
    "attention_resolutions": (8,),
    "num_heads": 2,
    "seed": 0,
}


def pokemon_data_dir():
    """The real sprites beside the repository, or `None` when absent."""
    path = Path(
        os.environ.get(
            "POKEDIFF_POKEMON_DATA", REPO.parent / "shared" / "data" / "pokemon"
        )
    )
    return path if (path / "pokemon.csv").exists() else None


@pytest.fixture
def tiny_model():
    model = pokediff.PokemonDiffusion(**TINY_CONFIG)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


@pytest.fixture
def colour_data():
    """Solid-colour 16x16 sprites: fire is red, water blue, grass green."""
    return make_colour_data(96, seed=0)


def make_colour_data(count, seed=0, size=16):
    rng = np.random.default_rng(seed)
    colours = {1: (220, 40, 30), 2: (30, 60, 220), 4: (40, 200, 50)}
    type_ids = rng.choice(list(colours), size=count)
    images = np.empty((count, size, size, 3), dtype="uint8")
    for index, type_id in enumerate(type_ids):
        jitter = rng.normal(0, 12, (size, size, 3))
        images[index] = np.clip(np.array(colours[type_id]) + jitter, 0, 255)
    labels = np.stack([type_ids, np.full(count, -1)], axis=1).astype("int32")
    return images, labels
