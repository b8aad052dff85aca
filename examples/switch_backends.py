"""One saved model, sampled on every installed Keras backend.

`KERAS_BACKEND` picks the backend, and must be set before Keras is first
imported; so this script runs itself once per backend in a child process,
each loading the same `.keras` file and sampling from the same starting
noise, and compares the sprites they draw.

    python examples/quickstart.py  # writes quickstart/model.keras
    python examples/switch_backends.py quickstart/model.keras
    python examples/switch_backends.py quickstart/model.keras --backends jax
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BACKENDS = ("tensorflow", "jax", "torch")


def sample(model_path, out, steps):
    # In the child: Keras is imported here, after KERAS_BACKEND was set.
    import keras

    from pokediff.training import load_trained_model

    model = load_trained_model(model_path)
    size = model.image_size
    noise = np.random.default_rng(0).standard_normal((4, size, size, 3))
    sprites = model.generate(
        ["fire", "water", "grass", ("water", "flying")],
        num_steps=steps,
        initial_noise=noise,
        seed=0,
    )
    np.save(out, sprites)
    print(f"{keras.backend.backend()}: sampled {sprites.shape}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a .keras file or a run folder")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated backends; missing ones are skipped",
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_out:
        sample(args.model, args.child_out, args.steps)
        return

    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            if importlib.util.find_spec(backend) is None:
                print(f"{backend}: not installed, skipped")
                continue
            out = Path(folder) / f"{backend}.npy"
            subprocess.run(
                [sys.executable, __file__, args.model, "--child-out", str(out)]
                + ["--steps", str(args.steps)],
                env={**os.environ, "KERAS_BACKEND": backend},
                check=True,
            )
            results[backend] = np.load(out)
    first, *others = results
    for backend in others:
        difference = np.abs(
            results[backend].astype(int) - results[first].astype(int)
        )
        print(
            f"{backend} vs {first}: mean pixel difference "
            f"{difference.mean():.2f}, largest {difference.max()} (of 255)"
        )


if __name__ == "__main__":
    main()
