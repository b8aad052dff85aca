"""The one place where pokediff branches on the Keras backend.

Everything else is written in `keras.ops`. Five things cannot be:

- compiling a whole sampling loop (each backend has its own compiler and its
  own idea of where variables live);
- drawing fresh noise inside that loop from a per-step seed without a host
  round trip;
- the PyTorch fast path of the two layers that dominate the U-Net's time
  (`conv2d`, `group_norm`): there Keras copies every channels-last tensor
  to channels-first and back around each convolution and composes group
  normalisation from a dozen primitive ops, where PyTorch can run both on
  the channels-last memory directly in one kernel each;
- the gradient of `group_norm` on TensorFlow, written by hand: TensorFlow
  runs the training step as a graph of unfused kernels, and the gradient
  it derives from the primitive ops makes several more passes over every
  activation;
- the XLA:CPU options of the JAX backend (`configure_xla_cpu`).

Each fast path computes the same function as the portable one, to float
rounding.
"""

import logging
import math
import os

import keras
from keras import ops

BACKENDS = ("tensorflow", "jax", "torch")

logger = logging.getLogger("pokediff")

# XLA:CPU hands dots (convolutions included) and reductions to YNNPACK when
# asked. On the `tiny` preset it trains about 12% faster on a CPU than with
# XLA's own kernels, with the same outputs (see docs/performance.md).
# Element-wise fusions are left to XLA: handing them over too makes XLA
# materialise every broadcast they read, and training 15% slower. XLA
# aborts on a flag it does not know, so only the jaxlib releases it was
# measured on get it.
XLA_CPU_FLAG = "--xla_cpu_experimental_ynn_fusion_type=dot,reduce"
XLA_CPU_FLAG_JAXLIB = "0.10."


def configure_xla_cpu():
    """Add pokediff's XLA:CPU option to `XLA_FLAGS`, on the JAX backend.

    Runs when pokediff's layers are imported. It takes effect if JAX has not
    started its CPU client yet in this process (nothing computed so far),
    and leaves `XLA_FLAGS` alone when it already names
    `--xla_cpu_experimental_ynn_fusion_type` (the user's own choice).
    """
    if keras.backend.backend() != "jax":
        return
    import jaxlib

    flags = os.environ.get("XLA_FLAGS", "")
    name = XLA_CPU_FLAG.split("=")[0]
    if name in flags or not jaxlib.__version__.startswith(XLA_CPU_FLAG_JAXLIB):
        return
    os.environ["XLA_FLAGS"] = f"{flags} {XLA_CPU_FLAG}".strip()
    logger.debug("XLA_FLAGS set to %r", os.environ["XLA_FLAGS"])


def compile_inference_function(layer, fn):
    """Compile `fn(*args)`, which reads the weights of `layer`, for inference.

    - JAX: `jax.jit`, with the weights passed in as arguments through a
      `keras.StatelessScope`, so later weight updates are seen without a
      retrace.
    - TensorFlow: `tf.function`; Python scalars are turned into tensors so
      that new values do not retrace. XLA compiles it where TensorFlow sees
      an accelerator, as Keras' `jit_compile="auto"` decides; on a CPU the
      plain graph (oneDNN convolutions) samples the `tiny` preset about 20%
      faster than XLA, and compiles in half the time.
    - PyTorch: eager execution under `torch.no_grad()`; the loop stays on
      the device, with no host round trip per step.

    Args:
        layer: the `keras.Layer` whose variables `fn` reads.
        fn: a function of tensors, written in `keras.ops`.

    Returns:
        A function with the signature of `fn`.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        variables = layer.variables

        def stateless_fn(values, *args):
            mapping = list(zip(variables, values, strict=True))
            with keras.StatelessScope(state_mapping=mapping):
                return fn(*args)

        jitted = jax.jit(stateless_fn)

        def run_jax(*args):
            return jitted([v.value for v in variables], *args)

        return run_jax
    elif backend == "tensorflow":
        import tensorflow as tf

        accelerated = any(
            device.device_type != "CPU"
            for device in tf.config.list_physical_devices()
        )
        compiled = tf.function(
            fn, jit_compile=accelerated, reduce_retracing=True
        )

        def run_tensorflow(*args):
            return compiled(*[tf.convert_to_tensor(a) for a in args])

        return run_tensorflow
    elif backend == "torch":
        import torch

        def run_torch(*args):
            with torch.no_grad():
                return fn(*args)

        return run_torch
    raise NotImplementedError(
        f"pokediff supports the Keras backends {BACKENDS}. "
        f"Received: KERAS_BACKEND={backend!r}"
    )


def step_normal(shape, seed, step, dtype="float32"):
    """Standard normal noise for sampling step `step` of a run seeded `seed`.

    Deterministic in `(seed, step)`, and usable inside a compiled loop where
    `step` is a traced tensor (JAX, TensorFlow) or a Python int (PyTorch,
    whose loops run eagerly).
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax.numpy as jnp

        key = jnp.stack([jnp.asarray(seed), jnp.asarray(step)])
        return keras.random.normal(
            shape, dtype=dtype, seed=key.astype("uint32")
        )
    elif backend == "tensorflow":
        import tensorflow as tf

        key = tf.stack([tf.cast(seed, "int32"), tf.cast(step, "int32")])
        return tf.random.stateless_normal(shape, seed=key, dtype=dtype)
    elif backend == "torch":
        # Both are Python ints here: no device-to-host copy.
        mixed = (int(seed) * 1_000_003 + int(step)) % (2**31 - 1)
        return keras.random.normal(shape, dtype=dtype, seed=mixed)
    raise NotImplementedError(
        f"pokediff supports the Keras backends {BACKENDS}. "
        f"Received: KERAS_BACKEND={backend!r}"
    )


def loop_bound(value):
    """A loop bound for `ops.fori_loop` that does not cause a retrace."""
    if keras.backend.backend() == "torch":
        return int(value)
    return ops.convert_to_tensor(value, "int32")


def conv2d(inputs, kernel, bias=None, strides=1, padding="same"):
    """2-D convolution of channels-last `inputs`, plus an optional bias.

    The same function as `keras.ops.conv` followed by adding `bias`. On
    PyTorch it runs `torch.nn.functional.conv2d` on a channels-first view of
    the channels-last memory (the layout PyTorch's CPU kernels prefer),
    with the bias fused in and no layout copy of the activations.

    Args:
        inputs: tensor of shape `(batch, height, width, in_channels)`.
        kernel: tensor of shape
            `(kernel_height, kernel_width, in_channels, out_channels)`.
        bias: tensor of shape `(out_channels,)` or `None`.
        strides: int. Strides of both spatial axes. Defaults to `1`.
        padding: `"same"` or `"valid"`. Defaults to `"same"`.

    Returns:
        Tensor of shape `(batch, new_height, new_width, out_channels)`.
    """
    if keras.backend.backend() != "torch":
        outputs = ops.conv(inputs, kernel, strides=strides, padding=padding)
        if bias is not None:
            outputs = ops.add(outputs, bias)
        return outputs

    import torch
    import torch.nn.functional as F

    x = ops.convert_to_tensor(inputs).permute(0, 3, 1, 2)
    weight = ops.convert_to_tensor(kernel).permute(3, 2, 0, 1)
    weight = weight.contiguous(memory_format=torch.channels_last)
    if bias is not None:
        bias = ops.convert_to_tensor(bias)
    pads = [0, 0]
    if padding == "same":
        # Keras "same" padding: the odd pixel, if any, goes after.
        pads = []
        for size, window in zip(x.shape[2:], weight.shape[2:], strict=True):
            total = max(
                (math.ceil(size / strides) - 1) * strides + window - size, 0
            )
            pads.append((total // 2, total - total // 2))
        if any(before != after for before, after in pads):
            (top, bottom), (left, right) = pads
            x = F.pad(x, (left, right, top, bottom))
            pads = [0, 0]
        else:
            pads = [before for before, _ in pads]
    outputs = F.conv2d(x, weight, bias, stride=strides, padding=pads)
    return outputs.permute(0, 2, 3, 1)


def group_norm(inputs, groups, gamma=None, beta=None, epsilon=1e-5):
    """Group normalisation of channels-last `inputs`, computed in float32.

    The same function as `keras.layers.GroupNormalization` (statistics over
    each group of channels and all pixels, in float32 whatever the input
    dtype, result cast back). On PyTorch it is one call of
    `torch.nn.functional.group_norm` on the channels-last memory; on
    TensorFlow its gradient is written by hand (`_group_norm_with_gradient`).

    Args:
        inputs: tensor of shape `(batch, height, width, channels)`.
        groups: int. Number of groups; divides `channels`.
        gamma: tensor of shape `(channels,)` or `None` (no scale).
        beta: tensor of shape `(channels,)` or `None` (no shift).
        epsilon: float. Added to the variance. Defaults to `1e-5`.

    Returns:
        Tensor of the shape and dtype of `inputs`.
    """
    dtype = keras.backend.standardize_dtype(inputs.dtype)
    x = ops.cast(inputs, "float32")
    if gamma is not None:
        gamma = ops.cast(gamma, "float32")
    if beta is not None:
        beta = ops.cast(beta, "float32")

    if keras.backend.backend() == "torch":
        import torch
        import torch.nn.functional as F

        # PyTorch 2.13's backward of `group_norm` crashes when the input
        # needs no gradient but the scale or shift does (a network's first
        # layer; that case takes the portable path), and fails on a shift
        # without a scale (given a scale of ones instead).
        if x.requires_grad or not torch.is_grad_enabled():
            if gamma is None and beta is not None:
                gamma = torch.ones_like(beta)
            outputs = F.group_norm(
                x.permute(0, 3, 1, 2), groups, gamma, beta, epsilon
            )
            return ops.cast(outputs.permute(0, 2, 3, 1), dtype)

    channels = x.shape[-1]
    if keras.backend.backend() == "tensorflow":
        if gamma is None:
            gamma = ops.ones((channels,))
        if beta is None:
            beta = ops.zeros((channels,))
        outputs = _group_norm_with_gradient(
            x,
            ops.convert_to_tensor(gamma),
            ops.convert_to_tensor(beta),
            groups,
            epsilon,
        )
        return ops.cast(outputs, dtype)

    shape = ops.shape(x)
    grouped = ops.reshape(
        x, (shape[0], shape[1], shape[2], groups, channels // groups)
    )
    mean, variance = ops.moments(grouped, axes=(1, 2, 4), keepdims=True)
    normalized = (grouped - mean) * ops.rsqrt(variance + epsilon)
    outputs = ops.reshape(normalized, shape)
    if gamma is not None:
        outputs = outputs * gamma
    if beta is not None:
        outputs = outputs + beta
    return ops.cast(outputs, dtype)


def _group_norm_with_gradient(x, gamma, beta, groups, epsilon):
    """`group_norm` of float32 `x` with a hand-written gradient.

    Forward: `y = x * scale + shift`, where per image and channel
    `scale = gamma * rstd` and `shift = beta - mean * scale`, `mean` and
    `rstd` (the reciprocal standard deviation) being those of the channel's
    group. Backward, with `xhat = (x - mean) * rstd` and `g = gamma * dy`,

        dx = rstd * (g - mean_g(g) - xhat * mean_g(g * xhat))

    where `mean_g` averages over the group's pixels and channels. The sums
    `s1` of `dy` and `sx` of `dy * xhat` over the pixels of each image and
    channel give both means, `dbeta` and `dgamma` (`s1` and `sx` summed
    over the batch), so `dx = dy * scale + x * b + c` with `b` and `c` per
    image and group: two reductions and four element-wise passes over the
    activations, about half of what the gradient TensorFlow derives from
    the primitive ops costs.
    """
    shape = ops.shape(x)
    batch, height, width = shape[0], shape[1], shape[2]
    per_group = x.shape[-1] // groups
    grouped_shape = (batch, height * width, groups, per_group)
    param_shape = (1, 1, groups, per_group)

    @ops.custom_gradient
    def normalize(x, gamma, beta):
        grouped = ops.reshape(x, grouped_shape)
        mean = _mean_over_pixels_and_group(grouped)
        variance = _mean_over_pixels_and_group(ops.square(grouped - mean))
        rstd = ops.rsqrt(variance + epsilon)
        gamma = ops.reshape(gamma, param_shape)
        scale = rstd * gamma
        shift = ops.reshape(beta, param_shape) - mean * scale
        outputs = ops.reshape(grouped * scale + shift, shape)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            dy = ops.reshape(upstream, grouped_shape)
            s1 = ops.sum(dy, axis=1, keepdims=True)
            sx = (
                ops.sum(dy * grouped, axis=1, keepdims=True) - mean * s1
            ) * rstd
            count = ops.cast(height * width * per_group, "float32")
            mean_s1 = ops.sum(gamma * s1, axis=3, keepdims=True) / count
            mean_sx = ops.sum(gamma * sx, axis=3, keepdims=True) / count
            b = -mean_sx * rstd * rstd
            c = -mean_s1 * rstd - mean * b
            dx = ops.reshape(dy * scale + (grouped * b + c), shape)
            dgamma = ops.reshape(ops.sum(sx, axis=0), (-1,))
            dbeta = ops.reshape(ops.sum(s1, axis=0), (-1,))
            return dx, dgamma, dbeta

        return outputs, grad

    return normalize(x, gamma, beta)


def _mean_over_pixels_and_group(grouped):
    # Axis by axis: TensorFlow's CPU kernels reduce one axis at a time
    # twice as fast as both together.
    means = ops.mean(grouped, axis=1, keepdims=True)
    return ops.mean(means, axis=3, keepdims=True)


configure_xla_cpu()
