"""The example scripts run as they are, on tiny settings."""

import csv
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import REPO
from PIL import Image

BACKEND = keras.backend.backend()
EXAMPLES = REPO / "examples"
TINY = ["--image-size", "16", "--widths", "16,32", "--epochs", "1"]


def run_example(name, *args, cwd):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quickstart")
    args = [*TINY, "--num-images", "32", "--batch-size", "16", "--steps", "2"]
    out = run_example("quickstart.py", *args, "--out", "out", cwd=folder)
    return folder / "out", out


@pytest.mark.slow
def test_quickstart(quickstart):
    folder, out = quickstart
    assert f"Backend: {BACKEND}" in out
    # 5 rows of 4 sprites, 16 px, 2 px padding, enlarged twice.
    assert Image.open(folder / "grid.png").size == (2 * 74, 2 * 92)
    assert (folder / "model.keras").exists()


@pytest.mark.slow
def test_dual_type_guidance(quickstart, tmp_path):
    model = quickstart[0] / "model.keras"
    args = ["--pairs", "fire/flying,water/ice", "--scales", "0,1,4"]
    out = run_example(
        "dual_type_guidance.py",
        model,
        *args,
        "--steps",
        "2",
        "--out",
        "guidance.png",
        cwd=tmp_path,
    )
    assert "guidance 4: 2 sprites" in out
    # 3 rows (scales) of 2 columns (pairs), enlarged twice.
    assert Image.open(tmp_path / "guidance.png").size == (2 * 38, 2 * 56)


@pytest.mark.slow
def test_switch_backends(quickstart, tmp_path):
    model = quickstart[0] / "model.keras"
    out = run_example(
        "switch_backends.py",
        model,
        "--backends",
        f"{BACKEND},not_a_backend",
        "--steps",
        "2",
        cwd=tmp_path,
    )
    assert f"{BACKEND}: sampled (4, 16, 16, 3)" in out
    assert "not_a_backend: not installed, skipped" in out


def make_kaggle_folder(folder, count=8):
    """A tiny Kaggle-layout data set: pokemon.csv and images/*.png."""
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    types = [("Fire", ""), ("Water", "Flying"), ("Grass", "Poison")]
    with open(folder / "pokemon.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["Name", "Type1", "Type2"])
        for index in range(count):
            name = f"mon{index}"
            writer.writerow([name, *types[index % len(types)]])
            pixels = rng.integers(0, 256, (24, 20, 4), dtype=np.uint8)
            Image.fromarray(pixels, "RGBA").save(
                folder / "images" / f"{name}.png"
            )


@pytest.mark.slow
def test_train_kaggle(tmp_path):
    make_kaggle_folder(tmp_path / "pokemon")
    args = [*TINY, "--batch-size", "4", "--sample-steps", "1"]
    args += ["--data", "pokemon", "--out", "run"]
    out = run_example("train_kaggle.py", *args, cwd=tmp_path)
    assert "8 images" in out
    assert "Epochs done: 1" in out
    run = tmp_path / "run"
    assert (run / "checkpoint.keras").exists()
    assert (run / "samples" / "epoch_0001.png").exists()
    # Running it again resumes a finished run: nothing more to do.
    out = run_example("train_kaggle.py", *args, cwd=tmp_path)
    assert "Epochs done: 1" in out
