import keras

from pokediff import backend


@keras.saving.register_keras_serializable(package="pokediff")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` with the PyTorch fast path of `pokediff.backend`.

    Same arguments, weights and outputs as `keras.layers.Conv2D`; on the
    PyTorch backend the convolution runs on the channels-last memory with
    the bias fused in, instead of copying the activations to channels-first
    and back. Only `data_format="channels_last"`, `dilation_rate=1` and
    `groups=1` are supported, the configuration the U-Net uses.

    Example:

    >>> conv = Conv2D(8, 3, padding="same")
    >>> tuple(conv(keras.ops.ones((1, 6, 6, 4))).shape)
    (1, 6, 6, 8)
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        unsupported = {
            "data_format": (self.data_format, "channels_last"),
            "dilation_rate": (self.dilation_rate, (1, 1)),
            "groups": (self.groups, 1),
        }
        for name, (value, supported) in unsupported.items():
            if value != supported:
                raise ValueError(
                    f"`{name}` expected {supported!r} in pokediff's Conv2D. "
                    f"Received: {name}={value!r}"
                )
        if len(set(self.strides)) != 1:
            raise ValueError(
                "`strides` expected the same stride on both axes. "
                f"Received: strides={self.strides}"
            )

    def call(self, inputs):
        outputs = backend.conv2d(
            inputs,
            self.kernel,
            self.bias if self.use_bias else None,
            strides=self.strides[0],
            padding=self.padding,
        )
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
