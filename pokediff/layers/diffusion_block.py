import keras
from keras import ops

from pokediff.layers.convolution import Conv2D
from pokediff.layers.group_normalization import GroupNormalization


@keras.saving.register_keras_serializable(package="pokediff")
class DiffusionBlock(keras.layers.Layer):
    """Residual block conditioned on a time-and-label embedding.

    `GroupNorm -> SiLU -> Conv3x3`, then the conditioning embedding sets a
    per-channel scale and shift of the second normalisation
    (`h = norm(h) * (1 + scale) + shift`, the "adaptive group norm" of
    Dhariwal & Nichol), then `SiLU -> Dropout -> Conv3x3`. The input is added
    back, through a 1x1 convolution when the channel count changes. The last
    convolution starts at zero, so a new block is the identity.

    Args:
        filters: int. Output channels.
        groups: int. Groups of the group normalisations; must divide both
            the input channels and `filters`. Defaults to `8`.
        dropout: float. Dropout rate before the last convolution. Defaults
            to `0.0`.
        epsilon: float. Group normalisation epsilon. Defaults to `1e-5`.
        seed: int or `None`. Seed of the dropout. Defaults to `None`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: list `[x, embedding]`: `x` of shape
            `(batch, height, width, channels)` and `embedding` of shape
            `(batch, embedding_dim)`.
        training: bool. Whether dropout is active.

    Returns:
        Tensor of shape `(batch, height, width, filters)`.

    Reference:
        - [Dhariwal & Nichol, 2021](https://arxiv.org/abs/2105.05233)

    Example:

    >>> block = DiffusionBlock(filters=16)
    >>> x = keras.ops.ones((2, 8, 8, 8))
    >>> embedding = keras.ops.ones((2, 32))
    >>> tuple(block([x, embedding]).shape)
    (2, 8, 8, 16)
    """

    def __init__(
        self, filters, groups=8, dropout=0.0, epsilon=1e-5, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        if filters % groups:
            raise ValueError(
                f"`groups` expected a divisor of `filters`. Received: "
                f"groups={groups}, filters={filters}"
            )
        self.filters = filters
        self.groups = groups
        self.dropout = dropout
        self.epsilon = epsilon
        self.seed = seed

        policy = self.dtype_policy
        self.norm1 = GroupNormalization(
            groups, epsilon=epsilon, dtype=policy, name="norm1"
        )
        self.conv1 = Conv2D(
            filters, 3, padding="same", dtype=policy, name="conv1"
        )
        self.embedding_projection = keras.layers.Dense(
            2 * filters, dtype=policy, name="embedding_projection"
        )
        self.norm2 = GroupNormalization(
            groups,
            epsilon=epsilon,
            center=False,
            scale=False,
            dtype=policy,
            name="norm2",
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, seed=seed, dtype=policy, name="dropout"
        )
        self.conv2 = Conv2D(
            filters,
            3,
            padding="same",
            kernel_initializer="zeros",
            dtype=policy,
            name="conv2",
        )
        self.skip = None

    def build(self, input_shape):
        x_shape, embedding_shape = input_shape
        channels = x_shape[-1]
        if channels % self.groups:
            raise ValueError(
                f"`groups` expected a divisor of the input channels. "
                f"Received: groups={self.groups}, input shape={x_shape}"
            )
        out_shape = tuple(x_shape[:-1]) + (self.filters,)
        self.norm1.build(x_shape)
        self.conv1.build(x_shape)
        self.embedding_projection.build(embedding_shape)
        self.norm2.build(out_shape)
        self.dropout_layer.build(out_shape)
        self.conv2.build(out_shape)
        if channels != self.filters:
            self.skip = Conv2D(
                self.filters, 1, dtype=self.dtype_policy, name="skip"
            )
            self.skip.build(x_shape)

    def call(self, inputs, training=None):
        x, embedding = inputs
        h = self.conv1(ops.silu(self.norm1(x)))

        conditioning = self.embedding_projection(ops.silu(embedding))
        scale, shift = ops.split(conditioning[:, None, None, :], 2, axis=-1)
        h = self.norm2(h) * (1.0 + scale) + shift

        h = self.dropout_layer(ops.silu(h), training=training)
        h = self.conv2(h)
        skip = x if self.skip is None else self.skip(x)
        return skip + h

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "groups": self.groups,
                "dropout": self.dropout,
                "epsilon": self.epsilon,
                "seed": self.seed,
            }
        )
        return config
