"""A built-in data set of procedurally drawn, type-coloured creatures.

`make_sprites` draws small pixel-art creatures on a 32 x 32 grid, then
scales them to any size. The primary type sets the body palette and shape
(and its own feature), the second type, when there is one, adds its
feature in its own colours: a fire creature is red or orange with flames on
its head, a fire/flying one also has white wings. Everything is drawn from
a seeded numpy `Generator`, so the same seed gives the same arrays.
"""

from __future__ import annotations

import numpy as np

from pokediff.datasets.images import DEFAULT_BACKGROUND
from pokediff.datasets.images import check_background
from pokediff.datasets.images import check_image_size
from pokediff.datasets.images import resize_square
from pokediff.pokemon_types import NO_TYPE
from pokediff.pokemon_types import NUM_TYPES
from pokediff.pokemon_types import TYPES
from pokediff.pokemon_types import encode_types

# The grid the creatures are drawn on, before scaling to `image_size`.
BASE_SIZE = 32

# Per type: body colours (one is picked per creature) and the accent colour
# its feature gets (flames, wings, spots, ...). RGB.
PALETTES = {
    "normal": (
        [(222, 200, 160), (196, 190, 178), (232, 212, 178)],
        (246, 234, 208),
    ),
    "fire": ([(232, 64, 40), (244, 122, 36), (226, 88, 30)], (252, 150, 30)),
    "water": ([(58, 120, 222), (40, 150, 226), (74, 102, 204)], (72, 160, 240)),
    "electric": (
        [(252, 214, 40), (255, 198, 30), (248, 226, 70)],
        (255, 222, 40),
    ),
    "grass": ([(84, 178, 70), (62, 160, 92), (112, 188, 62)], (64, 170, 58)),
    "ice": (
        [(168, 228, 240), (190, 238, 246), (150, 214, 234)],
        (176, 236, 252),
    ),
    "fighting": ([(168, 92, 52), (178, 62, 46), (150, 82, 60)], (214, 40, 40)),
    "poison": (
        [(160, 72, 190), (140, 62, 172), (178, 92, 200)],
        (104, 36, 136),
    ),
    "ground": (
        [(212, 172, 102), (182, 134, 72), (200, 152, 92)],
        (140, 96, 48),
    ),
    "flying": (
        [(160, 200, 240), (220, 232, 246), (140, 184, 234)],
        (240, 244, 252),
    ),
    "psychic": (
        [(240, 102, 170), (234, 122, 190), (248, 92, 150)],
        (232, 40, 120),
    ),
    "bug": ([(168, 200, 40), (148, 188, 52), (188, 208, 60)], (120, 150, 20)),
    "rock": (
        [(150, 134, 110), (138, 124, 100), (164, 150, 120)],
        (120, 106, 84),
    ),
    "ghost": ([(92, 62, 132), (102, 72, 150), (80, 52, 120)], (110, 70, 160)),
    "dragon": ([(82, 72, 200), (40, 150, 150), (70, 92, 212)], (40, 176, 170)),
    "dark": ([(56, 50, 56), (70, 66, 72), (46, 46, 56)], (36, 32, 40)),
    "steel": (
        [(184, 190, 200), (170, 178, 190), (200, 204, 212)],
        (214, 218, 228),
    ),
    "fairy": (
        [(250, 182, 210), (246, 192, 222), (255, 172, 202)],
        (255, 120, 180),
    ),
}

_Y, _X = np.mgrid[0:BASE_SIZE, 0:BASE_SIZE] + 0.5
_CX = BASE_SIZE / 2


def make_sprites(
    num_images: int,
    image_size: int = 32,
    seed: int = 0,
    labels=None,
    dual_type_fraction: float = 0.5,
    background=DEFAULT_BACKGROUND,
):
    """Draw a data set of type-coloured pixel-art creatures.

    Each creature has one or two types. The first sets its body colour and
    shape: fire is red or orange with flames on its head, water blue with
    fins, grass green with a leaf sprout, electric yellow with a bolt tail,
    ice pale cyan with crystal spikes, ghost dark purple with a wavy hem
    and no legs, normal beige, fighting brown with red gloves, poison
    purple with spots, ground tan and wide, flying light blue with wings,
    psychic pink with a forehead gem, bug yellow-green with antennae and
    stripes, rock grey-brown and blocky, dragon indigo or teal with horns,
    dark near-black with pointed ears, steel silver with a riveted helmet,
    fairy light pink with a bow. A second type adds its own feature in its
    own colour (wings for flying, flames for fire, ...).

    The creatures are drawn on a 32 x 32 grid and scaled to `image_size`
    like the loaders scale real sprites (box averaging down, nearest
    neighbour up), on the same `background`.

    Args:
        num_images: the number of creatures to draw.
        image_size: the side length of the square images. Defaults to
            `32`.
        seed: an int seed; the same seed gives identical arrays. Defaults
            to `0`.
        labels: the types to draw, an int array of shape
            `(num_images, 2)` (`-1` for no second type) or a sequence of
            type names / pairs of names. Defaults to `None`: draw the first
            type uniformly from all 18 and add a second one with
            probability `dual_type_fraction`.
        dual_type_fraction: the share of dual-typed creatures when
            `labels` is `None`. Defaults to `0.5`.
        background: the `(r, g, b)` background colour. Defaults to white.

    Returns:
        A tuple `(images, labels)`: a uint8 array of shape
        `(num_images, image_size, image_size, 3)` and an int32 array of
        shape `(num_images, 2)` of type ids.

    Example:

    >>> images, labels = make_sprites(4, image_size=16, seed=1)
    >>> images.shape, images.dtype.name, labels.shape
    ((4, 16, 16, 3), 'uint8', (4, 2))
    """
    if isinstance(num_images, bool) or int(num_images) != num_images:
        raise ValueError(
            "`num_images` expected a non-negative integer. "
            f"Received: num_images={num_images!r}"
        )
    num_images = int(num_images)
    if num_images < 0:
        raise ValueError(
            "`num_images` expected a non-negative integer. "
            f"Received: num_images={num_images}"
        )
    image_size = check_image_size(image_size)
    background = check_background(background)
    if not 0.0 <= dual_type_fraction <= 1.0:
        raise ValueError(
            "`dual_type_fraction` expected a float in [0, 1]. "
            f"Received: dual_type_fraction={dual_type_fraction}"
        )
    rng = np.random.default_rng(seed)
    if labels is None:
        labels = _random_labels(rng, num_images, dual_type_fraction)
    else:
        labels = _check_labels(labels, num_images)

    images = np.empty((num_images, image_size, image_size, 3), np.uint8)
    for index, (first, second) in enumerate(labels):
        sprite = _draw_creature(rng, int(first), int(second), background)
        images[index] = resize_square(sprite, image_size)
    return images, labels


def _random_labels(rng, num_images, dual_type_fraction):
    first = rng.integers(0, NUM_TYPES, num_images)
    # A second type different from the first: shift by 1..NUM_TYPES-1.
    second = (first + rng.integers(1, NUM_TYPES, num_images)) % NUM_TYPES
    dual = rng.random(num_images) < dual_type_fraction
    second = np.where(dual, second, NO_TYPE)
    return np.stack([first, second], axis=1).astype(np.int32)


def _check_labels(labels, num_images):
    array = np.asarray(labels, dtype=object)
    if (
        array.ndim == 2
        and array.shape[1] == 2
        and all(isinstance(v, (int, np.integer)) for v in array.ravel())
    ):
        rows = [encode_types([int(a), int(b)]) for a, b in array]
    else:
        rows = [encode_types(entry) for entry in labels]
    rows = np.asarray(rows, dtype=np.int32).reshape(-1, 2)
    if len(rows) != num_images:
        raise ValueError(
            f"`labels` expected {num_images} rows (`num_images`). "
            f"Received: {len(rows)} rows"
        )
    return rows


# ---------------------------------------------------------------------------
# Shapes: boolean masks on the base grid.


def _ellipse(cy, cx, ry, rx):
    return ((_Y - cy) / ry) ** 2 + ((_X - cx) / rx) ** 2 <= 1.0


def _rotated_ellipse(cy, cx, ry, rx, angle):
    dy, dx = _Y - cy, _X - cx
    cos, sin = np.cos(angle), np.sin(angle)
    u = dx * cos + dy * sin
    v = -dx * sin + dy * cos
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0


def _polygon(points):
    """Even-odd fill of a polygon given as `(x, y)` points."""
    inside = np.zeros(_X.shape, dtype=bool)
    count = len(points)
    for i in range(count):
        x0, y0 = points[i]
        x1, y1 = points[(i + 1) % count]
        if y0 == y1:
            continue
        crosses = (y0 > _Y) != (y1 > _Y)
        x_at = x0 + (_Y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (_X < x_at)
    return inside


def _segment(x0, y0, x1, y1, width):
    dx, dy = x1 - x0, y1 - y0
    t = ((_X - x0) * dx + (_Y - y0) * dy) / max(dx * dx + dy * dy, 1e-9)
    t = np.clip(t, 0.0, 1.0)
    dist2 = (_X - x0 - t * dx) ** 2 + (_Y - y0 - t * dy) ** 2
    return dist2 <= (width / 2) ** 2


def _mirror(mask):
    return mask | mask[:, ::-1]


def _shift(mask, dy, dx):
    """Shift a mask by whole pixels, filling with False."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = mask[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def _ring(mask):
    """The 4-connected outline just outside a mask."""
    grown = (
        mask
        | _shift(mask, 1, 0)
        | _shift(mask, -1, 0)
        | _shift(mask, 0, 1)
        | _shift(mask, 0, -1)
    )
    return grown & ~mask


# ---------------------------------------------------------------------------
# Painting.


class _Canvas:
    def __init__(self, background):
        self.rgb = np.empty((BASE_SIZE, BASE_SIZE, 3), np.float32)
        self.rgb[...] = background
        self.filled = np.zeros((BASE_SIZE, BASE_SIZE), dtype=bool)

    def paint(self, mask, colour, outline=True, shade=True):
        """Paint a part with a dark outline and simple pixel-art shading."""
        colour = np.asarray(colour, np.float32)
        if outline:
            ring = _ring(mask)
            self.rgb[ring] = _outline_colour(colour)
            self.filled |= ring
        self.rgb[mask] = colour
        if shade and mask.sum() > 12:
            # Light from the top left: a darker rim at the bottom right and
            # a highlight near the top left.
            rim = mask & ~(_shift(mask, -1, 0) & _shift(mask, 0, -1))
            if mask.sum() > 60:
                rim |= mask & ~_shift(mask, -2, 0)
            self.rgb[rim] = colour * 0.78
            ys, xs = np.nonzero(mask)
            cy = ys.min() + 0.3 * (ys.max() - ys.min())
            cx = xs.min() + 0.3 * (xs.max() - xs.min())
            ry = max(1.0, 0.16 * (ys.max() - ys.min()))
            rx = max(1.0, 0.16 * (xs.max() - xs.min()))
            glint = mask & _ellipse(cy + 0.5, cx + 0.5, ry, rx) & ~rim
            self.rgb[glint] = colour + (255 - colour) * 0.45
        self.filled |= mask

    def flat(self, mask, colour):
        self.rgb[mask] = colour
        self.filled |= mask


def _outline_colour(colour):
    return np.minimum(colour * 0.35, 60.0) + np.array([6, 4, 10], np.float32)


def _jitter(rng, colour, amount=0.08):
    scale = 1.0 + rng.uniform(-amount, amount)
    return np.clip(np.asarray(colour, np.float32) * scale, 0, 255)


# ---------------------------------------------------------------------------
# The creature.


class _Body:
    """Where a creature's head and body are, on the base grid."""

    def __init__(self, rng, type_name):
        shift = rng.uniform(-0.6, 0.6)
        two_part = {
            "fighting": 1.0,
            "bug": 1.0,
            "psychic": 0.8,
            "dragon": 0.8,
            "fairy": 0.7,
            "electric": 0.6,
        }.get(type_name, 0.3)
        self.two_part = rng.random() < two_part and type_name not in (
            "ghost",
            "rock",
            "steel",
            "ground",
        )
        if self.two_part:
            self.by = 22.5 + shift
            self.brx = rng.uniform(5.0, 7.0)
            self.bry = rng.uniform(4.5, 5.5)
            if type_name == "fighting":
                self.brx += 1.0
            self.hrx = rng.uniform(6.0, 7.5)
            self.hry = self.hrx * rng.uniform(0.82, 0.95)
            self.hy = self.by - self.bry - self.hry * 0.45
        else:
            self.by = rng.uniform(18.0, 19.5) + shift
            self.brx = rng.uniform(7.5, 9.5)
            self.bry = rng.uniform(6.8, 8.2)
            if type_name == "ground":
                self.brx = rng.uniform(9.5, 10.5)
                self.bry = rng.uniform(6.0, 6.8)
                self.by += 1.0
            self.hy, self.hrx, self.hry = self.by, self.brx, self.bry
        self.top = self.hy - self.hry
        self.bottom = self.by + self.bry
        self.side = self.brx
        self.eye_y = self.hy - 0.05 * self.hry
        if not self.two_part:
            self.eye_y = self.hy - 0.3 * self.hry
        self.eye_dx = self.hrx * rng.uniform(0.32, 0.45)

    def head_mask(self):
        return _ellipse(self.hy, _CX, self.hry, self.hrx)

    def body_mask(self, type_name):
        if type_name in ("rock", "steel"):
            # Blocky: an octagon, a rock's with uneven corners.
            left, right = _CX - self.brx, _CX + self.brx
            top, bottom = self.by - self.bry, self.by + self.bry
            cut = 3.0 if type_name == "rock" else 2.5
            points = [
                (left + cut, top),
                (right - cut, top),
                (right, top + cut),
                (right, bottom - cut * 0.6),
                (right - cut * 0.6, bottom),
                (left + cut * 0.6, bottom),
                (left, bottom - cut * 0.6),
                (left, top + cut),
            ]
            return _polygon(points)
        if type_name == "ghost":
            upper = _ellipse(self.by, _CX, self.bry, self.brx) & (_Y <= self.by)
            hem = self.by + self.bry + 0.8 + 1.3 * np.sin(_X * 1.35)
            taper = self.brx * (1.0 - 0.12 * (_Y - self.by) / self.bry)
            lower = (_Y > self.by) & (_Y < hem) & (np.abs(_X - _CX) <= taper)
            return upper | lower
        return _ellipse(self.by, _CX, self.bry, self.brx)


def _draw_creature(rng, first, second, background):
    name = TYPES[first]
    second_name = TYPES[second] if second != NO_TYPE else None
    body_colours, accent = PALETTES[name]
    colour = _jitter(rng, body_colours[rng.integers(len(body_colours))])
    accent = _jitter(rng, accent, 0.05)
    body = _Body(rng, name)
    canvas = _Canvas(background)

    # Features of both types, keyed by slot: the second type's feature
    # takes the slot when both types want the same one.
    features = {}
    for feature_type, feature_colour in (
        (name, accent),
        (second_name, None),
    ):
        if feature_type is None:
            continue
        if feature_colour is None:
            feature_colour = _jitter(rng, PALETTES[feature_type][1], 0.05)
        slot, draw = _FEATURES[feature_type]
        features[slot] = (draw, feature_colour, feature_type)

    legless = name == "ghost" or (
        "bottom" in features and features["bottom"][2] == "ghost"
    )
    ctx = _Context(rng, canvas, body, colour, name)

    # Back to front: things behind the body, legs, body, head, the rest.
    for slot in ("side_back", "tail"):
        if slot in features:
            draw, feature_colour, _ = features[slot]
            draw(ctx, feature_colour)
    if not legless:
        _draw_legs(ctx)
    canvas.paint(body.body_mask(name), colour)
    if "bottom" in features:
        draw, feature_colour, _ = features["bottom"]
        draw(ctx, feature_colour)
    if body.two_part:
        canvas.paint(body.head_mask(), colour)
    if name in _EXTRAS:
        _EXTRAS[name](ctx, accent)
    for slot in ("surface", "side_front", "top", "face"):
        if slot in features:
            draw, feature_colour, _ = features[slot]
            draw(ctx, feature_colour)
    _draw_face(ctx)

    sprite = np.clip(np.round(canvas.rgb), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        sprite = sprite[:, ::-1]
    return np.ascontiguousarray(sprite)


class _Context:
    def __init__(self, rng, canvas, body, colour, type_name):
        self.rng = rng
        self.canvas = canvas
        self.body = body
        self.colour = colour
        self.type_name = type_name


def _draw_legs(ctx):
    body, rng = ctx.body, ctx.rng
    four = ctx.type_name in ("ground", "bug") or rng.random() < 0.2
    spots = (0.35, 0.75) if four else (0.5,)
    leg_colour = ctx.colour * 0.85
    for frac in spots:
        dx = body.brx * frac
        foot = _ellipse(body.bottom - 0.3, _CX - dx, 2.0, 2.2)
        ctx.canvas.paint(_mirror(foot), leg_colour, shade=False)
    if rng.random() < 0.6 and not body.two_part:
        return
    arm_y = body.by - body.bry * 0.1
    arm = _rotated_ellipse(arm_y, _CX - body.brx - 0.3, 1.4, 2.4, -0.6)
    ctx.canvas.paint(_mirror(arm), ctx.colour * 0.92, shade=False)


def _draw_face(ctx):
    body, rng, canvas = ctx.body, ctx.rng, ctx.canvas
    eye_colour = (24, 22, 32)
    shine = True
    if ctx.type_name in ("dark", "ghost"):
        eye_colour = (250, 214, 60) if rng.random() < 0.5 else (232, 52, 60)
        shine = False
    tall = 3 if rng.random() < 0.6 else 2
    ex = int(round(_CX - body.eye_dx))
    ey = int(round(body.eye_y - tall / 2))
    for x in (ex - 2, BASE_SIZE - ex):
        canvas.flat(
            (_Y >= ey) & (_Y < ey + tall) & (_X >= x) & (_X < x + 2),
            eye_colour,
        )
        if shine:
            canvas.flat(
                (np.abs(_Y - ey - 0.5) < 0.5) & (np.abs(_X - x - 0.5) < 0.5),
                (255, 255, 255),
            )
    mouth_y = ey + tall + 1
    mouth = (np.abs(_Y - mouth_y - 0.5) < 0.5) & (np.abs(_X - _CX) < 1.0)
    if rng.random() < 0.5:
        mouth |= (np.abs(_Y - mouth_y + 0.5) < 0.5) & (
            np.abs(np.abs(_X - _CX) - 1.5) < 0.5
        )
    canvas.flat(mouth, _outline_colour(ctx.colour))


# ---------------------------------------------------------------------------
# Type features. Each draws one type's mark in `colour`.


def _flames(ctx, colour):
    body, rng = ctx.body, ctx.rng
    base = body.top + 2.5
    inner = np.clip(colour + (255 - colour) * np.array([0.6, 0.6, 0.1]), 0, 255)
    heights = rng.uniform(5.5, 7.5), rng.uniform(4.0, 5.5)
    for dx, height in ((0.0, heights[0]), (3.6, heights[1])):
        lean = 1.2 if dx else 0.0
        points = [
            (_CX - dx - 2.4, base),
            (_CX - dx - 1.0 - lean, base - height * 0.55),
            (_CX - dx - lean * 1.6, base - height),
            (_CX - dx + 1.0, base - height * 0.5),
            (_CX - dx + 2.4, base),
        ]
        flame = _mirror(_polygon(points)) if dx else _polygon(points)
        ctx.canvas.paint(flame, colour, shade=False)
        core = _ellipse(base - 1.2, _CX - dx, height * 0.25, 0.9)
        ctx.canvas.flat(_mirror(core) & flame, inner)


def _fins(ctx, colour):
    body = ctx.body
    y = body.by + 0.5
    x = _CX - body.brx + 0.5
    fin = _polygon(
        [(x + 1, y - 3), (x - 5, y - 4.5), (x - 3.5, y + 1), (x + 1, y + 2)]
    )
    ctx.canvas.paint(_mirror(fin), colour, shade=False)
    if ctx.type_name == "water":
        crest = _polygon(
            [
                (_CX - 1.5, body.top + 1.5),
                (_CX - 0.5, body.top - 3.5),
                (_CX + 3.0, body.top - 2.5),
                (_CX + 1.0, body.top - 1.5),
                (_CX + 1.8, body.top + 1.5),
            ]
        )
        ctx.canvas.paint(crest, colour * 0.9, shade=False)


def _bolt_tail(ctx, colour):
    body = ctx.body
    x0 = _CX + body.brx - 1.5
    y0 = body.by + 1.0
    points = [
        (x0 - 1, y0 + 1.5),
        (x0 + 3, y0 - 2.5),
        (x0 + 2, y0 - 3.0),
        (x0 + 6, y0 - 7.5),
        (x0 + 4.5, y0 - 8.0),
        (x0 + 8.5, y0 - 13.0),
        (x0 + 9.5, y0 - 8.0),
        (x0 + 7.5, y0 - 7.5),
        (x0 + 8.5, y0 - 3.5),
        (x0 + 6, y0 - 3.2),
        (x0 + 5, y0 + 1.5),
    ]
    ctx.canvas.paint(_polygon(points), colour, shade=False)


def _electric_extras(ctx, accent):
    # Black-tipped pointed ears and red cheeks.
    _ears(ctx, ctx.colour, pointed=True, tips=(30, 26, 24))
    body = ctx.body
    cheek = _ellipse(body.eye_y + 2.8, _CX - body.eye_dx - 2.0, 1.2, 1.5)
    ctx.canvas.flat(_mirror(cheek) & _head_inside(ctx), (230, 60, 50))


def _head_inside(ctx):
    return _shrink(ctx.body.head_mask() & ctx.canvas.filled)


def _ears(ctx, colour, pointed, tips=None):
    body = ctx.body
    x = _CX - body.hrx * 0.55
    y = body.top + 2.0
    if pointed:
        ear = _polygon(
            [(x - 2.8, y + 1), (x - 1.6, y - 6.5), (x + 2.6, y + 0.5)]
        )
    else:
        ear = _ellipse(y - 1.0, x - 0.5, 2.8, 2.4)
    ctx.canvas.paint(_mirror(ear), colour, shade=False)
    if tips is not None:
        ctx.canvas.flat(_mirror(ear & (_Y < y - 3.5)), tips)


def _leaf(ctx, colour):
    body = ctx.body
    base = body.top + 1.5
    stem = _segment(_CX, base, _CX, base - 3.0, 1.2)
    ctx.canvas.flat(stem, colour * 0.6)
    leaf = _rotated_ellipse(base - 4.5, _CX - 3.2, 1.8, 3.8, 0.55)
    leaf |= _rotated_ellipse(base - 5.5, _CX + 3.0, 1.6, 3.4, -0.6)
    ctx.canvas.paint(leaf, colour, shade=False)
    vein = _segment(_CX - 0.5, base - 3.0, _CX - 5.5, base - 6.0, 0.7)
    vein |= _segment(_CX + 0.5, base - 3.5, _CX + 5.0, base - 7.0, 0.7)
    ctx.canvas.flat(vein & leaf, colour * 0.7)


def _crystals(ctx, colour):
    body = ctx.body
    base = body.top + 2.5
    white = (248, 252, 255)
    for dx, height, lean in ((0.0, 8.0, 0.0), (3.8, 6.0, 1.5)):
        points = [
            (_CX - dx - 1.6, base),
            (_CX - dx - lean, base - height),
            (_CX - dx + 1.6, base),
        ]
        spike = _mirror(_polygon(points)) if dx else _polygon(points)
        ctx.canvas.paint(spike, colour, shade=False)
        shine = _segment(
            _CX - dx - 0.6,
            base - 1,
            _CX - dx - lean * 0.8,
            base - height + 2,
            0.8,
        )
        ctx.canvas.flat(_mirror(shine) & spike if dx else shine & spike, white)


def _gloves(ctx, colour):
    body = ctx.body
    y = body.by - 0.5
    glove = _ellipse(y, _CX - body.brx - 1.2, 2.6, 2.6)
    ctx.canvas.paint(_mirror(glove), colour)
    if ctx.type_name == "fighting":
        belt = (np.abs(_Y - body.by - 1.0) < 1.0) & _ellipse(
            body.by, _CX, body.bry, body.brx
        )
        ctx.canvas.flat(belt, (40, 36, 40))
        buckle = belt & (np.abs(_X - _CX) < 1.0)
        ctx.canvas.flat(buckle, (240, 200, 60))


def _spots(ctx, colour):
    body, rng = ctx.body, ctx.rng
    inside = body.body_mask(ctx.type_name) & ctx.canvas.filled
    spots = np.zeros_like(inside)
    for _ in range(4):
        cy = body.by + rng.uniform(-0.5, 0.7) * body.bry
        cx = _CX + rng.uniform(-0.6, 0.6) * body.brx
        spots |= _ellipse(cy, cx, rng.uniform(1.0, 1.8), rng.uniform(1.0, 1.8))
    ctx.canvas.flat(spots & _shrink(inside), colour)


def _shrink(mask):
    return (
        mask
        & _shift(mask, 1, 0)
        & _shift(mask, -1, 0)
        & (_shift(mask, 0, 1) & _shift(mask, 0, -1))
    )


def _patches(ctx, colour):
    body = ctx.body
    inside = _shrink(body.body_mask(ctx.type_name) & ctx.canvas.filled)
    lower = inside & (_Y > body.by + body.bry * 0.35)
    ctx.canvas.flat(lower, colour)
    patch = _ellipse(body.by - 1.0, _CX + body.brx * 0.45, 1.6, 2.2)
    ctx.canvas.flat(patch & inside, colour)


def _wings(ctx, colour):
    body = ctx.body
    x = _CX - body.brx + 1.5
    y = body.by - 1.0
    points = [
        (x + 1, y + 2),
        (x - 3, y - 6),
        (x - 6, y - 9),
        (x - 7.5, y - 6),
        (x - 8.5, y - 3),
        (x - 7, y - 2.5),
        (x - 7.5, y + 0.5),
        (x - 5.5, y + 0.5),
        (x - 5, y + 3),
        (x - 2, y + 3.5),
    ]
    wing = _polygon(points)
    ctx.canvas.paint(_mirror(wing), colour, shade=False)
    feathers = _segment(x - 1, y + 1, x - 6.5, y - 2.5, 0.7)
    feathers |= _segment(x - 1, y + 2, x - 4.5, y + 1.5, 0.7)
    ctx.canvas.flat(_mirror(feathers & wing), colour * 0.8)


def _gem(ctx, colour):
    body = ctx.body
    y = body.eye_y - 3.5
    if not body.two_part:
        y = body.eye_y - 3.0
    gem = np.abs(_X - _CX) / 1.6 + np.abs(_Y - y) / 2.2 <= 1.0
    ctx.canvas.paint(gem, colour, shade=False)
    ctx.canvas.flat(
        (np.abs(_X - _CX + 0.5) < 0.5) & (np.abs(_Y - y + 0.5) < 0.5),
        (255, 230, 240),
    )
    if ctx.type_name == "psychic":
        _ears(ctx, ctx.colour, pointed=False)


def _antennae(ctx, colour):
    body = ctx.body
    x, y = _CX - 1.5, body.top + 1.5
    stalk = _segment(x, y, x - 3.5, y - 6.0, 1.0)
    ctx.canvas.flat(_mirror(stalk), (40, 40, 30))
    tip = _ellipse(y - 6.3, x - 3.8, 1.3, 1.3)
    ctx.canvas.paint(_mirror(tip), colour, shade=False)
    if ctx.type_name == "bug":
        inside = _shrink(body.body_mask("bug") & ctx.canvas.filled)
        stripes = inside & (np.abs(((_Y - body.by) % 3.0) - 1.0) < 0.5)
        ctx.canvas.flat(stripes & (_Y > body.by - 1), colour)


def _boulders(ctx, colour):
    body, rng = ctx.body, ctx.rng
    for dx, size in ((-4.0, 2.6), (3.5, 2.1)):
        cx = _CX + dx + rng.uniform(-0.8, 0.8)
        cy = body.top + 1.5
        rock = _polygon(
            [
                (cx - size, cy + size * 0.6),
                (cx - size * 0.8, cy - size * 0.5),
                (cx - size * 0.1, cy - size),
                (cx + size, cy - size * 0.3),
                (cx + size * 0.9, cy + size * 0.7),
            ]
        )
        ctx.canvas.paint(rock, colour)
    if ctx.type_name == "rock":
        inside = _shrink(body.body_mask("rock") & ctx.canvas.filled)
        crack = _segment(_CX + 2, body.by - 2, _CX + 4, body.by + 1, 0.8)
        crack |= _segment(_CX + 4, body.by + 1, _CX + 3, body.by + 3, 0.8)
        ctx.canvas.flat(crack & inside, _outline_colour(ctx.colour))


def _ghost_hem(ctx, colour):
    if ctx.type_name == "ghost":
        return  # A ghost's own body already ends in a wavy hem.
    # Another type's body with a ghostly, wavy hem instead of legs.
    body = ctx.body
    upper = body.by + body.bry * 0.3 + 0.8 * np.sin(_X * 1.35)
    lower = body.by + body.bry + 2.5 + 1.2 * np.sin(_X * 1.35)
    skirt = (_Y > upper) & (_Y < lower)
    skirt &= np.abs(_X - _CX) <= body.brx * 0.92
    ctx.canvas.paint(skirt, colour, shade=False)


def _horns(ctx, colour):
    body = ctx.body
    x = _CX - body.hrx * 0.45
    y = body.top + 2.0
    horn = _polygon(
        [
            (x - 1.2, y + 1),
            (x - 3.5, y - 4),
            (x - 4.5, y - 7),
            (x - 1.5, y - 4),
            (x + 1.5, y),
        ]
    )
    ctx.canvas.paint(_mirror(horn), colour, shade=False)
    if ctx.type_name == "dragon":
        belly = _ellipse(body.by + 1.0, _CX, body.bry * 0.6, body.brx * 0.5)
        inside = _shrink(body.body_mask("dragon") & ctx.canvas.filled)
        ctx.canvas.flat(belly & inside, (236, 222, 170))


def _mask(ctx, colour):
    body = ctx.body
    if ctx.type_name == "dark":
        _ears(ctx, ctx.colour, pointed=True, tips=(170, 40, 50))
        collar = _ellipse(body.by + body.bry * 0.1, _CX, 1.6, body.brx * 0.7)
        inside = _shrink(body.body_mask("dark") & ctx.canvas.filled)
        ctx.canvas.flat(collar & inside, (170, 40, 50))
        return
    band = (np.abs(_Y - body.eye_y) < 2.5) & _shrink(
        body.head_mask() & ctx.canvas.filled
    )
    ctx.canvas.flat(band, colour)


def _helmet(ctx, colour):
    body = ctx.body
    y = body.top + body.hry * 0.55
    helmet = body.head_mask() & (_Y < y)
    helmet |= _ellipse(body.top + 1.0, _CX, 2.2, 1.4)
    ctx.canvas.paint(helmet, colour)
    rivets = (np.abs(_Y - (y - 1.5)) < 0.5) & (
        np.abs(np.abs(_X - _CX) - body.hrx * 0.5) < 0.5
    )
    ctx.canvas.flat(rivets, (90, 96, 110))


def _bow(ctx, colour):
    body = ctx.body
    y = body.top + 0.5
    x = _CX + body.hrx * 0.35
    left = _polygon([(x, y), (x - 4.0, y - 3.0), (x - 4.0, y + 2.5)])
    right = _polygon([(x, y), (x + 4.0, y - 3.0), (x + 4.0, y + 2.5)])
    ctx.canvas.paint(left | right, colour, shade=False)
    ctx.canvas.paint(_ellipse(y, x, 1.2, 1.2), colour * 0.85, shade=False)
    if ctx.type_name == "fairy":
        cheek = _ellipse(body.eye_y + 2.8, _CX - body.eye_dx - 1.5, 1.0, 1.5)
        ctx.canvas.flat(_mirror(cheek) & ctx.canvas.filled, (255, 130, 160))


def _round_ears(ctx, colour):
    _ears(ctx, ctx.colour if ctx.type_name == "normal" else colour, False)
    if ctx.type_name == "normal":
        body = ctx.body
        belly = _ellipse(
            body.by + body.bry * 0.35, _CX, body.bry * 0.5, body.brx * 0.55
        )
        inside = _shrink(body.body_mask("normal") & ctx.canvas.filled)
        ctx.canvas.flat(belly & inside, colour)


# type -> (slot, draw function). Slots are drawn in a fixed order.
_FEATURES = {
    "normal": ("top", _round_ears),
    "fire": ("top", _flames),
    "water": ("side_back", _fins),
    "electric": ("tail", _bolt_tail),
    "grass": ("top", _leaf),
    "ice": ("top", _crystals),
    "fighting": ("side_front", _gloves),
    "poison": ("surface", _spots),
    "ground": ("surface", _patches),
    "flying": ("side_back", _wings),
    "psychic": ("face", _gem),
    "bug": ("top", _antennae),
    "rock": ("top", _boulders),
    "ghost": ("bottom", _ghost_hem),
    "dragon": ("top", _horns),
    "dark": ("face", _mask),
    "steel": ("top", _helmet),
    "fairy": ("top", _bow),
}

# type -> extra marks drawn for the primary type only, after the head.
_EXTRAS = {
    "electric": _electric_extras,
}
