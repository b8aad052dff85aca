"""Sample dual-type sprites at several guidance scales, into one grid.

Each row is a guidance scale, each column a type pair; all cells of a
column start from the same noise, so a column shows what guidance does:
`0` ignores the types, `1` is the plain conditional model, larger values
push harder towards them.

    python examples/dual_type_guidance.py runs/pokediff
    python examples/dual_type_guidance.py quickstart/model.keras \\
        --pairs fire/flying,water/ice --scales 0,1,4 --steps 10
"""

import argparse

import keras
import numpy as np

from pokediff.datasets import save_image_grid
from pokediff.training import load_trained_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a run folder or a .keras file")
    parser.add_argument(
        "--pairs",
        default="fire/flying,water/ice,grass/poison,bug/steel,ghost/dragon",
        help="comma-separated type pairs",
    )
    parser.add_argument("--scales", default="0,1,2,4,7")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="dual_type_guidance.png")
    args = parser.parse_args()

    model = load_trained_model(args.model)
    pairs = [tuple(pair.split("/")) for pair in args.pairs.split(",")]
    scales = [float(scale) for scale in args.scales.split(",")]
    print(f"Backend: {keras.backend.backend()}")

    # The same starting noise in every row.
    shape = (len(pairs), model.image_size, model.image_size, 3)
    noise = np.random.default_rng(args.seed).standard_normal(shape)
    rows = []
    for scale in scales:
        rows.append(
            model.generate(
                pairs,
                num_steps=args.steps,
                guidance_scale=scale,
                initial_noise=noise,
                seed=args.seed,
            )
        )
        print(f"guidance {scale:g}: {len(pairs)} sprites")
    grid = np.concatenate(rows)
    path = save_image_grid(grid, args.out, ncols=len(pairs), scale=2)
    print(f"Wrote {path}: rows are scales {scales}, columns {args.pairs}")


if __name__ == "__main__":
    main()
