"""The `pokediff` command line: `train`, `generate` and `info`.

`build_parser` is the one place that holds the defaults (`DEFAULTS`) and
builds the parser. Keras is imported only once a command runs, after
`--backend` (or `KERAS_BACKEND`) has chosen the backend.

User errors (bad flags, missing files, unknown types, a run folder made
with other settings) print one message on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import sys
import warnings
from pathlib import Path

from pokediff.pokemon_types import TYPES
from pokediff.pokemon_types import encode_types
from pokediff.presets import PRESETS

# The backends and the module each needs; the same names as
# `pokediff.backend.BACKENDS`, which cannot be imported here without Keras.
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
SAMPLERS = ("ddim", "ddpm")

# Every default of the command line. `train` options that a run records
# (model, training settings, data) default to the run's values when
# resuming, and to these for a new run.
DEFAULTS = {
    "train": {
        "out": "runs/pokediff",
        "preset": "tiny",
        "image_size": None,  # the preset's
        "config": None,
        "data": None,  # the built-in sprites
        "num_images": 2000,
        "epochs": 50,
        "batch_size": 32,
        "learning_rate": 2e-4,
        "weight_decay": 1e-4,
        "ema_momentum": 0.999,
        "seed": 0,
        "sample_every": 5,
        "samples_per_type": 8,
        "sample_steps": 25,
    },
    "generate": {
        "num": 16,
        "steps": 50,
        "sampler": "ddim",
        "guidance": 3.0,
        "seed": 0,
        "batch_size": 64,
        "scale": 1,
        "no_ema": False,
    },
    "evaluate": {
        "num": 256,
        "steps": 50,
        "sampler": "ddim",
        "guidance": 3.0,
        "seed": 0,
        "batch_size": 64,
        "classifier_epochs": None,
        "no_ema": False,
    },
}


class CLIError(Exception):
    """A user error: its message is shown without a traceback."""


# Parser ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of the `pokediff` command, with its defaults."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--backend",
        help="Keras backend: tensorflow, jax or torch (default: the "
        "KERAS_BACKEND environment variable, else Keras' own default)",
    )

    parser = argparse.ArgumentParser(
        prog="pokediff",
        description="Type-conditioned diffusion models of Pokémon sprites.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    defaults = DEFAULTS["train"]
    train = commands.add_parser(
        "train",
        parents=[common],
        help="train a model in a run folder, or resume it",
        description="Train a model in a run folder; run it again on the "
        "same folder to resume from the last finished epoch. Options the "
        "run records (model, data, training settings) default to the "
        "run's own values when resuming; giving other values is an error.",
    )
    train.add_argument(
        "--out",
        default=defaults["out"],
        help=f"run folder (default: {defaults['out']})",
    )
    train.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        help=f"model size (default: {defaults['preset']})",
    )
    train.add_argument(
        "--image-size", type=int, help="image size (default: the preset's)"
    )
    train.add_argument(
        "--config",
        metavar="JSON",
        help="model arguments over the preset's, e.g. '{\"widths\": [16, "
        '32], "num_res_blocks": 1}\'',
    )
    train.add_argument(
        "--data",
        metavar="DIR",
        help="Kaggle or folder-per-type data set (default: built-in sprites)",
    )
    train.add_argument(
        "--num-images",
        type=int,
        help="size of the built-in set, or at most this many images of "
        f"--data (default: {defaults['num_images']} built-in, all of --data)",
    )
    _add_defaulted(train, "--epochs", int, "total epochs of the run", defaults)
    _add_defaulted(train, "--batch-size", int, "batch size", defaults)
    _add_defaulted(train, "--learning-rate", float, "AdamW rate", defaults)
    _add_defaulted(train, "--weight-decay", float, "AdamW decay", defaults)
    _add_defaulted(
        train,
        "--ema-momentum",
        float,
        "momentum of the EMA of the weights; 0 turns it off",
        defaults,
    )
    _add_defaulted(
        train,
        "--seed",
        int,
        "seed of the weights, noise and data order",
        defaults,
    )
    train.add_argument(
        "--sample-every",
        type=int,
        default=defaults["sample_every"],
        help="save a sample grid every N epochs, and after the last "
        f"(default: {defaults['sample_every']})",
    )
    train.add_argument(
        "--samples-per-type",
        type=int,
        default=defaults["samples_per_type"],
        help=f"sample grid columns (default: {defaults['samples_per_type']})",
    )
    train.add_argument(
        "--sample-steps",
        type=int,
        default=defaults["sample_steps"],
        help=f"sample grid DDIM steps (default: {defaults['sample_steps']})",
    )

    defaults = DEFAULTS["generate"]
    generate = commands.add_parser(
        "generate",
        parents=[common],
        help="sample sprites of one or two types into a PNG grid",
        description="Sample sprites from a run folder (its latest "
        "checkpoint) or a .keras file, with the EMA weights when saved.",
    )
    generate.add_argument("model", help="run folder or .keras file")
    generate.add_argument(
        "--type",
        dest="types",
        action="append",
        required=True,
        help="a type; give it twice for a dual type (--type fire --type "
        "flying)",
    )
    generate.add_argument("--out", required=True, help="PNG file of the grid")
    generate.add_argument(
        "--num",
        type=int,
        default=defaults["num"],
        help=f"number of sprites (default: {defaults['num']})",
    )
    generate.add_argument(
        "--steps",
        type=int,
        default=defaults["steps"],
        help=f"sampling steps (default: {defaults['steps']})",
    )
    generate.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default=defaults["sampler"],
        help=f"sampler (default: {defaults['sampler']})",
    )
    generate.add_argument(
        "--guidance",
        type=float,
        default=defaults["guidance"],
        help=f"guidance scale (default: {defaults['guidance']})",
    )
    generate.add_argument(
        "--seed",
        type=int,
        default=defaults["seed"],
        help=f"seed (default: {defaults['seed']})",
    )
    generate.add_argument(
        "--batch-size",
        type=int,
        default=defaults["batch_size"],
        help=f"images per batch (default: {defaults['batch_size']})",
    )
    generate.add_argument(
        "--scale",
        type=int,
        default=defaults["scale"],
        help=f"enlarge the grid N times (default: {defaults['scale']})",
    )
    generate.add_argument(
        "--save-individual",
        action="store_true",
        help="also write each sprite as OUT_000.png, OUT_001.png, ...",
    )
    generate.add_argument(
        "--no-ema",
        action="store_true",
        default=defaults["no_ema"],
        help="sample with the raw weights instead of their EMA",
    )

    info = commands.add_parser(
        "info",
        parents=[common],
        help="describe a run folder or a .keras file",
    )
    info.add_argument("model", help="run folder or .keras file")

    defaults = DEFAULTS["evaluate"]
    evaluate = commands.add_parser(
        "evaluate",
        parents=[common],
        help="score generated sprites against real ones",
        description="Generate sprites of the held-out real sprites' types "
        "and report type fidelity, Fréchet and kernel distances in a type "
        "classifier's feature space, and near-copies of training sprites. "
        "Writes evaluation.json and evaluation_nearest.png into the run "
        "folder.",
    )
    evaluate.add_argument("model", help="run folder or .keras file")
    evaluate.add_argument(
        "--data",
        help="data folder to compare against (default: the data the run "
        "was trained on, the built-in sprites included)",
    )
    for flag, kind, text in (
        ("--num", int, "sprites to generate"),
        ("--steps", int, "sampling steps"),
        ("--guidance", float, "guidance scale"),
        ("--seed", int, "seed of the split, classifier and sampling"),
        ("--batch-size", int, "images per sampling batch"),
        (
            "--classifier-epochs",
            int,
            "epochs of the type classifier (default: at least 30, and "
            "enough for 2,000 training steps)",
        ),
    ):
        key = flag[2:].replace("-", "_")
        if defaults[key] is not None:
            text = f"{text} (default: {defaults[key]})"
        evaluate.add_argument(flag, type=kind, default=defaults[key], help=text)
    evaluate.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default=defaults["sampler"],
        help=f"sampler (default: {defaults['sampler']})",
    )
    evaluate.add_argument(
        "--no-ema",
        action="store_true",
        default=defaults["no_ema"],
        help="sample with the raw weights instead of their EMA",
    )
    return parser


def _add_defaulted(parser, flag, kind, text, defaults):
    # `None` means "not given", so a resumed run can tell its own values
    # from defaults.
    key = flag[2:].replace("-", "_")
    parser.add_argument(
        flag, type=kind, help=f"{text} (default: {defaults[key]})"
    )


# Entry point -----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the `pokediff` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as error:  # --help, or argparse's own usage error
        return int(error.code or 0)
    command = {
        "train": _train,
        "generate": _generate,
        "info": _info,
        "evaluate": _evaluate,
    }
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            _select_backend(args.backend)
            return command[args.command](args) or 0
        except CLIError as error:
            print(f"pokediff {args.command}: error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("Interrupted.", file=sys.stderr)
            return 130


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def _select_backend(name: str | None) -> str | None:
    backend = name or os.environ.get("KERAS_BACKEND")
    if backend is None:
        return None
    if backend not in BACKEND_MODULES:
        source = "--backend" if name else "KERAS_BACKEND"
        raise CLIError(
            f"`{source}` expected one of {', '.join(BACKEND_MODULES)}. "
            f"Received: {backend!r}"
        )
    if importlib.util.find_spec(BACKEND_MODULES[backend]) is None:
        raise CLIError(
            f"The {backend} backend is not installed. Install it with: "
            f'pip install "pokediff[{backend}]"'
        )
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != backend:
            raise CLIError(
                f"Keras is already loaded with the {current} backend in this "
                f"process and cannot switch to {backend}."
            )
    os.environ["KERAS_BACKEND"] = backend
    return backend


def _verbosity() -> int:
    # A progress bar in a terminal, a line per epoch in a log file.
    return 1 if sys.stdout.isatty() else 2


# train -----------------------------------------------------------------------


def _train(args) -> int:
    out = Path(args.out)
    defaults = DEFAULTS["train"]
    for flag, value in (
        ("--sample-every", args.sample_every),
        ("--samples-per-type", args.samples_per_type),
        ("--sample-steps", args.sample_steps),
    ):
        _check_positive(flag, value)

    from pokediff import training

    run = training.TrainingRun(out)
    recorded = run.config
    done = run.epochs_completed
    state = run.state or {}
    epochs = _first(
        args.epochs, state.get("epochs_requested"), defaults["epochs"]
    )
    _check_positive("--epochs", epochs)
    if done and done >= epochs:
        print(
            f"The run in {out} has finished: {done} of {epochs} epochs. "
            "Pass a larger --epochs to train it further."
        )
        return 0

    settings = {
        key: _first(
            getattr(args, key),
            (recorded or {}).get("training", {}).get(key),
            defaults[key],
        )
        for key in training.DEFAULT_SETTINGS
    }
    _check_positive("--batch-size", settings["batch_size"])
    model_config, preset = _model_config(args, recorded, settings["seed"])
    images, labels, data = _load_data(args, recorded, model_config)

    try:
        run.start(model_config, settings, data, extra={"preset": preset})
    except training.RunConflictError as error:
        raise CLIError(str(error)) from None
    import keras

    model = run.build_model()
    resume = f", resuming after epoch {done}" if done else ""
    print(
        f"pokediff train: backend {keras.backend.backend()}, preset {preset} "
        f"({model_config['image_size']}px), "
        f"{model.count_params():,} parameters, {data['num_images']} images "
        f"({data['source']}), {epochs} epochs, run folder {out}{resume}"
    )
    run.fit(
        model,
        images,
        labels,
        epochs,
        sample_every=args.sample_every,
        samples_per_type=args.samples_per_type,
        sample_steps=args.sample_steps,
        verbose=_verbosity(),
    )
    state = run.state
    print(
        f"Done: {state['epochs_completed']} epochs, loss "
        f"{state['loss']:.4f}. Checkpoint: {run.checkpoint_path}; samples: "
        f"{run.samples_dir}"
    )
    return 0


def _first(*values):
    return next(value for value in values if value is not None)


def _check_positive(flag: str, value: int) -> None:
    if value < 1:
        raise CLIError(
            f"`{flag}` expected a positive integer. Received: {value}"
        )


def _model_config(args, recorded, seed):
    model_flags = (args.preset, args.image_size, args.config)
    if recorded is not None and all(flag is None for flag in model_flags):
        model = dict(recorded["model"], seed=seed)
        return model, recorded.get("preset", "custom")
    preset = args.preset or DEFAULTS["train"]["preset"]
    model = dict(PRESETS[preset])
    if args.image_size is not None:
        _check_positive("--image-size", args.image_size)
        model["image_size"] = args.image_size
    if args.config is not None:
        model.update(_parse_model_config(args.config))
    model["seed"] = seed
    return json.loads(json.dumps(model)), preset


def _parse_model_config(text: str) -> dict:
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise CLIError(
            f"`--config` expected a JSON object. Received: {text!r} ({error})"
        ) from None
    if not isinstance(config, dict):
        raise CLIError(f"`--config` expected a JSON object. Received: {text!r}")
    import inspect

    from pokediff.models import PokemonDiffusion

    valid = [
        name
        for name in inspect.signature(PokemonDiffusion).parameters
        if name not in ("kwargs", "seed")
    ]
    unknown = sorted(set(config) - set(valid))
    if unknown:
        raise CLIError(
            f"`--config` expected keys among {', '.join(valid)}. "
            f"Received unknown keys: {', '.join(unknown)}"
        )
    return config


def _load_data(args, recorded, model_config):
    from pokediff import datasets

    recorded_data = (recorded or {}).get("data", {})
    source = args.data
    if source is None and recorded_data.get("source") not in (None, "builtin"):
        source = recorded_data["source"]
    num_images = args.num_images
    if num_images is not None:
        _check_positive("--num-images", num_images)
    size = model_config["image_size"]
    if source is None:
        num_images = _first(
            num_images,
            recorded_data.get("num_images"),
            DEFAULTS["train"]["num_images"],
        )
        images, labels = datasets.make_sprites(num_images, image_size=size)
        return images, labels, {"source": "builtin", "num_images": num_images}
    source = os.path.abspath(source)
    try:
        images, labels = datasets.load_images(
            source, image_size=size, verbose=_verbosity()
        )
    except (FileNotFoundError, ValueError) as error:
        raise CLIError(f"cannot load --data: {error}") from None
    if num_images is None and recorded_data.get("source") == source:
        num_images = recorded_data.get("num_images")
    if num_images is not None:
        images, labels = images[:num_images], labels[:num_images]
    return images, labels, {"source": source, "num_images": len(images)}


# generate --------------------------------------------------------------------


def _generate(args) -> int:
    if len(args.types) > 2:
        raise CLIError(
            "`--type` expected at most two types (a Pokémon has one or two). "
            f"Received: {', '.join(args.types)}"
        )
    try:
        pair = encode_types(args.types)
    except ValueError:
        bad = [name for name in args.types if name.lower() not in TYPES]
        raise CLIError(
            f"`--type` expected one of: {', '.join(TYPES)}. "
            f"Received: {', '.join(bad)}"
        ) from None
    for flag, value in (
        ("--num", args.num),
        ("--steps", args.steps),
        ("--batch-size", args.batch_size),
        ("--scale", args.scale),
    ):
        _check_positive(flag, value)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise CLIError(f"`--out` expected a .png file. Received: {args.out}")

    model = _load_model(args.model, use_ema=not args.no_ema)
    import numpy as np

    from pokediff.datasets import save_image_grid

    labels = np.array([pair] * args.num, dtype="int32")
    images = model.generate(
        labels,
        num_steps=args.steps,
        sampler=args.sampler,
        guidance_scale=args.guidance,
        seed=args.seed,
        batch_size=args.batch_size,
        verbose=1 if sys.stdout.isatty() else 0,
    )
    save_image_grid(
        images, out, ncols=math.ceil(math.sqrt(args.num)), scale=args.scale
    )
    print(f"Wrote {args.num} {'/'.join(args.types)} sprites to {out}")
    if args.save_individual:
        from PIL import Image

        for index, image in enumerate(images):
            path = out.with_name(f"{out.stem}_{index:03d}.png")
            if args.scale > 1:
                image = image.repeat(args.scale, 0).repeat(args.scale, 1)
            Image.fromarray(image).save(path)
        print(f"Wrote {out.stem}_000.png to {path.name} in {out.parent}")
    return 0


# evaluate --------------------------------------------------------------------


def _evaluate(args) -> int:
    for flag, value in (
        ("--num", args.num),
        ("--steps", args.steps),
        ("--batch-size", args.batch_size),
        ("--classifier-epochs", args.classifier_epochs),
    ):
        if value is not None:
            _check_positive(flag, value)
    if args.num < 2:
        raise CLIError(f"`--num` expected at least 2. Received: {args.num}")
    from pokediff import evaluation
    from pokediff import metrics

    try:
        report = evaluation.evaluate_run(
            args.model,
            data=args.data,
            num_images=args.num,
            num_steps=args.steps,
            sampler=args.sampler,
            guidance_scale=args.guidance,
            seed=args.seed,
            batch_size=args.batch_size,
            classifier_epochs=args.classifier_epochs,
            use_ema=not args.no_ema,
            verbose=_verbosity(),
        )
    except (FileNotFoundError, ValueError) as error:
        raise CLIError(str(error)) from None
    print(metrics.format_report_table(report))
    if Path(args.model).is_dir():
        print(
            f"Wrote {evaluation.REPORT_FILE} and {evaluation.GRID_FILE} "
            f"to {args.model}"
        )
    return 0


def _load_model(path: str, use_ema: bool):
    from pokediff import training

    try:
        return training.load_trained_model(path, use_ema=use_ema)
    except FileNotFoundError as error:
        raise CLIError(str(error)) from None


# info ------------------------------------------------------------------------


def _info(args) -> int:
    from pokediff import training

    path = Path(args.model)
    if path.is_dir():
        run = training.TrainingRun(path)
        config = run.config
        if config is None:
            raise CLIError(
                "`model` expected a run folder or a .keras file. Received: "
                f"{args.model} (no config.json)"
            )
        _print_run(run, config)
        return 0
    model = _load_model(args.model, use_ema=False)
    state = training.read_checkpoint_state(path) or {}
    print(f"Model file: {path}")
    backends = [session["backend"] for session in state.get("sessions", [])]
    if backends:
        _print_backend(backends[0], backends)
    else:
        print("Backend: not recorded (saved outside a pokediff run)")
    _print_model(model.get_config(), model.count_params())
    if state:
        print(
            f"Progress: {state['epochs_completed']} epochs, optimizer step "
            f"{state['optimizer_step']}, last loss {state['loss']:.4f}"
        )
    return 0


def _print_run(run, config) -> None:
    from pokediff import training
    from pokediff.models import PokemonDiffusion

    state = run.state or {}
    if run.checkpoint_path.exists():
        model = _load_model(run.directory, use_ema=False)
    else:
        model = PokemonDiffusion(**config["model"])
    backends = [session["backend"] for session in state.get("sessions", [])]
    print(f"Run folder: {run.directory}")
    _print_backend(config["backend"], backends)
    print(f"Preset: {config.get('preset', 'custom')}")
    _print_model(config["model"], model.count_params())
    print(f"Training: {json.dumps(config['training'], sort_keys=True)}")
    print(
        f"Data: {config['data']['source']}, "
        f"{config['data']['num_images']} images"
    )
    rows = training.read_log(run.log_path)
    loss = f"{float(rows[-1]['loss']):.4f}" if rows else "none yet"
    print(
        f"Progress: {state.get('epochs_completed', 0)} of "
        f"{state.get('epochs_requested', '?')} epochs, optimizer step "
        f"{state.get('optimizer_step', 0)}, last loss {loss}, "
        f"{state.get('elapsed_seconds', 0.0):.0f} s of training"
    )


def _print_backend(first: str, sessions: list[str]) -> None:
    # The backends of the training sessions, when they were not all `first`.
    mixed = f" (sessions: {', '.join(sessions)})"
    print(
        f"Backend: trained on {first}{mixed if set(sessions) - {first} else ''}"
    )


def _print_model(config: dict, num_params: int) -> None:
    keys = [key for key in config if key not in ("name", "trainable", "dtype")]
    print("Model: " + ", ".join(f"{key}={config[key]}" for key in keys))
    print(f"Parameters: {num_params:,}")


if __name__ == "__main__":
    sys.exit(main())
