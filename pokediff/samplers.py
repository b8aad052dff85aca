"""Reverse-process steps, written once in `keras.ops`.

Symbols follow Song et al. (2021), "Denoising Diffusion Implicit Models":
`x_t` is the noisy sample, `alpha_bar_t` the cumulative signal level,
`x_0_hat` and `epsilon_hat` the model's estimates of the clean image and of
the noise. The generalised DDIM step with `eta = 0` is the deterministic
DDIM sampler; with `eta = 1` it is the ancestral DDPM sampler of Ho et al.
(2020), exactly so when every one of the `T` training steps is visited.
"""

from keras import ops

SAMPLERS = ("ddim", "ddpm")
PREDICTION_TYPES = ("epsilon", "v")


def sampler_eta(sampler):
    """The `eta` of the generalised DDIM step that a sampler name means."""
    if sampler == "ddim":
        return 0.0
    elif sampler == "ddpm":
        return 1.0
    raise ValueError(
        f"`sampler` expected one of {SAMPLERS}. Received: sampler={sampler!r}"
    )


def sampling_timestep(step, num_steps, num_train_timesteps):
    """The training timestep `tau_step` visited at sampling step `step`.

    The `num_steps` visited timesteps are evenly spaced and end at the
    last one ("trailing" spacing): `tau_i = (i + 1) * T // num_steps - 1`,
    so that sampling starts from pure noise at `t = T - 1`, and with
    `num_steps = T` every timestep is visited. `step = -1` gives `-1`, the
    clean image.
    """
    return (step + 1) * num_train_timesteps // num_steps - 1


def split_prediction(x_t, model_output, alpha_bar_t, prediction_type):
    """Turn a model output into `(x_0_hat, epsilon_hat)`.

    For `"epsilon"`: `x_0_hat = (x_t - sqrt(1 - alpha_bar_t) * eps) /
    sqrt(alpha_bar_t)`. For `"v"` (Salimans & Ho, 2022), with
    `v = sqrt(alpha_bar_t) * eps - sqrt(1 - alpha_bar_t) * x_0`:
    `x_0_hat = sqrt(alpha_bar_t) * x_t - sqrt(1 - alpha_bar_t) * v`.
    """
    x_t = ops.convert_to_tensor(x_t)
    model_output = ops.cast(model_output, x_t.dtype)
    alpha_bar_t = ops.cast(alpha_bar_t, x_t.dtype)
    signal = ops.sqrt(alpha_bar_t)
    noise_level = ops.sqrt(1.0 - alpha_bar_t)
    if prediction_type == "epsilon":
        epsilon_hat = model_output
        x_0_hat = (x_t - noise_level * epsilon_hat) / signal
    elif prediction_type == "v":
        x_0_hat = signal * x_t - noise_level * model_output
        epsilon_hat = signal * model_output + noise_level * x_t
    else:
        raise ValueError(
            f"`prediction_type` expected one of {PREDICTION_TYPES}. "
            f"Received: prediction_type={prediction_type!r}"
        )
    return x_0_hat, epsilon_hat


def ddim_step(
    x_t,
    model_output,
    alpha_bar_t,
    alpha_bar_prev,
    noise,
    eta=0.0,
    prediction_type="epsilon",
    clip_sample=True,
):
    """One generalised DDIM step, from `x_t` to `x_{t_prev}`.

    Args:
        x_t: the current sample.
        model_output: the model's prediction (`epsilon` or `v`) at `x_t`.
        alpha_bar_t: `alpha_bar` at the current timestep.
        alpha_bar_prev: `alpha_bar` at the next timestep visited (`1.0`
            after the last step).
        noise: standard normal noise `z` of the shape of `x_t`; unused when
            `eta` is `0`.
        eta: `0.0` for DDIM, `1.0` for ancestral DDPM. Defaults to `0.0`.
        prediction_type: `"epsilon"` or `"v"`. Defaults to `"epsilon"`.
        clip_sample: whether to clip `x_0_hat` to `[-1, 1]` (and recompute
            `epsilon_hat` from it). Defaults to `True`.

    Returns:
        The sample `x_{t_prev}`.
    """
    x_t = ops.convert_to_tensor(x_t)
    alpha_bar_t = ops.cast(alpha_bar_t, x_t.dtype)
    alpha_bar_prev = ops.cast(alpha_bar_prev, x_t.dtype)
    noise = ops.cast(noise, x_t.dtype)

    # 1. The model's estimates of x_0 and epsilon (eq. 9 of Song et al.).
    x_0_hat, epsilon_hat = split_prediction(
        x_t, model_output, alpha_bar_t, prediction_type
    )
    if clip_sample:
        x_0_hat = ops.clip(x_0_hat, -1.0, 1.0)
        epsilon_hat = (x_t - ops.sqrt(alpha_bar_t) * x_0_hat) / ops.sqrt(
            1.0 - alpha_bar_t
        )

    # 2. sigma_t (eq. 16): eta scales the DDPM posterior standard deviation.
    sigma = eta * ops.sqrt(
        (1.0 - alpha_bar_prev)
        / (1.0 - alpha_bar_t)
        * (1.0 - alpha_bar_t / alpha_bar_prev)
    )

    # 3. x_{t-1} = sqrt(alpha_bar_prev) x_0_hat
    #              + sqrt(1 - alpha_bar_prev - sigma^2) epsilon_hat + sigma z
    #    (eq. 12).
    direction = ops.sqrt(ops.maximum(1.0 - alpha_bar_prev - sigma**2, 0.0))
    return (
        ops.sqrt(alpha_bar_prev) * x_0_hat
        + direction * epsilon_hat
        + sigma * noise
    )
