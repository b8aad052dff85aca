"""pokediff: type-conditioned diffusion models of Pokémon sprites.

`import pokediff` does not import Keras, so that the command line can choose
the backend first: the Keras names below load on first use. Every pokediff
class is registered for `keras.saving.load_model` as soon as both pokediff
and Keras are imported, in either order.
"""

import importlib
import importlib.abc
import importlib.util
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


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Registers pokediff's classes once `keras` has been imported."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _register_keras_classes()

        spec.loader.exec_module = exec_then_register
        return spec


if "keras" in sys.modules:
    _register_keras_classes()
else:
    sys.meta_path.insert(0, _RegisterAfterKeras())


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
