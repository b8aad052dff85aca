"""Training runs: a run folder, atomic checkpoints, resume and sample grids.

A run folder holds everything one training run writes:

```
RUN_DIR/
    config.json       model arguments, training settings, data, backend
    checkpoint.keras  the latest epoch: raw weights and optimizer (with EMA)
    state.json        progress: epochs completed, optimizer step, time
    log.csv           one row of losses per epoch
    samples/          epoch_0001.png, ...: one row per type, EMA weights
```

`TrainingRun` creates, checks and resumes such a folder; `train` is the
one-call version of it. The checkpoint and `state.json` are replaced
atomically after every epoch, so a run killed at any moment resumes from
its last finished epoch with the exact weights, optimizer moments, EMA
averages, random state and data order it had (the state of the model's
seed generators, which Keras does not save, is kept in the checkpoint's
progress).
"""

import contextlib
import csv
import json
import logging
import os
import time
import uuid
import warnings
import zipfile
from datetime import datetime
from datetime import timezone
from pathlib import Path

import keras
import numpy as np
from keras import ops

from pokediff.datasets import SpriteDataset
from pokediff.datasets import save_image_grid
from pokediff.models import PokemonDiffusion
from pokediff.optimizers import AdamWEMAWarmup
from pokediff.pokemon_types import TYPES

logger = logging.getLogger("pokediff")

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.keras"
STATE_FILE = "state.json"
LOG_FILE = "log.csv"
SAMPLES_DIR = "samples"
# The member of a checkpoint archive that holds its progress.
CHECKPOINT_STATE_MEMBER = "pokediff_state.json"

# Training settings recorded in `config.json`: a resumed run must use the
# same values, or it would not continue the same run.
DEFAULT_SETTINGS = {
    "batch_size": 32,
    "learning_rate": 2e-4,
    "weight_decay": 1e-4,
    "ema_momentum": 0.999,
    "seed": 0,
}


class RunConflictError(ValueError):
    """A run folder was made with settings other than the ones given."""


# Files -----------------------------------------------------------------------


def write_json_atomic(data, path):
    """Write `data` as JSON to `path`, replacing it atomically.

    The text goes to a temporary file in the same folder, which then
    replaces `path` with `os.replace`: a reader sees the old file or the
    new one, never half of one.

    Args:
        data: a JSON-serializable object.
        path: the file to write.
    """
    path = Path(path)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    with _temporary_file(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)


def save_model_atomic(model, path, state=None):
    """Save `model` to the `.keras` file `path`, replacing it atomically.

    The model is saved to a temporary `.keras` file in the same folder,
    which then replaces `path` with `os.replace`. If saving fails, or the
    process dies while saving, the previous file at `path` is untouched.

    Args:
        model: a `keras.Model`.
        path: the `.keras` file to write.
        state: dict or `None`. Progress to store inside the archive (read
            it back with `read_checkpoint_state`), so that the weights and
            the epoch they belong to are replaced together. Defaults to
            `None`.
    """
    path = Path(path)
    with _temporary_file(path, suffix=".keras") as temporary:
        model.save(temporary)
        if state is not None:
            # Keras reads only its own members of the archive.
            with zipfile.ZipFile(temporary, "a") as archive:
                archive.writestr(CHECKPOINT_STATE_MEMBER, json.dumps(state))
        os.replace(temporary, path)


def read_checkpoint_state(path):
    """The progress stored in a checkpoint, or `None` if it has none."""
    path = Path(path)
    if not path.exists():
        return None
    with zipfile.ZipFile(path) as archive:
        if CHECKPOINT_STATE_MEMBER not in archive.namelist():
            return None
        return json.loads(archive.read(CHECKPOINT_STATE_MEMBER))


@contextlib.contextmanager
def _temporary_file(path, suffix=".tmp"):
    # A fresh name beside `path`, created by whoever writes it, so that the
    # file gets the permissions of any new file (`mkstemp` would give it
    # 0o600, which `os.replace` would then keep).
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}{suffix}")
    try:
        yield temporary
    finally:
        # Gone once `os.replace` moved it; left behind only on failure.
        temporary.unlink(missing_ok=True)


def read_json(path):
    """Read a JSON file, or return `None` when it does not exist."""
    path = Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def read_log(path):
    """Read a training log CSV into a list of dicts (empty if absent)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _truncate_log(path, epochs):
    # Drops the rows of epochs that the checkpoint does not hold (a run
    # killed after logging an epoch but before its checkpoint), so that the
    # resumed run's rows follow on without a duplicate.
    rows = read_log(path)
    kept = [row for row in rows if int(row["epoch"]) < epochs]
    if len(kept) == len(rows):
        return
    with _temporary_file(Path(path)) as temporary:
        with temporary.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(kept)
        os.replace(temporary, path)


# EMA weights -----------------------------------------------------------------


def _ema_pairs(model):
    """`(variable, average)` pairs of an EMA optimizer, or `None`."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(optimizer, "use_ema", False):
        return None
    # Keras keeps the averages in private attributes, in the order of the
    # variables the optimizer was built with (as `SwapEMAWeights` reads
    # them). They exist once the optimizer is built.
    averages = getattr(optimizer, "_model_variables_moving_average", None)
    if not averages:
        return None
    return [
        (variable, average)
        for variable, average in zip(
            optimizer._trainable_variables, averages, strict=True
        )
        if average is not None
    ]


@contextlib.contextmanager
def ema_weights(model):
    """Use the optimizer's EMA of the weights inside a `with` block.

    On leaving the block the raw training weights are put back bit for bit
    (they are copied, not swapped arithmetically), so training and
    checkpoints continue as if nothing happened. Does nothing when the
    model's optimizer keeps no EMA.

    Args:
        model: a compiled `keras.Model`.

    Example:

    ```python
    with ema_weights(model):
        sprites = model.generate(["fire"] * 8, seed=0)
    ```
    """
    pairs = _ema_pairs(model)
    if pairs is None:
        yield model
        return
    raw = [ops.convert_to_numpy(variable) for variable, _ in pairs]
    for variable, average in pairs:
        variable.assign(average)
    try:
        yield model
    finally:
        for (variable, _), value in zip(pairs, raw, strict=True):
            variable.assign(value)


def apply_ema_weights(model):
    """Replace the model's weights with the optimizer's EMA, for sampling.

    Returns:
        `True` if the model had EMA averages to apply, else `False`.
    """
    pairs = _ema_pairs(model)
    if pairs is None:
        return False
    for variable, average in pairs:
        variable.assign(average)
    return True


def resolve_model_path(path):
    """The `.keras` file of `path`: a run folder or a `.keras` file.

    Raises:
        FileNotFoundError: when `path` is neither.
    """
    path = Path(path)
    if path.is_dir():
        checkpoint = path / CHECKPOINT_FILE
        if not checkpoint.exists():
            raise FileNotFoundError(
                "`path` expected a run folder holding a checkpoint or a "
                f".keras file. Received: path={os.fspath(path)!r} (a folder "
                f"without {CHECKPOINT_FILE}; has a first epoch finished?)"
            )
        return checkpoint
    if path.suffix != ".keras" or not path.exists():
        raise FileNotFoundError(
            "`path` expected a run folder or an existing .keras file. "
            f"Received: path={os.fspath(path)!r}"
        )
    return path


def load_trained_model(path, use_ema=True):
    """Load a model for sampling from a run folder or a `.keras` file.

    Args:
        path: a run folder (its latest checkpoint is loaded) or a `.keras`
            file.
        use_ema: whether to sample with the EMA of the weights when the
            saved optimizer keeps one. Defaults to `True`.

    Returns:
        The `PokemonDiffusion` model.

    Example:

    ```python
    model = load_trained_model("runs/tiny")
    sprites = model.generate(["fire"] * 4, seed=0)
    ```
    """
    model = keras.saving.load_model(resolve_model_path(path))
    if use_ema:
        apply_ema_weights(model)
    return model


# Callbacks -------------------------------------------------------------------


class AtomicCheckpoint(keras.callbacks.Callback):
    """Save the exact training state after every epoch, atomically.

    Writes `checkpoint.keras` (the raw weights and the optimizer, EMA
    averages included) and then `state.json` (progress) into `directory`,
    each through a temporary file and `os.replace`. Place it before any
    callback that changes the weights for good.

    Args:
        directory: the run folder.
        epochs: int or `None`. The number of epochs requested, recorded in
            the state. Defaults to `None`.
        state: dict or `None`. Fields carried over into `state.json`, such
            as `"sessions"` and the `"elapsed_seconds"` of earlier
            sessions. Defaults to `None`.
    """

    def __init__(self, directory, epochs=None, state=None):
        super().__init__()
        self.directory = Path(directory)
        self.epochs = epochs
        self.state = dict(state or {})
        self._started = None
        self._elapsed_before = float(self.state.get("elapsed_seconds", 0.0))

    def on_train_begin(self, logs=None):
        self._started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = self._elapsed_before + time.monotonic() - self._started
        logs = logs or {}
        self.state.update(
            {
                "epochs_completed": epoch + 1,
                "epochs_requested": self.epochs,
                "optimizer_step": _optimizer_step(self.model),
                "steps_per_epoch": self.params.get("steps"),
                "loss": _float_or_none(logs.get("loss")),
                "elapsed_seconds": round(elapsed, 3),
                "updated": _now(),
                "backend": keras.backend.backend(),
                "seed_generators": _seed_generator_states(self.model),
            }
        )
        # The checkpoint carries its own copy of the state, so that a run
        # killed between the two writes still knows its epoch.
        save_model_atomic(
            self.model, self.directory / CHECKPOINT_FILE, state=self.state
        )
        write_json_atomic(self.state, self.directory / STATE_FILE)


class SampleGrid(keras.callbacks.Callback):
    """Save a grid of samples, one row per type, with the EMA weights.

    Every `every` epochs, and after the last one, samples
    `samples_per_type` sprites of each of the 18 types with DDIM from the
    same seed, and writes them as `directory/epoch_NNNN.png` (a row per
    type, in the order of `pokediff.TYPES`). The EMA weights are used when
    the optimizer keeps them, and the raw weights are restored exactly
    afterwards.

    Args:
        directory: the folder for the PNG files.
        every: int. Sample every this many epochs. Defaults to `1`.
        epochs: int or `None`. The last epoch of the run, which is always
            sampled. Defaults to `None`.
        samples_per_type: int. Columns of the grid. Defaults to `8`.
        num_steps: int. DDIM steps. Defaults to `25`.
        guidance_scale: float. Classifier-free guidance. Defaults to `3.0`.
        seed: int. Seed of the noise, the same every time. Defaults to `0`.
        scale: int. Enlargement of the saved grid. Defaults to `1`.
    """

    def __init__(
        self,
        directory,
        every=1,
        epochs=None,
        samples_per_type=8,
        num_steps=25,
        guidance_scale=3.0,
        seed=0,
        scale=1,
    ):
        super().__init__()
        if int(every) != every or every < 1:
            raise ValueError(
                f"`every` expected a positive integer. Received: every={every}"
            )
        self.directory = Path(directory)
        self.every = int(every)
        self.epochs = epochs
        self.samples_per_type = samples_per_type
        self.num_steps = num_steps
        self.guidance_scale = guidance_scale
        self.seed = seed
        self.scale = scale
        self.last_path = None

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every and done != self.epochs:
            return
        self.last_path = self.save(self.directory / f"epoch_{done:04d}.png")

    def save(self, path):
        """Sample the grid now and save it to `path`; returns the path."""
        labels = np.repeat(np.arange(len(TYPES)), self.samples_per_type)
        with ema_weights(self.model):
            images = self.model.generate(
                labels,
                num_steps=self.num_steps,
                guidance_scale=self.guidance_scale,
                seed=self.seed,
            )
        return save_image_grid(
            images, path, ncols=self.samples_per_type, scale=self.scale
        )


# Runs ------------------------------------------------------------------------


class TrainingRun:
    """A run folder: start a training run, or resume the one it holds.

    Args:
        directory: the run folder; created by `start` if absent.

    Example:

    ```python
    run = TrainingRun("runs/tiny")
    run.start({"image_size": 32, "seed": 0}, {"batch_size": 32})
    model = run.build_model()
    run.fit(model, images, labels, epochs=10)
    ```
    """

    def __init__(self, directory):
        self.directory = Path(directory)

    @property
    def config_path(self):
        return self.directory / CONFIG_FILE

    @property
    def checkpoint_path(self):
        return self.directory / CHECKPOINT_FILE

    @property
    def state_path(self):
        return self.directory / STATE_FILE

    @property
    def log_path(self):
        return self.directory / LOG_FILE

    @property
    def samples_dir(self):
        return self.directory / SAMPLES_DIR

    @property
    def config(self):
        """The contents of `config.json`, or `None` for a new run."""
        return read_json(self.config_path)

    @property
    def state(self):
        """The progress of the checkpoint, or `None` before the first epoch.

        Read from the checkpoint archive itself; `state.json` is a copy
        for people and scripts.
        """
        return read_checkpoint_state(self.checkpoint_path)

    @property
    def epochs_completed(self):
        """Epochs held by the checkpoint (`0` without one)."""
        state = self.state
        return int(state["epochs_completed"]) if state else 0

    def start(self, model_config, settings=None, data=None, extra=None):
        """Create the run folder, or check that it matches these arguments.

        Args:
            model_config: dict. `PokemonDiffusion` constructor arguments.
            settings: dict or `None`. Training settings, keys of
                `DEFAULT_SETTINGS` (`batch_size`, `learning_rate`,
                `weight_decay`, `ema_momentum`, `seed`); missing ones take
                the defaults. Defaults to `None`.
            data: dict or `None`. A description of the data, such as
                `{"source": "builtin", "num_images": 2000}`, recorded and
                checked like the rest. Defaults to `None`.
            extra: dict or `None`. More fields for `config.json` (such as
                the preset's name), recorded when the run is created and
                not checked. Defaults to `None`.

        Returns:
            The run's config, as written in `config.json`.

        Raises:
            RunConflictError: when the folder holds a run made with other
                model arguments, settings or data.
        """
        settings = dict(settings or {})
        unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
        if unknown:
            raise ValueError(
                f"`settings` expected keys among {sorted(DEFAULT_SETTINGS)}. "
                f"Received unknown keys: {unknown}"
            )
        config = _jsonable(
            {
                "model": dict(model_config),
                "training": {**DEFAULT_SETTINGS, **settings},
                "data": dict(data or {}),
            }
        )
        existing = self.config
        if existing is None:
            if self.checkpoint_path.exists():
                raise RunConflictError(
                    f"{os.fspath(self.directory)!r} holds a checkpoint but no "
                    f"{CONFIG_FILE}: not a run folder this code can resume."
                )
            config.update(
                {
                    **_jsonable(extra or {}),
                    "backend": keras.backend.backend(),
                    "created": _now(),
                }
            )
            write_json_atomic(config, self.config_path)
            return config
        conflicts = [
            f"{section}.{key}: run has {old!r}, received {new!r}"
            for section in ("model", "training", "data")
            for key in sorted(
                set(existing.get(section, {})) | set(config[section])
            )
            if (old := existing.get(section, {}).get(key))
            != (new := config[section].get(key))
        ]
        if conflicts:
            raise RunConflictError(
                f"The run in {os.fspath(self.directory)!r} was made with "
                "other settings; use another folder, or the same settings "
                "to resume it. Differences: " + "; ".join(conflicts)
            )
        return existing

    def build_model(self):
        """The model to train: the checkpoint's, or a new compiled one.

        The checkpoint is loaded with its optimizer state (moments, step
        count and EMA averages). A new model is built from `config.json`
        and compiled with AdamW, with an EMA of the weights unless
        `ema_momentum` is `0`.
        """
        config = self.config
        if config is None:
            raise FileNotFoundError(
                f"No {CONFIG_FILE} in {os.fspath(self.directory)!r}: call "
                "`start` first."
            )
        if self.epochs_completed:
            model = keras.saving.load_model(self.checkpoint_path)
            _restore_seed_generators(model, self.state)
            logger.info(
                "Loaded %s (epoch %d, optimizer step %d).",
                self.checkpoint_path,
                self.epochs_completed,
                _optimizer_step(model),
            )
            return model
        model = PokemonDiffusion(**config["model"])
        settings = config["training"]
        momentum = settings["ema_momentum"]
        model.compile(
            optimizer=AdamWEMAWarmup(
                learning_rate=settings["learning_rate"],
                weight_decay=settings["weight_decay"],
                use_ema=momentum > 0,
                ema_momentum=momentum if momentum > 0 else 0.99,
            )
        )
        return model

    def fit(
        self,
        model,
        images,
        labels,
        epochs,
        sample_every=1,
        samples_per_type=8,
        sample_steps=25,
        verbose=1,
        callbacks=None,
    ):
        """Train `model` up to `epochs`, from the epoch the run reached.

        Each epoch ends with, in order: the checkpoint and `state.json`
        (`AtomicCheckpoint`), a sample grid when due (`SampleGrid`), and a
        row of `log.csv`. After the last epoch Keras sets the model's
        weights to their EMA, so the returned model is ready to sample;
        the checkpoint keeps the raw weights, for resuming.

        Args:
            model: the model from `build_model`.
            images: uint8 array `(N, H, W, 3)`.
            labels: int array `(N, 2)` of type ids.
            epochs: int. The total number of epochs of the run.
            sample_every: int. Save a sample grid every this many epochs
                (and after the last). Defaults to `1`.
            samples_per_type: int. Columns of the sample grids. Defaults
                to `8`.
            sample_steps: int. DDIM steps of the sample grids. Defaults to
                `25`.
            verbose: int. `0`, `1` (progress bar) or `2` (a line per
                epoch), as in `keras.Model.fit`. Defaults to `1`.
            callbacks: list or `None`. More Keras callbacks. Defaults to
                `None`.

        Returns:
            The Keras `History` of this session (`None` when the run had
            already reached `epochs`).
        """
        config = self.config
        initial_epoch = self.epochs_completed
        if initial_epoch >= epochs:
            logger.info(
                "The run in %s has finished: %d of %d epochs.",
                self.directory,
                initial_epoch,
                epochs,
            )
            return None
        settings = config["training"]
        dataset = SpriteDataset(
            images,
            labels,
            batch_size=settings["batch_size"],
            seed=settings["seed"],
        )
        # The same data order as an uninterrupted run: each epoch's
        # shuffle depends on the epoch number only.
        for _ in range(initial_epoch):
            dataset.on_epoch_end()

        state = dict(self.state or {}) if initial_epoch else {}
        sessions = list(state.get("sessions", []))
        backend = keras.backend.backend()
        previous = sessions[-1]["backend"] if sessions else config["backend"]
        if backend != previous:
            warnings.warn(
                f"Resuming a run trained on the {previous} backend with the "
                f"{backend} backend; this is recorded in {STATE_FILE}.",
                stacklevel=2,
            )
        sessions.append(
            {
                "backend": backend,
                "initial_epoch": initial_epoch,
                "started": _now(),
            }
        )
        state["sessions"] = sessions
        if initial_epoch:
            _check_checkpoint_step(model, state)
            logger.info(
                "Resuming from epoch %d of %d.", initial_epoch + 1, epochs
            )
        _truncate_log(self.log_path, initial_epoch)
        # Temporary files of a save that a killed run left half written.
        for path in self.directory.glob(".*.keras"):
            path.unlink()
        for path in self.directory.glob(".*.tmp"):
            path.unlink()

        run_callbacks = [
            AtomicCheckpoint(self.directory, epochs=epochs, state=state),
            SampleGrid(
                self.samples_dir,
                every=sample_every,
                epochs=epochs,
                samples_per_type=samples_per_type,
                num_steps=sample_steps,
                seed=settings["seed"],
            ),
            keras.callbacks.CSVLogger(self.log_path, append=True),
            *(callbacks or []),
        ]
        return model.fit(
            dataset,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=run_callbacks,
            verbose=verbose,
            # The dataset shuffles itself from the run's seed; Keras would
            # shuffle its batches again from the global random state.
            shuffle=False,
        )


def train(
    run_dir,
    images,
    labels,
    model_config,
    epochs,
    settings=None,
    data=None,
    sample_every=1,
    samples_per_type=8,
    sample_steps=25,
    verbose=1,
):
    """Train a model in a run folder, resuming it if it holds a run.

    Args:
        run_dir: the run folder.
        images: uint8 array `(N, H, W, 3)`.
        labels: int array `(N, 2)` of type ids.
        model_config: dict. `PokemonDiffusion` constructor arguments.
        epochs: int. The total number of epochs of the run.
        settings: dict or `None`. Training settings (see
            `TrainingRun.start`). Defaults to `None`.
        data: dict or `None`. A description of the data, recorded.
            Defaults to `None`.
        sample_every: int. Sample grid period in epochs. Defaults to `1`.
        samples_per_type: int. Sample grid columns. Defaults to `8`.
        sample_steps: int. Sample grid DDIM steps. Defaults to `25`.
        verbose: int. Progress display of `fit`. Defaults to `1`.

    Returns:
        The trained model, with its EMA weights for sampling.

    Example:

    ```python
    images, labels = pokediff.datasets.make_sprites(512, image_size=32)
    model = train("runs/demo", images, labels, {"image_size": 32}, epochs=5)
    ```
    """
    run = TrainingRun(run_dir)
    run.start(model_config, settings, data)
    model = run.build_model()
    run.fit(
        model,
        images,
        labels,
        epochs,
        sample_every=sample_every,
        samples_per_type=samples_per_type,
        sample_steps=sample_steps,
        verbose=verbose,
    )
    apply_ema_weights(model)
    return model


# Helpers ---------------------------------------------------------------------


def _check_checkpoint_step(model, state):
    step = _optimizer_step(model)
    if step != state.get("optimizer_step"):
        warnings.warn(
            f"The checkpoint is at optimizer step {step} but {STATE_FILE} "
            f"records step {state.get('optimizer_step')}.",
            stacklevel=3,
        )


def _seed_generator_states(model):
    # Keras does not save the state of a model's `SeedGenerator`s in a
    # `.keras` file; the checkpoint keeps it, so that a resumed run draws
    # the same timesteps and noise as an uninterrupted one.
    return {
        variable.path: ops.convert_to_numpy(variable).tolist()
        for variable in model.variables
        if variable.name == "seed_generator_state"
    }


def _restore_seed_generators(model, state):
    saved = (state or {}).get("seed_generators", {})
    for variable in model.variables:
        if variable.path in saved:
            variable.assign(np.asarray(saved[variable.path], variable.dtype))


def _optimizer_step(model):
    return int(ops.convert_to_numpy(model.optimizer.iterations))


def _float_or_none(value):
    return None if value is None else float(value)


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _jsonable(value):
    return json.loads(json.dumps(value))
