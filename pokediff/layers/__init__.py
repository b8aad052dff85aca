"""Keras 3 layers of the pokediff U-Net."""

from pokediff.layers.attention_block import AttentionBlock
from pokediff.layers.convolution import Conv2D
from pokediff.layers.diffusion_block import DiffusionBlock
from pokediff.layers.group_normalization import GroupNormalization
from pokediff.layers.label_embedding import LabelEmbedding
from pokediff.layers.resampling import Downsample
from pokediff.layers.resampling import Upsample
from pokediff.layers.time_embedding import TimeEmbedding

__all__ = [
    "AttentionBlock",
    "Conv2D",
    "DiffusionBlock",
    "Downsample",
    "GroupNormalization",
    "LabelEmbedding",
    "TimeEmbedding",
    "Upsample",
]
