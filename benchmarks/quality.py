"""Measure what pokediff models learn: training variants and sampler settings.

Trains each training variant with `pokediff train` (one process per run,
resumable: a finished run folder is reused), then scores every run with
`pokediff.evaluation.evaluate_run`, all against one type classifier, so
that the rows of the table compare directly. The sampling ablations
(guidance scale, DDIM steps against DDPM, EMA) are evaluated on the
baseline run.

Usage (the commands behind `docs/results.md`):

    # built-in sprites: every training variant, and the sampling
    # ablations of the baseline
    python benchmarks/quality.py --runs runs/quality
    # real sprites: the baseline, evaluated on its way to the last epoch
    python benchmarks/quality.py --data ../shared/data/pokemon \\
        --runs runs/quality-real --variants baseline --sampling guidance \\
        --epochs 110 --stages 10,25,50

Every run is evaluated with the study's sampler (--sampler, --steps,
--guidance: DDPM, 250 steps, guidance 3). It prints a Markdown table and
writes every report to `--out`. Run again with the same settings, it keeps
the rows already in `--out` and evaluates only what is missing.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from datetime import timezone
from pathlib import Path

# Each training variant: model arguments over the study's ("config") and
# training settings over the command line's.
VARIANTS = {
    "baseline": {},
    "epsilon": {"config": {"prediction_type": "epsilon"}},
    "linear": {"config": {"schedule": "linear"}},
    "no_min_snr": {"config": {"min_snr_gamma": None}},
    "min_snr_5": {"config": {"min_snr_gamma": 5.0}},
    "batch_64": {"batch_size": 64},
    "lr_2e-3": {"learning_rate": 2e-3},
}
# Sampling ablations on the baseline run, as (sampler, steps, guidance,
# EMA); a guidance of `None` stands for the study's --guidance. Guidance and
# EMA are compared with `generate`'s default sampler, DDIM with 50 steps.
SAMPLING = (
    ("ddim", 50, 0.0, True),
    ("ddim", 50, 1.0, True),
    ("ddim", 50, 2.0, True),
    ("ddim", 50, None, True),
    ("ddim", 50, 5.0, True),
    ("ddim", 50, None, False),
    ("ddim", 10, None, True),
    ("ddim", 25, None, True),
    ("ddim", 250, None, True),
    ("ddpm", 250, None, True),
    ("ddpm", 1000, None, True),
)
# The settings that make two studies' rows of a run comparable.
SAME_STUDY = (
    "runs",
    "data",
    "backend",
    "preset",
    "num_images",
    "batch_size",
    "learning_rate",
    "epochs",
    "config",
)
# The setting of the evaluations on the way to the last epoch (--stages):
# cheap enough to repeat, and evaluated at the last epoch too.
STAGE_SAMPLING = ("ddim", 50, None, True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--runs", default="runs/quality", help="run folders")
    parser.add_argument(
        "--data", help="Kaggle or folder-per-type data (default: built-in)"
    )
    parser.add_argument("--backend", default="torch", help="Keras backend")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--num-images", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument(
        "--config",
        default="{}",
        help="model arguments over the preset's, for every run (JSON)",
    )
    parser.add_argument("--sampler", default="ddpm", help="sampler")
    parser.add_argument("--steps", type=int, default=250, help="steps")
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument(
        "--stages",
        default="",
        help="comma-separated epochs at which the baseline is also "
        "evaluated on its way to --epochs",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"training variants, among {', '.join(VARIANTS)}",
    )
    parser.add_argument(
        "--sampling",
        choices=("all", "guidance", "none"),
        default="all",
        help="sampling ablations of the baseline at its last epoch: all of "
        "them, the guidance scales only (DDIM, 50 steps), or none",
    )
    parser.add_argument(
        "--num", type=int, default=180, help="sprites per evaluation"
    )
    parser.add_argument(
        "--long-num",
        type=int,
        default=72,
        help="sprites per evaluation for samplers of 250 steps or more, "
        "other than the study's own",
    )
    parser.add_argument("--out", default="benchmarks/quality.json")
    args = parser.parse_args(argv)
    args.config = json.loads(args.config)
    args.variants = [name for name in args.variants.split(",") if name]
    unknown = [name for name in args.variants if name not in VARIANTS]
    if unknown:
        parser.error(
            f"--variants expected names among {', '.join(VARIANTS)}. "
            f"Received: {', '.join(unknown)}"
        )
    args.stages = sorted(
        int(epoch) for epoch in args.stages.split(",") if epoch
    )
    if any(epoch < 1 or epoch >= args.epochs for epoch in args.stages):
        parser.error(
            f"--stages expected epochs in [1, {args.epochs}). "
            f"Received: {args.stages}"
        )
    return args


def train(args, name, epochs):
    """Train (or resume) the run of variant `name` up to `epochs`."""
    run_dir = Path(args.runs) / name
    variant = VARIANTS[name]
    command = [
        sys.executable,
        "-c",
        "import sys; from pokediff.cli import main; sys.exit(main())",
        "train",
        "--backend",
        args.backend,
        "--out",
        str(run_dir),
        "--preset",
        args.preset,
        "--num-images",
        str(args.num_images),
        "--batch-size",
        str(variant.get("batch_size", args.batch_size)),
        "--learning-rate",
        str(variant.get("learning_rate", args.learning_rate)),
        "--epochs",
        str(epochs),
        "--sample-every",
        str(10**6),
        "--config",
        json.dumps({**args.config, **variant.get("config", {})}),
    ]
    if args.data:
        command += ["--data", args.data]
    print(f"[{name}] training to epoch {epochs}", flush=True)
    subprocess.run(command, check=True)
    return run_dir


def evaluate(args, run_dir, sampling, cache_dir, num_images):
    from pokediff import evaluation

    sampler, num_steps, guidance_scale, use_ema = sampling
    started = time.monotonic()
    report = evaluation.evaluate_run(
        run_dir,
        data=args.data,
        num_images=num_images,
        num_steps=num_steps,
        sampler=sampler,
        guidance_scale=guidance_scale,
        use_ema=use_ema,
        cache_dir=cache_dir,
        # The run folder keeps the report and nearest-neighbour grid of the
        # study's own setting.
        write=sampling == (args.sampler, args.steps, args.guidance, True),
    )
    state = json.loads((run_dir / "state.json").read_text())
    memorization = report["memorization"]
    return {
        "run": run_dir.name,
        "epochs": state["epochs_completed"],
        "optimizer_steps": state["optimizer_step"],
        "train_seconds": state["elapsed_seconds"],
        "loss": state["loss"],
        "sampler": sampler,
        "num_steps": num_steps,
        "guidance_scale": guidance_scale,
        "use_ema": use_ema,
        "num_generated": report["num_generated"],
        "real": report["type_fidelity"]["real"],
        "generated": report["type_fidelity"]["generated"],
        "frechet": report["classifier_distance"]["frechet"],
        "kid_mean": report["classifier_distance"]["kid_mean"],
        "near_copies": memorization["num_near_copies"],
        "eval_seconds": round(time.monotonic() - started, 1),
    }


def format_table(rows):
    header = (
        "| run | epochs (steps) | train s | sampler | guidance | EMA "
        "| n | real acc | gen acc | single | dual any | dual both "
        "| Fréchet | KID | near-copies |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in rows:
        real, generated = row["real"], row["generated"]
        lines.append(
            f"| {row['run']} | {row['epochs']} ({row['optimizer_steps']}) "
            f"| {row['train_seconds']:.0f} "
            f"| {row['sampler']} {row['num_steps']} "
            f"| {row['guidance_scale']:g} "
            f"| {'yes' if row['use_ema'] else 'no'} "
            f"| {row['num_generated']} "
            f"| {real['accuracy']:.3f} | **{generated['accuracy']:.3f}** "
            f"| {_rate(generated['single_type']['accuracy'])} "
            f"| {_rate(generated['dual_type']['any_hit'])} "
            f"| {_rate(generated['dual_type']['both'])} "
            f"| {row['frechet']:.2f} | {row['kid_mean']:.3f} "
            f"| {row['near_copies']}/{row['num_generated']} |"
        )
    return "\n".join(lines)


def _rate(value):
    return "–" if value is None else f"{value:.3f}"


def main(argv=None):
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    runs = Path(args.runs)
    cache_dir = runs / "classifiers"
    previous = _previous_rows(args)
    rows = []
    for name in args.variants:
        stages = args.stages if name == "baseline" else []
        for epochs in [*stages, args.epochs]:
            last = epochs == args.epochs
            ablate = args.sampling if name == "baseline" and last else "none"
            wanted = [
                (sampling, _num_images(args, sampling))
                for sampling in _settings(
                    args, staged=bool(stages), last=last, ablate=ablate
                )
            ]
            keys = [_key(name, epochs, *setting) for setting in wanted]
            if all(key in previous for key in keys):
                rows.extend(previous[key] for key in keys)
                print(f"[{name}] epoch {epochs}: rows kept from {args.out}")
                continue
            if _epochs_completed(runs / name) > epochs:
                print(f"[{name}] already past epoch {epochs}: not evaluated")
                continue
            run_dir = train(args, name, epochs)
            for key, (sampling, num) in zip(keys, wanted, strict=True):
                if key in previous:
                    rows.append(previous[key])
                    continue
                print(f"[{name}] evaluating {sampling}", flush=True)
                rows.append(evaluate(args, run_dir, sampling, cache_dir, num))
                rows[-1]["run"] = name
                _write(args, rows)
    _write(args, rows)
    print(format_table(rows))
    print(f"Wrote {args.out}")


def _num_images(args, sampling):
    """Fewer sprites for the long samplers, other than the study's own."""
    if sampling[1] >= 250 and sampling[:3] != (
        args.sampler,
        args.steps,
        args.guidance,
    ):
        return min(args.num, args.long_num)
    return args.num


def _key(name, epochs, sampling, num_images):
    return (name, epochs, *sampling, num_images)


def _previous_rows(args):
    """The rows of an earlier study with the same settings in `--out`.

    A study run again (with another sampling setting added, say) keeps
    them instead of evaluating again; delete `--out` to start anew.
    """
    path = Path(args.out)
    if not path.exists():
        return {}
    earlier = json.loads(path.read_text())
    settings = earlier.get("settings", {})
    if any(settings.get(key) != getattr(args, key) for key in SAME_STUDY):
        return {}
    return {
        _key(
            row["run"],
            row["epochs"],
            (
                row["sampler"],
                row["num_steps"],
                row["guidance_scale"],
                row["use_ema"],
            ),
            row["num_generated"],
        ): row
        for row in earlier["rows"]
    }


def _settings(args, staged, last, ablate):
    """The sampling settings to evaluate a run with, without repeats."""
    own = (args.sampler, args.steps, args.guidance, True)
    settings = [own] if last else []
    if staged:
        settings.append(STAGE_SAMPLING)
    if ablate == "all":
        settings.extend(SAMPLING)
    elif ablate == "guidance":
        settings.extend(s for s in SAMPLING if s[:2] == ("ddim", 50) and s[3])
    settings = [
        (sampler, steps, args.guidance if guidance is None else guidance, ema)
        for sampler, steps, guidance, ema in settings
    ]
    return list(dict.fromkeys(settings))


def _epochs_completed(run_dir):
    state = run_dir / "state.json"
    if not state.exists():
        return 0
    return json.loads(state.read_text())["epochs_completed"]


def _write(args, rows):
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "settings": {
            key: value for key, value in vars(args).items() if key != "out"
        },
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
