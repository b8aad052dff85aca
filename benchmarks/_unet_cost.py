"""Analytic parameter and FLOP counts of the pokediff U-Net and its twin.

The walk below follows `pokediff.models.unet.build_unet` layer by layer.
`variant="diffusers"` counts the `diffusers.UNet2DModel` built by
`_contenders.diffusers_config` instead; the two differ only in the
conditioning embeddings and in one group norm per residual block:

- time embedding: pokediff feeds `4 * widths[0]` sinusoids to its MLP,
  diffusers `widths[0]`;
- labels: pokediff embeds two types (a table of `num_classes + 1` rows)
  and passes their mean through a two-layer MLP; diffusers' class
  embedding is the table alone (one type per image);
- the second group norm of each residual block has an affine scale and
  shift in diffusers, none in pokediff (the embedding supplies both).

FLOPs are multiply-accumulates times two, forward pass, for one image:
convolutions, dense layers (the embedding MLPs included) and the two
matmuls of attention (`Q K^T` and `A V`). Normalisation, activations,
softmax, additions and resampling copies are not counted; they are a few
per cent of the total. A training step costs about three forward passes
(forward, and a backward with gradients for both inputs and weights).
"""

VARIANTS = ("pokediff", "diffusers")


class _Counter:
    def __init__(self):
        self.params = 0
        self.macs = 0

    def conv(self, out_size, cin, cout, kernel):
        self.params += kernel * kernel * cin * cout + cout
        self.macs += out_size * out_size * kernel * kernel * cin * cout

    def dense(self, tokens, cin, cout):
        self.params += cin * cout + cout
        self.macs += tokens * cin * cout

    def norm(self, channels):
        self.params += 2 * channels


def unet_cost(
    image_size,
    widths,
    num_res_blocks,
    attention_resolutions,
    num_classes=18,
    variant="pokediff",
    **unused,
):
    """Parameters and forward FLOPs per image of a pokediff-style U-Net.

    Args:
        image_size, widths, num_res_blocks, attention_resolutions,
            num_classes: the `PokemonDiffusion` constructor arguments (a
            preset dict can be passed with `**`).
        variant: `"pokediff"` or `"diffusers"`.

    Returns:
        dict with `params` and `forward_flops` (per image).
    """
    if variant not in VARIANTS:
        raise ValueError(
            f"`variant` expected one of {VARIANTS}. Received: "
            f"variant={variant!r}"
        )
    pokediff = variant == "pokediff"
    count = _Counter()
    embedding_dim = 4 * widths[0]

    # Conditioning: per image, so `tokens=1`.
    count.dense(1, embedding_dim if pokediff else widths[0], embedding_dim)
    count.dense(1, embedding_dim, embedding_dim)
    count.params += (num_classes + 1) * embedding_dim
    if pokediff:
        count.dense(1, embedding_dim, embedding_dim)
        count.dense(1, embedding_dim, embedding_dim)

    def block(size, cin, cout):
        count.norm(cin)
        count.conv(size, cin, cout, 3)
        count.dense(1, embedding_dim, 2 * cout)
        if not pokediff:
            count.norm(cout)
        count.conv(size, cout, cout, 3)
        if cin != cout:
            count.conv(size, cin, cout, 1)

    def attention(size, channels):
        tokens = size * size
        count.norm(channels)
        count.dense(tokens, channels, 3 * channels)
        count.macs += 2 * tokens * tokens * channels
        count.dense(tokens, channels, channels)

    # Down, keeping the channels of every skip connection.
    count.conv(image_size, 3, widths[0], 3)
    skips = [widths[0]]
    channels = widths[0]
    size = image_size
    for level, filters in enumerate(widths):
        for _ in range(num_res_blocks):
            block(size, channels, filters)
            channels = filters
            if size in attention_resolutions:
                attention(size, channels)
            skips.append(channels)
        if level < len(widths) - 1:
            size //= 2
            count.conv(size, channels, channels, 3)
            skips.append(channels)

    # Middle.
    block(size, channels, channels)
    attention(size, channels)
    block(size, channels, channels)

    # Up.
    for level in reversed(range(len(widths))):
        filters = widths[level]
        for _ in range(num_res_blocks + 1):
            block(size, channels + skips.pop(), filters)
            channels = filters
            if size in attention_resolutions:
                attention(size, channels)
        if level > 0:
            size *= 2
            count.conv(size, channels, channels, 3)

    # Head.
    count.norm(channels)
    count.conv(image_size, channels, 3, 3)
    return {"params": count.params, "forward_flops": 2 * count.macs}
