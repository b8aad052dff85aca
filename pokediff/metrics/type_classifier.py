"""A small convolutional classifier of Pokémon types, used to score samples.

The classifier plays two roles in the evaluation: its top predictions decide
whether a generated sprite shows the requested types (see
`pokediff.metrics.type_fidelity`), and its `features` layer is the feature
space in which real and generated sprites are compared (see
`pokediff.metrics.distances`).
"""

import logging

import keras
import numpy as np

from pokediff.pokemon_types import NO_TYPE
from pokediff.pokemon_types import NUM_TYPES

logger = logging.getLogger("pokediff")

FEATURES_LAYER = "features"
# Initial logit of every type: sigmoid(-2.5) ~ 0.08, close to the share of
# positives (1.5 types out of 18), so training does not spend its first
# steps pushing all 18 probabilities down from 0.5.
_HEAD_BIAS = -2.5
# Without `epochs`, the classifier trains for at least MIN_EPOCHS epochs
# and MIN_STEPS optimizer steps. 30 epochs are plenty for 1,600 built-in
# sprites, but on the 650 training sprites of the real set (19 steps an
# epoch) they left it near chance: 16% held-out accuracy, 30% after 2,000
# steps.
MIN_EPOCHS = 30
MIN_STEPS = 2000


def _check_images(images, name="images", dtype_kind="u"):
    """Check a batch of RGB images and return it as a numpy array.

    Args:
        images: array-like of shape `(N, H, W, 3)`.
        name: the argument name used in error messages.
        dtype_kind: numpy dtype kinds accepted, e.g. `"u"` for unsigned
            integers only or `"uf"` to accept floats too.

    Returns:
        The images as a numpy array.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"`{name}` expected an array of RGB images of shape "
            f"(N, H, W, 3). Received: {name}.shape={images.shape}"
        )
    if images.shape[0] == 0:
        raise ValueError(
            f"`{name}` expected at least one image. "
            f"Received: {name}.shape={images.shape}"
        )
    if images.dtype.kind not in dtype_kind:
        expected = "uint8" if dtype_kind == "u" else "uint8 or float"
        raise ValueError(
            f"`{name}` expected {expected} images. "
            f"Received: {name}.dtype={images.dtype}"
        )
    return images


def _check_labels(labels, num_images, name="labels", images_name="images"):
    """Check type labels of shape `(N, 2)` and return them as int arrays.

    Args:
        labels: array-like of type ids, shape `(N, 2)`, `-1` for no second
            type.
        num_images: the number of images the labels belong to.
        name: the argument name used in error messages.
        images_name: the name of the matching images argument.

    Returns:
        The labels as an `int64` numpy array.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != 2:
        raise ValueError(
            f"`{name}` expected type ids of shape (N, 2). "
            f"Received: {name}.shape={labels.shape}"
        )
    if labels.shape[0] != num_images:
        raise ValueError(
            f"`{name}` expected one row per image ({num_images} in "
            f"`{images_name}`). Received: {name}.shape={labels.shape}"
        )
    if labels.size and labels.dtype.kind not in "iu":
        raise ValueError(
            f"`{name}` expected integer type ids. "
            f"Received: {name}.dtype={labels.dtype}"
        )
    labels = labels.astype("int64")
    bad = (labels < NO_TYPE) | (labels >= NUM_TYPES) | (labels[:, :1] < 0)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(
            f"`{name}` expected a first type id in [0, {NUM_TYPES}) and a "
            f"second in [-1, {NUM_TYPES}). Received: "
            f"{name}[{row}]={labels[row].tolist()}"
        )
    return labels


def multi_hot(labels, num_classes=NUM_TYPES):
    """Turn `(N, 2)` type ids into `(N, num_classes)` multi-hot targets.

    Args:
        labels: int array of shape `(N, 2)`, `-1` for no second type.
        num_classes: int, the number of types. Defaults to `NUM_TYPES`.

    Returns:
        A float32 array with a 1 at each of the image's types.

    Example:

    >>> multi_hot([[1, -1], [2, 9]], num_classes=10).astype(int).tolist()
    [[0, 1, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0, 0, 1]]
    """
    labels = np.asarray(labels, dtype="int64")
    targets = np.zeros((labels.shape[0], num_classes), dtype="float32")
    rows = np.arange(labels.shape[0])
    for column in range(labels.shape[1]):
        valid = labels[:, column] != NO_TYPE
        targets[rows[valid], labels[valid, column]] = 1.0
    return targets


@keras.saving.register_keras_serializable(package="pokediff")
class TypeClassifier(keras.Model):
    """A small CNN that predicts a sprite's one or two Pokémon types.

    The network rescales its input from `[0, 255]` to `[-1, 1]`, runs one
    block per entry of `filters` (two 3×3 convolutions with group
    normalization and swish, then 2× average pooling), pools globally and
    maps the result to an `embedding_dim`-d embedding (the layer named
    `"features"`, the feature space of the Fréchet and kernel distances).
    A sigmoid head then gives one independent probability per type, trained
    with binary cross-entropy since a Pokémon has one or two types.

    Any image size works (the pooling is global), but score images of the
    size the classifier was trained on.

    Args:
        num_classes: int, the number of types. Defaults to `NUM_TYPES` (18).
        filters: tuple of ints, the width of each convolutional block.
            Defaults to `(32, 64, 128)`.
        embedding_dim: int, the size of the `features` embedding. Defaults
            to `128`.
        groups: int, the number of groups of each group normalization; it
            must divide every entry of `filters`. Keep it small: the mean
            colour of a sprite is a strong type cue, and normalizing
            channels one by one (`groups == filters`, instance norm) would
            erase it. Defaults to `1` (normalize over all channels).
        seed: int or `None`, seeds the weight initializers. Defaults to
            `None`.
        **kwargs: passed on to `keras.Model` (e.g. `name`).

    Call arguments:
        inputs: uint8 or float tensor of shape `(batch, H, W, 3)` with
            values in `[0, 255]`.

    Returns:
        A float tensor of shape `(batch, num_classes)` of type
        probabilities.

    Example:

    >>> model = TypeClassifier(filters=(8, 16), embedding_dim=16, seed=0)
    >>> images = np.zeros((2, 16, 16, 3), dtype="uint8")
    >>> model.predict(images, verbose=0).shape
    (2, 18)
    """

    def __init__(
        self,
        num_classes=NUM_TYPES,
        filters=(32, 64, 128),
        embedding_dim=128,
        groups=1,
        seed=None,
        **kwargs,
    ):
        filters = tuple(int(width) for width in filters)
        if not filters or any(width <= 0 for width in filters):
            raise ValueError(
                "`filters` expected a non-empty tuple of positive ints. "
                f"Received: filters={filters}"
            )
        if any(width % groups for width in filters):
            raise ValueError(
                "`groups` expected to divide every entry of `filters` "
                f"{filters}. Received: groups={groups}"
            )
        if num_classes < 1 or embedding_dim < 1:
            raise ValueError(
                "`num_classes` and `embedding_dim` expected positive ints. "
                f"Received: num_classes={num_classes}, "
                f"embedding_dim={embedding_dim}"
            )

        def initializer(offset):
            if seed is None:
                return "glorot_uniform"
            return keras.initializers.GlorotUniform(seed=seed + offset)

        inputs = keras.Input(shape=(None, None, 3), name="images")
        x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(
            inputs
        )
        for index, width in enumerate(filters):
            for conv in range(2):
                prefix = f"block{index}_{conv}"
                x = keras.layers.Conv2D(
                    width,
                    3,
                    padding="same",
                    kernel_initializer=initializer(2 * index + conv),
                    name=f"{prefix}_conv",
                )(x)
                x = keras.layers.GroupNormalization(
                    groups=groups, name=f"{prefix}_norm"
                )(x)
                x = keras.layers.Activation("swish", name=f"{prefix}_act")(x)
            x = keras.layers.AveragePooling2D(
                2, padding="same", name=f"block{index}_pool"
            )(x)
        x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
        features = keras.layers.Dense(
            embedding_dim,
            activation="swish",
            kernel_initializer=initializer(2 * len(filters)),
            name=FEATURES_LAYER,
        )(x)
        outputs = keras.layers.Dense(
            num_classes,
            activation="sigmoid",
            kernel_initializer=initializer(2 * len(filters) + 1),
            bias_initializer=keras.initializers.Constant(_HEAD_BIAS),
            name="types",
        )(features)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.num_classes = num_classes
        self.filters = filters
        self.embedding_dim = embedding_dim
        self.groups = groups
        self.seed = seed

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "filters": list(self.filters),
            "embedding_dim": self.embedding_dim,
            "groups": self.groups,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _TypeDataset(keras.utils.PyDataset):
    """Seeded shuffling and random horizontal flips, one epoch at a time."""

    def __init__(self, images, targets, batch_size, augment, seed):
        super().__init__()
        self.images = images
        self.targets = targets
        self.batch_size = batch_size
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index):
        rows = self.order[
            index * self.batch_size : (index + 1) * self.batch_size
        ]
        images = self.images[rows].astype("float32")
        if self.augment:
            flip = self.flips[rows]
            images[flip] = images[flip, :, ::-1]
        return images, self.targets[rows]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.images))
        self.flips = self.rng.random(len(self.images)) < 0.5


def default_epochs(steps_per_epoch):
    """Epochs for at least `MIN_EPOCHS` epochs and `MIN_STEPS` steps.

    Example:

    >>> default_epochs(19), default_epochs(47), default_epochs(100)
    (106, 43, 30)
    """
    return max(MIN_EPOCHS, -(-MIN_STEPS // steps_per_epoch))


def train_type_classifier(
    images,
    labels,
    model=None,
    epochs=None,
    batch_size=32,
    learning_rate=1e-3,
    validation_split=0.1,
    augment=True,
    seed=None,
    verbose=1,
):
    """Train a `TypeClassifier` on labelled sprites.

    The data are split once, with a seeded shuffle, into training and
    validation parts (so flipped copies of validation sprites never reach
    training). Each epoch visits the training part in a fresh seeded order
    and, with `augment`, flips each sprite horizontally with probability
    one half.

    Args:
        images: uint8 array of shape `(N, H, W, 3)`.
        labels: int array of shape `(N, 2)` of type ids, `-1` for no second
            type.
        model: a `TypeClassifier` to train, or `None` to build one with the
            default architecture and `seed`. Defaults to `None`.
        epochs: int, the number of passes over the training part, or
            `None` for at least 30 epochs and 2,000 optimizer steps (so
            small data sets get more epochs). Defaults to `None`.
        batch_size: int. Defaults to `32`.
        learning_rate: float, the Adam learning rate. Defaults to `1e-3`.
        validation_split: float in `[0, 1)`, the share of images held out
            to report the validation loss. Defaults to `0.1`.
        augment: bool, whether to flip sprites horizontally at random.
            Defaults to `True`.
        seed: int or `None`, seeds the weights, the split, the order and
            the flips. Defaults to `None`.
        verbose: int, Keras `fit` verbosity (0, 1 or 2). Defaults to `1`.

    Returns:
        The trained `TypeClassifier`; the `fit` history is in
        `model.history.history`.

    Example:

    >>> images = np.zeros((4, 8, 8, 3), dtype="uint8")
    >>> images[:2, ..., 0] = 255
    >>> labels = np.array([[1, -1], [1, -1], [2, -1], [2, -1]])
    >>> model = train_type_classifier(
    ...     images, labels, epochs=1, validation_split=0, seed=0, verbose=0,
    ...     model=TypeClassifier(filters=(8,), embedding_dim=8, seed=0),
    ... )
    """
    images = _check_images(images)
    labels = _check_labels(labels, len(images))
    if not 0 <= validation_split < 1:
        raise ValueError(
            "`validation_split` expected a float in [0, 1). "
            f"Received: validation_split={validation_split}"
        )
    if (epochs is not None and epochs < 1) or batch_size < 1:
        raise ValueError(
            "`epochs` and `batch_size` expected positive ints. "
            f"Received: epochs={epochs}, batch_size={batch_size}"
        )
    num_val = int(round(len(images) * validation_split))
    if validation_split > 0 and not 0 < num_val < len(images):
        raise ValueError(
            "`validation_split` leaves an empty training or validation "
            f"part of {len(images)} images. "
            f"Received: validation_split={validation_split}"
        )

    order = np.random.default_rng(seed).permutation(len(images))
    val_rows, train_rows = order[:num_val], order[num_val:]
    targets = multi_hot(labels)
    train_data = _TypeDataset(
        images[train_rows],
        targets[train_rows],
        batch_size=batch_size,
        augment=augment,
        seed=None if seed is None else seed + 1,
    )
    if epochs is None:
        epochs = default_epochs(len(train_data))
    validation_data = None
    if num_val:
        validation_data = (
            images[val_rows].astype("float32"),
            targets[val_rows],
        )

    if model is None:
        model = TypeClassifier(seed=seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
    )
    logger.info(
        "Training the type classifier on %d images (%d held out).",
        len(train_rows),
        num_val,
    )
    model.fit(
        train_data,
        epochs=epochs,
        validation_data=validation_data,
        shuffle=False,
        verbose=verbose,
    )
    return model


def extract_features(model, images, batch_size=256, verbose=0):
    """Embed images with the classifier's `features` layer.

    Args:
        model: a trained `TypeClassifier`.
        images: uint8 array of shape `(N, H, W, 3)`.
        batch_size: int. Defaults to `256`.
        verbose: int, `predict` verbosity. Defaults to `0`.

    Returns:
        A float64 array of shape `(N, model.embedding_dim)`.

    Example:

    >>> model = TypeClassifier(filters=(8,), embedding_dim=16, seed=0)
    >>> images = np.zeros((3, 8, 8, 3), dtype="uint8")
    >>> extract_features(model, images).shape
    (3, 16)
    """
    images = _check_images(images)
    embedder = keras.Model(model.inputs, model.get_layer(FEATURES_LAYER).output)
    features = embedder.predict(
        images.astype("float32"), batch_size=batch_size, verbose=verbose
    )
    return np.asarray(features, dtype="float64")


def predict_types(model, images, batch_size=256, verbose=0):
    """Predict each image's type probabilities.

    Args:
        model: a trained `TypeClassifier`.
        images: uint8 array of shape `(N, H, W, 3)`.
        batch_size: int. Defaults to `256`.
        verbose: int, `predict` verbosity. Defaults to `0`.

    Returns:
        A float array of shape `(N, num_classes)` of independent type
        probabilities; `np.argsort(-probabilities, axis=1)[:, :2]` gives the
        top-2 type ids.

    Example:

    >>> model = TypeClassifier(filters=(8,), embedding_dim=16, seed=0)
    >>> images = np.zeros((3, 8, 8, 3), dtype="uint8")
    >>> predict_types(model, images).shape
    (3, 18)
    """
    images = _check_images(images)
    probabilities = model.predict(
        images.astype("float32"), batch_size=batch_size, verbose=verbose
    )
    return np.asarray(probabilities)
