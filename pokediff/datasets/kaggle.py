"""Loader for the Kaggle "Pokemon Images and Types" layout.

The layout is a CSV file with a name column and one or two type columns,
next to a folder of `<name>.png` / `<name>.jpg` images:

```
pokemon/
    pokemon.csv        Name,Type1,Type2   (or name,type1,type2)
    images/            bulbasaur.png, ...  (the Kaggle zip: images/images/)
```
"""

from __future__ import annotations

import csv
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from pokediff.datasets.images import DEFAULT_BACKGROUND
from pokediff.datasets.images import IMAGE_EXTENSIONS
from pokediff.datasets.images import check_background
from pokediff.datasets.images import check_image_size
from pokediff.datasets.images import load_image_files
from pokediff.pokemon_types import encode_types

logger = logging.getLogger("pokediff")

# Column names after lower-casing and dropping spaces and underscores.
NAME_COLUMN = "name"
TYPE_COLUMNS = ("type1", "type2")


def find_kaggle_files(path, images_dir=None) -> tuple[Path, Path]:
    """Locate the CSV file and the images folder of a Kaggle layout.

    Args:
        path: the data set folder, or the CSV file itself. In a folder the
            CSV is `pokemon.csv`, or the only `*.csv` file there.
        images_dir: the images folder. Defaults to `None`: the first of
            `images/images/` (as the Kaggle zip unpacks), `images/` and the
            data set folder itself that holds PNG or JPEG files.

    Returns:
        A tuple `(csv_path, images_dir)` of `pathlib.Path`s.

    Raises:
        FileNotFoundError: when `path`, the CSV file or the images folder
            cannot be found.
        ValueError: when a folder holds several CSV files and none is
            `pokemon.csv`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            "`path` expected an existing folder or CSV file. "
            f"Received: path={os.fspath(path)!r} (does not exist)"
        )
    if path.is_file():
        csv_path, root = path, path.parent
    else:
        root = path
        csv_files = sorted(
            p for p in root.iterdir() if p.suffix.lower() == ".csv"
        )
        csv_files = [p for p in csv_files if p.is_file()]
        if not csv_files:
            raise FileNotFoundError(
                f"No CSV file in {os.fspath(root)!r}. The Kaggle layout "
                "expects a CSV file such as pokemon.csv with columns "
                "name,type1,type2 next to an images/ folder."
            )
        named = [p for p in csv_files if p.name.lower() == "pokemon.csv"]
        if named:
            csv_path = named[0]
        elif len(csv_files) == 1:
            csv_path = csv_files[0]
        else:
            raise ValueError(
                f"Several CSV files in {os.fspath(root)!r} and none is "
                "pokemon.csv; pass the CSV file itself as `path`. Found: "
                f"{', '.join(p.name for p in csv_files)}"
            )

    if images_dir is not None:
        images_dir = Path(images_dir)
        if not images_dir.is_dir():
            raise FileNotFoundError(
                "`images_dir` expected an existing folder. "
                f"Received: images_dir={os.fspath(images_dir)!r}"
            )
        return csv_path, images_dir
    candidates = (root / "images" / "images", root / "images", root)
    for candidate in candidates:
        if candidate.is_dir() and _has_images(candidate):
            return csv_path, candidate
    raise FileNotFoundError(
        f"No images folder found for {os.fspath(csv_path)!r}. Looked for "
        "PNG or JPEG files in: "
        f"{', '.join(repr(os.fspath(c)) for c in candidates)}."
    )


def read_type_table(csv_path) -> list[tuple[int, str, list[int]]]:
    """Read a Kaggle type table: one `(line, name, [type1, type2])` a row.

    The header is matched case-insensitively (`Name,Type1,Type2` as Kaggle
    ships it, or `name,type1,type2`); `type2` may be missing or empty for
    a single-typed Pokémon. `line` is the row's line number in the file,
    counting the header as line 1.

    Args:
        csv_path: the CSV file.

    Returns:
        A list of `(line, name, type_ids)` tuples, `type_ids` a list of two
        ints with `-1` for no second type. Rows with an empty name are
        skipped with a warning; so are repeated names.

    Raises:
        ValueError: when the header lacks a name or type1 column, or when
            a row holds an unknown type name (the message names the file,
            the line, the value and lists the valid types).
    """
    csv_path = Path(csv_path)
    with open(csv_path, newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{os.fspath(csv_path)!r} is empty.")
        columns = [
            cell.strip().lower().replace(" ", "").replace("_", "")
            for cell in header
        ]
        if NAME_COLUMN not in columns or TYPE_COLUMNS[0] not in columns:
            raise ValueError(
                f"{os.fspath(csv_path)!r}: the header expected columns "
                "name,type1[,type2] (any case). "
                f"Received: header={header!r}"
            )
        name_col = columns.index(NAME_COLUMN)
        type_cols = [columns.index(c) for c in TYPE_COLUMNS if c in columns]

        rows = []
        seen = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            name = _cell(row, name_col)
            if not name:
                warnings.warn(
                    f"{os.fspath(csv_path)!r}, line {line}: empty name; "
                    "skipping the row.",
                    stacklevel=3,
                )
                continue
            if name in seen:
                warnings.warn(
                    f"{os.fspath(csv_path)!r}, line {line}: name {name!r} "
                    f"repeats line {seen[name]}; skipping the row.",
                    stacklevel=3,
                )
                continue
            values = [_cell(row, col) for col in type_cols]
            try:
                type_ids = encode_types(values)
            except ValueError as error:
                raise ValueError(
                    f"{os.fspath(csv_path)!r}, line {line} "
                    f"(name={name!r}): {error} Received: types={values!r}"
                ) from error
            if type_ids[0] < 0:
                raise ValueError(
                    f"{os.fspath(csv_path)!r}, line {line} "
                    f"(name={name!r}): expected at least one type. "
                    f"Received: types={values!r}"
                )
            seen[name] = line
            rows.append((line, name, type_ids))
    return rows


def load_kaggle(
    path,
    image_size: int = 32,
    background=DEFAULT_BACKGROUND,
    images_dir=None,
    return_names: bool = False,
    verbose: int = 1,
):
    """Load the Kaggle "Pokemon Images and Types" data set.

    Every image is composited onto `background` on its alpha channel (so
    RGBA, RGB, palette and greyscale files look alike), padded to a square
    with `background` and resized to `image_size` (box averaging when
    shrinking, nearest neighbour when enlarging). The source folder is only
    read, never written.

    Bad data: a row whose image is missing is skipped with a warning that
    names its line and name; an unreadable or truncated image is skipped
    with a warning naming the file and its line, plus one summary warning;
    an unknown type name raises a `ValueError` naming the file, line and
    value.

    Args:
        path: the data set folder (holding e.g. `pokemon.csv` and
            `images/`, or `images/images/` as the Kaggle zip unpacks), or
            the CSV file itself.
        image_size: the side length of the square output images. Defaults
            to `32`.
        background: the `(r, g, b)` colour under transparent pixels and in
            the padding. Defaults to white, `(255, 255, 255)`.
        images_dir: the images folder, when it is not found on its own.
            Defaults to `None` (look for it next to the CSV file).
        return_names: whether to also return the Pokémon names. Defaults
            to `False`.
        verbose: `0` for silence, `1` for a progress bar, `2` for one line
            at the end. Defaults to `1`.

    Returns:
        A tuple `(images, labels)`, or `(images, labels, names)` when
        `return_names` is set: `images` a uint8 array of shape
        `(N, image_size, image_size, 3)`, `labels` an int32 array of shape
        `(N, 2)` of type ids (`-1` for no second type), `names` a list of
        `N` strings. Rows keep the CSV's order.

    Raises:
        FileNotFoundError: when the folder, CSV file or images folder is
            missing.
        ValueError: on a bad header, an unknown type, or when no image at
            all could be loaded.

    Example:

    ```python
    images, labels = load_kaggle("data/pokemon", image_size=32)
    model.fit(images, labels, epochs=10)
    ```
    """
    image_size = check_image_size(image_size)
    background = check_background(background)
    csv_path, images_dir = find_kaggle_files(path, images_dir)
    rows = read_type_table(csv_path)
    files = _index_images(images_dir)

    paths, labels, names, sources = [], [], [], []
    num_missing = 0
    for line, name, type_ids in rows:
        file = files.get(name) or files.get(name.lower())
        if file is None:
            num_missing += 1
            warnings.warn(
                f"{os.fspath(csv_path)!r}, line {line}: no image for "
                f"name={name!r} in {os.fspath(images_dir)!r} (expected "
                f"{name}.png or {name}.jpg); skipping the row.",
                stacklevel=2,
            )
            continue
        paths.append(file)
        labels.append(type_ids)
        names.append(name)
        sources.append(f"{os.fspath(csv_path)!r}, line {line}")
    if num_missing:
        warnings.warn(
            f"Skipped {num_missing} of {len(rows)} rows of "
            f"{os.fspath(csv_path)!r} that have no image.",
            stacklevel=2,
        )
    logger.info(
        "Loading %d images listed in %s from %s.",
        len(paths),
        csv_path,
        images_dir,
    )

    images, kept = load_image_files(
        paths, image_size, background, verbose, sources=sources
    )
    if not len(images):
        raise ValueError(
            f"No image could be loaded from {os.fspath(path)!r} "
            f"(CSV {os.fspath(csv_path)!r} has {len(rows)} rows, images "
            f"folder {os.fspath(images_dir)!r}); see the warnings above."
        )
    labels = np.asarray(labels, dtype=np.int32).reshape(-1, 2)[kept]
    if return_names:
        names = [n for n, k in zip(names, kept, strict=True) if k]
        return images, labels, names
    return images, labels


def _cell(row, col):
    return row[col].strip() if col < len(row) else ""


def _has_images(folder: Path) -> bool:
    return any(
        p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
        for p in folder.iterdir()
    )


def _index_images(folder: Path) -> dict[str, Path]:
    """Map each image's stem (and its lower-case form) to its path."""
    # Sort so that .png comes before .jpeg/.jpg for the same name, and
    # exact stems win over lower-cased ones.
    order = {ext: i for i, ext in enumerate(IMAGE_EXTENSIONS)}
    files = sorted(
        (
            p
            for p in folder.iterdir()
            if p.suffix.lower() in order
            and not p.name.startswith(".")
            and p.is_file()
        ),
        key=lambda p: (p.stem, order[p.suffix.lower()], p.name),
    )
    index = {}
    for file in files:
        index.setdefault(file.stem, file)
    for file in files:
        index.setdefault(file.stem.lower(), file)
    return index
