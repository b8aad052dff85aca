"""The `pokediff` command line and the training runs behind it."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from conftest import REPO
from conftest import TINY_CONFIG
from keras import ops
from PIL import Image

import pokediff
from pokediff import cli
from pokediff import training

BACKEND = keras.backend.backend()

# The shapes of TINY_CONFIG, as flags: 16 px, widths (16, 32), 1 block.
TINY_FLAGS = [
    "--preset",
    "tiny",
    "--image-size",
    "16",
    "--config",
    json.dumps(
        {
            key: TINY_CONFIG[key]
            for key in ("widths", "num_res_blocks", "attention_resolutions")
        }
        | {"num_heads": TINY_CONFIG["num_heads"]}
    ),
    "--num-images",
    "32",
    "--batch-size",
    "16",
    "--ema-momentum",
    "0.9",
    "--samples-per-type",
    "1",
    "--sample-steps",
    "2",
]
TINY_MODEL = {
    key: list(value) if isinstance(value, tuple) else value
    for key, value in TINY_CONFIG.items()
}
STEPS_PER_EPOCH = 2  # 32 images, batches of 16


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def ema_values(model):
    return [ops.convert_to_numpy(a) for _, a in training._ema_pairs(model)]


def raw_values(model):
    return [ops.convert_to_numpy(v) for v, _ in training._ema_pairs(model)]


# Without training --------------------------------------------------------


def test_importing_the_cli_does_not_import_keras():
    code = "import sys, pokediff.cli; print('keras' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.stdout.strip() == "False", result.stderr


def test_names_and_defaults_match_the_library():
    # The command line keeps its own copies, to choose the backend before
    # Keras is imported.
    from pokediff.backend import BACKENDS
    from pokediff.samplers import SAMPLERS

    assert tuple(cli.BACKEND_MODULES) == BACKENDS
    assert cli.SAMPLERS == SAMPLERS
    for key, value in training.DEFAULT_SETTINGS.items():
        assert cli.DEFAULTS["train"][key] == value, key


def test_help_exits_zero(capsys):
    assert cli.main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    assert cli.main(["train", "--help"]) == 0
    assert "--sample-every" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["generate", "m.keras", "--type", "fyre", "--out", "x.png"], "fairy"),
        (
            ["generate", "m.keras", "--out", "x.png"]
            + ["--type", "fire", "--type", "water", "--type", "ice"],
            "at most two",
        ),
        (["generate", "nowhere", "--type", "fire", "--out", "x.png"], "path"),
        (["info", "nowhere.keras"], "nowhere.keras"),
        (["train", "--backend", "theano"], "tensorflow, jax, torch"),
        (["train", "--data", "no/such/folder"], "no/such/folder"),
        (["train", "--config", "{widths"], "JSON"),
        (["train", "--config", '{"width": 3}'], "width"),
        (["train", "--epochs", "0"], "--epochs"),
        (["train", "--no-such-flag"], "unrecognized"),
    ],
)
def test_user_errors_exit_2_with_a_message(argv, message, tmp_path, capsys):
    if argv[0] == "train":
        argv = argv + ["--out", str(tmp_path / "run")]
    if "--backend" not in argv:
        argv = argv + ["--backend", BACKEND]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_a_backend_that_is_not_installed_names_the_extra(monkeypatch, capsys):
    other = next(name for name in cli.BACKEND_MODULES if name != BACKEND)
    find_spec = cli.importlib.util.find_spec
    monkeypatch.setattr(
        cli.importlib.util,
        "find_spec",
        lambda name: None if name == other else find_spec(name),
    )
    assert cli.main(["info", "x.keras", "--backend", other]) == 2
    assert f'pip install "pokediff[{other}]"' in capsys.readouterr().err


def test_keras_env_var_is_checked(monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "mxnet")
    assert cli.main(["info", "x.keras"]) == 2
    assert "KERAS_BACKEND" in capsys.readouterr().err


def test_atomic_save_keeps_the_old_checkpoint_on_failure(tmp_path):
    model = pokediff.PokemonDiffusion(**TINY_CONFIG)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, use_ema=True))
    model.optimizer.build(model.trainable_variables)
    path = tmp_path / "checkpoint.keras"
    training.save_model_atomic(model, path, state={"epochs_completed": 3})
    before = path.read_bytes()

    def broken_save(filepath, *args, **kwargs):
        with open(filepath, "wb") as file:
            file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    model.save = broken_save
    with pytest.raises(OSError, match="disk full"):
        training.save_model_atomic(model, path, state={"epochs_completed": 4})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.keras"]
    assert training.read_checkpoint_state(path) == {"epochs_completed": 3}
    restored = keras.saving.load_model(path)
    assert restored.count_params() == model.count_params()


def test_atomic_json_write(tmp_path):
    path = tmp_path / "state.json"
    training.write_json_atomic({"a": 1}, path)
    training.write_json_atomic({"a": 2}, path)
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_atomic_writes_give_the_usual_permissions(tmp_path):
    # As any new file (the umask applies), not private to the writer.
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    training.write_json_atomic({"a": 1}, tmp_path / "state.json")
    training.save_model_atomic(
        pokediff.PokemonDiffusion(**TINY_CONFIG), tmp_path / "model.keras"
    )
    for name in ("state.json", "model.keras"):
        mode = (tmp_path / name).stat().st_mode
        assert mode == plain.stat().st_mode, name


# Training for real -------------------------------------------------------


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A run folder after one epoch of `pokediff train` on tiny settings."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    argv = ["train", "--out", str(run_dir), "--epochs", "1", *TINY_FLAGS]
    assert cli.main(argv) == 0
    return run_dir


@pytest.mark.slow
def test_train_writes_the_run_folder(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert names == {
        "config.json",
        "checkpoint.keras",
        "state.json",
        "log.csv",
        "samples",
    }
    config = json.loads((trained_run / "config.json").read_text())
    assert config["model"] == TINY_MODEL
    assert config["backend"] == BACKEND
    assert config["preset"] == "tiny"
    assert config["data"] == {"source": "builtin", "num_images": 32}
    assert config["training"]["batch_size"] == 16
    assert config["training"]["ema_momentum"] == 0.9

    state = json.loads((trained_run / "state.json").read_text())
    assert state["epochs_completed"] == 1
    assert state["optimizer_step"] == STEPS_PER_EPOCH
    assert state == training.read_checkpoint_state(
        trained_run / "checkpoint.keras"
    )
    rows = read_csv(trained_run / "log.csv")
    assert [row["epoch"] for row in rows] == ["0"]
    assert np.isfinite(float(rows[0]["loss"]))

    # 18 rows (one per type) of one 16 px sprite, 2 px padding.
    grid = Image.open(trained_run / "samples" / "epoch_0001.png")
    assert grid.size == (1 * 18 + 2, 18 * 18 + 2)


@pytest.mark.slow
def test_checkpoint_holds_raw_weights_and_their_ema(trained_run):
    model = keras.saving.load_model(trained_run / "checkpoint.keras")
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 2
    raw, ema = raw_values(model), ema_values(model)
    assert any(np.abs(r - e).max() > 0 for r, e in zip(raw, ema, strict=True))
    with training.ema_weights(model):
        inside = raw_values(model)
    assert all(np.array_equal(a, b) for a, b in zip(inside, ema, strict=True))
    after = raw_values(model)
    assert all(np.array_equal(a, b) for a, b in zip(after, raw, strict=True))


@pytest.mark.slow
def test_info_describes_the_run(trained_run, capsys):
    assert cli.main(["info", str(trained_run)]) == 0
    out = capsys.readouterr().out
    params = pokediff.PokemonDiffusion(**TINY_CONFIG).count_params()
    assert f"Parameters: {params:,}" in out
    assert f"trained on {BACKEND}" in out
    assert "Progress: 1 of 1 epochs, optimizer step 2, last loss" in out
    assert cli.main(["info", str(trained_run / "checkpoint.keras")]) == 0
    out = capsys.readouterr().out
    assert f"Parameters: {params:,}" in out
    assert f"Backend: trained on {BACKEND}" in out
    assert "Progress: 1 epochs, optimizer step 2" in out


@pytest.mark.slow
def test_generate_writes_a_grid_and_single_sprites(trained_run, tmp_path):
    out = tmp_path / "fire_flying.png"
    argv = ["generate", str(trained_run), "--type", "Fire", "--type", "flying"]
    argv += ["--num", "4", "--steps", "2", "--out", str(out)]
    assert cli.main(argv + ["--save-individual"]) == 0
    assert Image.open(out).size == (2 * 18 + 2, 2 * 18 + 2)
    singles = sorted(p.name for p in tmp_path.glob("fire_flying_*.png"))
    assert singles == [f"fire_flying_{i:03d}.png" for i in range(4)]
    assert Image.open(tmp_path / singles[0]).size == (16, 16)


@pytest.mark.slow
def test_evaluate_prints_a_table_and_writes_a_report(trained_run, capsys):
    argv = ["evaluate", str(trained_run), "--num", "6", "--steps", "2"]
    assert cli.main(argv + ["--classifier-epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "evaluation.json" in out
    report = json.loads((trained_run / "evaluation.json").read_text())
    assert report["num_generated"] == 6
    assert report["settings"]["data"] == "builtin"
    generated = report["type_fidelity"]["generated"]
    assert 0.0 <= generated["accuracy"] <= 1.0
    assert len(report["memorization"]["ratios"]) == 6
    assert np.isfinite(report["classifier_distance"]["frechet"])
    grid = Image.open(trained_run / "evaluation_nearest.png")
    assert grid.size[0] > grid.size[1] > 16
    # The classifier is cached for the next evaluation of the same data.
    assert len(list(trained_run.glob("type_classifier_*.keras"))) == 1
    assert cli.main(argv + ["--num", "1"]) == 2
    assert "--num" in capsys.readouterr().err

    # The raw weights (2 steps from the EMA's) draw other sprites.
    assert cli.main(argv + ["--no-ema"]) == 0
    raw = json.loads((trained_run / "evaluation.json").read_text())
    assert report["settings"]["use_ema"] is True
    assert raw["settings"]["use_ema"] is False
    assert raw["memorization"]["ratios"] != report["memorization"]["ratios"]


@pytest.mark.slow
def test_evaluations_share_a_classifier_cache(trained_run, tmp_path):
    from pokediff.evaluation import evaluate_run

    cache = tmp_path / "classifiers"
    options = dict(num_images=4, num_steps=1, classifier_epochs=1)
    files = {p.name: p.stat().st_mtime_ns for p in trained_run.iterdir()}
    first = evaluate_run(trained_run, cache_dir=cache, write=False, **options)
    (classifier,) = cache.glob("type_classifier_*.keras")
    written = classifier.stat().st_mtime_ns
    second = evaluate_run(trained_run, cache_dir=cache, write=False, **options)
    assert classifier.stat().st_mtime_ns == written
    assert first["type_fidelity"] == second["type_fidelity"]
    # Near-copies are searched among all the run's training sprites, the
    # classifier's held-out part included.
    assert first["num_train"] == 32
    assert first["num_real"] == round(0.2 * 32)
    # Nothing is written into the run folder.
    assert {p.name: p.stat().st_mtime_ns for p in trained_run.iterdir()} == (
        files
    )


@pytest.mark.slow
def test_finished_and_conflicting_runs(trained_run, capsys):
    out = ["train", "--out", str(trained_run)]
    assert cli.main(out) == 0
    assert "has finished: 1 of 1 epochs" in capsys.readouterr().out
    assert cli.main(out + ["--epochs", "2", "--batch-size", "8"]) == 2
    err = capsys.readouterr().err
    assert "training.batch_size: run has 16, received 8" in err
    assert cli.main(out + ["--epochs", "2", "--preset", "small"]) == 2
    assert "model.widths" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_continues_the_same_run_exactly(tmp_path):
    # One session of 2 epochs, and 1 epoch + a resumed 1, end identical.
    images, labels = pokediff.datasets.make_sprites(32, image_size=16)
    settings = {"batch_size": 16, "ema_momentum": 0.9}
    options = dict(samples_per_type=1, sample_steps=1, verbose=0)
    training.train(
        tmp_path / "a", images, labels, TINY_CONFIG, 2, settings, **options
    )
    training.train(
        tmp_path / "b", images, labels, TINY_CONFIG, 1, settings, **options
    )
    training.train(
        tmp_path / "b", images, labels, TINY_CONFIG, 2, settings, **options
    )
    a = keras.saving.load_model(tmp_path / "a" / "checkpoint.keras")
    b = keras.saving.load_model(tmp_path / "b" / "checkpoint.keras")
    assert int(ops.convert_to_numpy(b.optimizer.iterations)) == 4
    for x, y in zip(a.variables, b.variables, strict=True):
        np.testing.assert_allclose(
            ops.convert_to_numpy(x), ops.convert_to_numpy(y), atol=1e-6
        )
    for x, y in zip(ema_values(a), ema_values(b), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6)
    rows = read_csv(tmp_path / "b" / "log.csv")
    assert [row["epoch"] for row in rows] == ["0", "1"]
    sessions = training.TrainingRun(tmp_path / "b").state["sessions"]
    assert [s["initial_epoch"] for s in sessions] == [0, 1]


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["train", "--out", str(run_dir), "--epochs", "100", *TINY_FLAGS]
    argv += ["--sample-every", "1000", "--backend", BACKEND]
    process = subprocess.Popen(
        [sys.executable, "-m", "pokediff.cli", *argv],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state_path = run_dir / "state.json"
    deadline = time.monotonic() + 300
    try:
        while not state_path.exists():
            assert process.poll() is None, "train exited early"
            assert time.monotonic() < deadline, "no checkpoint in 300 s"
            time.sleep(0.2)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    checkpoint = run_dir / "checkpoint.keras"
    done = training.read_checkpoint_state(checkpoint)["epochs_completed"]
    killed = keras.saving.load_model(checkpoint)
    assert int(ops.convert_to_numpy(killed.optimizer.iterations)) == (
        done * STEPS_PER_EPOCH
    )
    # The averages were saved, and load back: not zeros, not the weights.
    ema, raw = ema_values(killed), raw_values(killed)
    assert any(
        np.abs(e).max() > 0 and np.abs(e - r).max() > 0
        for e, r in zip(ema, raw, strict=True)
    )

    # No flags: the run's own settings; one more epoch than it holds.
    resume = ["train", "--out", str(run_dir), "--epochs", str(done + 1)]
    assert cli.main(resume + ["--sample-every", "1000"]) == 0
    assert f"resuming after epoch {done}" in capsys.readouterr().out
    state = json.loads((run_dir / "state.json").read_text())
    assert state["epochs_completed"] == done + 1
    assert state["optimizer_step"] == (done + 1) * STEPS_PER_EPOCH
    assert [s["initial_epoch"] for s in state["sessions"]] == [0, done]
    rows = read_csv(run_dir / "log.csv")
    assert [int(row["epoch"]) for row in rows] == list(range(done + 1))

    leftovers = [name for name in os.listdir(run_dir) if name[0] == "."]
    assert leftovers == []
    sprites = training.load_trained_model(run_dir).generate(
        ["fire"], num_steps=2, seed=0
    )
    assert sprites.shape == (1, 16, 16, 3)
