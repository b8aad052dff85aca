"""pokediff: type-conditioned diffusion models of Pokémon sprites.

`import pokediff` imports Keras only when Keras is already imported (then
every pokediff class is registered for `keras.saving.load_model` at once).
Otherwise the Keras names below load on first use, so that the command line
can choose the backend before Keras is imported.
"""

import importlib
import sys

from pokediff.pokemon_types import NUM_TYPES
from pokediff.pokemon_types import TYPES
from pokediff.pokemon_types import decode_types
from pokediff.pokemon_types import encode_types
from pokediff.pokemon_types import type_id
from pokediff.presets import PRESETS

__version__ = "0.1.0"

_LAZY = {
    "PokemonDiffusion": "pokediff.models",
    "build_unet": "pokediff.models",
    "NoiseSchedule": "pokediff.schedules",
    "AdamWEMAWarmup": "pokediff.optimizers",
    "layers": "pokediff.layers",
    "datasets": "pokediff.datasets",
    "metrics": "pokediff.metrics",
}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = (
            module if module.__name__.endswith(name) else getattr(module, name)
        )
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pokediff' has no attribute {name!r}")


def _register_keras_classes():
    for module in (
        "pokediff.models",
        "pokediff.layers",
        "pokediff.metrics",
        "pokediff.optimizers",
    ):
        importlib.import_module(module)


if "keras" in sys.modules:
    _register_keras_classes()


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = [
    "AdamWEMAWarmup",
    "NUM_TYPES",
    "NoiseSchedule",
    "PRESETS",
    "PokemonDiffusion",
    "TYPES",
    "build_unet",
    "datasets",
    "decode_types",
    "encode_types",
    "layers",
    "metrics",
    "type_id",
]
