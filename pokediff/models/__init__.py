from pokediff.models.pokemon_diffusion import PokemonDiffusion
from pokediff.models.unet import build_unet

__all__ = ["PokemonDiffusion", "build_unet"]
