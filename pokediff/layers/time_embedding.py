import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pokediff")
class TimeEmbedding(keras.layers.Layer):
    """Sinusoidal embedding of the diffusion timestep, then a small MLP.

    The timestep `t` is mapped to `[cos(t * f_0), ..., sin(t * f_0), ...]`
    with frequencies `f_i = max_period ** (-i / (embedding_dim / 2))`, as in
    "Attention Is All You Need" and DDPM, then passed through
    `Dense -> SiLU -> Dense`.

    Args:
        embedding_dim: int. Size of the sinusoidal features and of the
            output.
        max_period: float. Longest period of the sinusoids. Defaults to
            `10000.0`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        timesteps: Tensor of shape `(batch,)`, integer or float timesteps.

    Returns:
        Tensor of shape `(batch, embedding_dim)`.

    Example:

    >>> layer = TimeEmbedding(embedding_dim=16)
    >>> tuple(layer(keras.ops.array([0, 10, 999])).shape)
    (3, 16)
    """

    def __init__(self, embedding_dim, max_period=10000.0, **kwargs):
        super().__init__(**kwargs)
        if embedding_dim < 2 or embedding_dim % 2:
            raise ValueError(
                "`embedding_dim` expected an even integer >= 2. "
                f"Received: embedding_dim={embedding_dim}"
            )
        self.embedding_dim = embedding_dim
        self.max_period = max_period

        self.hidden = keras.layers.Dense(
            embedding_dim,
            activation="silu",
            dtype=self.dtype_policy,
            name="hidden",
        )
        self.output_dense = keras.layers.Dense(
            embedding_dim, dtype=self.dtype_policy, name="output_dense"
        )

    def build(self, input_shape):
        self.hidden.build((None, self.embedding_dim))
        self.output_dense.build((None, self.embedding_dim))

    def sinusoids(self, timesteps):
        """Return the `(batch, embedding_dim)` sinusoidal features."""
        half = self.embedding_dim // 2
        exponent = -math.log(self.max_period) / half
        frequencies = ops.exp(ops.arange(half, dtype="float32") * exponent)
        angles = ops.cast(timesteps, "float32")[:, None] * frequencies[None]
        return ops.concatenate([ops.cos(angles), ops.sin(angles)], axis=-1)

    def call(self, timesteps):
        features = ops.cast(self.sinusoids(timesteps), self.compute_dtype)
        return self.output_dense(self.hidden(features))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embedding_dim": self.embedding_dim,
                "max_period": self.max_period,
            }
        )
        return config
