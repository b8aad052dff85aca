"""`load_images`: load either data set layout, picked from the folder."""

from __future__ import annotations

import os
from pathlib import Path

from pokediff.datasets.directory import load_directory
from pokediff.datasets.images import DEFAULT_BACKGROUND
from pokediff.datasets.kaggle import load_kaggle
from pokediff.pokemon_types import TYPES

LAYOUTS = ("auto", "kaggle", "directory")


def detect_layout(path) -> str:
    """Tell which layout a data set folder holds.

    Args:
        path: a data set folder, or a CSV file.

    Returns:
        `"kaggle"` for a CSV file, or a folder holding one; `"directory"`
        for a folder with sub-folders named after types.

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: when the folder matches neither layout.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            "`path` expected an existing folder or CSV file. "
            f"Received: path={os.fspath(path)!r} (does not exist)"
        )
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "kaggle"
        raise ValueError(
            "`path` expected a data set folder or a CSV file. "
            f"Received: path={os.fspath(path)!r}"
        )
    children = [p for p in path.iterdir() if not p.name.startswith(".")]
    if any(p.is_file() and p.suffix.lower() == ".csv" for p in children):
        return "kaggle"
    if any(p.is_dir() and p.name.lower() in TYPES for p in children):
        return "directory"
    raise ValueError(
        f"{os.fspath(path)!r} holds neither data set layout: expected a CSV "
        "file (name,type1,type2) next to an images/ folder, or sub-folders "
        f"named after types ({', '.join(TYPES)})."
    )


def load_images(
    path,
    image_size: int = 32,
    background=DEFAULT_BACKGROUND,
    layout: str = "auto",
    return_names: bool = False,
    verbose: int = 1,
):
    """Load a Pokémon image data set in either layout.

    Args:
        path: a Kaggle-layout folder (a CSV file and an images folder) or
            its CSV file, or a folder-per-type folder (`path/<type>/*.png`).
        image_size: the side length of the square output images. Defaults
            to `32`.
        background: the `(r, g, b)` colour under transparent pixels and in
            the padding. Defaults to white, `(255, 255, 255)`.
        layout: one of `"auto"` (pick from what `path` holds, see
            `detect_layout`), `"kaggle"` or `"directory"`. Defaults to
            `"auto"`.
        return_names: whether to also return the names. Defaults to
            `False`.
        verbose: `0` for silence, `1` for a progress bar, `2` for one line
            at the end. Defaults to `1`.

    Returns:
        `(images, labels)` or `(images, labels, names)`, as `load_kaggle`
        and `load_directory` return them: uint8 images of shape
        `(N, image_size, image_size, 3)` and int32 labels of shape `(N, 2)`.

    Example:

    ```python
    images, labels = load_images("data/pokemon", image_size=32)
    ```
    """
    if layout == "auto":
        layout = detect_layout(path)
    if layout == "kaggle":
        loader = load_kaggle
    elif layout == "directory":
        loader = load_directory
    else:
        raise ValueError(
            f"`layout` expected one of {', '.join(map(repr, LAYOUTS))}. "
            f"Received: layout={layout!r}"
        )
    return loader(
        path,
        image_size=image_size,
        background=background,
        return_names=return_names,
        verbose=verbose,
    )
