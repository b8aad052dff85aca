"""Train a small model on the built-in sprites, sample a grid, save it.

Run it as it is (a few minutes on a laptop CPU), or on tiny settings:

    python examples/quickstart.py
    python examples/quickstart.py --image-size 16 --epochs 1 --num-images 32

Pick the backend with the `KERAS_BACKEND` environment variable
(`tensorflow`, `jax` or `torch`).
"""

import argparse
from pathlib import Path

import keras

import pokediff
from pokediff.datasets import SpriteDataset
from pokediff.datasets import make_sprites
from pokediff.datasets import save_image_grid


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny", choices=pokediff.PRESETS)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument(
        "--widths", help="U-Net widths over the preset's, e.g. 16,32"
    )
    parser.add_argument("--num-images", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=25, help="DDIM steps")
    parser.add_argument("--out", default="quickstart", help="output folder")
    args = parser.parse_args()
    out = Path(args.out)

    # 1. Data: procedurally drawn creatures, coloured and shaped by type.
    images, labels = make_sprites(args.num_images, image_size=args.image_size)
    print(f"Backend: {keras.backend.backend()}; {len(images)} sprites")

    # 2. Model: a preset architecture, trained with AdamW and an
    #    exponential moving average (EMA) of the weights.
    overrides = {"image_size": args.image_size, "seed": 0}
    if args.widths:
        overrides["widths"] = [int(w) for w in args.widths.split(",")]
    model = pokediff.PokemonDiffusion.from_preset(args.preset, **overrides)
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=2e-4, use_ema=True, ema_momentum=0.99
        )
    )
    print(f"Parameters: {model.count_params():,}")
    dataset = SpriteDataset(images, labels, batch_size=args.batch_size, seed=0)
    model.fit(dataset, epochs=args.epochs)
    # At the end of `fit`, Keras sets the weights to their EMA.

    # 3. Sample: one row per type, four sprites each.
    types = ["fire", "water", "grass", "electric", ("water", "flying")]
    labels = [entry for entry in types for _ in range(4)]
    sprites = model.generate(labels, num_steps=args.steps, seed=0)
    grid = save_image_grid(sprites, out / "grid.png", ncols=4, scale=2)
    print(f"Wrote {grid}")

    # 4. Save, and load back on any backend with keras.saving.load_model.
    model.save(out / "model.keras")
    print(f"Wrote {out / 'model.keras'}")


if __name__ == "__main__":
    main()
