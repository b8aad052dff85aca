import math

import numpy as np
import pytest
from keras import ops

from pokediff.samplers import ddim_step
from pokediff.samplers import sampler_eta
from pokediff.samplers import sampling_timestep
from pokediff.samplers import split_prediction
from pokediff.schedules import NoiseSchedule


def test_linear_schedule_matches_hand_computed_values():
    schedule = NoiseSchedule(
        "linear", num_train_timesteps=4, beta_start=0.1, beta_end=0.4
    )
    np.testing.assert_allclose(schedule.betas, [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(schedule.alphas, [0.9, 0.8, 0.7, 0.6])
    np.testing.assert_allclose(
        schedule.alphas_cumprod, [0.9, 0.72, 0.504, 0.3024]
    )
    np.testing.assert_allclose(schedule.signal_to_noise_ratio()[0], 0.9 / 0.1)
    assert schedule.alphas_cumprod.dtype == np.float64


def test_default_linear_schedule_is_ddpm():
    schedule = NoiseSchedule("linear")
    assert schedule.betas[0] == pytest.approx(1e-4)
    assert schedule.betas[-1] == pytest.approx(0.02)
    assert len(schedule.betas) == 1000
    assert schedule.alphas_cumprod[-1] == pytest.approx(4.04e-5, rel=1e-2)


def test_cosine_schedule_matches_hand_computed_values():
    schedule = NoiseSchedule("cosine", num_train_timesteps=2)

    def f(t):
        return math.cos((t / 2 + 0.008) / 1.008 * math.pi / 2) ** 2

    beta_0 = 1 - f(1) / f(0)
    beta_1 = min(1 - f(2) / f(1), 0.999)
    np.testing.assert_allclose(schedule.betas, [beta_0, beta_1])
    np.testing.assert_allclose(
        schedule.alphas_cumprod, [1 - beta_0, (1 - beta_0) * (1 - beta_1)]
    )
    # f(2) is cos(pi / 2) ** 2, about 0: the last beta is capped.
    assert beta_1 == 0.999


def test_cosine_alpha_bar_follows_the_cosine():
    schedule = NoiseSchedule("cosine", num_train_timesteps=1000)
    t = 500
    expected = (
        math.cos((501 / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2
        / math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    )
    assert schedule.alphas_cumprod[t] == pytest.approx(expected, rel=1e-9)
    assert np.all(np.diff(schedule.alphas_cumprod) < 0)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"schedule": "quadratic"}, "schedule='quadratic'"),
        ({"num_train_timesteps": 1}, "num_train_timesteps=1"),
    ],
)
def test_bad_schedule_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NoiseSchedule(**kwargs)


def test_sampling_timesteps_are_trailing_and_cover_all_steps():
    steps = [sampling_timestep(i, 50, 1000) for i in range(50)]
    assert steps[0] == 19 and steps[-1] == 999
    assert len(set(np.diff(steps))) == 1
    assert [sampling_timestep(i, 10, 10) for i in range(10)] == list(range(10))
    assert sampling_timestep(-1, 50, 1000) == -1


def test_sampler_names():
    assert sampler_eta("ddim") == 0.0
    assert sampler_eta("ddpm") == 1.0
    with pytest.raises(ValueError, match="sampler='euler'"):
        sampler_eta("euler")


def _forward(x_0, epsilon, alpha_bar):
    x_t = np.sqrt(alpha_bar) * x_0 + np.sqrt(1 - alpha_bar) * epsilon
    return x_t.astype(x_0.dtype)


def test_split_prediction_recovers_x0_and_epsilon():
    rng = np.random.default_rng(0)
    x_0 = rng.uniform(-1, 1, (2, 4, 4, 3)).astype("float32")
    epsilon = rng.normal(size=x_0.shape).astype("float32")
    alpha_bar = 0.3
    x_t = _forward(x_0, epsilon, alpha_bar)
    v = np.sqrt(alpha_bar) * epsilon - np.sqrt(1 - alpha_bar) * x_0
    for prediction_type, output in (("epsilon", epsilon), ("v", v)):
        x_0_hat, epsilon_hat = split_prediction(
            x_t, output, alpha_bar, prediction_type
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(x_0_hat), x_0, atol=1e-5
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(epsilon_hat), epsilon, atol=1e-5
        )


def test_ddim_step_with_eta_zero_is_deterministic_ddim():
    rng = np.random.default_rng(1)
    x_0 = rng.uniform(-1, 1, (1, 2, 2, 3)).astype("float32")
    epsilon = rng.normal(size=x_0.shape).astype("float32")
    a_t, a_prev = 0.5, 0.8
    x_t = _forward(x_0, epsilon, a_t)
    noise = rng.normal(size=x_0.shape).astype("float32")
    x_prev = ddim_step(x_t, epsilon, a_t, a_prev, noise, eta=0.0)
    # With the true epsilon, DDIM lands on the forward process at t_prev.
    np.testing.assert_allclose(
        ops.convert_to_numpy(x_prev), _forward(x_0, epsilon, a_prev), atol=1e-5
    )


def test_ddim_step_with_eta_one_is_the_ddpm_posterior():
    rng = np.random.default_rng(2)
    schedule = NoiseSchedule("linear", num_train_timesteps=1000)
    t = 600
    a_t, a_prev = schedule.alphas_cumprod[t], schedule.alphas_cumprod[t - 1]
    beta_t = schedule.betas[t]
    x_0 = rng.uniform(-1, 1, (1, 2, 2, 3))
    epsilon = rng.normal(size=x_0.shape)
    x_t = _forward(x_0, epsilon, a_t)
    z = rng.normal(size=x_0.shape)
    x_prev = ddim_step(
        x_t.astype("float32"),
        epsilon.astype("float32"),
        np.float32(a_t),
        np.float32(a_prev),
        z.astype("float32"),
        eta=1.0,
    )
    # Ho et al. (2020), eq. 7: the posterior q(x_{t-1} | x_t, x_0).
    mean = (np.sqrt(a_prev) * beta_t / (1 - a_t)) * x_0 + (
        np.sqrt(1 - beta_t) * (1 - a_prev) / (1 - a_t)
    ) * x_t
    variance = (1 - a_prev) / (1 - a_t) * beta_t
    np.testing.assert_allclose(
        ops.convert_to_numpy(x_prev), mean + np.sqrt(variance) * z, atol=1e-4
    )


def test_ddim_step_clips_x0():
    x_t = np.full((1, 1, 1, 3), 5.0, dtype="float32")
    output = np.zeros_like(x_t)
    # x_0_hat = 5 / sqrt(0.25) = 10 is clipped to 1; the last step returns it.
    x_prev = ddim_step(x_t, output, 0.25, 1.0, output, eta=0.0)
    np.testing.assert_allclose(ops.convert_to_numpy(x_prev), 1.0, atol=1e-6)
