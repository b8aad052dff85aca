import doctest

import keras
import numpy as np
import pytest
from keras import ops

from pokediff import layers
from pokediff.layers import AttentionBlock
from pokediff.layers import DiffusionBlock
from pokediff.layers import Downsample
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


@pytest.mark.parametrize(
    "module",
    [
        layers.time_embedding,
        layers.label_embedding,
        layers.diffusion_block,
        layers.attention_block,
        layers.resampling,
    ],
    ids=lambda m: m.__name__,
)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, extraglobs={"keras": keras})
    assert result.attempted > 0
    assert result.failed == 0
