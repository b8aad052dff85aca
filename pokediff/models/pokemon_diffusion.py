import contextlib
import logging
import random

import keras
import numpy as np
from keras import ops

from pokediff import backend as pokediff_backend
from pokediff.models.unet import build_unet
from pokediff.pokemon_types import NUM_TYPES
from pokediff.pokemon_types import encode_types
from pokediff.presets import preset_config
from pokediff.samplers import PREDICTION_TYPES
from pokediff.samplers import ddim_step
from pokediff.samplers import sampler_eta
from pokediff.samplers import sampling_timestep
from pokediff.schedules import NoiseSchedule

logger = logging.getLogger("pokediff")


@keras.saving.register_keras_serializable(package="pokediff")
class PokemonDiffusion(keras.Model):
    """A diffusion model of sprites, conditioned on Pokémon type.

    Train it with `compile` and `fit` on uint8 images `(N, H, W, 3)` and
    type labels `(N, 2)` (type ids from `pokediff.TYPES`, `-1` for no
    second type); sample with `generate`. The training objective is the
    usual one of DDPM: draw a timestep `t` and noise `epsilon`, make
    `x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) epsilon`, and
    regress the U-Net's output on `epsilon` (or on `v`) with a mean squared
    error, optionally weighted by min-SNR. Labels are dropped to "no label"
    with probability `label_dropout`, so the same network also learns the
    unconditional model used by classifier-free guidance.

    Args:
        image_size: int. Height and width of the square images. Defaults
            to `32`.
        widths: sequence of int. U-Net channels per level. Defaults to
            `(32, 64, 128)`.
        num_res_blocks: int. Residual blocks per level. Defaults to `2`.
        attention_resolutions: sequence of int. Resolutions with
            self-attention. Defaults to `(8,)`.
        num_heads: int. Attention heads. Defaults to `4`.
        num_classes: int. Number of types. Defaults to `18`.
        num_train_timesteps: int. Diffusion steps `T`. Defaults to `1000`.
        schedule: str. Noise schedule, `"linear"` or `"cosine"`. Defaults
            to `"cosine"`.
        prediction_type: str. What the U-Net predicts, `"epsilon"` or
            `"v"`. Defaults to `"v"`, which learns the type conditioning
            much sooner: near `t = T` the `v` target is `-x_0` itself, so
            the labels matter to the loss there, where `epsilon` is almost
            `x_t` whatever the type.
        label_dropout: float. Probability of training a sample without its
            labels, for classifier-free guidance. Defaults to `0.1`.
        min_snr_gamma: float or `None`. If set, the loss of each sample is
            weighted by min-SNR-gamma (Hang et al., 2023). Defaults to
            `None`.
        dropout: float. Dropout inside the residual blocks. Defaults to
            `0.0`.
        groups: int. Group normalisation groups. Defaults to `8`.
        seed: int or `None`. Seed of the initial weights, of all the
            randomness of training and of `generate` calls made without a
            seed. Defaults to `None`.
        **kwargs: Base model keyword arguments, such as `name` and `dtype`.

    Example:

    ```python
    model = pokediff.PokemonDiffusion(image_size=32, seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(2e-4))
    model.fit(images, labels, batch_size=64, epochs=10)
    sprites = model.generate(["fire", ("water", "flying")], seed=0)
    model.save("pokemon.keras")
    ```

    References:
        - [Ho et al., 2020](https://arxiv.org/abs/2006.11239)
        - [Song et al., 2021](https://arxiv.org/abs/2010.02502)
        - [Ho & Salimans, 2022](https://arxiv.org/abs/2207.12598)
    """

    def __init__(
        self,
        image_size=32,
        widths=(32, 64, 128),
        num_res_blocks=2,
        attention_resolutions=(8,),
        num_heads=4,
        num_classes=NUM_TYPES,
        num_train_timesteps=1000,
        schedule="cosine",
        prediction_type="v",
        label_dropout=0.1,
        min_snr_gamma=None,
        dropout=0.0,
        groups=8,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(
                f"`prediction_type` expected one of {PREDICTION_TYPES}. "
                f"Received: prediction_type={prediction_type!r}"
            )
        if not 0.0 <= label_dropout < 1.0:
            raise ValueError(
                "`label_dropout` expected a probability in [0, 1). "
                f"Received: label_dropout={label_dropout}"
            )
        self.image_size = image_size
        self.widths = tuple(widths)
        self.num_res_blocks = num_res_blocks
        self.attention_resolutions = tuple(attention_resolutions)
        self.num_heads = num_heads
        self.num_classes = num_classes
        self.num_train_timesteps = num_train_timesteps
        self.schedule = schedule
        self.prediction_type = prediction_type
        self.label_dropout = label_dropout
        self.min_snr_gamma = min_snr_gamma
        self.dropout = dropout
        self.groups = groups
        self.seed = seed

        self.noise_schedule = NoiseSchedule(schedule, num_train_timesteps)
        with _initializers_seeded(seed):
            self.denoiser = build_unet(
                image_size=image_size,
                widths=self.widths,
                num_res_blocks=num_res_blocks,
                attention_resolutions=self.attention_resolutions,
                num_heads=num_heads,
                num_classes=num_classes,
                dropout=dropout,
                groups=groups,
                seed=seed,
                dtype=self.dtype_policy,
            )
        self.seed_generator = keras.random.SeedGenerator(
            seed, name="training_seed_generator"
        )
        self.generation_seed_generator = keras.random.SeedGenerator(
            None if seed is None else seed + 1,
            name="generation_seed_generator",
        )
        self._inference_functions = {}
        # Every weight is made above: the model needs no input to build.
        self.built = True

    # Training ---------------------------------------------------------------

    def train_step(self, *args):
        # JAX passes `(state, data)`, TensorFlow and PyTorch `(data,)`. The
        # labels are moved into the inputs so that `call` sees them; the
        # built-in step then does the gradient work on every backend.
        *state, data = args
        return super().train_step(*state, _labels_as_inputs(data))

    def test_step(self, *args):
        *state, data = args
        return super().test_step(*state, _labels_as_inputs(data))

    def call(self, inputs, training=False):
        """One draw of the denoising objective.

        Args:
            inputs: tuple `(images, labels)`: uint8-valued images
                `(batch, H, W, 3)` in `[0, 255]` and type ids `(batch, 2)`.
            training: bool. Whether labels are dropped for guidance.

        Returns:
            A dict with the U-Net's `"prediction"`, the regression
            `"target"` and the per-sample loss `"weight"`.
        """
        images, labels = inputs
        labels = ops.cast(labels, "int32")
        if len(labels.shape) == 1:
            labels = ops.stack([labels, ops.full_like(labels, -1)], axis=1)
        batch = ops.shape(images)[0]

        # 1. x_0 in [-1, 1], t ~ U{0, ..., T - 1}, epsilon ~ N(0, I).
        x_0 = ops.cast(images, "float32") / 127.5 - 1.0
        t = keras.random.randint(
            (batch,), 0, self.num_train_timesteps, seed=self.seed_generator
        )
        epsilon = keras.random.normal(
            ops.shape(x_0), dtype="float32", seed=self.seed_generator
        )

        # 2. x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) epsilon.
        alpha_bar = ops.take(self._alphas_cumprod(), t)[:, None, None, None]
        signal, noise_level = ops.sqrt(alpha_bar), ops.sqrt(1.0 - alpha_bar)
        x_t = signal * x_0 + noise_level * epsilon

        # 3. Drop the labels of some samples to "no label" ([-1, -1]).
        if training and self.label_dropout > 0:
            keep = (
                keras.random.uniform((batch, 1), seed=self.seed_generator)
                >= self.label_dropout
            )
            labels = ops.where(keep, labels, -1)

        # 4. Predict, and pick the target: epsilon, or
        #    v = sqrt(alpha_bar_t) epsilon - sqrt(1 - alpha_bar_t) x_0.
        prediction = self.denoiser(
            [x_t, ops.cast(t, "float32"), labels], training=training
        )
        if self.prediction_type == "epsilon":
            target = epsilon
        else:
            target = signal * epsilon - noise_level * x_0
        return {
            "prediction": ops.cast(prediction, "float32"),
            "target": target,
            "weight": self._loss_weight(alpha_bar[:, 0, 0, 0]),
        }

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        squared_error = ops.mean(
            ops.square(y_pred["prediction"] - y_pred["target"]), axis=(1, 2, 3)
        )
        weight = y_pred["weight"]
        if sample_weight is not None:
            weight = weight * ops.cast(
                ops.reshape(sample_weight, (-1,)), "float32"
            )
        loss = ops.mean(weight * squared_error)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def _alphas_cumprod(self):
        return ops.convert_to_tensor(
            self.noise_schedule.alphas_cumprod.astype("float32")
        )

    def _loss_weight(self, alpha_bar):
        # min-SNR-gamma: the epsilon loss is weighted by min(SNR, gamma) /
        # SNR, the v loss (whose scale is SNR + 1 times that of epsilon's) by
        # min(SNR, gamma) / (SNR + 1).
        if self.min_snr_gamma is None:
            return ops.ones_like(alpha_bar)
        snr = alpha_bar / (1.0 - alpha_bar)
        clipped = ops.minimum(snr, self.min_snr_gamma)
        if self.prediction_type == "epsilon":
            return clipped / snr
        return clipped / (snr + 1.0)

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """Make a model of a named size from `pokediff.PRESETS`.

        A preset is an architecture, not trained weights.

        Args:
            preset: str. `"tiny"`, `"small"` or `"base"`.
            **kwargs: Constructor arguments that override the preset's.

        Example:

        ```python
        model = PokemonDiffusion.from_preset("tiny", seed=0)
        ```
        """
        return cls(**{**preset_config(preset), **kwargs})

    # Sampling ---------------------------------------------------------------

    def generate(
        self,
        labels,
        num_steps=50,
        sampler="ddim",
        guidance_scale=3.0,
        seed=None,
        batch_size=64,
        initial_noise=None,
        verbose=0,
    ):
        """Generate sprites of the given types.

        Args:
            labels: what to draw, one entry per image: a type name or id
                (`"fire"`), a pair (`("water", "flying")`), or an int array
                of shape `(N,)` or `(N, 2)` with `-1` for no second type. A
                row `[-1, -1]` draws without conditioning.
            num_steps: int. Sampling steps. Defaults to `50`.
            sampler: str. `"ddim"` (deterministic) or `"ddpm"` (ancestral;
                the original DDPM sampler when `num_steps` equals
                `num_train_timesteps`). Defaults to `"ddim"`.
            guidance_scale: float. Classifier-free guidance scale `w`: the
                prediction is `uncond + w * (cond - uncond)`; `1.0` uses the
                conditional prediction alone, `0.0` the unconditional one.
                Defaults to `3.0`.
            seed: int or `None`. Seed of the starting noise and of the
                sampler's noise. The same seed gives the same images on the
                same backend. Defaults to `None`, which draws one from the
                model's `seed`.
            batch_size: int. Images sampled at once. Defaults to `64`.
            initial_noise: array of shape `(N, H, W, 3)` or `None`. The
                starting noise `x_T`; drawn from `seed` when `None`.
            verbose: int. `1` shows a progress bar over batches. Defaults to
                `0`.

        Returns:
            uint8 NumPy array of shape `(N, image_size, image_size, 3)`.
        """
        labels = standardize_labels(labels, self.num_classes)
        count = len(labels)
        eta = sampler_eta(sampler)
        if not isinstance(num_steps, (int, np.integer)) or not (
            1 <= num_steps <= self.num_train_timesteps
        ):
            raise ValueError(
                "`num_steps` expected an integer in "
                f"[1, {self.num_train_timesteps}]. Received: "
                f"num_steps={num_steps!r}"
            )
        if batch_size < 1:
            raise ValueError(
                "`batch_size` expected a positive integer. "
                f"Received: batch_size={batch_size}"
            )
        shape = (count, self.image_size, self.image_size, 3)
        if seed is None:
            seed = int(
                ops.convert_to_numpy(
                    keras.random.randint(
                        (), 0, 2**30, seed=self.generation_seed_generator
                    )
                )
            )
        if initial_noise is None:
            initial_noise = ops.convert_to_numpy(
                keras.random.normal(shape, seed=seed)
            )
        initial_noise = np.asarray(initial_noise, dtype="float32")
        if initial_noise.shape != shape:
            raise ValueError(
                f"`initial_noise` expected shape {shape}. Received: "
                f"initial_noise.shape={initial_noise.shape}"
            )

        guided = float(guidance_scale) != 1.0
        sample = self._inference_function(guided)
        progbar = keras.utils.Progbar(count, verbose=verbose, unit_name="image")
        outputs = []
        for batch_index, start in enumerate(range(0, count, batch_size)):
            stop = min(start + batch_size, count)
            images = sample(
                initial_noise[start:stop],
                labels[start:stop],
                np.float32(guidance_scale),
                pokediff_backend.loop_bound(num_steps),
                np.float32(eta),
                np.int32((seed + batch_index) % 2**31),
            )
            outputs.append(ops.convert_to_numpy(images))
            progbar.update(stop)
        return np.concatenate(outputs, axis=0)

    def _inference_function(self, guided):
        if guided not in self._inference_functions:

            def fn(noise, labels, guidance_scale, num_steps, eta, seed):
                return self._sample_loop(
                    noise,
                    labels,
                    guidance_scale,
                    num_steps,
                    eta,
                    seed,
                    guided=guided,
                )

            self._inference_functions[guided] = (
                pokediff_backend.compile_inference_function(self, fn)
            )
        return self._inference_functions[guided]

    def _sample_loop(
        self, noise, labels, guidance_scale, num_steps, eta, seed, guided
    ):
        """The whole reverse process, from noise to uint8 images."""
        alphas_cumprod = self._alphas_cumprod()
        labels = ops.cast(labels, "int32")
        if guided:
            # Conditional and unconditional predictions in one batch.
            labels = ops.concatenate([labels, ops.full_like(labels, -1)], 0)
        batch = ops.shape(noise)[0]
        size = self.num_train_timesteps

        def body(i, x_t):
            step = num_steps - 1 - i
            t = sampling_timestep(step, num_steps, size)
            t_prev = sampling_timestep(step - 1, num_steps, size)
            alpha_bar_t = ops.take(alphas_cumprod, t)
            alpha_bar_prev = ops.where(
                t_prev >= 0,
                ops.take(alphas_cumprod, ops.maximum(t_prev, 0)),
                1.0,
            )

            x_in = ops.concatenate([x_t, x_t], 0) if guided else x_t
            timesteps = ops.ones((ops.shape(x_in)[0],)) * ops.cast(t, "float32")
            output = ops.cast(
                self.denoiser([x_in, timesteps, labels], training=False),
                "float32",
            )
            if guided:
                conditional, unconditional = output[:batch], output[batch:]
                output = unconditional + guidance_scale * (
                    conditional - unconditional
                )

            z = pokediff_backend.step_normal(ops.shape(x_t), seed, i)
            return ddim_step(
                x_t,
                output,
                alpha_bar_t,
                alpha_bar_prev,
                z,
                eta=eta,
                prediction_type=self.prediction_type,
            )

        x_0 = ops.fori_loop(0, num_steps, body, ops.cast(noise, "float32"))
        pixels = ops.round((ops.clip(x_0, -1.0, 1.0) + 1.0) * 127.5)
        return ops.cast(pixels, "uint8")

    # Serialization ----------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_size": self.image_size,
                "widths": list(self.widths),
                "num_res_blocks": self.num_res_blocks,
                "attention_resolutions": list(self.attention_resolutions),
                "num_heads": self.num_heads,
                "num_classes": self.num_classes,
                "num_train_timesteps": self.num_train_timesteps,
                "schedule": self.schedule,
                "prediction_type": self.prediction_type,
                "label_dropout": self.label_dropout,
                "min_snr_gamma": self.min_snr_gamma,
                "dropout": self.dropout,
                "groups": self.groups,
                "seed": self.seed,
            }
        )
        return config


@contextlib.contextmanager
def _initializers_seeded(seed):
    """Draw the initial weights of the layers made inside from `seed`.

    Keras gives an initializer made without a seed one drawn from Python's
    `random` module. Seeding that module for the duration (and putting its
    state back afterwards) makes every such draw follow `seed`, without
    touching the process's own random streams. Does nothing when `seed` is
    `None`.
    """
    if seed is None:
        yield
        return
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def _labels_as_inputs(data):
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    if y is None:
        if isinstance(x, (tuple, list)) and len(x) == 2:
            return data  # already `(images, labels)`
        raise ValueError(
            "PokemonDiffusion expected type labels with the images: "
            "`fit(images, labels)`, or batches of `(images, labels)`, with "
            "labels of shape (batch, 2). Received: images only, of shape "
            f"{tuple(getattr(x, 'shape', ()))}"
        )
    return keras.utils.pack_x_y_sample_weight((x, y), None, sample_weight)


def standardize_labels(labels, num_classes=NUM_TYPES):
    """Turn the `labels` of `generate` into an int32 array `(N, 2)`.

    Accepts a list of type names or ids, or of pairs of them, and int arrays
    of shape `(N,)` or `(N, 2)` with `-1` for no type. Ids must be below
    `num_classes`, the number of types the model was built with.
    """
    if isinstance(labels, str):
        labels = [labels]
    if len(labels) == 0:
        raise ValueError(
            f"`labels` expected at least one entry. Received: labels={labels!r}"
        )
    if isinstance(labels, np.ndarray) or not any(
        isinstance(entry, (str, tuple, list)) for entry in labels
    ):
        ids = np.asarray(labels)
        if ids.ndim == 1:
            ids = np.stack([ids, np.full_like(ids, -1)], axis=1)
        if not np.issubdtype(ids.dtype, np.integer) or ids.shape[1:] != (2,):
            raise ValueError(
                "`labels` expected type ids of shape (N,) or (N, 2). "
                f"Received: labels with shape {ids.shape} and dtype {ids.dtype}"
            )
    else:
        ids = np.array([encode_types(entry) for entry in labels])
    if ids.min() < -1 or ids.max() >= num_classes:
        raise ValueError(
            f"`labels` expected type ids in [-1, {num_classes}) for a model "
            f"of {num_classes} types. Received: values from {ids.min()} to "
            f"{ids.max()}"
        )
    return ids.astype("int32")
