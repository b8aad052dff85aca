import keras
import numpy as np
import pytest
from keras import ops

from pokediff.layers import AttentionBlock
from pokediff.layers import Conv2D
from pokediff.layers import DiffusionBlock
from pokediff.layers import Downsample
from pokediff.layers import GroupNormalization
from pokediff.layers import LabelEmbedding
from pokediff.layers import TimeEmbedding
from pokediff.layers import Upsample

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 8, 8, 8)).astype("float32")
EMBEDDING = RNG.normal(size=(2, 32)).astype("float32")

LAYER_CASES = [
    (TimeEmbedding, {"embedding_dim": 16}, np.array([0.0, 500.0]), (2, 16)),
    (
        LabelEmbedding,
        {"embedding_dim": 8, "num_classes": 18},
        np.array([[1, 9], [2, -1]], dtype="int32"),
        (2, 8),
    ),
    (DiffusionBlock, {"filters": 16}, [X, EMBEDDING], (2, 8, 8, 16)),
    (DiffusionBlock, {"filters": 8, "dropout": 0.1}, [X, EMBEDDING], X.shape),
    (AttentionBlock, {"num_heads": 2}, X, X.shape),
    (Downsample, {"filters": 16}, X, (2, 4, 4, 16)),
    (Upsample, {"filters": 4}, X, (2, 16, 16, 4)),
    (Conv2D, {"filters": 4, "kernel_size": (3, 3)}, X, (2, 6, 6, 4)),
    (GroupNormalization, {"groups": 4}, X, X.shape),
]


def _name(value):
    return getattr(value, "__name__", "")


def randomize_weights(layer, seed=0):
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(0, 0.1, variable.shape).astype("float32"))


@pytest.mark.parametrize("cls,config,inputs,shape", LAYER_CASES, ids=_name)
def test_output_shape_and_compute_output_shape(cls, config, inputs, shape):
    layer = cls(**config)
    outputs = layer(inputs)
    assert tuple(outputs.shape) == shape
    input_shape = (
        [np.shape(i) for i in inputs]
        if isinstance(inputs, list)
        else np.shape(inputs)
    )
    assert tuple(layer.compute_output_shape(input_shape)) == shape


@pytest.mark.parametrize("cls,config,inputs,shape", LAYER_CASES, ids=_name)
def test_config_and_serialization_round_trip(cls, config, inputs, shape):
    layer = cls(name="layer_under_test", **config)
    layer(inputs)
    randomize_weights(layer)
    for key, value in config.items():
        assert getattr(layer, key) == value

    restored = cls.from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()

    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"pokediff>{cls.__name__}"
    deserialized = keras.saving.deserialize_keras_object(serialized)
    deserialized(inputs)
    deserialized.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        ops.convert_to_numpy(deserialized(inputs)),
        ops.convert_to_numpy(layer(inputs)),
        atol=1e-6,
    )


def test_time_embedding_sinusoids_match_hand_computed():
    layer = TimeEmbedding(embedding_dim=4, max_period=100.0)
    features = ops.convert_to_numpy(layer.sinusoids(np.array([0.0, 3.0])))
    # Frequencies are 100 ** (-i / 2) for i = 0, 1: 1 and 0.1.
    expected = np.array(
        [
            [1.0, 1.0, 0.0, 0.0],
            [np.cos(3.0), np.cos(0.3), np.sin(3.0), np.sin(0.3)],
        ]
    )
    np.testing.assert_allclose(features, expected, atol=1e-6)


def test_label_embedding_ignores_type_order_and_has_a_no_label_entry():
    layer = LabelEmbedding(embedding_dim=8, num_classes=18)
    labels = np.array(
        [[1, 9], [9, 1], [2, -1], [-1, 2], [-1, -1], [2, 2]], dtype="int32"
    )
    out = ops.convert_to_numpy(layer(labels))
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    np.testing.assert_allclose(out[2], out[3], atol=1e-6)
    # Both slots holding the same type embed as that single type.
    np.testing.assert_allclose(out[2], out[5], atol=1e-6)
    assert not np.allclose(out[4], out[2])
    assert not np.allclose(out[0], out[2])

    table = ops.convert_to_numpy(layer.table.embeddings)
    hidden = layer.hidden(ops.convert_to_tensor(table[18:19]))
    no_label = ops.convert_to_numpy(layer.output_dense(hidden))
    np.testing.assert_allclose(out[4], no_label[0], atol=1e-6)


def test_label_embedding_accepts_single_type_vectors():
    layer = LabelEmbedding(embedding_dim=8)
    single = ops.convert_to_numpy(layer(np.array([3, 4], dtype="int32")))
    paired = ops.convert_to_numpy(
        layer(np.array([[3, -1], [4, -1]], dtype="int32"))
    )
    np.testing.assert_allclose(single, paired, atol=1e-6)


def test_new_blocks_are_the_identity_plus_skip():
    # The last convolution of a block and the attention output start at 0.
    block = DiffusionBlock(filters=8)
    np.testing.assert_allclose(
        ops.convert_to_numpy(block([X, EMBEDDING])), X, atol=1e-6
    )
    attention = AttentionBlock(num_heads=2)
    np.testing.assert_allclose(ops.convert_to_numpy(attention(X)), X, atol=1e-6)


def test_diffusion_block_uses_the_embedding():
    block = DiffusionBlock(filters=8)
    block([X, EMBEDDING])
    randomize_weights(block)
    a = ops.convert_to_numpy(block([X, EMBEDDING]))
    b = ops.convert_to_numpy(block([X, EMBEDDING * 2.0]))
    assert not np.allclose(a, b)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: TimeEmbedding(embedding_dim=7), "embedding_dim=7"),
        (lambda: DiffusionBlock(filters=12, groups=8), "groups=8, filters=12"),
        (lambda: LabelEmbedding(embedding_dim=8, num_classes=0), "num_classes"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_attention_heads_must_divide_channels():
    with pytest.raises(ValueError, match="num_heads=3"):
        AttentionBlock(num_heads=3)(X)


def test_mixed_precision_layer_outputs():
    block = DiffusionBlock(filters=8, dtype="mixed_float16")
    out = block([X, EMBEDDING])
    assert keras.backend.standardize_dtype(out.dtype) == "float16"


CONV_CASES = [
    {"kernel_size": 3, "padding": "same"},
    {"kernel_size": 3, "padding": "same", "strides": 2},
    {"kernel_size": 3, "padding": "valid", "strides": 2},
    {"kernel_size": 1, "use_bias": False},
    {"kernel_size": 4, "padding": "same", "activation": "relu"},
]


def _train_once(layer, inputs, seed=0):
    """One SGD step of `layer` behind a dense layer; all updated weights.

    The dense layer in front makes the gradient flow into `layer`'s input
    too, as it does inside the U-Net.
    """
    front = keras.layers.Dense(inputs.shape[-1], kernel_initializer="identity")
    model = keras.Sequential([keras.Input(inputs.shape[1:]), front, layer])
    randomize_weights(layer, seed)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    target = np.zeros((len(inputs), *model.output_shape[1:]), "float32")
    model.train_on_batch(inputs, target)
    return [ops.convert_to_numpy(w) for w in model.weights]


def assert_same_as_keras(make_ours, make_reference, inputs):
    """Same outputs and same gradient step as the Keras layer."""
    ours, reference = make_ours(), make_reference()
    ours.build(inputs.shape)
    reference.build(inputs.shape)
    randomize_weights(ours)
    reference.set_weights(ours.get_weights())
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours(inputs)),
        ops.convert_to_numpy(reference(inputs)),
        atol=1e-5,
    )
    for got, expected in zip(
        _train_once(make_ours(), inputs),
        _train_once(make_reference(), inputs),
        strict=True,
    ):
        np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("config", CONV_CASES, ids=str)
@pytest.mark.parametrize("size", [8, 7])
def test_conv2d_computes_what_keras_conv2d_computes(config, size):
    # The PyTorch fast path must change neither the function nor its
    # gradient.
    assert_same_as_keras(
        lambda: Conv2D(5, **config),
        lambda: keras.layers.Conv2D(5, **config),
        RNG.normal(size=(2, size, size, 8)).astype("float32"),
    )


@pytest.mark.parametrize(
    "config",
    [{}, {"center": False}, {"scale": False}, {"epsilon": 1e-3}],
    ids=str,
)
def test_group_normalization_computes_what_keras_computes(config):
    assert_same_as_keras(
        lambda: GroupNormalization(groups=4, **config),
        lambda: keras.layers.GroupNormalization(groups=4, **config),
        3.0 + RNG.normal(size=(2, 6, 6, 8)).astype("float32"),
    )


def test_group_normalization_keeps_float32_statistics_in_mixed_precision():
    # Large values whose variance float16 alone would get wrong.
    inputs = (100.0 + RNG.normal(size=(2, 4, 4, 8))).astype("float16")
    ours = GroupNormalization(groups=2, dtype="mixed_float16")
    reference = keras.layers.GroupNormalization(groups=2, dtype="mixed_float16")
    out = ours(inputs)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    np.testing.assert_allclose(
        ops.convert_to_numpy(out).astype("float32"),
        ops.convert_to_numpy(reference(inputs)).astype("float32"),
        atol=2e-2,
    )


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: Conv2D(4, 3, dilation_rate=2), "dilation_rate"),
        (lambda: Conv2D(4, 3, strides=(1, 2)), "strides"),
        (lambda: Conv2D(4, 3, data_format="channels_first"), "data_format"),
        (lambda: GroupNormalization(2, axis=1), "axis=1"),
    ],
)
def test_fast_layers_reject_what_they_do_not_support(make, message):
    with pytest.raises(ValueError, match=message):
        make()
