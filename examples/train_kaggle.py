"""Train on a Kaggle "Pokemon Images and Types" folder, with checkpoints.

Download the data set (a `pokemon.csv` next to an `images/` folder), then:

    python examples/train_kaggle.py --data path/to/pokemon --out runs/kaggle

Run the same command again to resume after the last finished epoch. The
run folder holds `config.json`, `checkpoint.keras`, `state.json`,
`log.csv` and a sample grid per epoch under `samples/` (see
`docs/cli.md`). `pokediff train --data path/to/pokemon` does the same from
the command line.
"""

import argparse

import keras

import pokediff
from pokediff import training
from pokediff.datasets import load_images


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the data set folder")
    parser.add_argument("--out", default="runs/kaggle", help="run folder")
    parser.add_argument("--preset", default="tiny", choices=pokediff.PRESETS)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument(
        "--widths", help="U-Net widths over the preset's, e.g. 16,32"
    )
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sample-every", type=int, default=10)
    parser.add_argument("--sample-steps", type=int, default=25)
    args = parser.parse_args()

    # Transparent pixels become white; images are padded and resized.
    images, labels = load_images(args.data, image_size=args.image_size)
    print(f"Backend: {keras.backend.backend()}; {len(images)} images")

    model_config = dict(
        pokediff.PRESETS[args.preset], image_size=args.image_size, seed=0
    )
    if args.widths:
        model_config["widths"] = [int(w) for w in args.widths.split(",")]
    model = training.train(
        args.out,
        images,
        labels,
        model_config,
        epochs=args.epochs,
        settings={"batch_size": args.batch_size},
        data={"source": args.data, "num_images": len(images)},
        sample_every=args.sample_every,
        samples_per_type=4,
        sample_steps=args.sample_steps,
    )
    run = training.TrainingRun(args.out)
    print(f"Epochs done: {run.epochs_completed}; run folder: {args.out}")
    sprites = model.generate(
        [("grass", "poison")] * 4, num_steps=args.sample_steps, seed=0
    )
    print(f"Sampled {len(sprites)} grass/poison sprites with the EMA weights")


if __name__ == "__main__":
    main()
