"""InceptionV3 features: the feature space of published FID and KID scores.

This path is optional. The default offline evaluation compares sprites in
the embedding of the project's own `TypeClassifier`; those scores are
useful to compare pokediff models with each other but are NOT comparable
with published FIDs, which use the pool features (2048-d) of an InceptionV3
trained on ImageNet. `InceptionFeatures` computes those features. Note that
published FIDs also depend on the resizing code and on the exact Inception
weights (the original TensorFlow FID graph differs slightly from
`keras.applications`), so even these scores are only close to, not equal
to, scores from other tools.
"""

import contextlib
import os
import socket

import keras
import numpy as np

from pokediff.metrics.type_classifier import _check_images

INCEPTION_IMAGE_SIZE = 299
INCEPTION_WEIGHTS_FILE = (
    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
)


@contextlib.contextmanager
def _socket_timeout(seconds):
    """Bound how long a download may wait on the network."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _build_inception(weights, download_timeout):
    """Build InceptionV3 without its top, turning load failures into a hint.

    Kept separate so that tests can replace it.
    """
    if weights is not None and weights != "imagenet":
        weights = os.fspath(weights)
        if not os.path.isfile(weights):
            raise ValueError(
                "`weights` expected None, 'imagenet' or the path to an "
                f"existing weights file. Received: weights={weights!r}"
            )
    try:
        with _socket_timeout(download_timeout):
            return keras.applications.InceptionV3(
                include_top=False,
                weights=weights,
                input_shape=(INCEPTION_IMAGE_SIZE, INCEPTION_IMAGE_SIZE, 3),
                pooling="avg",
            )
    except Exception as error:
        if weights != "imagenet":
            raise
        raise RuntimeError(
            "Could not load the ImageNet weights of InceptionV3 (they are "
            "downloaded on first use, which needs internet access; "
            f"the download timeout is {download_timeout} s). On a machine "
            f"with internet, download '{INCEPTION_WEIGHTS_FILE}' from "
            "https://storage.googleapis.com/tensorflow/keras-applications/"
            "inception_v3/ (or run `keras.applications.InceptionV3("
            "include_top=False)` once, which caches it under "
            "~/.keras/models/), copy it here and pass "
            "`weights='/path/to/"
            f"{INCEPTION_WEIGHTS_FILE}'`. Original error: {error}"
        ) from error


class InceptionFeatures:
    """Extract the 2048-d InceptionV3 pool features used by FID and KID.

    Images are resized to 299×299 (bilinear, `keras.ops.image.resize`),
    scaled with `keras.applications.inception_v3.preprocess_input` and fed
    to `keras.applications.InceptionV3(include_top=False, pooling="avg")`.

    Only features from ImageNet weights give FID/KID in the standard
    space, and even then they are close to, not identical with, scores of
    other FID implementations. The default pokediff evaluation uses the
    type classifier's features instead: those offline scores are not
    comparable with published FIDs.

    Args:
        weights: `"imagenet"` (downloaded by Keras on first use and cached
            in `~/.keras/models/`), the path to a local
            `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`
            file, or `None` for random weights (for tests only: the scores
            mean nothing). Defaults to `"imagenet"`.
        batch_size: int, the number of images embedded at once. Defaults
            to `32`.
        download_timeout: float, seconds the weights download may wait on
            the network before failing. Defaults to `30`.

    Raises:
        RuntimeError: if `weights="imagenet"` and the weights can neither
            be found in the Keras cache nor downloaded; the message says
            how to pass a local file instead.

    Example:

    ```python
    inception = InceptionFeatures(weights="/data/inception_notop.h5")
    features = inception(images)  # (N, 2048)
    ```
    """

    def __init__(self, weights="imagenet", batch_size=32, download_timeout=30):
        if batch_size < 1:
            raise ValueError(
                "`batch_size` expected a positive int. "
                f"Received: batch_size={batch_size}"
            )
        self.weights = weights
        self.batch_size = batch_size
        self.download_timeout = download_timeout
        self.model = _build_inception(weights, download_timeout)

    def preprocess(self, images):
        """Resize uint8 images to 299×299 and scale them to `[-1, 1]`.

        Args:
            images: uint8 array of shape `(N, H, W, 3)`.

        Returns:
            A float32 tensor of shape `(N, 299, 299, 3)`.
        """
        images = keras.ops.convert_to_tensor(
            np.asarray(images), dtype="float32"
        )
        images = keras.ops.image.resize(
            images,
            (INCEPTION_IMAGE_SIZE, INCEPTION_IMAGE_SIZE),
            interpolation="bilinear",
        )
        return keras.applications.inception_v3.preprocess_input(images)

    def __call__(self, images):
        """Embed images.

        Args:
            images: uint8 array of shape `(N, H, W, 3)`.

        Returns:
            A float64 numpy array of shape `(N, 2048)`.
        """
        images = _check_images(images)
        outputs = []
        for start in range(0, len(images), self.batch_size):
            batch = self.preprocess(images[start : start + self.batch_size])
            features = self.model(batch, training=False)
            outputs.append(keras.ops.convert_to_numpy(features))
        return np.concatenate(outputs).astype("float64")
