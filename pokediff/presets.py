"""Named model sizes: the one place that defines them.

A preset is a set of `PokemonDiffusion` constructor arguments (an
architecture, no weights). Parameter counts are listed in the presets
table of `docs/cli.md`.
"""

PRESETS = {
    # CPU demos and tests: 32x32, trains in minutes on a laptop.
    "tiny": {
        "image_size": 32,
        "widths": (32, 64, 96),
        "num_res_blocks": 1,
        "attention_resolutions": (8,),
        "num_heads": 4,
    },
    # 64x64; the size of the benchmarks against diffusers.
    "small": {
        "image_size": 64,
        "widths": (32, 64, 96, 128),
        "num_res_blocks": 2,
        "attention_resolutions": (8,),
        "num_heads": 4,
    },
    # 64x64 with attention at 16x16 too, for a GPU.
    "base": {
        "image_size": 64,
        "widths": (64, 128, 192, 256),
        "num_res_blocks": 2,
        "attention_resolutions": (8, 16),
        "num_heads": 4,
    },
}


def preset_config(name):
    """Return a copy of the constructor arguments of preset `name`."""
    if name not in PRESETS:
        raise ValueError(
            f"`preset` expected one of {tuple(PRESETS)}. Received: "
            f"preset={name!r}"
        )
    return dict(PRESETS[name])
