"""Noise schedules of the forward diffusion process.

Symbols follow Ho et al. (2020): `beta_t` is the variance added at step `t`,
`alpha_t = 1 - beta_t` and `alpha_bar_t = prod_{s <= t} alpha_s`, so that
`x_t = sqrt(alpha_bar_t) * x_0 + sqrt(1 - alpha_bar_t) * epsilon`.
"""

import math

import numpy as np

SCHEDULES = ("linear", "cosine")


class NoiseSchedule:
    """The `beta_t`, `alpha_t` and `alpha_bar_t` arrays of a schedule.

    The arrays are computed once, in float64 NumPy, when the schedule is
    made; models cast them to their compute dtype.

    Args:
        schedule: str. `"linear"` (Ho et al., 2020: `beta_t` evenly spaced
            from `beta_start` to `beta_end`) or `"cosine"` (Nichol &
            Dhariwal, 2021: `alpha_bar_t` follows a squared cosine, with
            `beta_t` capped at `0.999`). Defaults to `"cosine"`.
        num_train_timesteps: int. Number of diffusion steps `T`. Defaults
            to `1000`.
        beta_start: float. First `beta` of the linear schedule. Defaults to
            `1e-4`.
        beta_end: float. Last `beta` of the linear schedule. Defaults to
            `0.02`.
        cosine_offset: float. The offset `s` of the cosine schedule, which
            keeps `beta_0` from being vanishingly small. Defaults to
            `0.008`.

    Example:

    >>> schedule = NoiseSchedule("linear", num_train_timesteps=1000)
    >>> float(schedule.betas[0]), float(schedule.betas[-1])
    (0.0001, 0.02)
    """

    def __init__(
        self,
        schedule="cosine",
        num_train_timesteps=1000,
        beta_start=1e-4,
        beta_end=0.02,
        cosine_offset=0.008,
    ):
        if not isinstance(num_train_timesteps, int) or num_train_timesteps < 2:
            raise ValueError(
                "`num_train_timesteps` expected an integer >= 2. "
                f"Received: num_train_timesteps={num_train_timesteps!r}"
            )
        self.schedule = schedule
        self.num_train_timesteps = num_train_timesteps
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.cosine_offset = cosine_offset

        if schedule == "linear":
            betas = np.linspace(
                beta_start, beta_end, num_train_timesteps, dtype=np.float64
            )
        elif schedule == "cosine":
            betas = cosine_betas(num_train_timesteps, cosine_offset)
        else:
            raise ValueError(
                f"`schedule` expected one of {SCHEDULES}. "
                f"Received: schedule={schedule!r}"
            )
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(self.alphas)

    def signal_to_noise_ratio(self):
        """`SNR(t) = alpha_bar_t / (1 - alpha_bar_t)` for every step."""
        return self.alphas_cumprod / (1.0 - self.alphas_cumprod)


def cosine_betas(num_train_timesteps, offset=0.008, max_beta=0.999):
    """`beta_t` of the cosine schedule (Nichol & Dhariwal, 2021, eq. 17).

    `alpha_bar(t) = f(t) / f(0)` with
    `f(t) = cos(((t / T + s) / (1 + s)) * pi / 2) ** 2`, and
    `beta_t = min(1 - alpha_bar(t + 1) / alpha_bar(t), max_beta)`.
    """

    def f(t):
        return (
            math.cos(
                (t / num_train_timesteps + offset) / (1 + offset) * math.pi / 2
            )
            ** 2
        )

    return np.array(
        [
            min(1.0 - f(t + 1) / f(t), max_beta)
            for t in range(num_train_timesteps)
        ],
        dtype=np.float64,
    )
