import keras

from pokediff.layers.convolution import Conv2D


@keras.saving.register_keras_serializable(package="pokediff")
class Downsample(keras.layers.Layer):
    """Halves the resolution with a strided 3x3 convolution.

    Args:
        filters: int. Output channels.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Example:

    >>> tuple(Downsample(8)(keras.ops.ones((1, 8, 8, 4))).shape)
    (1, 4, 4, 8)
    """

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv = Conv2D(
            filters,
            3,
            strides=2,
            padding="same",
            dtype=self.dtype_policy,
            name="conv",
        )

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, x):
        return self.conv(x)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters})
        return config


@keras.saving.register_keras_serializable(package="pokediff")
class Upsample(keras.layers.Layer):
    """Doubles the resolution: nearest-neighbour upsampling, then a 3x3 conv.

    Args:
        filters: int. Output channels.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Example:

    >>> tuple(Upsample(8)(keras.ops.ones((1, 4, 4, 4))).shape)
    (1, 8, 8, 8)
    """

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.upsampling = keras.layers.UpSampling2D(
            2,
            interpolation="nearest",
            dtype=self.dtype_policy,
            name="upsampling",
        )
        self.conv = Conv2D(
            filters, 3, padding="same", dtype=self.dtype_policy, name="conv"
        )

    def build(self, input_shape):
        self.upsampling.build(input_shape)
        self.conv.build(self.upsampling.compute_output_shape(input_shape))

    def call(self, x):
        return self.conv(self.upsampling(x))

    def compute_output_shape(self, input_shape):
        upsampled = self.upsampling.compute_output_shape(input_shape)
        return self.conv.compute_output_shape(upsampled)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters})
        return config
