"""The type-conditioned U-Net that predicts noise from a noisy image."""

import itertools

import keras

from pokediff.layers import AttentionBlock
from pokediff.layers import Conv2D
from pokediff.layers import DiffusionBlock
from pokediff.layers import Downsample
from pokediff.layers import GroupNormalization
from pokediff.layers import LabelEmbedding
from pokediff.layers import TimeEmbedding
from pokediff.layers import Upsample


def build_unet(
    image_size=32,
    widths=(32, 64, 128),
    num_res_blocks=2,
    attention_resolutions=(8,),
    num_heads=4,
    num_classes=18,
    dropout=0.0,
    groups=8,
    seed=None,
    dtype=None,
    name="denoiser",
):
    """Build the denoising U-Net as a functional `keras.Model`.

    The network follows DDPM and "Improved DDPM": a 3x3 stem, then for each
    entry of `widths` a level of `num_res_blocks` `DiffusionBlock`s (with an
    `AttentionBlock` after each when the level's resolution is in
    `attention_resolutions`) followed by a `Downsample`; a middle
    block-attention-block; and the mirror image on the way up, where each
    block also receives the matching skip connection. Time and type
    embeddings are added and condition every block.

    Args:
        image_size: int. Height and width of the square images.
        widths: sequence of int. Channels of each level, highest resolution
            first. Each level but the last halves the resolution.
        num_res_blocks: int. `DiffusionBlock`s per level going down.
        attention_resolutions: sequence of int. Resolutions (in pixels) at
            which self-attention is applied.
        num_heads: int. Attention heads.
        num_classes: int. Number of types.
        dropout: float. Dropout inside the residual blocks.
        groups: int. Group normalisation groups.
        seed: int or `None`. Seed of the dropout layers (each block
            takes the next integer).
        dtype: dtype policy of the layers (the output head always computes
            in float32).
        name: str. Name of the model.

    Returns:
        A `keras.Model` mapping `[noisy_images, timesteps, labels]` (shapes
        `(batch, image_size, image_size, 3)`, `(batch,)` and `(batch, 2)`)
        to a prediction of the shape of `noisy_images`.
    """
    num_levels = len(widths)
    if image_size % 2 ** (num_levels - 1):
        raise ValueError(
            f"`image_size` expected a multiple of {2 ** (num_levels - 1)} for "
            f"{num_levels} levels. Received: image_size={image_size}, "
            f"widths={tuple(widths)}"
        )
    embedding_dim = 4 * widths[0]
    # Each block's dropout draws its own masks.
    block_seeds = itertools.count(seed) if seed is not None else None

    def block(filters, label):
        return DiffusionBlock(
            filters,
            groups=groups,
            dropout=dropout,
            seed=next(block_seeds) if block_seeds else None,
            dtype=dtype,
            name=label,
        )

    def attention(label):
        return AttentionBlock(
            num_heads=num_heads, groups=groups, dtype=dtype, name=label
        )

    # Inputs and the conditioning embedding.
    noisy = keras.Input((image_size, image_size, 3), name="noisy_images")
    timesteps = keras.Input((), name="timesteps")
    labels = keras.Input((2,), dtype="int32", name="labels")
    embedding = keras.layers.Add(dtype=dtype, name="embedding")(
        [
            TimeEmbedding(embedding_dim, dtype=dtype, name="time_embedding")(
                timesteps
            ),
            LabelEmbedding(
                embedding_dim,
                num_classes=num_classes,
                dtype=dtype,
                name="label_embedding",
            )(labels),
        ]
    )

    # Down: keep every intermediate output for the skip connections.
    x = Conv2D(widths[0], 3, padding="same", dtype=dtype, name="stem")(noisy)
    skips = [x]
    resolution = image_size
    for level, filters in enumerate(widths):
        for index in range(num_res_blocks):
            x = block(filters, f"down{level}_block{index}")([x, embedding])
            if resolution in attention_resolutions:
                x = attention(f"down{level}_attention{index}")(x)
            skips.append(x)
        if level < num_levels - 1:
            x = Downsample(
                filters, dtype=dtype, name=f"down{level}_downsample"
            )(x)
            skips.append(x)
            resolution //= 2

    # Middle.
    x = block(widths[-1], "middle_block0")([x, embedding])
    x = attention("middle_attention")(x)
    x = block(widths[-1], "middle_block1")([x, embedding])

    # Up: one more block per level than going down, to use every skip.
    for level in reversed(range(num_levels)):
        filters = widths[level]
        for index in range(num_res_blocks + 1):
            x = keras.layers.Concatenate(
                dtype=dtype, name=f"up{level}_concat{index}"
            )([x, skips.pop()])
            x = block(filters, f"up{level}_block{index}")([x, embedding])
            if resolution in attention_resolutions:
                x = attention(f"up{level}_attention{index}")(x)
        if level > 0:
            x = Upsample(filters, dtype=dtype, name=f"up{level}_upsample")(x)
            resolution *= 2

    # Output head, kept in float32 under mixed precision.
    x = GroupNormalization(groups, dtype=dtype, name="head_norm")(x)
    x = keras.layers.Activation("silu", dtype=dtype, name="head_activation")(x)
    outputs = Conv2D(
        3,
        3,
        padding="same",
        kernel_initializer="zeros",
        dtype="float32",
        name="head",
    )(x)
    return keras.Model([noisy, timesteps, labels], outputs, name=name)
