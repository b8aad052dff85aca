"""An AdamW whose weight average warms up, for runs of any length."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pokediff")
class AdamWEMAWarmup(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with an EMA of the weights that warms up.

    Keras' EMA uses `ema_momentum` from the second step on, so with the
    usual `0.999` the average still holds three quarters of the initial
    random weights after 300 steps, and a short run samples noise. Here the
    momentum at step `t` is `min(ema_momentum, t / (10 + t))`, close to the
    warm-up of `tf.train.ExponentialMovingAverage`: `0` at the first step
    (which copies the weights into the zero-initialised average), then the
    average follows the weights closely and slows down to `ema_momentum`
    after about `10 / (1 - ema_momentum)` steps.

    Args:
        *args, **kwargs: those of `keras.optimizers.AdamW`; `use_ema`
            defaults to `True`.

    Example:

    ```python
    model.compile(optimizer=AdamWEMAWarmup(1e-3, ema_momentum=0.999))
    ```
    """

    def __init__(self, *args, use_ema=True, **kwargs):
        super().__init__(*args, use_ema=use_ema, **kwargs)

    def ema_momentum_at(self, step):
        """The EMA momentum used at optimizer step `step`."""
        step = ops.cast(step, "float32")
        return ops.minimum(self.ema_momentum, step / (10.0 + step))

    def _update_model_variables_moving_average(self, trainable_variables):
        if not self.use_ema:
            return
        momentum = self.ema_momentum_at(self.iterations)
        for variable, average in zip(
            trainable_variables,
            self._model_variables_moving_average,
            strict=True,
        ):
            if average is None:
                continue
            weight = ops.cast(momentum, variable.dtype)
            average.assign(weight * average + (1.0 - weight) * variable)
