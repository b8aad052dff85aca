import keras

from pokediff import backend


@keras.saving.register_keras_serializable(package="pokediff")
class GroupNormalization(keras.layers.GroupNormalization):
    """`keras.layers.GroupNormalization` over the channels of NHWC images.

    Same arguments, weights and outputs as `keras.layers.GroupNormalization`
    with `axis=-1` (statistics in float32 under mixed precision too); on the
    PyTorch backend it runs as one fused kernel on the channels-last memory,
    and on TensorFlow its gradient is written by hand
    (`pokediff.backend.group_norm`).

    Example:

    >>> norm = GroupNormalization(groups=2)
    >>> tuple(norm(keras.ops.ones((1, 4, 4, 8))).shape)
    (1, 4, 4, 8)
    """

    def __init__(self, groups=32, **kwargs):
        super().__init__(groups=groups, **kwargs)
        if self.axis not in (-1, 3):
            raise ValueError(
                "`axis` expected -1 (channels last) in pokediff's "
                f"GroupNormalization. Received: axis={self.axis}"
            )

    def call(self, inputs):
        if len(inputs.shape) != 4:
            # Only images have the fast path.
            return super().call(inputs)
        outputs = backend.group_norm(
            inputs,
            self.groups,
            gamma=self.gamma if self.scale else None,
            beta=self.beta if self.center else None,
            epsilon=self.epsilon,
        )
        return keras.ops.cast(outputs, self.compute_dtype)
