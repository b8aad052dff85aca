"""Loader for the folder-per-type layout, `DIR/<type>/*.png`.

This is the layout `keras.utils.image_dataset_from_directory` reads, with
one folder per class; here each folder is named after a Pokémon type:

```
sprites/
    fire/charmander.png, ...
    water/squirtle.jpg, ...
```
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from pokediff.datasets.images import DEFAULT_BACKGROUND
from pokediff.datasets.images import IMAGE_EXTENSIONS
from pokediff.datasets.images import check_background
from pokediff.datasets.images import check_image_size
from pokediff.datasets.images import load_image_files
from pokediff.pokemon_types import NO_TYPE
from pokediff.pokemon_types import type_id

logger = logging.getLogger("pokediff")


def list_type_folders(path) -> list[tuple[int, Path]]:
    """List the type folders of a folder-per-type layout.

    Args:
        path: the data set folder.

    Returns:
        A list of `(type_id, folder)` pairs sorted by type id. Hidden
        folders (names starting with `.`) are ignored.

    Raises:
        FileNotFoundError: when `path` is not an existing folder.
        ValueError: when a sub-folder's name is not a type name (any case)
            or when two folders name the same type.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(
            "`path` expected an existing folder. "
            f"Received: path={os.fspath(path)!r}"
        )
    folders = {}
    for folder in sorted(path.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            tid = type_id(folder.name)
        except ValueError as error:
            raise ValueError(
                f"{os.fspath(folder)!r}: the folder-per-type layout expects "
                f"each sub-folder to be named after a type. {error} "
                f"Received: folder name {folder.name!r}"
            ) from error
        if tid in folders:
            raise ValueError(
                f"Two folders name the same type: "
                f"{os.fspath(folders[tid])!r} and {os.fspath(folder)!r}."
            )
        folders[tid] = folder
    return sorted(folders.items())


def load_directory(
    path,
    image_size: int = 32,
    background=DEFAULT_BACKGROUND,
    return_names: bool = False,
    verbose: int = 1,
):
    """Load images from a folder-per-type layout, `path/<type>/*.png`.

    Each sub-folder is named after a type (any case, e.g. `fire/` or
    `Fire/`) and holds PNG or JPEG images, also in nested folders; each
    image gets that one type and `-1` as its second type. Images are
    composited onto `background`, padded to a square and resized as in
    `load_kaggle`. Unreadable images are skipped with a warning. The source
    folder is only read, never written.

    Args:
        path: the data set folder.
        image_size: the side length of the square output images. Defaults
            to `32`.
        background: the `(r, g, b)` colour under transparent pixels and in
            the padding. Defaults to white, `(255, 255, 255)`.
        return_names: whether to also return the image names (file names
            without extension). Defaults to `False`.
        verbose: `0` for silence, `1` for a progress bar, `2` for one line
            at the end. Defaults to `1`.

    Returns:
        A tuple `(images, labels)`, or `(images, labels, names)` when
        `return_names` is set: `images` a uint8 array of shape
        `(N, image_size, image_size, 3)`, `labels` an int32 array of shape
        `(N, 2)` whose second column is `-1`. Images come sorted by type
        id, then by path.

    Raises:
        FileNotFoundError: when `path` is not a folder.
        ValueError: when a sub-folder is not named after a type, or when no
            image could be loaded.

    Example:

    ```python
    images, labels = load_directory("sprites", image_size=64)
    ```
    """
    image_size = check_image_size(image_size)
    background = check_background(background)
    folders = list_type_folders(path)

    paths, labels = [], []
    for tid, folder in folders:
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.suffix.lower() in IMAGE_EXTENSIONS
            and not p.name.startswith(".")
            and p.is_file()
        )
        paths.extend(files)
        labels.extend([[tid, NO_TYPE]] * len(files))
    logger.info(
        "Found %d images in %d type folders of %s.",
        len(paths),
        len(folders),
        path,
    )

    images, kept = load_image_files(paths, image_size, background, verbose)
    if not len(images):
        raise ValueError(
            f"No image could be loaded from {os.fspath(path)!r}: expected "
            "PNG or JPEG files in sub-folders named after types "
            f"(found {len(folders)} type folders, {len(paths)} files)."
        )
    labels = np.asarray(labels, dtype=np.int32).reshape(-1, 2)[kept]
    if return_names:
        names = [p.stem for p, k in zip(paths, kept, strict=True) if k]
        return images, labels, names
    return images, labels
