"""Data sets: the Kaggle and folder-per-type loaders, built-in sprites.

- `load_images`: load a folder in either layout, picked from its contents.
- `load_kaggle`: the Kaggle "Pokemon Images and Types" layout (a CSV file
  of names and types next to an images folder).
- `load_directory`: one folder per type, `DIR/<type>/*.png`.
- `make_sprites`: a procedurally drawn built-in data set.
- `SpriteDataset`: shuffled, flip-augmented batches for `model.fit`.
- `make_grid`, `save_image_grid`: tile images into one PNG.
"""

from pokediff.datasets.directory import load_directory
from pokediff.datasets.images import composite_on_background
from pokediff.datasets.images import load_image
from pokediff.datasets.images import make_grid
from pokediff.datasets.images import pad_to_square
from pokediff.datasets.images import resize_square
from pokediff.datasets.images import save_image_grid
from pokediff.datasets.kaggle import load_kaggle
from pokediff.datasets.loaders import detect_layout
from pokediff.datasets.loaders import load_images
from pokediff.datasets.pipeline import SpriteDataset
from pokediff.datasets.sprites import make_sprites

__all__ = [
    "SpriteDataset",
    "composite_on_background",
    "detect_layout",
    "load_directory",
    "load_image",
    "load_images",
    "load_kaggle",
    "make_grid",
    "make_sprites",
    "pad_to_square",
    "resize_square",
    "save_image_grid",
]
