"""Image helpers: decoding, alpha compositing, pad-to-square, resize, grids.

Every function here takes and returns plain numpy arrays (uint8, channels
last) or PIL images; none of them depends on a Keras backend.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import keras
import numpy as np
from PIL import Image

# Extensions (lower case) that the loaders treat as images.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
DEFAULT_BACKGROUND = (255, 255, 255)


def check_background(background) -> tuple[int, int, int]:
    """Validate a background colour and return it as a tuple of 3 ints.

    Args:
        background: an `(r, g, b)` sequence of ints in `[0, 255]`.

    Returns:
        The colour as a tuple of three Python ints.

    Example:

    >>> check_background([255, 255, 255])
    (255, 255, 255)
    """
    values = tuple(np.asarray(background).ravel().tolist())
    if len(values) != 3 or not all(
        float(v).is_integer() and 0 <= v <= 255 for v in values
    ):
        raise ValueError(
            "`background` expected 3 integers in [0, 255] (r, g, b). "
            f"Received: background={background!r}"
        )
    return tuple(int(v) for v in values)


def check_image_size(image_size) -> int:
    """Validate `image_size` (a positive int) and return it."""
    if isinstance(image_size, bool) or not isinstance(
        image_size, (int, np.integer)
    ):
        raise ValueError(
            "`image_size` expected a positive integer. "
            f"Received: image_size={image_size!r}"
        )
    if image_size < 1:
        raise ValueError(
            "`image_size` expected a positive integer. "
            f"Received: image_size={image_size}"
        )
    return int(image_size)


def composite_on_background(
    image: Image.Image | np.ndarray, background=DEFAULT_BACKGROUND
) -> np.ndarray:
    """Flatten an image of any PIL mode onto an opaque background colour.

    RGBA, LA and palette images with transparency are blended on their
    alpha channel, `out = (rgb * a + background * (255 - a)) / 255` rounded
    to the nearest integer, so a fully transparent pixel becomes exactly
    `background` whatever RGB it stores. RGB, greyscale and palette images
    without transparency are only converted to RGB.

    Args:
        image: a `PIL.Image.Image`, or a uint8 array of shape `(H, W)`,
            `(H, W, 3)` or `(H, W, 4)`.
        background: the `(r, g, b)` colour under transparent pixels.
            Defaults to white, `(255, 255, 255)`.

    Returns:
        A uint8 array of shape `(H, W, 3)`.

    Example:

    >>> rgba = np.array([[[9, 9, 9, 0], [0, 0, 0, 255]]], dtype="uint8")
    >>> composite_on_background(rgba)[0].tolist()
    [[255, 255, 255], [0, 0, 0]]
    """
    background = check_background(background)
    if isinstance(image, np.ndarray):
        image = _array_to_pil(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in image.info
    )
    if not has_alpha:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    rgba = np.asarray(image.convert("RGBA"), dtype=np.uint32)
    alpha = rgba[..., 3:4]
    bg = np.asarray(background, dtype=np.uint32)
    # Integer blend with round-half-up: x / 255 never lands on .5 exactly.
    blended = (rgba[..., :3] * alpha + bg * (255 - alpha) + 127) // 255
    return blended.astype(np.uint8)


def pad_to_square(
    image: np.ndarray, background=DEFAULT_BACKGROUND
) -> np.ndarray:
    """Pad an RGB image to a square, centred, with the background colour.

    Args:
        image: a uint8 array of shape `(H, W, 3)`.
        background: the `(r, g, b)` padding colour. Defaults to white.

    Returns:
        A uint8 array of shape `(S, S, 3)` with `S = max(H, W)`. The input
        is returned unchanged when it is already square.

    Example:

    >>> pad_to_square(np.zeros((2, 4, 3), "uint8")).shape
    (4, 4, 3)
    """
    background = check_background(background)
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            "`image` expected a (height, width, 3) array. "
            f"Received: image.shape={image.shape}"
        )
    height, width = image.shape[:2]
    if height == width:
        return image
    size = max(height, width)
    out = np.empty((size, size, 3), dtype=image.dtype)
    out[...] = background
    top = (size - height) // 2
    left = (size - width) // 2
    out[top : top + height, left : left + width] = image
    return out


def resize_square(image: np.ndarray, image_size: int) -> np.ndarray:
    """Resize a square uint8 RGB image to `image_size` x `image_size`.

    Sprites are pixel art with hard one-pixel outlines. When shrinking we
    use box (area) averaging: each output pixel is the mean of the source
    pixels it covers, which keeps colours and thin outlines without the
    ringing halos that bicubic or Lanczos filters add around hard edges.
    When enlarging we use nearest neighbour, which keeps pixels crisp
    instead of blurring them as bilinear interpolation would.

    Args:
        image: a uint8 array of shape `(S, S, 3)`.
        image_size: the output side length, in pixels.

    Returns:
        A uint8 array of shape `(image_size, image_size, 3)`.

    Example:

    >>> resize_square(np.zeros((120, 120, 3), "uint8"), 32).shape
    (32, 32, 3)
    """
    image_size = check_image_size(image_size)
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] != image.shape[1]:
        raise ValueError(
            "`image` expected a square (size, size, 3) array. "
            f"Received: image.shape={image.shape}"
        )
    size = image.shape[0]
    if size == image_size:
        return image
    if image_size % size == 0:
        factor = image_size // size
        return image.repeat(factor, axis=0).repeat(factor, axis=1)
    if size > image_size:
        resample = Image.Resampling.BOX
    else:
        resample = Image.Resampling.NEAREST
    resized = Image.fromarray(image).resize(
        (image_size, image_size), resample=resample
    )
    return np.asarray(resized, dtype=np.uint8)


def load_image(
    path, image_size: int | None = None, background=DEFAULT_BACKGROUND
) -> np.ndarray:
    """Read an image file as an opaque RGB array, optionally squared.

    The file is opened read-only and decoded fully, so truncated files
    raise here rather than later.

    Args:
        path: the image file (PNG, JPEG or anything Pillow reads).
        image_size: when given, pad the image to a square with
            `background` and resize it to this side length (see
            `resize_square`). Defaults to `None` (keep the size).
        background: the `(r, g, b)` colour that transparent pixels and the
            padding get. Defaults to white.

    Returns:
        A uint8 array of shape `(H, W, 3)`, or
        `(image_size, image_size, 3)` when `image_size` is given.

    Raises:
        OSError: when the file is missing, unreadable or corrupt (Pillow's
            `UnidentifiedImageError` is an `OSError`).
    """
    with open(path, "rb") as file, Image.open(file) as image:
        image.load()
        rgb = composite_on_background(image, background)
    if image_size is None:
        return rgb
    return resize_square(pad_to_square(rgb, background), image_size)


def is_image_file(path) -> bool:
    """Whether `path` names a PNG or JPEG file (by extension, any case)."""
    name = os.fspath(path)
    return (
        Path(name).suffix.lower() in IMAGE_EXTENSIONS
        and not Path(name).name.startswith(".")
        and os.path.isfile(name)
    )


def make_grid(
    images, ncols: int | None = None, padding: int = 2, pad_value=255
) -> np.ndarray:
    """Tile a batch of images into one image, row by row.

    Args:
        images: a uint8 array (or sequence of arrays) of shape
            `(N, H, W, 3)`; `(N, H, W)` and `(N, H, W, 1)` greyscale
            images are repeated to RGB.
        ncols: the number of images per row. Defaults to `None`, a grid as
            close to square as possible (`ceil(sqrt(N))` columns).
        padding: the number of pixels between images and around the grid.
            Defaults to `2`.
        pad_value: the colour of the padding and of empty cells, an int
            or an `(r, g, b)` tuple. Defaults to `255` (white).

    Returns:
        A uint8 array of shape `(rows * (H + padding) + padding,
        ncols * (W + padding) + padding, 3)`.

    Example:

    >>> make_grid(np.zeros((5, 8, 8, 3), "uint8"), ncols=3).shape
    (22, 32, 3)
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or not len(images):
        raise ValueError(
            "`images` expected a non-empty array of shape (N, H, W, 3). "
            f"Received: images.shape={images.shape}"
        )
    if images.dtype != np.uint8:
        raise ValueError(
            "`images` expected dtype uint8 (values 0..255). "
            f"Received: images.dtype={images.dtype}"
        )
    if images.shape[-1] == 1:
        images = images.repeat(3, axis=-1)
    num, height, width = images.shape[:3]
    if ncols is None:
        ncols = math.ceil(math.sqrt(num))
    if isinstance(ncols, bool) or int(ncols) != ncols or ncols < 1:
        raise ValueError(
            f"`ncols` expected a positive integer. Received: ncols={ncols!r}"
        )
    if int(padding) != padding or padding < 0:
        raise ValueError(
            "`padding` expected a non-negative integer. "
            f"Received: padding={padding!r}"
        )
    ncols, padding = int(min(ncols, num)), int(padding)
    nrows = math.ceil(num / ncols)
    grid = np.empty(
        (
            nrows * (height + padding) + padding,
            ncols * (width + padding) + padding,
            3,
        ),
        dtype=np.uint8,
    )
    grid[...] = np.broadcast_to(np.asarray(pad_value, np.uint8), (3,))
    for index, image in enumerate(images):
        row, col = divmod(index, ncols)
        top = padding + row * (height + padding)
        left = padding + col * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_image_grid(
    images,
    path,
    ncols: int | None = None,
    padding: int = 2,
    pad_value=255,
    scale: int = 1,
) -> Path:
    """Save a batch of images as one PNG grid.

    Args:
        images: a uint8 array of shape `(N, H, W, 3)` (see `make_grid`).
        path: the output file; its parent folders are created.
        ncols: images per row. Defaults to `None` (about square).
        padding: pixels between images. Defaults to `2`.
        pad_value: padding colour, an int or `(r, g, b)`. Defaults to
            `255` (white).
        scale: an integer factor to enlarge the grid by with nearest
            neighbour, handy to look at 32 px sprites. Defaults to `1`.

    Returns:
        The `pathlib.Path` written.

    Example:

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "grid.png"
    >>> save_image_grid(np.zeros((4, 8, 8, 3), "uint8"), out).name
    'grid.png'
    """
    if isinstance(scale, bool) or int(scale) != scale or scale < 1:
        raise ValueError(
            f"`scale` expected a positive integer. Received: scale={scale!r}"
        )
    grid = make_grid(images, ncols=ncols, padding=padding, pad_value=pad_value)
    if scale > 1:
        grid = grid.repeat(int(scale), axis=0).repeat(int(scale), axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path, format="PNG")
    return path


def _array_to_pil(array: np.ndarray) -> Image.Image:
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(
            "`image` expected a uint8 array. "
            f"Received: image.dtype={array.dtype}"
        )
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4)):
        # Pillow picks L, RGB or RGBA from the shape of a uint8 array.
        return Image.fromarray(np.ascontiguousarray(array))
    raise ValueError(
        "`image` expected an array of shape (H, W), (H, W, 3) or (H, W, 4). "
        f"Received: image.shape={array.shape}"
    )


def load_image_files(
    paths,
    image_size: int,
    background=DEFAULT_BACKGROUND,
    verbose: int = 1,
    sources=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read many image files into one array, skipping unreadable ones.

    Each file that cannot be decoded (missing, corrupt, truncated, not an
    image) is skipped with a `warnings.warn` naming it (and where it was
    listed, given `sources`), and one summary warning at the end says how
    many were skipped.

    Args:
        paths: a sequence of image file paths.
        image_size: the side length of the square output images.
        background: the `(r, g, b)` colour for transparency and padding.
            Defaults to white.
        verbose: `0` for silence, `1` for a progress bar, `2` for one line
            at the end. Defaults to `1`.
        sources: a sequence of strings, one per path, saying where each
            file was listed (such as a CSV file and line), or `None`.
            Defaults to `None`.

    Returns:
        A tuple `(images, kept)`: a uint8 array of shape
        `(num_kept, image_size, image_size, 3)` and a boolean array of
        shape `(len(paths),)` that marks the files that were read.
    """
    image_size = check_image_size(image_size)
    background = check_background(background)
    paths = list(paths)
    images = np.empty((len(paths), image_size, image_size, 3), np.uint8)
    kept = np.zeros(len(paths), dtype=bool)
    progbar = None
    if verbose and paths:
        progbar = keras.utils.Progbar(
            len(paths), verbose=verbose, unit_name="image"
        )
    for index, path in enumerate(paths):
        try:
            images[index] = load_image(path, image_size, background)
            kept[index] = True
        except (
            OSError,
            ValueError,
            SyntaxError,
            Image.DecompressionBombError,
        ) as error:
            listed = f" ({sources[index]})" if sources is not None else ""
            warnings.warn(
                f"Skipping unreadable image {os.fspath(path)}{listed}: "
                f"{type(error).__name__}: {error}",
                stacklevel=2,
            )
        if progbar is not None:
            progbar.update(index + 1)
    num_skipped = int((~kept).sum())
    if num_skipped:
        warnings.warn(
            f"Skipped {num_skipped} of {len(paths)} image files that could "
            "not be read (each is named in a warning above).",
            stacklevel=2,
        )
    return images[kept], kept
