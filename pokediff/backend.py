"""The one place where pokediff branches on the Keras backend.

Everything else is written in `keras.ops`. Two things cannot be: compiling
a whole sampling loop (each backend has its own compiler and its own idea of
where variables live), and drawing fresh noise inside that loop from a
per-step seed without a host round trip.
"""

import keras
from keras import ops

BACKENDS = ("tensorflow", "jax", "torch")


def compile_inference_function(layer, fn):
    """Compile `fn(*args)`, which reads the weights of `layer`, for inference.

    - JAX: `jax.jit`, with the weights passed in as arguments through a
      `keras.StatelessScope`, so later weight updates are seen without a
      retrace.
    - TensorFlow: `tf.function(jit_compile=True)` (XLA); Python scalars are
      turned into tensors so that new values do not retrace.
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

        compiled = tf.function(fn, jit_compile=True, reduce_retracing=True)

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
