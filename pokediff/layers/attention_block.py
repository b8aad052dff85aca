import keras
from keras import ops

from pokediff.layers.group_normalization import GroupNormalization


@keras.saving.register_keras_serializable(package="pokediff")
class AttentionBlock(keras.layers.Layer):
    """Residual multi-head self-attention over the pixels of a feature map.

    `GroupNorm -> q, k, v projections -> scaled dot-product attention ->
    output projection`, added back to the input. The output projection
    starts at zero, so a new block is the identity. Used at low resolutions
    (8x8, 16x16) where attention over all pixels is affordable.

    Args:
        num_heads: int. Number of attention heads; must divide the channels.
            Defaults to `1`.
        groups: int. Groups of the group normalisation. Defaults to `8`.
        epsilon: float. Group normalisation epsilon. Defaults to `1e-5`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        x: Tensor of shape `(batch, height, width, channels)`.

    Returns:
        Tensor of the same shape as `x`.

    Example:

    >>> block = AttentionBlock(num_heads=2)
    >>> tuple(block(keras.ops.ones((2, 4, 4, 16))).shape)
    (2, 4, 4, 16)
    """

    def __init__(self, num_heads=1, groups=8, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.groups = groups
        self.epsilon = epsilon

        self.norm = GroupNormalization(
            groups, epsilon=epsilon, dtype=self.dtype_policy, name="norm"
        )
        self.qkv = None
        self.output_projection = None

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.num_heads:
            raise ValueError(
                "`num_heads` expected a divisor of the input channels. "
                f"Received: num_heads={self.num_heads}, "
                f"input shape={input_shape}"
            )
        self.norm.build(input_shape)
        self.qkv = keras.layers.Dense(
            3 * channels, dtype=self.dtype_policy, name="qkv"
        )
        self.qkv.build((None, None, channels))
        self.output_projection = keras.layers.Dense(
            channels,
            kernel_initializer="zeros",
            dtype=self.dtype_policy,
            name="output_projection",
        )
        self.output_projection.build((None, None, channels))

    def call(self, x):
        batch = ops.shape(x)[0]
        height, width, channels = x.shape[1], x.shape[2], x.shape[3]
        head_dim = channels // self.num_heads

        h = ops.reshape(self.norm(x), (batch, height * width, channels))
        qkv = ops.reshape(
            self.qkv(h), (batch, height * width, 3, self.num_heads, head_dim)
        )
        query, key, value = ops.unstack(qkv, 3, axis=2)
        attended = ops.dot_product_attention(query, key, value)
        attended = ops.reshape(attended, (batch, height * width, channels))
        out = self.output_projection(attended)
        return x + ops.reshape(out, (batch, height, width, channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "groups": self.groups,
                "epsilon": self.epsilon,
            }
        )
        return config
