"""pokediff: type-conditioned diffusion models of Pokémon sprites."""

from pokediff import layers
from pokediff.models import PokemonDiffusion
from pokediff.models import build_unet
from pokediff.pokemon_types import NUM_TYPES
from pokediff.pokemon_types import TYPES
from pokediff.pokemon_types import decode_types
from pokediff.pokemon_types import encode_types
from pokediff.pokemon_types import type_id
from pokediff.schedules import NoiseSchedule

__version__ = "0.1.0"

__all__ = [
    "NUM_TYPES",
    "NoiseSchedule",
    "PokemonDiffusion",
    "TYPES",
    "build_unet",
    "decode_types",
    "encode_types",
    "layers",
    "type_id",
]
