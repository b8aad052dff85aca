"""`fit` with every kind of input, built-in Keras features, and learning."""

import importlib.util

import keras
import numpy as np
import pytest
from conftest import TINY_CONFIG
from conftest import make_colour_data

import pokediff
from pokediff.datasets import SpriteDataset
from pokediff.optimizers import AdamWEMAWarmup

BACKEND = keras.backend.backend()


def fit_tiny(data, **compile_kwargs):
    model = pokediff.PokemonDiffusion(**TINY_CONFIG)
    optimizer = compile_kwargs.pop("optimizer", keras.optimizers.Adam(1e-3))
    model.compile(optimizer=optimizer, **compile_kwargs)
    return model, model.fit(data, epochs=1, verbose=0)


def test_fit_on_a_py_dataset(colour_data):
    images, labels = colour_data
    dataset = SpriteDataset(images, labels, batch_size=32, seed=0)
    _, history = fit_tiny(dataset)
    assert np.isfinite(history.history["loss"][0])


def test_fit_on_a_tf_data_dataset(colour_data):
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed")
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(colour_data).batch(32)
    _, history = fit_tiny(dataset)
    assert np.isfinite(history.history["loss"][0])


def test_fit_on_a_torch_data_loader(colour_data):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed")
    import torch

    images, labels = colour_data
    tensors = torch.utils.data.TensorDataset(
        torch.from_numpy(images), torch.from_numpy(labels)
    )
    loader = torch.utils.data.DataLoader(tensors, batch_size=32)
    _, history = fit_tiny(loader)
    assert np.isfinite(history.history["loss"][0])


def test_fit_with_validation_callbacks_and_ema(colour_data):
    images, labels = colour_data
    model = pokediff.PokemonDiffusion(**TINY_CONFIG)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3, use_ema=True, ema_momentum=0.9)
    )
    epochs_seen = []
    callback = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epochs_seen.append((epoch, logs))
    )
    history = model.fit(
        images[:64],
        labels[:64],
        validation_data=(images[64:], labels[64:]),
        batch_size=16,
        epochs=2,
        callbacks=[callback],
        verbose=0,
    )
    assert [epoch for epoch, _ in epochs_seen] == [0, 1]
    assert set(history.history) >= {"loss", "val_loss"}
    assert all(np.isfinite(history.history["val_loss"]))
    # With EMA, fit ends by writing the averaged weights into the model.
    averages = model.optimizer._model_variables_moving_average
    for variable, average in zip(
        model.trainable_variables, averages, strict=True
    ):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(variable),
            keras.ops.convert_to_numpy(average),
        )
    assert model.evaluate(images, labels, verbose=0) > 0


def test_fit_with_jit_compile(colour_data):
    if BACKEND == "torch":
        pytest.skip(
            "jit_compile on PyTorch is torch.compile, which takes minutes "
            "to compile the U-Net on a CPU"
        )
    _, history = fit_tiny(colour_data, jit_compile=True)
    assert np.isfinite(history.history["loss"][0])


def test_fit_under_mixed_precision(colour_data):
    images, labels = colour_data
    model = pokediff.PokemonDiffusion(**TINY_CONFIG, dtype="mixed_bfloat16")
    assert model.denoiser.get_layer("stem").compute_dtype == "bfloat16"
    assert model.denoiser.get_layer("head").compute_dtype == "float32"
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(images, labels, batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    sprites = model.generate(["fire"], num_steps=2, seed=0)
    assert sprites.dtype == np.uint8


def test_training_randomness_follows_the_seed(colour_data):
    images, labels = colour_data

    def training_loss(seed):
        # The model's seed alone fixes its weights, and the timesteps, noise
        # and dropped labels that training draws.
        model = pokediff.PokemonDiffusion(**dict(TINY_CONFIG, seed=seed))
        outputs = model((images[:32], labels[:32]), training=True)
        return float(
            keras.ops.convert_to_numpy(model.compute_loss(y_pred=outputs))
        )

    first = training_loss(0)
    assert training_loss(0) == pytest.approx(first, rel=1e-6)
    assert training_loss(1) != pytest.approx(first, rel=1e-3)


def test_min_snr_weights_match_hand_computed_values():
    model = pokediff.PokemonDiffusion(
        **TINY_CONFIG, min_snr_gamma=5.0, prediction_type="epsilon"
    )
    alpha_bar = np.array([0.5, 0.9, 0.99], dtype="float32")
    snr = alpha_bar / (1 - alpha_bar)  # 1, 9, 99
    weights = keras.ops.convert_to_numpy(model._loss_weight(alpha_bar))
    np.testing.assert_allclose(weights, np.minimum(snr, 5.0) / snr, rtol=1e-5)
    v_model = pokediff.PokemonDiffusion(
        **TINY_CONFIG, min_snr_gamma=5.0, prediction_type="v"
    )
    v_weights = keras.ops.convert_to_numpy(v_model._loss_weight(alpha_bar))
    np.testing.assert_allclose(
        v_weights, np.minimum(snr, 5.0) / (snr + 1), rtol=1e-5
    )


@pytest.mark.slow
def test_training_lowers_the_loss_and_conditioning_works():
    """320 steps on solid-colour sprites: red fire, blue water, green
    grass. Sampling each type must give its colour back."""
    images, labels = make_colour_data(512, seed=1)
    keras.utils.set_random_seed(0)
    model = pokediff.PokemonDiffusion(
        **dict(TINY_CONFIG, widths=(32, 32)), label_dropout=0.15
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(images, labels, batch_size=16, epochs=10, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses

    requested = np.repeat([1, 2, 4], 4)
    sprites = model.generate(
        requested, num_steps=20, guidance_scale=2.0, seed=0
    ).astype(float)
    channel_of_type = {1: 0, 2: 2, 4: 1}  # fire red, water blue, grass green
    for type_id, channel in channel_of_type.items():
        mean_colour = sprites[requested == type_id].mean(axis=(0, 1, 2))
        others = np.delete(mean_colour, channel)
        assert mean_colour[channel] > others.max() + 60, (
            pokediff.TYPES[type_id],
            mean_colour,
        )


@pytest.mark.slow
def test_epsilon_prediction_lowers_the_loss():
    images, labels = make_colour_data(256, seed=2)
    keras.utils.set_random_seed(0)
    model = pokediff.PokemonDiffusion(**TINY_CONFIG, prediction_type="epsilon")
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(images, labels, batch_size=32, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


def test_ema_warmup_momentum_and_average_match_hand_computed_values():
    optimizer = AdamWEMAWarmup(learning_rate=0.1, ema_momentum=0.999)
    momentum = [
        float(keras.ops.convert_to_numpy(optimizer.ema_momentum_at(step)))
        for step in (0, 10, 90, 10**6)
    ]
    np.testing.assert_allclose(momentum, [0.0, 0.5, 0.9, 0.999], rtol=1e-6)

    variable = keras.Variable(np.ones(3, "float32"))
    optimizer.build([variable])
    weights = []
    for _ in range(3):
        optimizer.apply_gradients([(keras.ops.ones(3), variable)])
        weights.append(keras.ops.convert_to_numpy(variable))
    # Step 0 copies the weights; step t then mixes with t / (10 + t).
    average = weights[0]
    for step, value in enumerate(weights[1:], start=1):
        average = step / (10 + step) * average + 10 / (10 + step) * value
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(
            optimizer._model_variables_moving_average[0]
        ),
        average,
        rtol=1e-5,
    )
